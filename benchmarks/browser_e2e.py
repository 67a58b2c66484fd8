"""Time queries in the app from Enter to all offline columns rendered, with and without a cross-encoder.

    .venv/bin/python benchmarks/browser_e2e.py --scifact /path/to/scifact [--queries 20] \
        [--cross-encoder PATH] [--cache-dir PATH] [--output docs/benchmarks.md]

The script starts the app on 127.0.0.1 (tests/app_server.py) with the embedding cache in
`--cache-dir`, so the SciFact passage embeddings are read, not computed, and embedding is
not part of any timed query. It uploads corpus.jsonl.gz in headless Chromium and submits
one untimed query, which loads the models. It then times the SciFact test claims with all
four offline methods (BM25, bi-encoder, cross-encoder, RRF). Last, it removes the
cross-encoder from the methods and times the same claims again. A query counts as rendered when the freshness check
of benchmarks/browser_upload.py passes: the BM25 column shows the library's top 10, the
script run has finished, nothing is stale, and every column shows its rows or an error.

Without `--cross-encoder`, the cross-encoder is all-MiniLM-L6-v2 saved as a CrossEncoder
with a new, untrained one-label head (benchmarks/rerankers.py), which has the speed of a
MiniLM cross-encoder but meaningless scores.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.browser_upload import (  # noqa: E402
    CHROMIUM,
    CHROMIUM_ARGS,
    EXAMPLE_QUERIES,
    PAGE_TIMEOUT_S,
    QUERY_TIMEOUT_S,
    TOP_K,
    Wait,
    corpus_ready,
    results_ready,
    server_memory_mib,
    wait_for,
)
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

logger = logging.getLogger("benchmarks.browser_e2e")

SECTION = "browser-end-to-end"
WITHOUT_TARGET_S = 1.0
WITH_TARGET_S = 2.5
# The untimed first query loads both models; the embeddings come from the cache.
FIRST_QUERY_TIMEOUT_S = 600.0


@dataclass
class EndToEndRun:
    """Times in seconds of one browser run."""

    indexed: Wait = field(default_factory=Wait)
    first_query: Wait = field(default_factory=Wait)
    with_cross_encoder: list[Wait] = field(default_factory=list)
    without_cross_encoder: list[Wait] = field(default_factory=list)
    documents: int = 0
    passages: int = 0
    server_rss_mib: tuple[float, float] = (0.0, 0.0)
    load_before: tuple[float, float, float] = (0.0, 0.0, 0.0)


def save_minilm_cross_encoder(folder: Path) -> Path:
    """Save all-MiniLM-L6-v2 with a seeded, untrained one-label head as a CrossEncoder folder."""
    from benchmarks.rerankers import load_minilm_cross_encoder

    model = load_minilm_cross_encoder()
    model.save_pretrained(str(folder))
    return folder


def remove_method(page, label: str) -> None:
    """Remove one method from the sidebar's "Methods" multiselect with its tag's remove button.

    Streamlit 1.67 labels that button "Remove {label}", where label is the displayed option.
    """
    button = page.locator(f'[data-testid="stMultiSelect"] [aria-label="Remove {label}"]')
    button.click()
    button.wait_for(state="detached")


def time_queries(page, queries: list[str], expected: dict, caption: str) -> list[Wait]:
    query_input = page.get_by_label("Query", exact=True)
    waits = []
    for query in queries:
        query_input.fill(query)
        start = time.perf_counter()
        query_input.press("Enter")
        wait = wait_for(page, start, QUERY_TIMEOUT_S,
                        lambda state, query=query: results_ready(state, expected[query], caption), caption)
        waits.append(wait)
        logger.info("rendered after %.2f s: %s", wait.seconds, query[:60])
    return waits


def run_browser(args, work_dir: Path, cross_encoder_dir: Path) -> EndToEndRun:
    from playwright.sync_api import sync_playwright

    from reranklab.corpus import Corpus
    from tests.app_server import run_app

    corpus_path = args.scifact / "corpus.jsonl.gz"
    examples = set(json.loads(EXAMPLE_QUERIES.read_text(encoding="utf-8")))
    test_queries = [text for _, text in read_test_queries(args.scifact)[0] if text not in examples]
    first_query, queries = test_queries[0], test_queries[1 : 1 + args.queries]
    with_queries = queries[: args.cross_encoder_queries]

    corpus = Corpus.from_paths([corpus_path])
    expected = {query: [item.passage.passage_id for item in corpus.bm25.search(query, top_k=100)[:TOP_K]]
                for query in [first_query, *queries]}
    run = EndToEndRun(documents=len(corpus.documents), passages=len(corpus.passages))
    caption = f"{run.documents:,} documents, {run.passages:,} passages indexed"
    del corpus

    extra_env = {"RERANKLAB_CACHE_DIR": str(args.cache_dir), "RERANKLAB_CROSS_ENCODER": str(cross_encoder_dir)}
    with run_app(work_dir, extra_env=extra_env) as server, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1600, "height": 1000})
            page.set_default_timeout(PAGE_TIMEOUT_S * 1000)
            page.goto(server.url)
            page.locator(".rl-row").first.wait_for()
            page.wait_for_function(
                "() => document.querySelector('[data-testid=\"stApp\"]')"
                "?.getAttribute('data-test-script-state') === 'notRunning'"
            )

            upload_start = time.perf_counter()
            page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(str(corpus_path))
            run.indexed = wait_for(page, upload_start, FIRST_QUERY_TIMEOUT_S,
                                   lambda state: corpus_ready(state, caption), caption)
            query_input = page.get_by_label("Query", exact=True)
            query_input.fill(first_query)
            start = time.perf_counter()
            query_input.press("Enter")
            run.first_query = wait_for(page, start, FIRST_QUERY_TIMEOUT_S,
                                       lambda state: results_ready(state, expected[first_query], caption), caption)
            logger.info("indexed in %.1f s, first query in %.1f s", run.indexed.seconds, run.first_query.seconds)
            failed = [column["label"] for column in run.first_query.columns if column["error"]]
            if failed:
                raise RuntimeError(f"columns failed on the first query: {', '.join(failed)}; see {server.log_path}")

            run.load_before = wait_for_idle_cpu(args.max_load, args.load_wait)
            run.with_cross_encoder = time_queries(page, with_queries, expected, caption)

            remove_method(page, "Cross-encoder")
            page.wait_for_function(
                "() => document.querySelector('[data-testid=\"stApp\"]')"
                "?.getAttribute('data-test-script-state') === 'notRunning'"
            )
            run.without_cross_encoder = time_queries(page, queries, expected, caption)
            labels = [column["label"] for column in run.without_cross_encoder[-1].columns]
            if any("Cross-encoder" in label for label in labels):
                raise RuntimeError(f"the cross-encoder column is still shown after removing it: {labels}")
            run.server_rss_mib = server_memory_mib(server)
        finally:
            browser.close()
    return run


def render(args, run: EndToEndRun, cross_encoder_text: str, load_end) -> str:
    def summary(waits: list[Wait]) -> tuple[float, float, float]:
        seconds = [wait.seconds for wait in waits]
        return percentile(seconds, 50), percentile(seconds, 95), max(seconds)

    rows = []
    for label, waits, target in (
        ("BM25, bi-encoder, RRF (no cross-encoder)", run.without_cross_encoder, WITHOUT_TARGET_S),
        ("BM25, bi-encoder, cross-encoder, RRF", run.with_cross_encoder, WITH_TARGET_S),
    ):
        p50, p95, maximum = summary(waits)
        verdict = "met" if p50 <= target else "missed"
        rows.append(f"| {label} | {len(waits)} | {p50:.2f} | {p95:.2f} | {maximum:.2f} | {target} s: **{verdict}** |")
    columns = ", ".join(column["label"] for column in run.with_cross_encoder[-1].columns)
    lines = [
        "## Browser: Enter to all offline columns rendered, SciFact",
        "",
        *machine_lines(extra_packages=("streamlit", "playwright")),
        f"- Browser: headless Chromium ({CHROMIUM}) driven by Playwright, app started by `tests/app_server.py` "
        "on 127.0.0.1 with HF_HUB_OFFLINE=1.",
        f"- Command: `{command_line()}`" + (" (quick mode)" if args.quick else ""),
        f"- Load average (1 / 5 / 15 min) before the timed queries: {format_load(run.load_before)}; "
        f"at end: {format_load(load_end)}",
        f"- Corpus: {run.documents:,} documents, {run.passages:,} passages (default settings, 100 BM25 "
        "candidates, top 10 per column)",
        f"- Cross-encoder: {cross_encoder_text}",
        f"- Server process RSS at end: {run.server_rss_mib[0]:,.0f} MiB, peak {run.server_rss_mib[1]:,.0f} MiB",
        "",
        "The passage embeddings were in the embedding cache before the app started, so no timed "
        f"query embeds passages. Upload to BM25 index built: {run.indexed.seconds:.1f} s. The first "
        f"query after the upload, which reads the cached embeddings and loads both models, took "
        f"{run.first_query.seconds:.1f} s and is not counted. The uncached ingest is in the "
        "browser upload section above.",
        "",
        f"Seconds from Enter to all columns rendered ({columns}), SciFact test claims in qrels order:",
        "",
        "| Methods | Queries | p50 (s) | p95 (s) | max (s) | Target (p50) |",
        "|---|---:|---:|---:|---:|---|",
        *rows,
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scifact", type=Path, required=True, metavar="PATH",
                        help="SciFact folder with corpus.jsonl.gz, queries.jsonl and qrels/test.tsv")
    parser.add_argument("--cache-dir", type=Path, metavar="PATH",
                        help="RerankLab cache folder that holds the SciFact passage embeddings "
                             "(default: $RERANKLAB_CACHE_DIR or ~/.cache/reranklab)")
    parser.add_argument("--cross-encoder", type=Path, metavar="PATH",
                        help="folder of a trained cross-encoder to use instead of the untrained MiniLM")
    parser.add_argument("--queries", type=int, default=20, help="timed queries (default: %(default)s)")
    parser.add_argument("--quick", action="store_true", help="time only 10 queries with the cross-encoder")
    parser.add_argument("--output", type=Path, help="markdown file to write the section into")
    add_load_arguments(parser)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s", stream=sys.stderr)

    check_scifact_folder(parser, args.scifact)
    if not Path(CHROMIUM).exists():
        parser.error(f"{CHROMIUM} not found; this benchmark needs a system Chromium")
    if args.cross_encoder is not None and not args.cross_encoder.is_dir():
        parser.error(f"--cross-encoder {args.cross_encoder} is not a folder; give a saved CrossEncoder folder")
    if args.queries < 1:
        parser.error("--queries must be at least 1")
    from reranklab.embedding_cache import default_cache_dir

    args.cache_dir = (args.cache_dir or default_cache_dir()).resolve()
    args.cross_encoder_queries = min(args.queries, 10) if args.quick else args.queries

    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    with tempfile.TemporaryDirectory(prefix="reranklab-e2e-") as work_dir:
        if args.cross_encoder is not None:
            cross_encoder_dir = args.cross_encoder.resolve()
            cross_encoder_text = f"`{args.cross_encoder}` (given with `--cross-encoder`)"
        else:
            cross_encoder_dir = save_minilm_cross_encoder(Path(work_dir) / "minilm-cross-encoder")
            cross_encoder_text = ("all-MiniLM-L6-v2 saved as a CrossEncoder with a new, untrained one-label head: "
                                  "MiniLM-L6 size and speed, meaningless scores")
        run = run_browser(args, Path(work_dir), cross_encoder_dir)
    section = render(args, run, cross_encoder_text, load_average())
    print(section)
    if args.output is not None:
        write_section(args.output, SECTION, section)
        logger.info("wrote the %s section of %s", SECTION, args.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
