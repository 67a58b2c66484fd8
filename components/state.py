"""Session state keys, their defaults, and the settings read from them.

The app sets every key once at start-up (`init_state`), so pages can read any key
without checking that it exists.
"""

from __future__ import annotations

import streamlit as st

from reranklab.bm25 import BM25Settings
from reranklab.chunking import ChunkingSettings
from reranklab.models import default_bi_encoder, default_cross_encoder, downloads_allowed
from components.keys import session_or_secret_key
from reranklab.registry import (
    CLOUD_METHODS,
    DEFAULT_COHERE_MODEL,
    DEFAULT_GEMINI_MODEL,
    OFFLINE_METHODS,
    RerankerSettings,
)
from reranklab.services import DEFAULT_TIMEOUT_S, api_key_from_env, base_url_from_env
from reranklab.tokenization import TokenizerSettings

# Default maximum size of one uploaded file, in MiB. Each session keeps its uploads in
# memory. Embedding a file of this size on a 2-core CPU takes over an hour (an estimate
# from the SciFact rate in docs/benchmarks.md: 7.6 MiB of JSONL in about 10 minutes).
# The server-wide cap per file is server.maxUploadSize in .streamlit/config.toml.
DEFAULT_MAX_FILE_MIB = 50

DEFAULTS = {
    "max_file_mib": DEFAULT_MAX_FILE_MIB,
    "passage_words": ChunkingSettings.passage_words,
    "overlap_words": ChunkingSettings.overlap_words,
    "candidates": 100,
    "top_k": 10,
    "methods": list(OFFLINE_METHODS),
    "bm25_variant": BM25Settings.variant,
    "bm25_k1": BM25Settings.k1,
    "bm25_b": BM25Settings.b,
    "stopwords": True,
    "stemming": True,
    "rrf_k": 60,
    "bi_encoder_model": "",
    "cross_encoder_model": "",
    "cross_encoder_int8": False,
    "allow_downloads": False,
    "cohere_key": "",
    "gemini_key": "",
    "cohere_model": DEFAULT_COHERE_MODEL,
    "gemini_model": DEFAULT_GEMINI_MODEL,
    "cohere_base_url": "",
    "gemini_base_url": "",
    "service_timeout": DEFAULT_TIMEOUT_S,
    "answer_top_k": 5,
    "answer_temperature": 0.2,
    "answer_max_tokens": 1024,
    "query": "",
    "comparison": None,
    "answer": None,
    # {"name", "corpus_path"} of the evaluation dataset whose query the compare page shows.
    "compare_dataset": None,
}


def init_state() -> None:
    """Set each session state key to its default unless it is already set."""
    defaults = dict(DEFAULTS)
    # A copy, because the insert below would otherwise grow the shared list with every session.
    defaults["methods"] = list(DEFAULTS["methods"])
    defaults["bi_encoder_model"] = default_bi_encoder()
    defaults["cross_encoder_model"] = default_cross_encoder()
    defaults["allow_downloads"] = downloads_allowed()
    defaults["cohere_base_url"] = base_url_from_env("cohere") or ""
    defaults["gemini_base_url"] = base_url_from_env("gemini") or ""
    # Cloud columns are on by default only where a key is already configured.
    for service in CLOUD_METHODS:
        if api_key_from_env(service) or session_or_secret_key(service):
            defaults["methods"].insert(-1, service)
    for key, value in defaults.items():
        if key not in st.session_state:
            st.session_state[key] = value


def max_file_bytes() -> int:
    """Return the maximum size of one uploaded file, in bytes, from the sidebar setting in MiB."""
    return int(float(st.session_state.max_file_mib) * 1024 * 1024)


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
        cross_encoder_int8=bool(st.session_state.cross_encoder_int8),
        allow_downloads=bool(st.session_state.allow_downloads),
        cohere_key=session_or_secret_key("cohere"),
        gemini_key=session_or_secret_key("gemini"),
        cohere_model=st.session_state.cohere_model,
        gemini_model=st.session_state.gemini_model,
        cohere_base_url=st.session_state.cohere_base_url.strip(),
        gemini_base_url=st.session_state.gemini_base_url.strip(),
        timeout=float(st.session_state.service_timeout),
    )
