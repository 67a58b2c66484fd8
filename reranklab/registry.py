"""Method ids and the set-up of rerankers for a corpus, shared by the CLI and the app."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from reranklab.corpus import Corpus
from reranklab.embedding_cache import EmbeddingCache
from reranklab.errors import ModelLoadError
from reranklab.models import (
    default_bi_encoder,
    default_cross_encoder,
    load_bi_encoder,
    load_cross_encoder,
    model_fingerprint,
    resolve_model,
)
from reranklab.rerankers import BiEncoderReranker, CrossEncoderReranker, Reranker

logger = logging.getLogger(__name__)

METHODS = ("bm25", "bi-encoder", "cross-encoder", "rrf")
DEFAULT_METHODS = METHODS


@dataclass(frozen=True)
class RerankerSettings:
    """Which models the rerankers use.

    Attributes:
        bi_encoder: model reference of the bi-encoder (local folder or Hub id).
        cross_encoder: model reference of the cross-encoder.
        allow_downloads: try the Hugging Face Hub for models that are not cached.
    """

    bi_encoder: str = ""
    cross_encoder: str = ""
    allow_downloads: bool = False

    def __post_init__(self) -> None:
        if not self.bi_encoder:
            object.__setattr__(self, "bi_encoder", default_bi_encoder())
        if not self.cross_encoder:
            object.__setattr__(self, "cross_encoder", default_cross_encoder())


def parse_methods(text: str) -> list[str]:
    """Parse a comma-separated list of method ids, keeping BM25 first.

    Raises:
        ValueError: naming an unknown id and listing the valid ones.
    """
    methods = [part.strip().lower() for part in text.split(",") if part.strip()]
    unknown = [method for method in methods if method not in METHODS]
    if unknown:
        raise ValueError(f"unknown reranker {unknown[0]!r}; choose from {', '.join(METHODS)}")
    if "bm25" in methods:
        methods.remove("bm25")
    return ["bm25", *dict.fromkeys(methods)]


def build_rerankers(
    methods: Sequence[str],
    corpus: Corpus,
    settings: RerankerSettings,
    cache: EmbeddingCache | None = None,
    load_bi: Callable = load_bi_encoder,
    load_cross: Callable = load_cross_encoder,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[dict[str, Reranker], dict[str, str]]:
    """Load the models that `methods` need and index the corpus for the bi-encoder.

    Args:
        methods: method ids; RRF pulls in the bi-encoder.
        corpus: the corpus to index.
        settings: model references.
        cache: disk cache of passage embeddings; None disables it.
        load_bi, load_cross: loaders called as `load(reference, allow_downloads)`; the app
            passes cached versions so each model loads once per process.
        progress: called as `progress(done, total)` while passages are embedded.

    Returns:
        `(rerankers, unavailable)`: ready rerankers by method id, and for each method that
        could not be set up, the message saying why and how to fix it.
    """
    rerankers: dict[str, Reranker] = {}
    unavailable: dict[str, str] = {}

    if "bi-encoder" in methods or "rrf" in methods:
        try:
            model = load_bi(settings.bi_encoder, settings.allow_downloads)
            fingerprint = model_fingerprint(resolve_model(settings.bi_encoder))
            reranker = BiEncoderReranker(model, fingerprint, cache=cache)
            reranker.index(corpus.passages, progress=progress)
            rerankers["bi-encoder"] = reranker
        except ModelLoadError as exc:
            unavailable["bi-encoder"] = str(exc)

    if "cross-encoder" in methods:
        try:
            rerankers["cross-encoder"] = CrossEncoderReranker(
                load_cross(settings.cross_encoder, settings.allow_downloads)
            )
        except ModelLoadError as exc:
            unavailable["cross-encoder"] = str(exc)

    return rerankers, unavailable
