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
from reranklab.models import load_bi_encoder, load_cross_encoder

ASSETS = Path(__file__).resolve().parent.parent / "assets"
SAMPLE_CORPUS = ASSETS / "sample_corpus.jsonl"
EXAMPLE_QUERIES = ASSETS / "example_queries.json"
# Bi-encoder embeddings of the sample corpus at the default chunking, read-only.
SAMPLE_EMBEDDINGS = ASSETS / "embeddings"


@st.cache_resource(show_spinner="Loading the bi-encoder model...")
def bi_encoder(reference: str, allow_downloads: bool):
    return load_bi_encoder(reference, allow_downloads)


@st.cache_resource(show_spinner="Loading the cross-encoder model...")
def cross_encoder(reference: str, allow_downloads: bool):
    return load_cross_encoder(reference, allow_downloads)


@st.cache_resource(show_spinner="Indexing the sample corpus...")
def sample_corpus(chunking: ChunkingSettings, bm25: BM25Settings) -> Corpus:
    return Corpus.from_paths([SAMPLE_CORPUS], chunking=chunking, bm25=bm25)


@st.cache_resource(show_spinner="Indexing the dataset corpus...")
def dataset_corpus(corpus_path: str, chunking: ChunkingSettings, bm25: BM25Settings) -> Corpus:
    """Index a dataset's corpus file once per process and settings, shared by all sessions."""
    return Corpus.from_paths([corpus_path], chunking=chunking, bm25=bm25)


@st.cache_data
def example_queries() -> list[str]:
    return json.loads(EXAMPLE_QUERIES.read_text(encoding="utf-8"))
