"""Measure query latency and memory of BM25 and the bi-encoder at 1k, 10k and 100k passages.

    .venv/bin/python benchmarks/cost_growth.py [--quick] [--output docs/benchmarks.md]

The passages come from the synthetic Zipf corpus of benchmarks/first_stage.py. BM25 is
RerankLab's `BM25Index` with the app's defaults, and a query is `search(query, top_k=100)`.
The bi-encoder's passage embeddings are random unit vectors of the model's dimension
(384 for all-MiniLM-L6-v2), because embedding 100,000 passages takes hours on 2 cores and
the search step costs the same for any vectors of that shape. Its query time is the
measured encoding of real SciFact-length queries with all-MiniLM-L6-v2, plus either the
app's step (cosine of the 100 BM25 candidates) or an exact search over all passages.
Each (method, size) runs in its own process, so memory is the growth of that process's RSS.

The chart is saved as benchmarks-cost-growth.html next to the markdown file, and as a PNG
rendered by the headless Chromium that the browser tests use.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.first_stage import vm_status_mib, zipf_corpus, zipf_queries  # noqa: E402
from benchmarks.report import (  # noqa: E402
    add_load_arguments,
    command_line,
    format_load,
    load_average,
    machine_lines,
    percentile,
    wait_for_idle_cpu,
    write_section,
)

logger = logging.getLogger("benchmarks.cost_growth")

SECTION = "cost-growth"
SIZES = (1_000, 10_000, 100_000)
CANDIDATES = 100
DIMENSION = 384
CHART_NAME = "benchmarks-cost-growth"
CHROMIUM = "/usr/bin/chromium"
SEED = 11


def random_unit_vectors(rows: int, dimension: int, seed: int = SEED) -> np.ndarray:
    """Return float32 rows of unit length, drawn from a normal distribution and normalized."""
    rng = np.random.default_rng(seed)
    vectors = rng.standard_normal((rows, dimension), dtype=np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors


def worker(spec: dict) -> dict:
    """Build one method at one size in this process and time its queries (without encoding)."""
    documents = zipf_corpus(spec["size"])
    queries = zipf_queries(documents, spec["queries"])
    rng = np.random.default_rng(SEED + 1)
    import reranklab.bm25  # noqa: F401

    baseline = vm_status_mib()["VmRSS"]
    latencies: list[float] = []
    extra: list[float] = []
    if spec["method"] == "bm25":
        from reranklab.bm25 import BM25Index
        from reranklab.documents import Passage

        start = time.perf_counter()
        index = BM25Index.build([Passage(passage_id=str(i), doc_id=str(i), text=text)
                                 for i, text in enumerate(documents)])
        build_s = time.perf_counter() - start
        del documents
        index.search(queries[0], top_k=CANDIDATES)
        for query in queries:
            start = time.perf_counter()
            index.search(query, top_k=CANDIDATES)
            latencies.append((time.perf_counter() - start) * 1000)
    else:
        del documents
        start = time.perf_counter()
        embeddings = random_unit_vectors(spec["size"], DIMENSION)
        build_s = time.perf_counter() - start
        query_vectors = random_unit_vectors(len(queries), DIMENSION, seed=SEED + 2)
        for query_vector in query_vectors:
            # The app's step: gather the 100 candidates' rows and take the dot products.
            rows = rng.choice(spec["size"], size=min(CANDIDATES, spec["size"]), replace=False)
            start = time.perf_counter()
            scores = embeddings[rows] @ query_vector
            np.argsort(-scores, kind="stable")
            latencies.append((time.perf_counter() - start) * 1000)
            # Exact search over every passage.
            start = time.perf_counter()
            scores = embeddings @ query_vector
            top = np.argpartition(-scores, CANDIDATES)[:CANDIDATES]
            np.argsort(-scores[top], kind="stable")
            extra.append((time.perf_counter() - start) * 1000)
    status = vm_status_mib()
    return {
        "build_s": build_s,
        "p50_ms": percentile(latencies, 50),
        "p95_ms": percentile(latencies, 95),
        "full_search_p50_ms": percentile(extra, 50) if extra else None,
        "rss_growth_mib": status["VmRSS"] - baseline,
        "peak_growth_mib": status["VmHWM"] - baseline,
    }


def run_worker(spec: dict, work_dir: Path) -> dict:
    path = work_dir / f"{spec['method']}-{spec['size']}.json"
    logger.info("running %s at %d passages", spec["method"], spec["size"])
    subprocess.run([sys.executable, __file__, "--worker", json.dumps(spec), "--result", str(path)], check=True)
    return json.loads(path.read_text(encoding="utf-8"))


def query_encoding_ms(count: int) -> list[float]:
    """Time all-MiniLM-L6-v2 encoding of the first `count` SciFact-like queries, one at a time."""
    from reranklab.models import default_bi_encoder, load_bi_encoder

    model = load_bi_encoder(default_bi_encoder(), False)
    queries = [
        "0-dimensional biomaterials show inductive properties.",
        "A deficiency of vitamin B12 increases blood levels of homocysteine.",
        "ALDH1 expression is associated with poorer prognosis for breast cancer primary tumors.",
        "Aspirin inhibits the production of PGE2.",
        "Birth-weight is positively associated with breast cancer.",
    ]
    model.encode(["warm-up"], show_progress_bar=False)
    timings = []
    for number in range(count):
        start = time.perf_counter()
        model.encode([queries[number % len(queries)]], normalize_embeddings=True, show_progress_bar=False)
        timings.append((time.perf_counter() - start) * 1000)
    return timings


def save_chart(results: dict, encode_p50: float, folder: Path) -> list[Path]:
    """Write the plotly chart as HTML, and as PNG when Chromium is available; return the files written."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    sizes = list(SIZES)
    figure = make_subplots(rows=1, cols=2, subplot_titles=("Query latency, p50 (ms)", "Memory growth (MiB)"))
    latency_lines = {
        "BM25 top 100": [results["bm25"][size]["p50_ms"] for size in sizes],
        "Bi-encoder: encode query + score 100 candidates": [encode_p50 + results["bi-encoder"][size]["p50_ms"]
                                                            for size in sizes],
        "Bi-encoder: encode query + exact search of all passages": [
            encode_p50 + results["bi-encoder"][size]["full_search_p50_ms"] for size in sizes],
    }
    for name, values in latency_lines.items():
        figure.add_trace(go.Scatter(x=sizes, y=values, mode="lines+markers", name=name), row=1, col=1)
    memory_lines = {
        "BM25 index and passages (RSS growth)": [results["bm25"][size]["rss_growth_mib"] for size in sizes],
        "Passage embeddings, 384 float32 (RSS growth)": [results["bi-encoder"][size]["rss_growth_mib"]
                                                          for size in sizes],
    }
    for name, values in memory_lines.items():
        figure.add_trace(go.Scatter(x=sizes, y=values, mode="lines+markers", name=name, line={"dash": "dot"}),
                         row=1, col=2)
    figure.update_xaxes(type="log", title_text="passages")
    figure.update_yaxes(type="log")
    figure.update_layout(title="RerankLab cost growth with corpus size (synthetic Zipf passages)",
                         width=1200, height=520, legend={"orientation": "h", "y": -0.25})

    html_path = folder / f"{CHART_NAME}.html"
    figure.write_html(html_path, include_plotlyjs="cdn", full_html=True)
    written = [html_path]
    png_path = folder / f"{CHART_NAME}.png"
    if render_png(html_path, png_path):
        written.append(png_path)
    return written


def render_png(html_path: Path, png_path: Path) -> bool:
    """Screenshot the chart in headless Chromium, serving plotly.js from the installed package.

    The HTML loads plotly.js from its CDN. Here that request gets the copy in the plotly
    package and every other request is aborted, so nothing leaves the machine.
    """
    if not Path(CHROMIUM).exists():
        logger.warning("%s not found; the chart is saved as HTML only", CHROMIUM)
        return False
    import plotly
    from playwright.sync_api import sync_playwright

    plotly_js = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"

    def route(request_route):
        url = request_route.request.url
        if url.startswith("https://cdn.plot.ly/"):
            request_route.fulfill(path=str(plotly_js), content_type="application/javascript")
        elif url.startswith("file://"):
            request_route.continue_()
        else:
            request_route.abort()

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 520})
            page.route("**/*", route)
            page.goto(html_path.resolve().as_uri())
            page.wait_for_selector(".main-svg", timeout=30_000)
            page.screenshot(path=str(png_path), full_page=True)
        finally:
            browser.close()
    return True


def render(args, results: dict, encode_ms: list[float], charts: list[Path], load_start, load_end) -> str:
    encode_p50 = percentile(encode_ms, 50)
    links = " and ".join(f"[{path.suffix[1:].upper()}]({path.name})" for path in charts)
    lines = [
        "## Cost growth: BM25 and bi-encoder at 1k, 10k and 100k passages",
        "",
        *machine_lines(),
        f"- Command: `{command_line()}`" + (" (quick mode)" if args.quick else ""),
        f"- Load average (1 / 5 / 15 min) at start: {format_load(load_start)}; at end: {format_load(load_end)}",
        f"- Chart: {links}",
        "",
        "Passages are synthetic Zipf documents (see the first-stage section), about 60 words each. "
        "BM25 is `BM25Index` with the app's defaults (lucene, stopwords, stemming), timed on "
        f"`search(query, top_k=100)` over {args.queries} queries. The bi-encoder's passage "
        f"embeddings are **random unit vectors** of dimension {DIMENSION}, not real embeddings: the "
        "search step costs the same for any vectors of that shape, and embedding 100,000 passages "
        "would take hours on this CPU. Its query time adds the real query encoding with "
        f"all-MiniLM-L6-v2 (p50 {encode_p50:.1f} ms, p95 {percentile(encode_ms, 95):.1f} ms over "
        f"{len(encode_ms)} queries) to the search step. \"Score 100 candidates\" is what the app "
        "does; \"exact search\" scores every passage, as a dense first stage would. Memory is the "
        "RSS growth of a fresh process after the index (which keeps the passages) or the embedding "
        "matrix was built. It can be lower than the matrix size, because the process reuses memory "
        "freed after generating the passages.",
        "",
        "| Passages | BM25 build (s) | BM25 p50 / p95 (ms) | BM25 memory (MiB) | Bi-encoder, 100 candidates, "
        "p50 (ms) | Bi-encoder, exact search, p50 (ms) | Embeddings memory (MiB) | Embedding matrix (MiB) |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for size in SIZES:
        bm25, dense = results["bm25"][size], results["bi-encoder"][size]
        lines.append(
            f"| {size:,} | {bm25['build_s']:.2f} | {bm25['p50_ms']:.2f} / {bm25['p95_ms']:.2f} "
            f"| {bm25['rss_growth_mib']:,.0f} | {encode_p50 + dense['p50_ms']:.1f} "
            f"| {encode_p50 + dense['full_search_p50_ms']:.1f} | {dense['rss_growth_mib']:,.0f} "
            f"| {size * DIMENSION * 4 / 1024**2:,.0f} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--result", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--quick", action="store_true", help="time 100 queries per size instead of 500")
    parser.add_argument("--output", type=Path, default=None,
                        help="markdown file to write the section into; the chart goes into its folder")
    add_load_arguments(parser)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s", stream=sys.stderr)
    if args.worker is not None:
        args.result.write_text(json.dumps(worker(json.loads(args.worker))), encoding="utf-8")
        return 0

    args.queries = 100 if args.quick else 500
    load_start = wait_for_idle_cpu(args.max_load, args.load_wait)
    results: dict[str, dict[int, dict]] = {"bm25": {}, "bi-encoder": {}}
    with tempfile.TemporaryDirectory(prefix="reranklab-cost-growth-") as work_dir:
        for method in results:
            for size in SIZES:
                spec = {"method": method, "size": size, "queries": args.queries}
                results[method][size] = run_worker(spec, Path(work_dir))
    encode_ms = query_encoding_ms(args.queries)
    load_end = load_average()

    folder = args.output.parent if args.output is not None else Path(tempfile.mkdtemp(prefix="reranklab-chart-"))
    charts = save_chart(results, percentile(encode_ms, 50), folder)
    section = render(args, results, encode_ms, charts, load_start, load_end)
    print(section)
    if args.output is not None:
        write_section(args.output, SECTION, section)
        logger.info("wrote the %s section of %s and the chart %s", SECTION, args.output,
                    ", ".join(str(path) for path in charts))
    return 0


if __name__ == "__main__":
    sys.exit(main())
