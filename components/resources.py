"""Process-wide resources: models and the sample corpus, each loaded once per process.

`st.cache_resource` shares one instance with every session, so nothing here may be
changed after it is built. Exceptions are not cached, so a failed load is retried on the
next run, for example after a missing model folder has been restored.
"""

from __future__ import annotations

import json
from pathlib import Path

import streamlit as st

from reranklab.bm25 import BM25Settings
from reranklab.chunking import ChunkingSettings
from reranklab.corpus import Corpus
from reranklab.models import load_bi_encoder, load_cross_encoder, model_fingerprint, resolve_model

ASSETS = Path(__file__).resolve().parent.parent / "assets"
SAMPLE_CORPUS = ASSETS / "sample_corpus.jsonl"
EXAMPLE_QUERIES = ASSETS / "example_queries.json"
# Bi-encoder embeddings of the sample corpus at the default chunking, read-only.
SAMPLE_EMBEDDINGS = ASSETS / "embeddings"
# Maximum cached models per kind, so that the weights from before a retraining into the
# same folder do not stay in memory for good.
MAX_MODELS_KEPT = 4


def bi_encoder(reference: str, allow_downloads: bool):
    """Return the bi-encoder, loaded once per process and model version.

    The folder is checked on every call: a deleted model folder raises ModelLoadError
    naming it, even while an earlier load is still cached, and a restored one is served
    from the cache again. Weights saved into the same folder again change the
    fingerprint, so they are loaded afresh.
    """
    return _bi_encoder(reference, allow_downloads, model_fingerprint(resolve_model(reference)))


def cross_encoder(reference: str, allow_downloads: bool):
    """Return the cross-encoder, loaded once per process and model version (see `bi_encoder`)."""
    return _cross_encoder(reference, allow_downloads, model_fingerprint(resolve_model(reference)))


# `fingerprint` is not read: it is part of the cache key only.
@st.cache_resource(show_spinner="Loading the bi-encoder model...", max_entries=MAX_MODELS_KEPT)
def _bi_encoder(reference: str, allow_downloads: bool, fingerprint: str):
    return load_bi_encoder(reference, allow_downloads)


@st.cache_resource(show_spinner="Loading the cross-encoder model...", max_entries=MAX_MODELS_KEPT)
def _cross_encoder(reference: str, allow_downloads: bool, fingerprint: str):
    return load_cross_encoder(reference, allow_downloads)


@st.cache_resource(show_spinner="Indexing the sample corpus...")
def sample_corpus(chunking: ChunkingSettings, bm25: BM25Settings) -> Corpus:
    return Corpus.from_paths([SAMPLE_CORPUS], chunking=chunking, bm25=bm25)


@st.cache_resource(show_spinner="Indexing the dataset corpus...")
def dataset_corpus(corpus_path: str, chunking: ChunkingSettings, bm25: BM25Settings) -> Corpus:
    """Index a dataset's corpus file once per process and settings, shared by all sessions."""
    return Corpus.from_paths([corpus_path], chunking=chunking, bm25=bm25, skip_duplicates=False)


@st.cache_data
def example_queries() -> list[str]:
    return json.loads(EXAMPLE_QUERIES.read_text(encoding="utf-8"))
