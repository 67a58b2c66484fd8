"""Start the Streamlit app as a subprocess on a free loopback port, for browser tests.

The server runs offline (`HF_HUB_OFFLINE=1`) with an empty Hugging Face cache and its own
embedding cache, so the bi-encoder loads from the bundled MiniLM package and the
cross-encoder fails with its offline message on every machine.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# The first start imports torch and sentence-transformers, which can take about a minute
# on a slow CI runner (an estimate).
STARTUP_TIMEOUT_S = 120.0
SHUTDOWN_TIMEOUT_S = 10.0
LOG_TAIL_CHARS = 4000

# Loopback requests must not go through an HTTP proxy set in the environment.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))

# Variables that would point the app at other models or allow downloads.
_CLEARED_ENV = (
    "RERANKLAB_BI_ENCODER", "RERANKLAB_CROSS_ENCODER", "RERANKLAB_ALLOW_DOWNLOADS",
    # A developer's real keys must never reach a test server.
    "COHERE_API_KEY", "GEMINI_API_KEY", "GOOGLE_API_KEY", "COHERE_BASE_URL", "GEMINI_BASE_URL",
)


@dataclass(frozen=True)
class AppServer:
    """A running app.

    Attributes:
        url: base URL, such as `http://127.0.0.1:41234`.
        process: the `streamlit run` process, leader of its own process group.
        log_path: file with the server's stdout and stderr.
    """

    url: str
    process: subprocess.Popen
    log_path: Path

    def log_tail(self, chars: int = LOG_TAIL_CHARS) -> str:
        """Return the last `chars` characters of the server log."""
        return _read_tail(self.log_path, chars)


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def run_app(
    work_dir: Path, timeout_s: float = STARTUP_TIMEOUT_S, extra_env: dict[str, str] | None = None
) -> Iterator[AppServer]:
    """Start `streamlit run app.py`, wait until it is healthy, and stop it on exit.

    Args:
        work_dir: an empty folder for the server log, the embedding cache and the
            Hugging Face cache.
        timeout_s: seconds to wait for `/_stcore/health` to return "ok". Defaults to 120.
        extra_env: variables set for the server after the cleared ones, such as keys and
            base URLs of fake cloud services.

    Raises:
        RuntimeError: the server exited or did not become healthy in time. The message
            contains the tail of the server log.
    """
    port = free_port()
    log_path = work_dir / "streamlit.log"
    env = {key: value for key, value in os.environ.items() if key not in _CLEARED_ENV}
    env.update(
        HF_HUB_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
        HF_HOME=str(work_dir / "huggingface"),
        RERANKLAB_CACHE_DIR=str(work_dir / "reranklab-cache"),
    )
    env.update(extra_env or {})
    command = [
        sys.executable, "-m", "streamlit", "run", "app.py",
        "--server.address", "127.0.0.1",
        "--server.port", str(port),
        "--server.headless", "true",
        "--browser.gatherUsageStats", "false",
    ]
    with open(log_path, "wb") as log:
        # A new session makes the server the leader of its own process group, so stopping
        # the group also stops any worker it started.
        process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    server = AppServer(url=f"http://127.0.0.1:{port}", process=process, log_path=log_path)
    try:
        _wait_until_healthy(server, timeout_s)
        yield server
    finally:
        stop(process)


def stop(process: subprocess.Popen) -> None:
    """Send SIGTERM to the process group, then SIGKILL if it is still running after 10 s."""
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=SHUTDOWN_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=SHUTDOWN_TIMEOUT_S)
    except ProcessLookupError:
        pass


def _wait_until_healthy(server: AppServer, timeout_s: float) -> None:
    health_url = f"{server.url}/_stcore/health"
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(
                f"The Streamlit server exited with code {server.process.returncode} before it "
                f"became healthy. Server log tail:\n{server.log_tail()}"
            )
        try:
            with _OPENER.open(health_url, timeout=2) as response:
                if response.read().decode("utf-8", "replace").strip() == "ok":
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.5)
    raise RuntimeError(
        f"Timed out after {timeout_s:.0f} s waiting for {health_url} to return 'ok'. "
        f"Server log tail:\n{server.log_tail()}"
    )


def _read_tail(path: Path, chars: int) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return "(no log written)"
    return text[-chars:] or "(log is empty)"
