"""Command-line interface on the same core as the app.

    python -m reranklab compare --corpus FILE [FILE ...] --query TEXT
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import textwrap
from collections.abc import Sequence
from pathlib import Path

from reranklab.bm25 import BM25Settings
from reranklab.chunking import ChunkingSettings
from reranklab.compare import Comparison, compare
from reranklab.corpus import Corpus
from reranklab.embedding_cache import EmbeddingCache
from reranklab.errors import DocumentLoadError
from reranklab.loading import CsvColumns
from reranklab.registry import RerankerSettings, build_rerankers, parse_methods

logger = logging.getLogger("reranklab")

EXIT_NO_INPUT = 2
# Shipped embeddings of the sample corpus in a source checkout; absent in other installs.
SAMPLE_EMBEDDINGS = Path(__file__).resolve().parent.parent / "assets" / "embeddings"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m reranklab", description="Compare BM25 with rerankers.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress to stderr")
    commands = parser.add_subparsers(dest="command", required=True)

    compare_parser = commands.add_parser("compare", help="rank a corpus for one query with every method")
    compare_parser.add_argument("--corpus", nargs="+", required=True, metavar="PATH",
                                help="files to index: .txt .md .pdf .docx .html .csv .jsonl .jsonl.gz")
    compare_parser.add_argument("--query", required=True, help="the query text")
    compare_parser.add_argument("--rerankers", default="bm25,bi-encoder,cross-encoder,rrf",
                                help="comma-separated methods (default: %(default)s)")
    compare_parser.add_argument("--candidates", type=int, default=100,
                                help="BM25 candidates given to each reranker (default: %(default)s)")
    compare_parser.add_argument("--top-k", type=int, default=10, help="results shown per method (default: %(default)s)")
    compare_parser.add_argument("--format", choices=("table", "json"), default="table")
    compare_parser.add_argument("--passage-words", type=int, default=ChunkingSettings.passage_words,
                                help="passage size in words (default: %(default)s)")
    compare_parser.add_argument("--overlap-words", type=int, default=ChunkingSettings.overlap_words,
                                help="words shared by consecutive passages (default: %(default)s)")
    compare_parser.add_argument("--bm25-variant", default=BM25Settings.variant,
                                choices=("okapi", "lucene", "bm25l", "bm25+"))
    compare_parser.add_argument("--k1", type=float, default=BM25Settings.k1)
    compare_parser.add_argument("--b", type=float, default=BM25Settings.b)
    compare_parser.add_argument("--rrf-k", type=int, default=60, help="RRF constant k (default: %(default)s)")
    compare_parser.add_argument("--bi-encoder", default="", metavar="MODEL",
                                help="bi-encoder folder or Hub id (default: $RERANKLAB_BI_ENCODER or all-MiniLM-L6-v2)")
    compare_parser.add_argument("--cross-encoder", default="", metavar="MODEL",
                                help="cross-encoder folder or Hub id (default: $RERANKLAB_CROSS_ENCODER or "
                                     "cross-encoder/ms-marco-MiniLM-L6-v2)")
    compare_parser.add_argument("--allow-downloads", action="store_true",
                                help="download models missing from the Hugging Face cache")
    compare_parser.add_argument("--text-column", help="CSV column with the passage text (default: guessed)")
    compare_parser.add_argument("--title-column", help="CSV column with the title (optional)")
    compare_parser.add_argument("--no-cache", action="store_true", help="do not read or write cached embeddings")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        # Per-file problems are printed by the commands themselves; library warnings would repeat them.
        level=logging.INFO if args.verbose else logging.ERROR,
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    # bm25s sets its own logger to DEBUG, which would log every index build.
    logging.getLogger("bm25s").setLevel(logging.WARNING)
    if args.command == "compare":
        return run_compare(args)
    return 1


def run_compare(args: argparse.Namespace) -> int:
    try:
        methods = parse_methods(args.rerankers)
        chunking = ChunkingSettings(args.passage_words, args.overlap_words)
        bm25 = BM25Settings(variant=args.bm25_variant, k1=args.k1, b=args.b)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if args.candidates < 1 or args.top_k < 1:
        print("error: --candidates and --top-k must be at least 1", file=sys.stderr)
        return 1

    csv_columns = None
    if args.text_column:
        columns = CsvColumns(args.text_column, args.title_column)
        csv_columns = {path.rsplit("/", 1)[-1]: columns for path in args.corpus}

    try:
        corpus = Corpus.from_paths(args.corpus, chunking=chunking, bm25=bm25, csv_columns=csv_columns)
    except DocumentLoadError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_NO_INPUT
    for report in corpus.reports:
        if report.error:
            print(f"warning: skipped {report.source}: {report.error}", file=sys.stderr)
        for warning in report.warnings:
            print(f"warning: {report.source}: {warning}", file=sys.stderr)

    settings = RerankerSettings(args.bi_encoder, args.cross_encoder, args.allow_downloads)
    cache = None if args.no_cache else EmbeddingCache(seed_directories=[SAMPLE_EMBEDDINGS])
    rerankers, unavailable = build_rerankers(methods, corpus, settings, cache=cache)
    comparison = compare(
        args.query, corpus, rerankers, unavailable, methods=methods,
        candidates=args.candidates, top_k=args.top_k, rrf_k=args.rrf_k,
    )

    if args.format == "json":
        json.dump(comparison.to_json(), sys.stdout, ensure_ascii=False, indent=2)
        sys.stdout.write("\n")
    else:
        sys.stdout.write(format_table(comparison))
    return 0


def format_table(comparison: Comparison) -> str:
    """Render a comparison as plain text, one block per method."""
    lines = [f"Query: {comparison.query}", ""]
    for result in comparison.results.values():
        lines.append(f"== {result.label} ({result.latency_ms:.1f} ms)")
        if result.error:
            lines.append(textwrap.fill(f"error: {result.error}", width=100, subsequent_indent="   "))
        for warning in result.warnings:
            lines.append(textwrap.fill(f"note: {warning}", width=100, subsequent_indent="   "))
        for item in comparison.top(result.method) if not result.error else []:
            movement = comparison.movement(item).label if result.method != "bm25" else ""
            score = "" if item.score is None else f"{item.score:.4f}"
            snippet = " ".join(item.passage.text.split())[:70]
            lines.append(f"{item.rank:>3}  {score:>9}  {movement:<16} {item.passage.passage_id:<24} {snippet}")
        lines.append("")
    return "\n".join(lines)
