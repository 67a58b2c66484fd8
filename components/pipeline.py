"""Rerankers for a corpus, built once per session and settings and shared by the pages."""

from __future__ import annotations

import streamlit as st

from components import resources
from components.state import reranker_settings
from reranklab.corpus import Corpus
from reranklab.embedding_cache import EmbeddingCache
from reranklab.registry import build_rerankers
from reranklab.rerankers import Reranker

# The compare and evaluate pages may use two corpora in turn, so two sets are kept.
MAX_KEPT = 2
# Methods whose model loads from a folder or the Hugging Face cache.
MODEL_METHODS = ("bi-encoder", "cross-encoder")


def load_rerankers(corpus: Corpus) -> tuple[dict[str, Reranker], dict[str, str]]:
    """Return (rerankers, unavailable) for the corpus, building them when a setting changed.

    Passage embeddings show a progress bar while they are computed. Models come from
    the process-wide cache in `components.resources`. A model that failed to load is
    tried again on every run, so a restored model folder works without a settings change.
    """
    settings = reranker_settings()
    methods = tuple(st.session_state.methods)
    key = (corpus.fingerprint, settings, methods)
    kept: dict = st.session_state.setdefault("rerankers_by_key", {})
    if key not in kept:
        built = _build(list(methods), corpus, settings)
        while len(kept) >= MAX_KEPT:
            kept.pop(next(iter(kept)))
        kept[key] = built
        return built

    rerankers, unavailable = kept[key]
    failed_models = [method for method in MODEL_METHODS if method in unavailable]
    if failed_models:
        retried, still_unavailable = _build(failed_models, corpus, settings)
        rerankers = {**rerankers, **retried}
        unavailable = {
            method: still_unavailable.get(method, reason)
            for method, reason in unavailable.items()
            if method not in retried
        }
        kept[key] = (rerankers, unavailable)
    return rerankers, unavailable


def _build(methods: list[str], corpus: Corpus, settings) -> tuple[dict[str, Reranker], dict[str, str]]:
    bar = st.progress(0.0, text="Embedding passages")

    def on_progress(done: int, total: int) -> None:
        bar.progress(done / max(total, 1), text=f"Embedding passages: {done:,} of {total:,}")

    built = build_rerankers(
        methods, corpus, settings, cache=EmbeddingCache(seed_directories=[resources.SAMPLE_EMBEDDINGS]),
        load_bi=resources.bi_encoder, load_cross=resources.cross_encoder, progress=on_progress,
    )
    bar.empty()
    return built
