"""The Gemini client (google-genai SDK) and the mapping of its errors to `ServiceError`.

Requests go to `POST {base_url}/v1/models/{model}:generateContent` and, for streamed
replies, `POST {base_url}/v1/models/{model}:streamGenerateContent?alt=sse`, with the key
in the `x-goog-api-key` header. The SDK's own retries are turned off so that
`reranklab.services.call_with_retries` is the only retry policy.
"""

from __future__ import annotations

import email.utils
import json
import logging
import math
import re
import time
from collections.abc import Callable
from datetime import datetime, timezone
from typing import TypeVar

import httpx
import pydantic
from google import genai
from google.genai import errors as genai_errors
from google.genai import types

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

try:
    # google-genai 3.x sends requests with httpx2 when it is installed and falls back to
    # httpx, so transport errors may come from either package.
    import httpx2
except ImportError:  # pragma: no cover - depends on the environment
    httpx2 = None

logger = logging.getLogger(__name__)

T = TypeVar("T")

SERVICE = "gemini"
# Models listed on the Gemini API models page (ai.google.dev/gemini-api/docs/models).
# The first is the default.
GEMINI_MODELS: tuple[str, ...] = ("gemini-2.5-flash", "gemini-2.5-pro", "gemini-2.5-flash-lite")
DEFAULT_MODEL = GEMINI_MODELS[0]
# NOTE: only the fake server has run these requests against v1. The reranker and the
# answers send systemInstruction and responseSchema; if Gemini rejects them with HTTP
# 400, try "v1beta", the version that google-genai uses by default.
API_VERSION = "v1"
DEFAULT_BASE_URL = "https://generativelanguage.googleapis.com"

_HTTP_MODULES = tuple(module for module in (httpx, httpx2) if module is not None)
_TIMEOUT_ERRORS = tuple(module.TimeoutException for module in _HTTP_MODULES)
_CONNECT_ERRORS = tuple(module.ConnectError for module in _HTTP_MODULES)
_TRANSPORT_ERRORS = tuple(module.TransportError for module in _HTTP_MODULES)
_HTTP_ERRORS = tuple(module.HTTPError for module in _HTTP_MODULES)

# Every exception that a Gemini call can raise for a reason outside this program:
# HTTP error statuses, network failures, and bodies that are not the documented JSON.
# json.JSONDecodeError comes from a non-streamed body, UnknownApiResponseError from a
# streamed event, and pydantic.ValidationError from JSON of the wrong shape.
GEMINI_ERRORS: tuple[type[BaseException], ...] = (
    genai_errors.APIError,
    *_HTTP_ERRORS,
    json.JSONDecodeError,
    genai_errors.UnknownApiResponseError,
    pydantic.ValidationError,
)

_RETRY_DELAY = re.compile(r"^\s*(\d+(?:\.\d+)?)s\s*$")


def make_client(config: ServiceConfig) -> genai.Client:
    """Create a google-genai client for the Gemini Developer API.

    The timeout applies to each HTTP request and, when streaming, to each wait for the
    next chunk. `HttpOptions.timeout` is in milliseconds (google-genai 3.6.1 divides it
    by 1000 before passing it to the HTTP client). One attempt per call turns the SDK's
    retries off.
    """
    http_options = types.HttpOptions(
        base_url=config.base_url,
        api_version=API_VERSION,
        timeout=max(1, math.ceil(config.timeout * 1000)),
        retry_options=types.HttpRetryOptions(attempts=1),
    )
    return genai.Client(api_key=config.api_key, http_options=http_options)


def call_gemini(
    call: Callable[[], T],
    config: ServiceConfig,
    model: str,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """Run one Gemini call with the shared retry policy and mapped errors.

    Raises:
        ServiceError: the mapped error, after `config.max_retries` retries for 429 and 5xx.
    """

    def attempt() -> T:
        try:
            return call()
        except GEMINI_ERRORS as exc:
            raise map_gemini_error(exc, config, model) from exc

    return call_with_retries(attempt, SERVICE, config.max_retries, sleep=sleep)


def map_gemini_error(exc: BaseException, config: ServiceConfig, model: str) -> ServiceError:
    """Return the `ServiceError` for an exception raised by a Gemini call.

    The message names Gemini, the HTTP status when there is one, what happened and what
    to do. It never contains the key. An exception outside `GEMINI_ERRORS` becomes a
    plain `ServiceError` that names its type.
    """
    key = config.api_key
    if isinstance(exc, genai_errors.APIError):
        error = _map_api_error(exc, config, model)
    elif isinstance(exc, _TIMEOUT_ERRORS):
        error = ServiceTimeoutError(
            f"Gemini timed out: no response within {config.timeout:g} s. "
            "Raise the timeout in settings or retry.",
            service=SERVICE,
        )
    elif isinstance(exc, _CONNECT_ERRORS):
        error = ConnectionFailedError(
            f"Gemini: could not connect to {_base_url(config)}. "
            "Check GEMINI_BASE_URL and the network connection.",
            service=SERVICE,
        )
    elif isinstance(exc, _TRANSPORT_ERRORS):
        error = ConnectionFailedError(
            f"Gemini: the connection to {_base_url(config)} failed ({type(exc).__name__}: {exc}). Retry.",
            service=SERVICE,
        )
    elif isinstance(exc, (json.JSONDecodeError, genai_errors.UnknownApiResponseError, pydantic.ValidationError)):
        error = MalformedResponseError(
            f"Gemini returned a response that is not the JSON the API documents "
            f"({type(exc).__name__}). Retry, and check that GEMINI_BASE_URL points to the Gemini API.",
            service=SERVICE,
        )
    else:
        error = ServiceError(f"Gemini call failed: {type(exc).__name__}: {exc}", service=SERVICE)
    # Exception.__str__ reads args, so this removes the key from the message in place.
    error.args = (redact(str(error), key),)
    return error


def _map_api_error(exc: genai_errors.APIError, config: ServiceConfig, model: str) -> ServiceError:
    code = exc.code
    detail = _google_message(exc)
    if code in (401, 403) or _has_reason(exc, "API_KEY_INVALID"):
        # The Gemini API responds to an invalid key with 400 INVALID_ARGUMENT and the
        # ErrorInfo reason API_KEY_INVALID, and to a missing key with 403.
        return AuthenticationError(
            f"Gemini returned HTTP {code}: invalid key: check GEMINI_API_KEY (or GOOGLE_API_KEY) "
            f"and that the key may use {model}.{detail}",
            service=SERVICE,
            status=code,
        )
    if code == 429:
        retry_after = retry_after_seconds(exc)
        wait = f"wait {retry_after:g} s and retry" if retry_after is not None else "wait a minute and retry"
        return RateLimitError(
            f"Gemini returned HTTP 429: rate limited: {wait}, or check the quota of the key.{detail}",
            service=SERVICE,
            retry_after=retry_after,
        )
    if code is not None and 500 <= code < 600:
        return ServerError(
            f"Gemini returned HTTP {code}: server error. Retry later.{detail}",
            service=SERVICE,
            status=code,
        )
    if code == 404:
        return ServiceError(
            f"Gemini returned HTTP 404: model {model!r} not found. "
            f"Pick a model such as {', '.join(GEMINI_MODELS)}.{detail}",
            service=SERVICE,
            status=code,
        )
    return ServiceError(
        f"Gemini rejected the request with HTTP {code}.{detail}",
        service=SERVICE,
        status=code,
    )


def _google_message(exc: genai_errors.APIError) -> str:
    """Return Google's own error message as a sentence to append, or "" when there is none."""
    message = exc.message if isinstance(exc.message, str) else ""
    message = " ".join(message.split())[:300]
    return f" Gemini's message: {message}" if message else ""


def _error_details(exc: genai_errors.APIError) -> list[dict]:
    """Return the `error.details` list of a Google error body, or []."""
    body = exc.details
    if not isinstance(body, dict):
        return []
    error = body.get("error", body)
    details = error.get("details") if isinstance(error, dict) else None
    return [item for item in details if isinstance(item, dict)] if isinstance(details, list) else []


def _has_reason(exc: genai_errors.APIError, reason: str) -> bool:
    return any(item.get("reason") == reason for item in _error_details(exc))


def retry_after_seconds(exc: genai_errors.APIError) -> float | None:
    """Return how long Gemini requested to wait, in seconds, or None when it sent no delay.

    Reads the `Retry-After` header (seconds or an HTTP date), then the `retryDelay` of a
    `google.rpc.RetryInfo` entry in the error details, such as "12.77s".
    """
    response = getattr(exc, "response", None)
    headers = getattr(response, "headers", None)
    if headers is not None:
        header = headers.get("retry-after")
        if header:
            seconds = _parse_retry_after_header(header)
            if seconds is not None:
                return seconds
    for item in _error_details(exc):
        if str(item.get("@type", "")).endswith("google.rpc.RetryInfo"):
            match = _RETRY_DELAY.match(str(item.get("retryDelay", "")))
            if match:
                return float(match.group(1))
    return None


def _parse_retry_after_header(value: str) -> float | None:
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - datetime.now(timezone.utc)).total_seconds())


def _base_url(config: ServiceConfig) -> str:
    return config.base_url or DEFAULT_BASE_URL


def response_text(response: types.GenerateContentResponse) -> str:
    """Return the text parts of the first candidate joined, or "" when there are none.

    Thought summaries (parts with `thought=True`) are skipped because they are the
    model's reasoning, not its reply.
    """
    if not response.candidates:
        return ""
    content = response.candidates[0].content
    if content is None or not content.parts:
        return ""
    return "".join(part.text for part in content.parts if part.text and not part.thought)


def finish_reason(response: types.GenerateContentResponse) -> str | None:
    """Return the first candidate's finish reason as a string such as "STOP", or None."""
    if not response.candidates or response.candidates[0].finish_reason is None:
        return None
    return _enum_name(response.candidates[0].finish_reason)


def block_reason(response: types.GenerateContentResponse) -> str | None:
    """Return why Gemini blocked the prompt, such as "SAFETY", or None when it did not."""
    feedback = response.prompt_feedback
    if feedback is None or feedback.block_reason is None:
        return None
    return _enum_name(feedback.block_reason)


def _enum_name(value: object) -> str:
    return str(getattr(value, "value", value))
