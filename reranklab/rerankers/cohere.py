"""Cohere Rerank reranker: the hosted Cohere models score candidates through `POST /v2/rerank`.

Requests go through the official `cohere` SDK (`ClientV2.rerank`). Every SDK and httpx
exception is mapped onto the `reranklab.services` error hierarchy, and 429 and 5xx
responses are retried by `call_with_retries`, with the SDK's own retries turned off.
"""

from __future__ import annotations

import email.utils
import logging
import math
import time
from collections.abc import Callable, Sequence
from numbers import Real
from typing import TypeVar

import cohere
import httpx
import numpy as np
import pydantic
from cohere.core.api_error import ApiError
from cohere.core.parse_error import ParsingError

from reranklab.documents import Passage, RankedPassage
from reranklab.rerankers.base import Reranker
from reranklab.services import (
    AuthenticationError,
    ConnectionFailedError,
    MalformedResponseError,
    RateLimitError,
    ServerError,
    ServiceConfig,
    ServiceError,
    ServiceTimeoutError,
    call_with_retries,
    redact,
)

logger = logging.getLogger(__name__)

T = TypeVar("T")

SERVICE = "cohere"

# Rerank model ids, the default first. rerank-v4.0-*, rerank-v3.5 and the v3.0 models are
# listed on https://docs.cohere.com/docs/rerank; rerank-v5.0-* are announced on
# https://docs.cohere.com/changelog/rerank-v5. Any other id is still accepted and sent as is.
COHERE_MODELS: tuple[str, ...] = (
    "rerank-v3.5",
    "rerank-v5.0-pro",
    "rerank-v5.0-fast",
    "rerank-v4.0-pro",
    "rerank-v4.0-fast",
    "rerank-multilingual-v3.0",
    "rerank-english-v3.0",
)

# Maximum documents in one rerank request, from the "Number of Documents" row of
# https://docs.cohere.com/docs/reranking-best-practices. The cohere 7.3.1 SDK docstring
# for `documents` adds that more than 1,000 per request is not recommended for performance.
MAX_DOCUMENTS_PER_REQUEST = 10_000

# Cohere's host when no base URL is configured. It is the SDK's ClientEnvironment.PRODUCTION.
DEFAULT_BASE_URL = "https://api.cohere.com"


class CohereReranker(Reranker):
    """Scores candidates with a Cohere Rerank model. The score is Cohere's `relevance_score`.

    Args:
        config: key, base URL, timeout (seconds per HTTP request) and retries.
        model: a Cohere rerank model id. Defaults to "rerank-v3.5". Ids outside
            `COHERE_MODELS` are sent as they are, so new models work without a release.
        max_tokens_per_doc: Cohere truncates each document to this many tokens. Defaults
            to 4096, the API's own default.
        batch_size: documents per request, from 1 to `MAX_DOCUMENTS_PER_REQUEST`. Longer
            candidate lists are split into several requests.
        client: a prepared `cohere.ClientV2`. By default one is built from `config` with
            the SDK's retries turned off.

    Raises:
        AuthenticationError: when the key in `config` is empty.
        ValueError: when `batch_size` or `max_tokens_per_doc` is out of range.
    """

    name = "cohere"
    remote = True

    def __init__(
        self,
        config: ServiceConfig,
        model: str = "rerank-v3.5",
        max_tokens_per_doc: int = 4096,
        batch_size: int = MAX_DOCUMENTS_PER_REQUEST,
        client: cohere.ClientV2 | None = None,
    ) -> None:
        if not config.api_key.strip():
            raise AuthenticationError(
                "Cohere API key is missing: set COHERE_API_KEY or enter the key in settings.",
                service=SERVICE,
            )
        if not 1 <= batch_size <= MAX_DOCUMENTS_PER_REQUEST:
            raise ValueError(
                f"batch_size must be from 1 to {MAX_DOCUMENTS_PER_REQUEST}, got {batch_size}"
            )
        if max_tokens_per_doc < 1:
            raise ValueError(f"max_tokens_per_doc must be positive, got {max_tokens_per_doc}")
        self.config = config
        self.model = model
        self.max_tokens_per_doc = max_tokens_per_doc
        self.batch_size = batch_size
        # The SDK appends "/v2/rerank" to base_url (cohere 7.3.1, core/http_client.py::_build_url)
        # and changes nothing else, except dropping "/v1" from cohere.com and cohere.ai URLs.
        # So a proxy or test server URL works as is.
        # max_retries=0 leaves retrying to call_with_retries, so there is one policy.
        self.client = client or cohere.ClientV2(
            api_key=config.api_key,
            base_url=config.base_url,
            timeout=config.timeout,
            max_retries=0,
        )
        # Injected in tests to check the waits without sleeping.
        self.sleep: Callable[[float], None] = time.sleep

    def __repr__(self) -> str:
        return f"CohereReranker(model={self.model!r}, config={self.config!r})"

    def rerank(self, query: str, candidates: Sequence[Passage]) -> list[RankedPassage]:
        """Return the candidates ordered by Cohere's relevance score, best first.

        With one request the order is the order Cohere returned. With several, the
        results are merged by score; equal scores keep the earlier batch first.

        Raises:
            ServiceError: a subclass naming what failed, after the allowed retries.
        """
        if not candidates:
            return []
        ranked: list[tuple[float, int, int, int]] = []
        for batch_number, start in enumerate(range(0, len(candidates), self.batch_size)):
            batch = candidates[start : start + self.batch_size]
            results = self._rerank_batch(query, batch)
            for position, (index, score) in enumerate(results):
                ranked.append((score, batch_number, position, start + index))
        # Cohere scores each document against the query on its own (the best-practices page
        # gives a document's score as the max over its chunks), and the SDK documents the
        # score as lying in [0, 1]. So scores from different batches compare directly.
        ranked.sort(key=lambda item: (-item[0], item[1], item[2]))
        return [
            RankedPassage(passage=candidates[candidate_index], rank=rank, score=score)
            for rank, (score, _, _, candidate_index) in enumerate(ranked, start=1)
        ]

    def score(self, query: str, candidates: Sequence[Passage]) -> np.ndarray:
        """Return Cohere's relevance score per candidate, shape (len(candidates),), in input order."""
        scores = np.empty(len(candidates), dtype=np.float64)
        for start in range(0, len(candidates), self.batch_size):
            batch = candidates[start : start + self.batch_size]
            for index, score in self._rerank_batch(query, batch):
                scores[start + index] = score
        return scores

    def _rerank_batch(self, query: str, batch: Sequence[Passage]) -> list[tuple[int, float]]:
        """Send one rerank request and return (index in batch, score) pairs in Cohere's order.

        Every index in the batch appears exactly once in the returned pairs.
        """
        documents = [passage.full_text for passage in batch]
        logger.debug("Cohere rerank request: model %s, %d documents", self.model, len(documents))

        def request():
            return self._call_sdk(
                lambda: self.client.rerank(
                    model=self.model,
                    query=query,
                    documents=documents,
                    top_n=len(documents),
                    max_tokens_per_doc=self.max_tokens_per_doc,
                )
            )

        response = call_with_retries(request, SERVICE, self.config.max_retries, sleep=self.sleep)
        return self._parse_results(response, len(documents))

    def _call_sdk(self, call: Callable[[], T]) -> T:
        """Run one SDK call and raise its failure as a `ServiceError` subclass."""
        try:
            return call()
        except ApiError as exc:
            raise self._error_for_status(exc) from exc
        except (ParsingError, pydantic.ValidationError, TypeError) as exc:
            # The SDK builds the response model without validation. It raises TypeError
            # when the JSON body is not an object (a list, for example).
            raise self._malformed(f"the SDK could not read the response ({type(exc).__name__})") from exc
        except httpx.TimeoutException as exc:
            raise ServiceTimeoutError(
                f"Cohere sent no response within {self.config.timeout:g} s. "
                "Raise the timeout in settings or retry.",
                service=SERVICE,
            ) from exc
        except httpx.ConnectError as exc:
            raise ConnectionFailedError(
                self._redact(
                    f"Could not connect to Cohere at {self._base_url} ({exc}). Check the network "
                    "connection, and COHERE_BASE_URL if it is set."
                ),
                service=SERVICE,
            ) from exc
        except (httpx.UnsupportedProtocol, httpx.InvalidURL) as exc:
            raise ServiceError(
                self._redact(
                    f"Cohere base URL {self._base_url!r} is invalid ({exc}). "
                    "Set COHERE_BASE_URL to an http:// or https:// URL."
                ),
                service=SERVICE,
            ) from exc
        except httpx.TransportError as exc:
            raise ServiceError(
                self._redact(
                    f"The connection to Cohere at {self._base_url} failed "
                    f"({type(exc).__name__}: {exc}). Retry."
                ),
                service=SERVICE,
            ) from exc

    def _error_for_status(self, exc: ApiError) -> ServiceError:
        """Map an SDK `ApiError` to the error class for its HTTP status."""
        status = exc.status_code
        api_message = self._api_message(exc.body)
        detail = f" ({api_message})" if api_message else ""

        if status is not None and 200 <= status < 300:
            # The SDK raises ApiError with the success status when the body is not JSON.
            return self._malformed("the body is not valid JSON")
        if status in (401, 403):
            return AuthenticationError(
                self._redact(
                    f"Cohere returned HTTP {status}: invalid key{detail}. Check COHERE_API_KEY or "
                    "the key entered in settings, and that the key may use this model."
                ),
                service=SERVICE,
                status=status,
            )
        if status == 429:
            retry_after = _retry_after_seconds(exc.headers)
            if retry_after is not None:
                wait = f"Wait {math.ceil(retry_after)} s and retry"
            else:
                # Rerank rate limits are counted per minute (https://docs.cohere.com/docs/rate-limits).
                wait = "Wait up to 60 s and retry, because Cohere counts rerank limits per minute"
            return RateLimitError(
                self._redact(f"Cohere returned HTTP 429: rate limited{detail}. {wait}."),
                service=SERVICE,
                retry_after=retry_after,
            )
        if status is not None and status >= 500:
            return ServerError(
                self._redact(
                    f"Cohere returned HTTP {status}, a server error{detail}. Retry in a few minutes."
                ),
                service=SERVICE,
                status=status,
            )
        hint = "Check the model name." if status == 404 else "Check the model name and the reranker settings."
        # The SDK leaves status_code unset only for errors raised before any request is sent.
        outcome = f"with HTTP {status}" if status is not None else "before sending it"
        return ServiceError(
            self._redact(f"Cohere rejected the request {outcome}{detail}. {hint}"),
            service=SERVICE,
            status=status,
        )

    def _parse_results(self, response: object, document_count: int) -> list[tuple[int, float]]:
        """Check a rerank response and return its (index, score) pairs in Cohere's order."""
        results = getattr(response, "results", None)
        if not isinstance(results, list):
            raise self._malformed("the JSON has no `results` list")

        pairs: list[tuple[int, float]] = []
        seen: set[int] = set()
        for position, item in enumerate(results):
            index = getattr(item, "index", None)
            score = getattr(item, "relevance_score", None)
            if isinstance(index, bool) or not isinstance(index, int):
                raise self._malformed(f"result {position} has index {index!r}, not an integer")
            if not 0 <= index < document_count:
                raise self._malformed(
                    f"result {position} has index {index}, outside 0..{document_count - 1}"
                )
            if index in seen:
                raise self._malformed(f"index {index} appears more than once in `results`")
            if isinstance(score, bool) or not isinstance(score, Real) or not math.isfinite(score):
                raise self._malformed(f"result {position} has relevance_score {score!r}, not a number")
            seen.add(index)
            pairs.append((index, float(score)))

        if len(pairs) != document_count:
            raise self._malformed(
                f"it returned {len(pairs)} results for {document_count} documents"
            )
        return pairs

    def _malformed(self, problem: str) -> MalformedResponseError:
        return MalformedResponseError(
            self._redact(
                f"Cohere returned a response that is not the rerank JSON its API documents: "
                f"{problem}. Retry; if COHERE_BASE_URL points to a proxy, check the proxy."
            ),
            service=SERVICE,
            status=200,
        )

    @property
    def _base_url(self) -> str:
        return self.config.base_url or DEFAULT_BASE_URL

    def _redact(self, text: str) -> str:
        return redact(text, self.config.api_key)

    @staticmethod
    def _api_message(body: object) -> str:
        """Return the error message from Cohere's JSON error body, or a short excerpt of other bodies."""
        if isinstance(body, dict):
            message = body.get("message")
            if isinstance(message, str) and message.strip():
                return message.strip()
        if body is None or body == "":
            return ""
        text = " ".join(str(body).split())
        return text if len(text) <= 200 else text[:200] + "..."


def _retry_after_seconds(headers: dict[str, str] | None) -> float | None:
    """Return the Retry-After header in seconds, or None when it is missing or unreadable.

    The header is either a number of seconds or an HTTP date (RFC 9110, section 10.2.3).
    """
    if not headers:
        return None
    value = next((v for k, v in headers.items() if k.lower() == "retry-after"), None)
    if value is None:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            moment = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        seconds = moment.timestamp() - time.time()
    if not math.isfinite(seconds):
        return None
    return max(seconds, 0.0)
