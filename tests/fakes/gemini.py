"""A fake Gemini Developer API (v1 generateContent and streamGenerateContent) on a FakeServer.

The wire format follows the REST API that google-genai 3.6.1 calls:

- `POST /v1/models/{model}:generateContent` returns one GenerateContentResponse JSON.
- `POST /v1/models/{model}:streamGenerateContent?alt=sse` returns `text/event-stream`,
  one GenerateContentResponse per event, each written as `data: {json}` followed by a
  blank line with CRLF line ends. The SDK splits lines at CR, LF or CRLF.
- The key arrives in the `x-goog-api-key` header. A missing key gets 403
  PERMISSION_DENIED and a wrong one 400 INVALID_ARGUMENT with the ErrorInfo reason
  API_KEY_INVALID, as the real API responds. Error bodies have Google's shape
  `{"error": {"code", "message", "status", "details"}}`.

A test scripts the model with a responder: a function from the recorded request to a
`GeminiReply` (or a plain string, the whole reply text). Faults such as a 429 go
ahead of the responder with `GeminiScript.fail`.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from tests.fakes.server import FakeServer, RecordedRequest, Reply

GENERATE_ROUTE = r"/v1/models/(?P<model>[^/:]+):generateContent"
STREAM_ROUTE = r"/v1/models/(?P<model>[^/:]+):streamGenerateContent"

_NUMBERED_PASSAGE = re.compile(r"^\[(\d+)\] (.*?)(?=\n\n\[\d+\] |\n</passages>|\Z)", re.MULTILINE | re.DOTALL)


@dataclass
class GeminiReply:
    """The fake model's reply to one request.

    Attributes:
        chunks: text pieces. A streamed reply sends one event per piece; a plain reply
            joins them into one part.
        finish_reason: the candidate's finishReason on the last event, or None for none.
        block_reason: when set, the reply is `promptFeedback.blockReason` with no candidates.
        chunk_delay: seconds between streamed events.
        gate: when set, the stream waits for this event (at most `gate_timeout` seconds)
            after the first event, so a test can check what arrived before the rest was sent.
        gate_timeout: seconds to wait for `gate`.
        error_after: a Google error body sent as one more event after the chunks, to
            fail a stream midway.
    """

    chunks: list[str] = field(default_factory=list)
    finish_reason: str | None = "STOP"
    block_reason: str | None = None
    chunk_delay: float = 0.0
    gate: threading.Event | None = None
    gate_timeout: float = 5.0
    error_after: dict | None = None


@dataclass
class GeminiRequest:
    """One generateContent or streamGenerateContent request that reached the responder."""

    model: str
    stream: bool
    query: str
    headers: dict[str, str]
    body: dict

    @property
    def prompt(self) -> str:
        """The text of the user contents, joined."""
        return "".join(part.get("text", "") for content in self.body.get("contents", []) for part in content["parts"])

    @property
    def system_instruction(self) -> str:
        parts = self.body.get("systemInstruction", {}).get("parts", [])
        return "".join(part.get("text", "") for part in parts)

    @property
    def generation_config(self) -> dict:
        return self.body.get("generationConfig", {})


Responder = Callable[[GeminiRequest], "GeminiReply | str"]


class GeminiScript:
    """The fake Gemini routes on one FakeServer, with their responder and recorded requests.

    Attributes:
        responder: builds the reply for each authorised request; replace it per test.
        requests: authorised requests in arrival order. Queued faults skip the
            responder and are recorded only in `server.requests`.
        events_started: streamed events the server has started to send, counted across requests.
    """

    def __init__(self, server: FakeServer, api_key: str, responder: Responder | None = None) -> None:
        self.server = server
        self.api_key = api_key
        self.responder: Responder = responder or (lambda request: GeminiReply(["OK"]))
        self.requests: list[GeminiRequest] = []
        self.events_started = 0
        self._lock = threading.Lock()
        server.route("POST", GENERATE_ROUTE, self._generate)
        server.route("POST", STREAM_ROUTE, self._stream)

    def fail(self, *replies: Reply, stream: bool = False) -> None:
        """Send these replies, in order, to the next requests before the responder runs."""
        self.server.enqueue(STREAM_ROUTE if stream else GENERATE_ROUTE, *replies)

    def _record(self, request: RecordedRequest, match: re.Match, stream: bool) -> GeminiRequest | Reply:
        key = _header(request.headers, "x-goog-api-key")
        if not key:
            return Reply(403, error_body(403, _MISSING_KEY_MESSAGE, "PERMISSION_DENIED"))
        if key != self.api_key:
            return Reply(400, invalid_key_body())
        if stream and "alt=sse" not in request.query.split("&"):
            return Reply(400, error_body(400, "streamGenerateContent needs alt=sse in this fake", "INVALID_ARGUMENT"))
        recorded = GeminiRequest(match["model"], stream, request.query, request.headers, request.json())
        with self._lock:
            self.requests.append(recorded)
        return recorded

    def _reply_for(self, request: GeminiRequest) -> GeminiReply:
        reply = self.responder(request)
        return GeminiReply([reply]) if isinstance(reply, str) else reply

    def _generate(self, request: RecordedRequest, match: re.Match) -> Reply:
        recorded = self._record(request, match, stream=False)
        if isinstance(recorded, Reply):
            return recorded
        reply = self._reply_for(recorded)
        text = "".join(reply.chunks)
        return Reply(200, response_body(recorded.model, text, reply.finish_reason, reply.block_reason))

    def _stream(self, request: RecordedRequest, match: re.Match) -> Reply:
        recorded = self._record(request, match, stream=True)
        if isinstance(recorded, Reply):
            return recorded
        reply = self._reply_for(recorded)
        return Reply(
            200,
            headers={"Content-Type": "text/event-stream"},
            chunks=self._events(recorded.model, reply),
            chunk_delay=reply.chunk_delay,
        )

    def _events(self, model: str, reply: GeminiReply) -> Iterator[bytes]:
        """Yield the SSE events of a streamed reply; FakeServer writes each as it comes."""
        bodies = stream_bodies(model, reply)
        for index, body in enumerate(bodies):
            if index == 1 and reply.gate is not None:
                reply.gate.wait(reply.gate_timeout)
            with self._lock:
                self.events_started += 1
            yield sse_event(body)


def install_gemini(
    server: FakeServer, api_key: str = "sk-test-SECRET-1234", responder: Responder | None = None
) -> GeminiScript:
    """Register the fake Gemini routes on `server` and return their script."""
    return GeminiScript(server, api_key, responder)


def stream_bodies(model: str, reply: GeminiReply) -> list[dict]:
    """Return the GenerateContentResponse bodies of a streamed reply, one per event."""
    if reply.block_reason is not None:
        bodies = [response_body(model, "", None, reply.block_reason)]
    else:
        pieces = reply.chunks or [""]
        bodies = []
        for index, piece in enumerate(pieces):
            last = index == len(pieces) - 1
            bodies.append(response_body(model, piece, reply.finish_reason if last else None))
    if reply.error_after is not None:
        bodies.append(reply.error_after)
    return bodies


def response_body(model: str, text: str, finish_reason: str | None, block_reason: str | None = None) -> dict:
    """Return one GenerateContentResponse with the text as the first candidate's only part."""
    usage = {"promptTokenCount": 100, "candidatesTokenCount": max(1, len(text.split())), "totalTokenCount": 120}
    if block_reason is not None:
        return {"promptFeedback": {"blockReason": block_reason}, "usageMetadata": usage, "modelVersion": model}
    candidate: dict = {"index": 0}
    if text:
        candidate["content"] = {"parts": [{"text": text}], "role": "model"}
    if finish_reason is not None:
        candidate["finishReason"] = finish_reason
    return {"candidates": [candidate], "usageMetadata": usage, "modelVersion": model}


def sse_event(body: dict | str) -> bytes:
    """Return one server-sent event: `data: {json}` and a blank line, with CRLF line ends."""
    data = body if isinstance(body, str) else json.dumps(body)
    return f"data: {data}\r\n\r\n".encode()


def error_body(code: int, message: str, status: str, details: list[dict] | None = None) -> dict:
    """Return an error body in Google's format."""
    error: dict = {"code": code, "message": message, "status": status}
    if details is not None:
        error["details"] = details
    return {"error": error}


def invalid_key_body() -> dict:
    return error_body(
        400,
        "API key not valid. Please pass a valid API key.",
        "INVALID_ARGUMENT",
        [
            {
                "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                "reason": "API_KEY_INVALID",
                "domain": "googleapis.com",
                "metadata": {"service": "generativelanguage.googleapis.com"},
            }
        ],
    )


def rate_limit_body(retry_delay: str | None = None) -> dict:
    """Return a 429 RESOURCE_EXHAUSTED body, with a RetryInfo such as "2s" when given."""
    details = []
    if retry_delay is not None:
        details.append({"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": retry_delay})
    return error_body(429, "Resource has been exhausted (e.g. check quota).", "RESOURCE_EXHAUSTED", details)


def numbered_passages(prompt: str) -> dict[int, str]:
    """Return the prompt's passages by their [n] number."""
    return {int(match[1]): match[2] for match in _NUMBERED_PASSAGE.finditer(prompt)}


def _header(headers: dict[str, str], name: str) -> str | None:
    for key, value in headers.items():
        if key.lower() == name:
            return value
    return None


_MISSING_KEY_MESSAGE = (
    "Method doesn't allow unregistered callers (callers without established identity). "
    "Please use API Key or other form of API consumer identity to call this API."
)
