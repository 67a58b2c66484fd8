"""Command-line interface on the same core as the app.

    python -m reranklab compare --corpus FILE [FILE ...] --query TEXT
    python -m reranklab answer --corpus FILE [FILE ...] --query TEXT

Cloud keys come from the environment only (COHERE_API_KEY, GEMINI_API_KEY or
GOOGLE_API_KEY), so they never appear in a shell history or a process list.
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
from reranklab.tokenization import Tokenizer
from reranklab.extractive import extractive_answer
from reranklab.registry import (
    DEFAULT_COHERE_MODEL,
    DEFAULT_GEMINI_MODEL,
    METHODS,
    RerankerSettings,
    build_rerankers,
    parse_methods,
)
from reranklab.services import DEFAULT_TIMEOUT_S, ServiceError

logger = logging.getLogger("reranklab")

EXIT_NO_INPUT = 2
# Shipped embeddings of the sample corpus in a source checkout; absent in other installs.
SAMPLE_EMBEDDINGS = Path(__file__).resolve().parent.parent / "assets" / "embeddings"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m reranklab", description="Compare BM25 with rerankers.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress to stderr")
    commands = parser.add_subparsers(dest="command", required=True)

    compare_parser = commands.add_parser("compare", help="rank a corpus for one query with every method")
    _add_corpus_options(compare_parser)
    compare_parser.add_argument("--rerankers", default="bm25,bi-encoder,cross-encoder,rrf",
                        help=f"comma-separated methods from {','.join(METHODS)} (default: %(default)s)")
    compare_parser.add_argument("--top-k", type=int, default=10, help="results shown per method (default: %(default)s)")
    compare_parser.add_argument("--format", choices=("table", "json"), default="table")

    answer_parser = commands.add_parser(
        "answer", help="answer a query from the top passages of one method, with citations"
    )
    _add_corpus_options(answer_parser)
    answer_parser.add_argument("--reranker", default="bm25", choices=METHODS,
                               help="method whose top passages are used (default: %(default)s)")
    answer_parser.add_argument("--top-k", type=int, default=5, help="passages given to the answer (default: %(default)s)")
    answer_parser.add_argument("--format", choices=("text", "json"), default="text")
    answer_parser.add_argument("--temperature", type=float, default=0.2, help="Gemini temperature (default: %(default)s)")
    answer_parser.add_argument("--max-output-tokens", type=int, default=1024,
                               help="Gemini output limit in tokens (default: %(default)s)")
    return parser


def _add_corpus_options(parser: argparse.ArgumentParser) -> None:
    """Add the options shared by every command: corpus, query, passages, BM25 and models."""
    parser.add_argument("--corpus", nargs="+", required=True, metavar="PATH",
                        help="files to index: .txt .md .pdf .docx .html .csv .jsonl .jsonl.gz")
    parser.add_argument("--query", required=True, help="the query text")
    parser.add_argument("--candidates", type=int, default=100,
                        help="BM25 candidates given to each reranker (default: %(default)s)")
    parser.add_argument("--passage-words", type=int, default=ChunkingSettings.passage_words,
                        help="passage size in words (default: %(default)s)")
    parser.add_argument("--overlap-words", type=int, default=ChunkingSettings.overlap_words,
                        help="words shared by consecutive passages (default: %(default)s)")
    parser.add_argument("--bm25-variant", default=BM25Settings.variant,
                        choices=("okapi", "lucene", "bm25l", "bm25+"))
    parser.add_argument("--k1", type=float, default=BM25Settings.k1)
    parser.add_argument("--b", type=float, default=BM25Settings.b)
    parser.add_argument("--rrf-k", type=int, default=60, help="RRF constant k (default: %(default)s)")
    parser.add_argument("--bi-encoder", default="", metavar="MODEL",
                        help="bi-encoder folder or Hub id (default: $RERANKLAB_BI_ENCODER or all-MiniLM-L6-v2)")
    parser.add_argument("--cross-encoder", default="", metavar="MODEL",
                        help="cross-encoder folder or Hub id (default: $RERANKLAB_CROSS_ENCODER or "
                             "cross-encoder/ms-marco-MiniLM-L6-v2)")
    parser.add_argument("--allow-downloads", action="store_true",
                        help="download models missing from the Hugging Face cache")
    parser.add_argument("--text-column", help="CSV column with the passage text (default: guessed)")
    parser.add_argument("--title-column", help="CSV column with the title (optional)")
    parser.add_argument("--no-cache", action="store_true", help="do not read or write cached embeddings")
    parser.add_argument("--cohere-model", default=DEFAULT_COHERE_MODEL, help="default: %(default)s")
    parser.add_argument("--gemini-model", default=DEFAULT_GEMINI_MODEL, help="default: %(default)s")
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT_S,
                        help="seconds to wait for each Cohere or Gemini response (default: %(default)s)")


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
    if args.command == "answer":
        return run_answer(args)
    return 1


def run_compare(args: argparse.Namespace) -> int:
    try:
        methods = parse_methods(args.rerankers)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    comparison = _run_comparison(args, methods)
    if isinstance(comparison, int):
        return comparison

    if args.format == "json":
        json.dump(comparison.to_json(), sys.stdout, ensure_ascii=False, indent=2)
        sys.stdout.write("\n")
    else:
        sys.stdout.write(format_table(comparison))
    return 0


def run_answer(args: argparse.Namespace) -> int:
    """Answer from the top passages of one method: with Gemini when a key is set, else extractive."""
    methods = ["bm25"] if args.reranker == "bm25" else ["bm25", args.reranker]
    comparison = _run_comparison(args, methods)
    if isinstance(comparison, int):
        return comparison
    result = comparison.results[args.reranker]
    if result.error is not None:
        print(f"error: {result.label} failed, so there are no passages to answer from: {result.error}",
              file=sys.stderr)
        return 1
    passages = [item.passage for item in result.ranking[: args.top_k]]
    if not passages:
        print(f"error: {result.label} returned no passage for this query; try other words", file=sys.stderr)
        return 1

    settings = _reranker_settings(args)
    config = settings.service_config("gemini")
    if config is None:
        # The CLI always indexes with the default tokenizer settings.
        answer = extractive_answer(args.query, passages, Tokenizer())
        streamed = False
    else:
        from reranklab.generation import stream_answer

        streamed = args.format == "text"
        answer = None
        try:
            for event in stream_answer(
                config, args.query, passages, model=settings.gemini_model,
                temperature=args.temperature, max_output_tokens=args.max_output_tokens,
            ):
                if isinstance(event, str):
                    if streamed:
                        sys.stdout.write(event)
                        sys.stdout.flush()
                else:
                    answer = event
        except (ServiceError, ValueError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1

    if args.format == "json":
        json.dump(answer.to_json(), sys.stdout, ensure_ascii=False, indent=2)
        sys.stdout.write("\n")
        return 0
    if not streamed:
        sys.stdout.write(answer.text)
    sys.stdout.write("\n\n")
    if answer.message:
        sys.stdout.write(f"note: {answer.message}\n")
    label = "extractive, no Gemini key" if answer.extractive else answer.model
    sys.stdout.write(f"Sources ({label}):\n")
    for citation in answer.citations:
        sys.stdout.write(f"  [{citation.number}] {citation.passage_id}\n")
    return 0


def _reranker_settings(args: argparse.Namespace) -> RerankerSettings:
    return RerankerSettings(
        bi_encoder=args.bi_encoder,
        cross_encoder=args.cross_encoder,
        allow_downloads=args.allow_downloads,
        cohere_model=args.cohere_model,
        gemini_model=args.gemini_model,
        timeout=args.timeout,
    )


def _run_comparison(args: argparse.Namespace, methods: list[str]) -> Comparison | int:
    """Index the corpus and run the methods; return the comparison or an exit status."""
    try:
        chunking = ChunkingSettings(args.passage_words, args.overlap_words)
        bm25 = BM25Settings(variant=args.bm25_variant, k1=args.k1, b=args.b)
    except (TypeError, ValueError) as exc:
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

    cache = None if args.no_cache else EmbeddingCache(seed_directories=[SAMPLE_EMBEDDINGS])
    rerankers, unavailable = build_rerankers(methods, corpus, _reranker_settings(args), cache=cache)
    return compare(
        args.query, corpus, rerankers, unavailable, methods=methods,
        candidates=args.candidates, top_k=args.top_k, rrf_k=args.rrf_k,
    )


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
