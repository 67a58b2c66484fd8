"""Session state keys, their defaults, and the settings read from them.

The app sets every key once at start-up (`init_state`), so pages can read any key
without checking that it exists.
"""

from __future__ import annotations

import streamlit as st

from reranklab.bm25 import BM25Settings
from reranklab.chunking import ChunkingSettings
from reranklab.models import default_bi_encoder, default_cross_encoder, downloads_allowed
from reranklab.registry import METHODS, RerankerSettings
from reranklab.tokenization import TokenizerSettings

DEFAULTS = {
    "passage_words": ChunkingSettings.passage_words,
    "overlap_words": ChunkingSettings.overlap_words,
    "candidates": 100,
    "top_k": 10,
    "methods": list(METHODS),
    "bm25_variant": BM25Settings.variant,
    "bm25_k1": BM25Settings.k1,
    "bm25_b": BM25Settings.b,
    "stopwords": True,
    "stemming": True,
    "rrf_k": 60,
    "bi_encoder_model": "",
    "cross_encoder_model": "",
    "allow_downloads": False,
    "use_sample": True,
    "query": "",
    "comparison": None,
}


def init_state() -> None:
    """Set each session state key to its default unless it is already set."""
    defaults = dict(DEFAULTS)
    defaults["bi_encoder_model"] = default_bi_encoder()
    defaults["cross_encoder_model"] = default_cross_encoder()
    defaults["allow_downloads"] = downloads_allowed()
    for key, value in defaults.items():
        if key not in st.session_state:
            st.session_state[key] = value


def chunking_settings() -> ChunkingSettings:
    return ChunkingSettings(int(st.session_state.passage_words), int(st.session_state.overlap_words))


def bm25_settings() -> BM25Settings:
    tokenizer = TokenizerSettings(
        stopwords="en" if st.session_state.stopwords else None,
        stemmer="english" if st.session_state.stemming else None,
    )
    return BM25Settings(
        variant=st.session_state.bm25_variant,
        k1=float(st.session_state.bm25_k1),
        b=float(st.session_state.bm25_b),
        tokenizer=tokenizer,
    )


def reranker_settings() -> RerankerSettings:
    return RerankerSettings(
        bi_encoder=st.session_state.bi_encoder_model.strip(),
        cross_encoder=st.session_state.cross_encoder_model.strip(),
        allow_downloads=bool(st.session_state.allow_downloads),
    )
