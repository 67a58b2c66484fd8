"""No API key in logs, CLI output, exports, page text, cache or data files after runs that used one.

The CLI and the app call fake Cohere and Gemini servers on 127.0.0.1 through the official
SDKs, with one key that the fakes accept and one that they reject, so that both the
success and the error paths run. Then every place a key could end up is searched.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from reranklab.judgments import JUDGMENTS_FILE_NAME, JudgmentStore
from tests.fakes.cohere import install_cohere
from tests.fakes.gemini import GeminiReply, install_gemini, numbered_passages
from tests.fakes.server import FakeServer

ROOT = Path(__file__).resolve().parent.parent
ACCEPTED_KEY = "sk-test-LEAKCHECK-accepted-31415"
REJECTED_KEY = "sk-test-LEAKCHECK-rejected-27182"
KEYS = (ACCEPTED_KEY, REJECTED_KEY)
CLOUD_ENV = ("COHERE_API_KEY", "GEMINI_API_KEY", "GOOGLE_API_KEY", "COHERE_BASE_URL", "GEMINI_BASE_URL")
# Folders of the repository that the runs must not write keys into, besides the temporary ones.
SKIPPED_FOLDERS = {".git", ".venv", "__pycache__", ".pytest_cache"}

CORPUS_LINES = [
    {"_id": "scurvy", "title": "Scurvy", "text": "Scurvy is caused by a lack of vitamin C in the diet."},
    {"_id": "citrus", "title": "Citrus", "text": "Sailors ate citrus fruit, rich in vitamin C, on long voyages."},
    {"_id": "bread", "title": "Bread", "text": "Knead the dough for ten minutes and let it rise."},
]


def gemini_responder(request):
    if "responseSchema" in request.generation_config:
        count = len(numbered_passages(request.prompt))
        return json.dumps({"ranking": list(range(count, 0, -1))})
    return GeminiReply(["Scurvy comes from a lack of vitamin C [1]."])


@pytest.fixture
def folders(tmp_path, monkeypatch):
    """Start the fakes and point the keys, base URLs, cache and data folders at them."""
    cache_dir, data_dir = tmp_path / "cache", tmp_path / "data"
    with FakeServer() as server:
        install_cohere(server, api_key=ACCEPTED_KEY)
        install_gemini(server, api_key=ACCEPTED_KEY, responder=gemini_responder)
        for name in CLOUD_ENV:
            monkeypatch.delenv(name, raising=False)
        env = {
            "COHERE_API_KEY": ACCEPTED_KEY,
            "GEMINI_API_KEY": ACCEPTED_KEY,
            "COHERE_BASE_URL": server.url,
            "GEMINI_BASE_URL": server.url,
            "RERANKLAB_CACHE_DIR": str(cache_dir),
            "RERANKLAB_DATA_DIR": str(data_dir),
            "HF_HUB_OFFLINE": "1",
        }
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        yield env, cache_dir, data_dir


def run_cli(*args: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "reranklab", "-v", *args],
        cwd=ROOT, capture_output=True, text=True, timeout=300, env={**os.environ, **env},
    )


def page_texts(at: AppTest) -> list[str]:
    """Return the text of every shown element except input widgets, which hold what was typed."""
    texts = []
    for kind in ("markdown", "caption", "error", "warning", "info", "success", "title", "header", "subheader"):
        texts += [element.value for element in at.get(kind)]
    texts += [element.proto.body for element in at.get("html")]
    texts += [frame.value.to_csv() for frame in at.dataframe]
    texts += [str(exception) for exception in at.exception]
    return texts


def files_under(folder: Path, changed_since: float | None = None) -> list[Path]:
    found = []
    for path in folder.rglob("*"):
        if any(part in SKIPPED_FOLDERS for part in path.relative_to(folder).parts):
            continue
        if path.is_file() and (changed_since is None or path.stat().st_mtime >= changed_since):
            found.append(path)
    return found


def test_no_key_anywhere_after_cli_and_app(folders, tmp_path, caplog):
    env, cache_dir, data_dir = folders
    started = time.time() - 1
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text("".join(json.dumps(line) + "\n" for line in CORPUS_LINES), encoding="utf-8")
    caplog.set_level(logging.DEBUG)

    outputs: list[str] = []
    compared = run_cli(
        "compare", "--corpus", str(corpus), "--query", "vitamin C",
        "--rerankers", "bm25,bi-encoder,cohere,gemini", "--format", "json", env=env,
    )
    assert compared.returncode == 0, compared.stderr
    assert set(json.loads(compared.stdout)["results"]) == {"bm25", "bi-encoder", "cohere", "gemini"}
    answered = run_cli("answer", "--corpus", str(corpus), "--query", "vitamin C", "--reranker", "gemini", env=env)
    assert answered.returncode == 0, answered.stderr
    rejected = run_cli(
        "compare", "--corpus", str(corpus), "--query", "vitamin C", "--rerankers", "bm25,cohere,gemini",
        "--format", "json", env={**env, "COHERE_API_KEY": REJECTED_KEY, "GEMINI_API_KEY": REJECTED_KEY},
    )
    assert set(json.loads(rejected.stdout)["errors"]) == {"cohere", "gemini"}
    for run in (compared, answered, rejected):
        outputs += [run.stdout, run.stderr]

    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=180)
    at.run()
    assert not at.exception, at.exception
    at.button(key="answer_gemini").click()
    at.run()
    assert any(caption.value.startswith("Generated by ") for caption in at.caption)
    comparison = at.session_state["comparison"]
    assert comparison.results["cohere"].error is None
    outputs += page_texts(at)
    outputs += [comparison.to_csv(), json.dumps(comparison.to_json())]

    at.text_input(key="widget_cohere_key").set_value(REJECTED_KEY)
    at.run()
    assert not at.exception, at.exception
    rejected_comparison = at.session_state["comparison"]
    assert "invalid" in rejected_comparison.results["cohere"].error.lower()
    outputs += page_texts(at)
    outputs += [rejected_comparison.to_csv(), json.dumps(rejected_comparison.to_json())]

    store = JudgmentStore(data_dir / JUDGMENTS_FILE_NAME)
    outputs.append(store.export_qrels(sample_corpus_id(), level="passage"))
    outputs.append(caplog.text)

    for key in KEYS:
        for number, text in enumerate(outputs):
            assert key not in text, f"key found in output {number}: {text[:300]!r}"

    written = files_under(cache_dir) + files_under(data_dir) + files_under(ROOT, changed_since=started)
    assert any(path.is_relative_to(cache_dir) for path in written), "the runs cached no embeddings"
    assert (data_dir / JUDGMENTS_FILE_NAME).exists()
    for path in written:
        content = path.read_bytes()
        for key in KEYS:
            assert key.encode() not in content, path


def sample_corpus_id() -> str:
    from components.resources import SAMPLE_CORPUS
    from reranklab.corpus import Corpus

    return Corpus.from_paths([SAMPLE_CORPUS]).document_id
