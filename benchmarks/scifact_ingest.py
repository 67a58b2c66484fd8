"""Time reading, indexing, embedding and querying the SciFact corpus through the library.

    .venv/bin/python benchmarks/scifact_ingest.py --scifact /path/to/scifact [--queries 50] \
        [--output docs/benchmarks.md]

`--scifact` is a BEIR SciFact folder with corpus.jsonl.gz, queries.jsonl and
qrels/test.tsv. The script uses a fresh temporary embedding cache and runs offline
(HF_HUB_OFFLINE=1), so the bi-encoder loads from the bundled all-MiniLM-L6-v2 package and
the cross-encoder is skipped unless it is already in the local Hugging Face cache. It
prints a markdown section; with `--output` it also writes that section into the file
between `<!-- scifact-ingest:start -->` and `<!-- scifact-ingest:end -->`.
"""

from __future__ import annotations

import argparse
import logging
import os
import resource
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

# Offline before any Hugging Face import: a missing model must fail at once, not retry.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
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
from reranklab.bm25 import BM25Index, BM25Settings  # noqa: E402
from reranklab.chunking import ChunkingSettings, split_documents  # noqa: E402
from reranklab.compare import compare  # noqa: E402
from reranklab.corpus import Corpus  # noqa: E402
from reranklab.embedding_cache import CACHE_DIR_ENV, EmbeddingCache  # noqa: E402
from reranklab.errors import ModelLoadError  # noqa: E402
from reranklab.loading import load_file  # noqa: E402
from reranklab.models import (  # noqa: E402
    default_bi_encoder,
    default_cross_encoder,
    load_bi_encoder,
    load_cross_encoder,
    model_fingerprint,
    resolve_model,
)
from reranklab.rerankers import BiEncoderReranker  # noqa: E402

logger = logging.getLogger("benchmarks.scifact_ingest")

SECTION = "scifact-ingest"
METHODS = ("bm25", "bi-encoder", "rrf")
TOP_K = 10
CANDIDATES = 100


@dataclass
class Stage:
    """One timed step: wall time in seconds and the process's peak RSS in MiB after it."""

    name: str
    seconds: float
    peak_rss_mib: float
    note: str = ""


@dataclass
class Run:
    stages: list[Stage] = field(default_factory=list)
    facts: dict[str, str] = field(default_factory=dict)

    def time(self, name: str, function, note: str = ""):
        start = time.perf_counter()
        value = function()
        seconds = time.perf_counter() - start
        self.stages.append(Stage(name, seconds, peak_rss_mib(), note))
        logger.info("%s: %.2f s", name, seconds)
        return value


def peak_rss_mib() -> float:
    """Return the peak resident set size of this process in MiB (ru_maxrss is in KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def document_recall(ranking, relevant: set[str], top_k: int) -> float:
    """Return the share of relevant documents that have a passage in the top k."""
    shown = {item.passage.doc_id for item in ranking[:top_k]}
    return len(shown & relevant) / len(relevant)


def run_benchmark(folder: Path, query_count: int, run: Run) -> dict[str, dict[str, float]]:
    corpus_path = folder / "corpus.jsonl.gz"
    cache_dir = Path(os.environ[CACHE_DIR_ENV]) / "embeddings"

    def read_and_parse():
        return load_file(corpus_path.name, corpus_path.read_bytes())

    loaded = run.time("Read and parse corpus.jsonl.gz", read_and_parse)
    if loaded.warnings:
        logger.warning("%d warnings while reading, e.g. %s", len(loaded.warnings), loaded.warnings[0])
    documents = loaded.documents
    passages = run.time("Split into passages (100 words, 25 overlap)", lambda: split_documents(documents))
    index = run.time("Build the BM25 index (lucene, stopwords, stemming)", lambda: BM25Index.build(passages))
    corpus = Corpus(documents, passages, index, ChunkingSettings(), [])
    run.time("Corpus.fingerprint (sha256 of all passages)", lambda: corpus.fingerprint,
             note="the app computes it on every query")

    run.time("Import torch and sentence-transformers", lambda: __import__("sentence_transformers"))
    reference = default_bi_encoder()
    model = run.time(f"Load the bi-encoder ({reference})", lambda: load_bi_encoder(reference, False))
    fingerprint = model_fingerprint(resolve_model(reference))

    first = BiEncoderReranker(model, fingerprint, cache=EmbeddingCache(cache_dir))
    from_cache = run.time("Embed all passages (empty cache)", lambda: first.index(passages))
    if from_cache:
        raise SystemExit(f"error: the embedding cache in {cache_dir} was not empty")
    run.facts["embedding rate"] = f"{len(passages) / run.stages[-1].seconds:.1f}"
    reranker = BiEncoderReranker(model, fingerprint, cache=EmbeddingCache(cache_dir))
    from_cache = run.time("Load the embeddings again from the disk cache", lambda: reranker.index(passages),
                          note="new BiEncoderReranker, same cache folder")
    if not from_cache:
        raise SystemExit(f"error: the second index did not read the embeddings cached in {cache_dir}")

    # BiEncoderReranker.index also counts every passage's tokens for its length warnings,
    # with or without the cache; timed alone here to show its share.
    texts = [passage.full_text for passage in passages]
    token_ids = run.time(
        "Token counts of all passages (part of both embedding steps)",
        lambda: model.tokenizer(texts, add_special_tokens=True, truncation=False, verbose=False)["input_ids"],
    )
    over_limit = sum(1 for ids in token_ids if len(ids) > model.max_seq_length)

    start = time.perf_counter()
    try:
        load_cross_encoder(default_cross_encoder(), False)
        error = None
    except ModelLoadError as exc:
        error = str(exc).split(". ")[0]
    seconds = time.perf_counter() - start
    if error is None:
        run.facts["cross-encoder"] = f"loaded from the local Hugging Face cache in {seconds:.1f} s, not timed on queries"
    else:
        run.facts["cross-encoder"] = f"failed to load in {seconds:.1f} s with this message: {error}."

    queries, relevant = read_test_queries(folder)
    if query_count > len(queries):
        raise SystemExit(f"error: --queries {query_count} is more than the {len(queries)} test queries")
    rerankers = {"bi-encoder": reranker}

    # One warm-up query is not counted, so one-time costs of the first forward pass stay
    # out of the percentiles.
    start = time.perf_counter()
    compare(queries[0][1], corpus, rerankers, methods=list(METHODS), candidates=CANDIDATES, top_k=TOP_K)
    run.facts["warm-up query"] = f"{(time.perf_counter() - start) * 1000:.0f} ms"

    latencies: dict[str, list[float]] = {method: [] for method in (*METHODS, "compare()")}
    recalls: dict[str, list[float]] = {method: [] for method in METHODS}
    for query_id, text in queries[:query_count]:
        start = time.perf_counter()
        comparison = compare(text, corpus, rerankers, methods=list(METHODS), candidates=CANDIDATES, top_k=TOP_K)
        latencies["compare()"].append((time.perf_counter() - start) * 1000)
        for method in METHODS:
            result = comparison.results[method]
            if result.error is not None:
                raise SystemExit(f"error: {method} failed on query {query_id}: {result.error}")
            latencies[method].append(result.latency_ms)
            recalls[method].append(document_recall(result.ranking, relevant[query_id], TOP_K))
    run.stages.append(Stage(f"{query_count} queries with compare()", sum(latencies["compare()"]) / 1000,
                            peak_rss_mib()))

    run.facts["documents"] = f"{len(documents):,}"
    run.facts["passages"] = f"{len(passages):,}"
    run.facts["over limit"] = f"{over_limit:,} of {len(passages):,} passages are longer than " \
                              f"{model.max_seq_length} tokens"
    run.facts["corpus bytes"] = f"{corpus_path.stat().st_size:,}"
    summary = {
        method: {
            "p50": percentile(values, 50),
            "p95": percentile(values, 95),
            "max": max(values),
            "recall": sum(recalls[method]) / len(recalls[method]) if method in recalls else float("nan"),
        }
        for method, values in latencies.items()
    }
    return summary


def render(run: Run, summary: dict[str, dict[str, float]], query_count: int, load_start, load_end) -> str:
    lines = [
        "## Library: SciFact ingest and queries",
        "",
        *machine_lines(),
        f"- Command: `{command_line()}`",
        f"- Load average (1 / 5 / 15 min) at start: {format_load(load_start)}; at end: {format_load(load_end)}",
        f"- Corpus: {run.facts['documents']} documents ({run.facts['corpus bytes']} bytes gzipped), "
        f"{run.facts['passages']} passages; {run.facts['over limit']}",
        f"- Cross-encoder: {run.facts['cross-encoder']}",
        "",
        "| Step | Wall time (s) | Peak RSS after (MiB) | Note |",
        "|---|---:|---:|---|",
    ]
    for stage in run.stages:
        lines.append(f"| {stage.name} | {stage.seconds:.2f} | {stage.peak_rss_mib:,.0f} | {stage.note} |")
    lines += ["", f"Embedding without the cache ran at {run.facts['embedding rate']} passages per second."]

    lines += [
        "",
        f"Query latency over the first {query_count} test queries of qrels/test.tsv, {CANDIDATES} BM25 "
        f"candidates, top {TOP_K} (one earlier warm-up query took {run.facts['warm-up query']} and is "
        "not counted). Each method's time is `MethodResult.latency_ms`. RRF reuses the bi-encoder "
        "ranking of the same query, so its time is the bi-encoder time plus the fusion time, not "
        "extra work. `compare()` is the wall time of the whole call.",
        "",
        f"| Method | p50 (ms) | p95 (ms) | max (ms) | Document recall in top {TOP_K} |",
        "|---|---:|---:|---:|---:|",
    ]
    for method, stats in summary.items():
        recall = "" if stats["recall"] != stats["recall"] else f"{stats['recall']:.3f}"
        lines.append(f"| {method} | {stats['p50']:.1f} | {stats['p95']:.1f} | {stats['max']:.1f} | {recall} |")
    lines += [
        "",
        f"The recall column is a sanity check on {query_count} queries, not an evaluation: it is the share "
        f"of relevant abstracts with a passage among the {TOP_K} passages shown.",
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scifact", type=Path, required=True, metavar="PATH",
                        help="SciFact folder with corpus.jsonl.gz, queries.jsonl and qrels/test.tsv")
    parser.add_argument("--queries", type=int, default=50, help="test queries to time (default: %(default)s)")
    parser.add_argument("--output", type=Path, help="markdown file to write the section into")
    add_load_arguments(parser)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s", stream=sys.stderr)

    check_scifact_folder(parser, args.scifact)
    if args.queries < 1:
        parser.error("--queries must be at least 1")

    cache_root = tempfile.mkdtemp(prefix="reranklab-bench-")
    os.environ[CACHE_DIR_ENV] = cache_root
    try:
        load_start = wait_for_idle_cpu(args.max_load, args.load_wait)
        run = Run()
        summary = run_benchmark(args.scifact, args.queries, run)
        load_end = load_average()
    finally:
        shutil.rmtree(cache_root, ignore_errors=True)

    section = render(run, summary, args.queries, load_start, load_end)
    print(section)
    if args.output is not None:
        write_section(args.output, SECTION, section)
        logger.info("wrote the %s section of %s", SECTION, args.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
