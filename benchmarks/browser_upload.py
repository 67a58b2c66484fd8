"""Time a SciFact upload and five queries in the Streamlit app, driven by a headless Chromium.

    .venv/bin/python benchmarks/browser_upload.py --scifact /path/to/scifact [--output docs/benchmarks.md]

The script starts `streamlit run app.py` on a free 127.0.0.1 port, offline and with an
empty embedding cache (see tests/app_server.py), opens the page with Playwright and
uploads corpus.jsonl.gz through the file input. The app builds the BM25 index at once but
embeds the passages only when a query is submitted, so the script then submits the first
test claim of qrels/test.tsv and waits for its results. It then types the next five test
claims into the "Query" input, presses Enter after each, and waits until every column has
rendered. The server and the browser are stopped before the script exits, also on SIGTERM.

The app's example queries are skipped, because the page clears an example query when the
corpus is an upload.

Freshness check: before the server starts, the script computes each query's BM25 top 10
with the library. A query counts as rendered only when the BM25 column shows exactly
those passages, the app reports a finished script run (`data-test-script-state` is
"notRunning") and no element is stale. The times therefore include the network round
trip, the Streamlit rerun and the browser's rendering. Their resolution is the 0.1 s
interval of the polling loop.
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.report import (  # noqa: E402
    add_load_arguments,
    check_scifact_folder,
    command_line,
    format_load,
    load_average,
    machine_lines,
    percentile,
    read_test_queries,
    wait_for_idle_cpu,
    write_section,
)
from reranklab.corpus import Corpus  # noqa: E402
from tests.app_server import AppServer, run_app  # noqa: E402

logger = logging.getLogger("benchmarks.browser_upload")

SECTION = "browser-upload"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
EXAMPLE_QUERIES = Path(__file__).resolve().parent.parent / "assets" / "example_queries.json"
# The app's defaults: 100 BM25 candidates, 10 results per column.
TOP_K = 10
POLL_S = 0.1
PAGE_TIMEOUT_S = 180.0
UPLOAD_TIMEOUT_S = 15 * 60.0
QUERY_TIMEOUT_S = 120.0
QUERY_COUNT = 5

# Reads the state of the page in one call: script state, stale elements, progress bar,
# corpus caption and, per result column, its heading, passage ids and error alert.
PAGE_STATE_JS = """
() => {
  const app = document.querySelector('[data-testid="stApp"]');
  const progress = document.querySelector('[data-testid="stProgress"]');
  const captions = [...document.querySelectorAll('[data-testid="stCaptionContainer"]')].map(e => e.innerText);
  const columns = [...document.querySelectorAll('[data-testid="stColumn"]')]
    .filter(column => column.querySelector('h4'))
    .map(column => ({
      label: column.querySelector('h4').innerText.trim(),
      ids: [...column.querySelectorAll('.rl-row summary')].map(s => s.innerText.split(': full passage')[0].trim()),
      error: !!column.querySelector('[data-testid="stAlertContentError"]'),
    }));
  return {
    script: app ? app.getAttribute('data-test-script-state') : null,
    stale: document.querySelectorAll('[data-stale="true"]').length,
    progress: progress ? progress.innerText.trim() : null,
    captions: captions,
    columns: columns,
  };
}
"""


@dataclass
class Wait:
    """Observations of one wait for the page.

    Attributes:
        seconds: time from the action (upload or Enter) until the page was ready.
        milestones: first time, in seconds after the action, that each event was seen.
        max_poll_ms: slowest page-state read, in ms. A slow read means that the browser,
            or the CPU that it shares with the server, was busy.
        progress_updates: distinct progress bar texts seen.
        max_progress_gap_s: longest time between two progress bar texts, in seconds.
        columns: the final per-column state.
    """

    seconds: float = 0.0
    milestones: dict[str, float] = field(default_factory=dict)
    max_poll_ms: float = 0.0
    progress_updates: int = 0
    max_progress_gap_s: float = 0.0
    columns: list[dict] = field(default_factory=list)


def corpus_ready(state: dict, documents_caption: str) -> bool:
    """Return True when a finished run shows the caption of the uploaded corpus."""
    return (
        state["script"] == "notRunning"
        and not state["stale"]
        and any(documents_caption in text for text in state["captions"])
    )


def results_ready(state: dict, expected_bm25: list[str], documents_caption: str) -> bool:
    """Return True when a finished run of the uploaded corpus shows `expected_bm25` in its BM25 column."""
    if not corpus_ready(state, documents_caption):
        return False
    columns = {column["label"]: column for column in state["columns"]}
    bm25 = columns.get("BM25")
    if bm25 is None or bm25["ids"] != expected_bm25:
        return False
    # Every other column shows either its top k or an error.
    return all(column["error"] or len(column["ids"]) == len(expected_bm25) for column in state["columns"])


def wait_for(page, started: float, timeout_s: float, ready, documents_caption: str) -> Wait:
    """Poll the page until `ready(state)` is true, recording milestones on the way.

    Raises:
        TimeoutError: `ready` stayed false for `timeout_s` seconds after `started`; the
            message contains the last page state.
    """
    wait = Wait()
    seen_progress: set[str] = set()
    last_progress_change = None
    state: dict = {}
    while time.perf_counter() - started < timeout_s:
        poll_start = time.perf_counter()
        state = page.evaluate(PAGE_STATE_JS)
        now = time.perf_counter()
        wait.max_poll_ms = max(wait.max_poll_ms, (now - poll_start) * 1000)
        elapsed = now - started

        if state["script"] == "running":
            wait.milestones.setdefault("script run started", elapsed)
        if any(documents_caption in text for text in state["captions"]):
            wait.milestones.setdefault("corpus caption shown (BM25 index built)", elapsed)
        if state["progress"]:
            wait.milestones.setdefault(f"progress bar: {state['progress'].split(':')[0]}", elapsed)
            if state["progress"] not in seen_progress:
                seen_progress.add(state["progress"])
                if last_progress_change is not None:
                    wait.max_progress_gap_s = max(wait.max_progress_gap_s, elapsed - last_progress_change)
                last_progress_change = elapsed
        if ready(state):
            wait.seconds = elapsed
            wait.progress_updates = len(seen_progress)
            wait.columns = state["columns"]
            return wait
        time.sleep(POLL_S)
    raise TimeoutError(f"the page was not ready within {timeout_s:.0f} s; last page state: {json.dumps(state)[:2000]}")


def server_memory_mib(server: AppServer) -> tuple[float, float]:
    """Return the current and peak RSS (VmRSS, VmHWM) of the server process in MiB."""
    values = {}
    for line in Path(f"/proc/{server.process.pid}/status").read_text(encoding="ascii").splitlines():
        if line.startswith(("VmRSS:", "VmHWM:")):
            key, amount = line.split(":", 1)
            values[key] = int(amount.split()[0]) / 1024
    return values.get("VmRSS", 0.0), values.get("VmHWM", 0.0)


@dataclass
class BrowserRun:
    """Everything one browser run measured; times are in seconds.

    Attributes:
        indexed: from the upload to the uploaded corpus's caption, which the page shows
            once the BM25 index is built.
        first_query: from Enter on the first query after the upload to all columns
            rendered; this run embeds every passage.
        upload_to_results_s: from the upload to the first results, both steps together.
        queries: the timed queries that follow, each with its wait.
    """

    page_open_s: float = 0.0
    indexed: Wait = field(default_factory=Wait)
    first_query: Wait = field(default_factory=Wait)
    upload_to_results_s: float = 0.0
    queries: list[tuple[str, Wait]] = field(default_factory=list)
    passages: int = 0
    documents: int = 0
    server_rss_mib: tuple[float, float] = (0.0, 0.0)
    load_before_upload: tuple[float, float, float] = (0.0, 0.0, 0.0)
    load_before_queries: tuple[float, float, float] = (0.0, 0.0, 0.0)


def run_browser(
    folder: Path, work_dir: Path, max_load: float, load_wait_s: float, upload_timeout_s: float = UPLOAD_TIMEOUT_S
) -> BrowserRun:
    from playwright.sync_api import sync_playwright

    corpus_path = folder / "corpus.jsonl.gz"
    examples = set(json.loads(EXAMPLE_QUERIES.read_text(encoding="utf-8")))
    test_queries = [text for _, text in read_test_queries(folder)[0] if text not in examples]
    first_query, queries = test_queries[0], test_queries[1 : 1 + QUERY_COUNT]

    # Expected BM25 top 10 per query, computed before the server starts so that it does
    # not compete for the CPU during the timed part.
    corpus = Corpus.from_paths([corpus_path])
    expected = {query: [item.passage.passage_id for item in corpus.bm25.search(query, top_k=100)[:TOP_K]]
                for query in [first_query, *queries]}
    run = BrowserRun(passages=len(corpus.passages), documents=len(corpus.documents))
    documents_caption = f"{run.documents:,} documents, {run.passages:,} passages indexed"
    del corpus

    with run_app(work_dir) as server, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1600, "height": 1000})
            page.set_default_timeout(PAGE_TIMEOUT_S * 1000)

            start = time.perf_counter()
            page.goto(server.url)
            page.locator(".rl-row").first.wait_for()
            run.page_open_s = time.perf_counter() - start
            # Let the sample corpus run finish before the upload starts.
            page.wait_for_function(
                "() => document.querySelector('[data-testid=\"stApp\"]')"
                "?.getAttribute('data-test-script-state') === 'notRunning'"
            )

            run.load_before_upload = wait_for_idle_cpu(max_load, load_wait_s)
            logger.info("uploading %s (load %s)", corpus_path, format_load(run.load_before_upload))
            upload_start = time.perf_counter()
            page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(str(corpus_path))
            run.indexed = wait_for(page, upload_start, upload_timeout_s,
                                   lambda state: corpus_ready(state, documents_caption), documents_caption)
            logger.info("corpus indexed after %.1f s", run.indexed.seconds)

            # The page embeds the passages only when a query is submitted, so the first
            # query after the upload pays for the embedding.
            query_input = page.get_by_label("Query", exact=True)
            query_input.fill(first_query)
            start = time.perf_counter()
            query_input.press("Enter")
            run.first_query = wait_for(
                page, start, upload_timeout_s,
                lambda state: results_ready(state, expected[first_query], documents_caption), documents_caption,
            )
            run.upload_to_results_s = time.perf_counter() - upload_start
            logger.info("first results %.1f s after the upload", run.upload_to_results_s)

            run.load_before_queries = wait_for_idle_cpu(max_load, load_wait_s)
            for query in queries:
                query_input.fill(query)
                start = time.perf_counter()
                query_input.press("Enter")
                wait = wait_for(page, start, QUERY_TIMEOUT_S,
                                lambda state, query=query: results_ready(state, expected[query], documents_caption),
                                documents_caption)
                run.queries.append((query, wait))
                logger.info("query rendered after %.2f s: %s", wait.seconds, query[:60])
            run.server_rss_mib = server_memory_mib(server)
        finally:
            browser.close()
    return run


def milestone_rows(wait: Wait, offset_s: float = 0.0, skip: tuple[str, ...] = ()) -> list[str]:
    return [
        f"| {event} | {offset_s + seconds:.1f} |"
        for event, seconds in sorted(wait.milestones.items(), key=lambda item: item[1])
        if not event.startswith(skip)
    ]


def render(run: BrowserRun, load_end) -> str:
    query_seconds = [wait.seconds for _, wait in run.queries]
    first_offset = run.upload_to_results_s - run.first_query.seconds
    columns = ", ".join(
        column["label"] + (" (error)" if column["error"] else f" ({len(column['ids'])} rows)")
        for column in run.queries[-1][1].columns
    )
    lines = [
        "## Browser: upload corpus.jsonl.gz and query",
        "",
        *machine_lines(extra_packages=("streamlit", "playwright")),
        f"- Browser: headless Chromium ({CHROMIUM}) driven by Playwright. The app was started by "
        "`tests/app_server.py`: `streamlit run app.py` on 127.0.0.1, HF_HUB_OFFLINE=1, empty embedding "
        "and Hugging Face caches.",
        f"- Command: `{command_line()}`",
        f"- Load average (1 / 5 / 15 min) before the upload: {format_load(run.load_before_upload)}; "
        f"before the queries: {format_load(run.load_before_queries)}; at end: {format_load(load_end)}",
        f"- Corpus: {run.documents:,} documents, {run.passages:,} passages (default settings)",
        f"- Server process RSS at end: {run.server_rss_mib[0]:,.0f} MiB, peak {run.server_rss_mib[1]:,.0f} MiB",
        "",
        f"Page open to the sample corpus's first results: {run.page_open_s:.1f} s.",
        "",
        f"Upload to first results, uncached: **{run.upload_to_results_s:.1f} s**. After the upload the "
        "query box is empty and no passage is embedded until a query is submitted, so the script "
        f"submits the first test claim as soon as the corpus is indexed. Indexing took "
        f"{run.indexed.seconds:.1f} s and that first query {run.first_query.seconds:.1f} s. Events, in "
        "seconds after the upload:",
        "",
        "| Event | Seconds after upload |",
        "|---|---:|",
        *milestone_rows(run.indexed),
        f"| uploaded corpus indexed, query box shown | {run.indexed.seconds:.1f} |",
        f"| first query submitted | {first_offset:.1f} |",
        *milestone_rows(run.first_query, first_offset, skip=("corpus caption",)),
        f"| all columns rendered | {run.upload_to_results_s:.1f} |",
        "",
        f"During the first query the page showed {run.first_query.progress_updates} distinct progress bar "
        f"texts, and the longest gap seen between two updates was {run.first_query.max_progress_gap_s:.1f} s. "
        f"The slowest read of the page state took {run.first_query.max_poll_ms:.0f} ms.",
        "",
        f"Next {len(run.queries)} queries (the following test claims of qrels/test.tsv), from Enter to "
        "all columns rendered:",
        "",
        "| Query | Seconds | Slowest page-state read (ms) |",
        "|---|---:|---:|",
    ]
    for query, wait in run.queries:
        shown = query if len(query) <= 70 else query[:70] + "…"
        lines.append(f"| {shown} | {wait.seconds:.2f} | {wait.max_poll_ms:.0f} |")
    lines += [
        "",
        f"Median {percentile(query_seconds, 50):.2f} s, max {max(query_seconds):.2f} s. "
        f"Columns of the last query: {columns}.",
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scifact", type=Path, required=True, metavar="PATH",
                        help="SciFact folder with corpus.jsonl.gz, queries.jsonl and qrels/test.tsv")
    parser.add_argument("--output", type=Path, help="markdown file to write the section into")
    add_load_arguments(parser)
    parser.add_argument("--upload-timeout", type=float, default=UPLOAD_TIMEOUT_S / 60,
                        help="minutes to wait for indexing and for the first query's results (default: %(default)s)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s", stream=sys.stderr)

    check_scifact_folder(parser, args.scifact)
    if not Path(CHROMIUM).exists():
        parser.error(f"{CHROMIUM} not found; this benchmark needs a system Chromium")

    # Turn SIGTERM into SystemExit so that the finally blocks stop the server and the browser.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    with tempfile.TemporaryDirectory(prefix="reranklab-browser-") as work_dir:
        run = run_browser(args.scifact, Path(work_dir), args.max_load, args.load_wait, args.upload_timeout * 60)
    section = render(run, load_average())
    print(section)
    if args.output is not None:
        write_section(args.output, SECTION, section)
        logger.info("wrote the %s section of %s", SECTION, args.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
