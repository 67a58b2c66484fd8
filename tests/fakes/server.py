"""A scriptable HTTP server on 127.0.0.1 for testing the official SDKs end to end.

Each test starts its own `FakeServer`, registers a responder per route, and can queue
one-off `Reply` objects (status, headers, body, delay) ahead of it, to script faults
such as a 429 followed by a success. Every request is recorded with its headers and
body so tests can check what the SDK sent.
"""

from __future__ import annotations

import json
import re
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Reply:
    """One HTTP response.

    Attributes:
        status: HTTP status code.
        body: a dict or list is sent as JSON, str or bytes as they are.
        headers: extra response headers.
        delay: seconds to wait before responding, to trigger client timeouts.
        chunks: when set, the body is sent as these pieces with `chunk_delay` between
            them and no Content-Length, as a streamed response.
    """

    status: int = 200
    body: object = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    chunks: list[bytes] | None = None
    chunk_delay: float = 0.0


@dataclass
class RecordedRequest:
    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes

    def json(self):
        return json.loads(self.body)


Responder = Callable[[RecordedRequest, re.Match], Reply]


class _QuietServer(ThreadingHTTPServer):
    """Ignores clients that hang up early, as the timeout tests' clients do on purpose."""

    def handle_error(self, request, client_address) -> None:
        if isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            return
        super().handle_error(request, client_address)


class FakeServer:
    """Threaded HTTP server bound to 127.0.0.1 on a free port.

    Use as a context manager, or call `start()` and `stop()`.
    """

    def __init__(self) -> None:
        self.routes: list[tuple[str, re.Pattern, Responder]] = []
        self.queued: dict[str, list[Reply]] = {}
        self.requests: list[RecordedRequest] = []
        self._lock = threading.Lock()
        self._server = _QuietServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        # A short poll interval makes stop() return in about 50 ms instead of 0.5 s.
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def route(self, method: str, pattern: str, responder: Responder) -> None:
        """Answer requests whose path matches the regular expression `pattern` in full."""
        self.routes.append((method, re.compile(pattern), responder))

    def enqueue(self, pattern: str, *replies: Reply) -> None:
        """Send these replies, in order, to the next requests on the route `pattern`."""
        with self._lock:
            self.queued.setdefault(pattern, []).extend(replies)

    def start(self) -> FakeServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> FakeServer:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

    def _dispatch(self, request: RecordedRequest) -> Reply:
        with self._lock:
            self.requests.append(request)
        for method, pattern, responder in self.routes:
            match = pattern.fullmatch(request.path)
            if method != request.method or match is None:
                continue
            with self._lock:
                queue = self.queued.get(pattern.pattern)
                if queue:
                    return queue.pop(0)
            return responder(request, match)
        return Reply(404, {"error": f"no fake route for {request.method} {request.path}"})

    def _handler_class(self):
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format, *args):  # noqa: A002 - keeps test output clean
                pass

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                path, _, query = self.path.partition("?")
                request = RecordedRequest(self.command, path, query, dict(self.headers), body)
                reply = server._dispatch(request)
                if reply.delay:
                    time.sleep(reply.delay)
                try:
                    self._send(reply)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def _send(self, reply: Reply) -> None:
                payload = reply.body
                if isinstance(payload, (dict, list)):
                    payload = json.dumps(payload).encode()
                    content_type = "application/json"
                elif isinstance(payload, str):
                    payload = payload.encode()
                    content_type = "application/json"
                else:
                    payload = payload or b""
                    content_type = "application/octet-stream"
                self.send_response(reply.status)
                headers = {"Content-Type": content_type, **reply.headers}
                for name, value in headers.items():
                    self.send_header(name, value)
                if reply.chunks is None:
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                    return
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                for piece in reply.chunks:
                    self.wfile.write(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
                    self.wfile.flush()
                    if reply.chunk_delay:
                        time.sleep(reply.chunk_delay)
                self.wfile.write(b"0\r\n\r\n")

            do_GET = do_POST = _handle

        return Handler
