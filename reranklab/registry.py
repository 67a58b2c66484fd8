"""Method ids and the set-up of rerankers for a corpus, shared by the CLI and the app."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

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
from reranklab.services import (
    DEFAULT_TIMEOUT_S,
    KEY_ENV,
    SERVICE_NAMES,
    ServiceConfig,
    api_key_from_env,
    base_url_from_env,
)

logger = logging.getLogger(__name__)

METHODS = ("bm25", "bi-encoder", "cross-encoder", "cohere", "gemini", "rrf")
OFFLINE_METHODS = ("bm25", "bi-encoder", "cross-encoder", "rrf")
CLOUD_METHODS = ("cohere", "gemini")
DEFAULT_COHERE_MODEL = "rerank-v3.5"
DEFAULT_GEMINI_MODEL = "gemini-2.5-flash"


@dataclass(frozen=True)
class RerankerSettings:
    """Models, keys and endpoints of the rerankers.

    Attributes:
        bi_encoder: model reference of the bi-encoder (local folder or Hub id).
        cross_encoder: model reference of the cross-encoder.
        cross_encoder_int8: run the cross-encoder with int8 dynamic quantization
            (`CrossEncoderReranker(int8=True)`): faster on a CPU, scores approximate.
        allow_downloads: try the Hugging Face Hub for models that are not cached.
        cohere_key, gemini_key: API keys given in the app or on the command line; when
            empty, `COHERE_API_KEY`, `GEMINI_API_KEY` or `GOOGLE_API_KEY` is read. Kept
            out of repr so they never reach a log.
        cohere_model, gemini_model: model ids of the cloud rerankers.
        cohere_base_url, gemini_base_url: endpoint overrides; when empty,
            `COHERE_BASE_URL` and `GEMINI_BASE_URL` are read, else the SDK default is used.
        timeout: seconds to wait for each cloud response.
    """

    bi_encoder: str = ""
    cross_encoder: str = ""
    cross_encoder_int8: bool = False
    allow_downloads: bool = False
    cohere_key: str = field(default="", repr=False)
    gemini_key: str = field(default="", repr=False)
    cohere_model: str = DEFAULT_COHERE_MODEL
    gemini_model: str = DEFAULT_GEMINI_MODEL
    cohere_base_url: str = ""
    gemini_base_url: str = ""
    timeout: float = DEFAULT_TIMEOUT_S

    def __post_init__(self) -> None:
        if not self.bi_encoder:
            object.__setattr__(self, "bi_encoder", default_bi_encoder())
        if not self.cross_encoder:
            object.__setattr__(self, "cross_encoder", default_cross_encoder())

    def service_config(self, service: str) -> ServiceConfig | None:
        """Return how to reach "cohere" or "gemini", or None when no key is set anywhere."""
        explicit_key = self.cohere_key if service == "cohere" else self.gemini_key
        key = explicit_key.strip() or api_key_from_env(service)
        if not key:
            return None
        explicit_url = self.cohere_base_url if service == "cohere" else self.gemini_base_url
        base_url = explicit_url.strip() or base_url_from_env(service)
        return ServiceConfig(api_key=key, base_url=base_url, timeout=self.timeout)


def missing_key_message(service: str) -> str:
    """Return the message shown in a cloud column when its service has no key."""
    variables = " or ".join(KEY_ENV[service])
    return (
        f"No {SERVICE_NAMES[service]} API key. Set {variables}, add it to "
        ".streamlit/secrets.toml, or enter it in the sidebar."
    )


def parse_methods(text: str) -> list[str]:
    """Parse a comma-separated list of method ids, keeping BM25 first.

    Raises:
        ValueError: naming an unknown id and listing the valid ones.
    """
    methods = [part.strip().lower() for part in text.split(",") if part.strip()]
    unknown = [method for method in methods if method not in METHODS]
    if unknown:
        raise ValueError(f"unknown reranker {unknown[0]!r}; choose from {', '.join(METHODS)}")
    methods = [method for method in methods if method != "bm25"]
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
                load_cross(settings.cross_encoder, settings.allow_downloads), int8=settings.cross_encoder_int8
            )
        except ModelLoadError as exc:
            unavailable["cross-encoder"] = str(exc)

    for service in CLOUD_METHODS:
        if service not in methods:
            continue
        config = settings.service_config(service)
        if config is None:
            unavailable[service] = missing_key_message(service)
        elif service == "cohere":
            from reranklab.rerankers.cohere import CohereReranker

            rerankers[service] = CohereReranker(config, model=settings.cohere_model)
        else:
            from reranklab.rerankers.gemini import GeminiListwiseReranker

            rerankers[service] = GeminiListwiseReranker(config, model=settings.gemini_model)

    return rerankers, unavailable
