"""Keys, endpoints, errors and retries shared by the cloud services (Cohere and Gemini).

    RerankError
    └── ServiceError                a call to a cloud service failed
        ├── AuthenticationError     HTTP 401 or 403: the key is missing, invalid or not allowed
        ├── RateLimitError          HTTP 429, still limited after the allowed retries
        ├── ServerError             HTTP 5xx, still failing after the allowed retries
        ├── ServiceTimeoutError     no response within the timeout
        ├── ConnectionFailedError   the connection was refused or the host is unreachable
        └── MalformedResponseError  the response is not the JSON the API documents

Messages name the service and say what to do. They never contain the API key: every
message passes through `redact` before it is raised.
"""

from __future__ import annotations

import logging
import os
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from reranklab.errors import RerankError

logger = logging.getLogger(__name__)

T = TypeVar("T")

DEFAULT_TIMEOUT_S = 30.0
DEFAULT_MAX_RETRIES = 3
# Longest Retry-After that a call waits out. A longer one fails at once, and its message gives the wait.
MAX_RETRY_AFTER_S = 30.0

KEY_ENV = {
    "cohere": ("COHERE_API_KEY",),
    "gemini": ("GEMINI_API_KEY", "GOOGLE_API_KEY"),
}
BASE_URL_ENV = {"cohere": "COHERE_BASE_URL", "gemini": "GEMINI_BASE_URL"}
SERVICE_NAMES = {"cohere": "Cohere", "gemini": "Gemini"}


class ServiceError(RerankError):
    """Raised when a call to a cloud service fails.

    Attributes:
        service: "cohere" or "gemini".
        status: the HTTP status, or None when no response arrived.
    """

    def __init__(self, message: str, *, service: str, status: int | None = None) -> None:
        super().__init__(message)
        self.service = service
        self.status = status


class AuthenticationError(ServiceError):
    """Raised on HTTP 401 or 403."""


class RateLimitError(ServiceError):
    """Raised on HTTP 429 once retries are used up.

    Attributes:
        retry_after: seconds the service asked to wait, or None when it sent no wait time.
    """

    def __init__(self, message: str, *, service: str, retry_after: float | None = None) -> None:
        super().__init__(message, service=service, status=429)
        self.retry_after = retry_after


class ServerError(ServiceError):
    """Raised on HTTP 5xx once retries are used up."""


class ServiceTimeoutError(ServiceError):
    """Raised when no response arrives within the configured timeout."""


class ConnectionFailedError(ServiceError):
    """Raised when the connection is refused or the host cannot be reached."""


class MalformedResponseError(ServiceError):
    """Raised when the response body is not the JSON that the API documents."""


@dataclass(frozen=True)
class ServiceConfig:
    """How to reach one cloud service.

    Attributes:
        api_key: the key; excluded from repr so it never shows in logs or tracebacks.
        base_url: endpoint override for proxies and tests; None uses the SDK's default.
        timeout: seconds to wait for each HTTP response. Defaults to 30.
        max_retries: retries after a 429 or 5xx response, with backoff. Defaults to 3.
    """

    api_key: str = field(repr=False)
    base_url: str | None = None
    timeout: float = DEFAULT_TIMEOUT_S
    max_retries: int = DEFAULT_MAX_RETRIES

    def __post_init__(self) -> None:
        if self.timeout <= 0:
            raise ValueError(f"timeout must be positive, got {self.timeout}")
        if self.max_retries < 0:
            raise ValueError(f"max_retries must be 0 or more, got {self.max_retries}")


def api_key_from_env(service: str) -> str | None:
    """Return the service's key from the environment, or None when no variable is set.

    Cohere reads `COHERE_API_KEY`; Gemini reads `GEMINI_API_KEY`, then `GOOGLE_API_KEY`.
    """
    for name in KEY_ENV[service]:
        value = os.environ.get(name, "").strip()
        if value:
            return value
    return None


def base_url_from_env(service: str) -> str | None:
    """Return `COHERE_BASE_URL` or `GEMINI_BASE_URL`, or None when it is unset."""
    value = os.environ.get(BASE_URL_ENV[service], "").strip()
    return value or None


def redact(text: str, secret: str | None) -> str:
    """Replace every occurrence of `secret` in `text` with `[redacted]`."""
    if not secret:
        return text
    return text.replace(secret, "[redacted]")


def call_with_retries(
    call: Callable[[], T],
    service: str,
    max_retries: int,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """Run `call`, retrying rate-limit and server errors with backoff.

    A `RateLimitError` waits for its `retry_after` when the service sent one no longer
    than `MAX_RETRY_AFTER_S`; a longer one is raised at once. Without Retry-After, and for
    `ServerError`, the wait is 0.5 s × 2^attempt plus up to 0.25 s of jitter. Other errors
    are raised at once.
    """
    attempt = 0
    while True:
        try:
            return call()
        except (RateLimitError, ServerError) as exc:
            if attempt >= max_retries:
                raise
            retry_after = getattr(exc, "retry_after", None)
            if retry_after is not None and retry_after > MAX_RETRY_AFTER_S:
                raise
            delay = retry_after if retry_after is not None else 0.5 * 2**attempt + random.uniform(0, 0.25)
            attempt += 1
            logger.warning(
                "%s returned %s; retry %d of %d in %.1f s",
                SERVICE_NAMES[service], exc.status, attempt, max_retries, delay,
            )
            sleep(delay)
