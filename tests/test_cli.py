"""The command line, run as a user runs it: `python -m reranklab` in a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def run_cli(*args: str, cache_dir: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "RERANKLAB_CACHE_DIR": str(cache_dir), "HF_HUB_OFFLINE": "1"}
    env.pop("RERANKLAB_CROSS_ENCODER", None)
    return subprocess.run(
        [sys.executable, "-m", "reranklab", *args],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )


@pytest.fixture
def corpus_files(tmp_path) -> list[str]:
    beir = tmp_path / "corpus.jsonl"
    beir.write_text(
        "\n".join(
            json.dumps(record)
            for record in [
                {"_id": "d1", "title": "Scurvy", "text": "Scurvy is caused by a lack of vitamin C in the diet."},
                {"_id": "d2", "title": "Rickets", "text": "Rickets follows a lack of vitamin D and sunlight."},
                {"_id": "d3", "title": "Sailors", "text": "Sailors on long voyages ate citrus fruit to stay healthy."},
            ]
        )
        + "\n"
    )
    notes = tmp_path / "notes.md"
    notes.write_text("# Bread\n\nKnead the dough for ten minutes and let it rise.\n")
    return [str(beir), str(notes)]


def test_json_output_has_every_method(corpus_files, tiny_cross_encoder_path, tmp_path):
    result = run_cli(
        "compare", "--corpus", *corpus_files, "--query", "vitamin C deficiency",
        "--cross-encoder", tiny_cross_encoder_path, "--format", "json", "--top-k", "2",
        cache_dir=tmp_path / "cache",
    )
    assert result.returncode == 0, result.stderr
    output = json.loads(result.stdout)
    assert set(output) == {"query", "results", "latency_ms", "errors"}
    assert output["query"] == "vitamin C deficiency"
    assert list(output["results"]) == ["bm25", "bi-encoder", "cross-encoder", "rrf"]
    assert output["errors"] == {}
    first = output["results"]["bm25"][0]
    assert set(first) == {"rank", "doc_id", "passage_id", "score", "text"}
    assert first["doc_id"] == "d1"
    assert first["passage_id"] == "d1#0"
    assert all(len(rows) <= 2 for rows in output["results"].values())
    assert set(output["latency_ms"]) == {"bm25", "bi-encoder", "cross-encoder", "rrf"}


def test_cross_encoder_int8_flag(corpus_files, tiny_cross_encoder_path, tmp_path):
    result = run_cli(
        "compare", "--corpus", *corpus_files, "--query", "vitamin C deficiency", "--rerankers", "cross-encoder",
        "--cross-encoder", tiny_cross_encoder_path, "--cross-encoder-int8", "--format", "json",
        cache_dir=tmp_path / "cache",
    )

    assert result.returncode == 0, result.stderr
    output = json.loads(result.stdout)
    assert output["errors"] == {}
    assert output["results"]["cross-encoder"]


def test_offline_cross_encoder_error_in_json(corpus_files, tmp_path):
    result = run_cli(
        "compare", "--corpus", *corpus_files, "--query", "vitamin", "--format", "json",
        cache_dir=tmp_path / "cache",
    )
    assert result.returncode == 0, result.stderr
    output = json.loads(result.stdout)
    assert "cross-encoder" not in output["results"]
    assert "RERANKLAB_CROSS_ENCODER" in output["errors"]["cross-encoder"]
    assert output["results"]["bi-encoder"]


def test_bad_file_reported_and_run_continues(corpus_files, tmp_path):
    broken = tmp_path / "broken.pdf"
    broken.write_bytes(b"%PDF-1.4 garbage")
    result = run_cli(
        "compare", "--corpus", str(broken), *corpus_files, "--query", "dough",
        "--rerankers", "bm25", "--format", "json", cache_dir=tmp_path / "cache",
    )
    assert result.returncode == 0, result.stderr
    assert "broken.pdf" in result.stderr
    assert json.loads(result.stdout)["results"]["bm25"][0]["doc_id"] == "notes.md"


def test_no_readable_file_exits_2(tmp_path):
    broken = tmp_path / "broken.pdf"
    broken.write_bytes(b"%PDF-1.4 garbage")
    result = run_cli(
        "compare", "--corpus", str(broken), str(tmp_path / "missing.txt"), "--query", "x",
        cache_dir=tmp_path / "cache",
    )
    assert result.returncode == 2
    assert "broken.pdf" in result.stderr
    assert "missing.txt" in result.stderr
    assert result.stdout == ""


def test_unknown_reranker_rejected(corpus_files, tmp_path):
    result = run_cli(
        "compare", "--corpus", *corpus_files, "--query", "x", "--rerankers", "bm25,colbert",
        cache_dir=tmp_path / "cache",
    )
    assert result.returncode == 1
    assert "'colbert'" in result.stderr
    assert "bi-encoder" in result.stderr


def test_table_output_lists_methods(corpus_files, tmp_path):
    result = run_cli(
        "compare", "--corpus", *corpus_files, "--query", "citrus on voyages",
        "--rerankers", "bm25,bi-encoder,rrf", cache_dir=tmp_path / "cache",
    )
    assert result.returncode == 0, result.stderr
    assert "== BM25" in result.stdout
    assert "== Bi-encoder" in result.stdout
    assert "== RRF (BM25 + bi-encoder)" in result.stdout
    assert "d3#0" in result.stdout


def test_answer_extractive_without_key(corpus_files, tmp_path, monkeypatch):
    monkeypatch.delenv("GEMINI_API_KEY", raising=False)
    monkeypatch.delenv("GOOGLE_API_KEY", raising=False)
    result = run_cli(
        "answer", "--corpus", *corpus_files, "--query", "what causes scurvy",
        "--top-k", "2", "--format", "json", cache_dir=tmp_path / "cache",
    )
    assert result.returncode == 0, result.stderr
    output = json.loads(result.stdout)
    assert set(output) == {"answer", "citations", "model", "finish_reason"}
    assert output["model"] == "extractive"
    assert output["finish_reason"] is None
    assert output["answer"].startswith("Scurvy is caused by a lack of vitamin C in the diet. [1]")
    assert output["citations"] == [{"number": 1, "doc_id": "d1", "passage_id": "d1#0"}]


def test_answer_from_failed_reranker_exits_1(corpus_files, tmp_path):
    result = run_cli(
        "answer", "--corpus", *corpus_files, "--query", "scurvy", "--reranker", "cross-encoder",
        cache_dir=tmp_path / "cache",
    )
    assert result.returncode == 1
    assert "Cross-encoder failed" in result.stderr
