"""Compare BM25 engines on SciFact and on a synthetic Zipf corpus: build time, QPS, memory.

    .venv/bin/python benchmarks/first_stage.py --scifact /path/to/scifact [--quick] \
        [--output docs/benchmarks.md]

The engines are RerankLab's `BM25Index` (bm25s underneath), `rank_bm25.BM25Okapi` and bare
`bm25s.BM25`, which is queried through `retrieve` and through `get_scores`. All run as Okapi BM25 (Robertson idf, k1 = 1.5, b = 0.75) on the
tokens of one `reranklab.tokenization.Tokenizer` with its default settings. rank_bm25 gets
`epsilon=0`, so that it sets a negative idf to 0 as bm25s does instead of to 0.25 × the
mean idf. Each engine runs in its own subprocess, so its peak RSS is its own.

Build time starts from the passage texts and includes tokenizing them. A timed query
includes tokenizing the query text and taking the top 10. Top-10 agreement is measured
against rank_bm25 on the queries that rank_bm25 ran (see `top_k_agrees`).
"""

from __future__ import annotations

import argparse
import gzip
import json
import logging
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.report import (  # noqa: E402
    add_load_arguments,
    check_scifact_folder,
    command_line,
    format_load,
    load_average,
    machine_lines,
    read_test_queries,
    wait_for_idle_cpu,
    write_section,
)

logger = logging.getLogger("benchmarks.first_stage")

SECTION = "first-stage"
ENGINES = ("reranklab", "rank-bm25", "bm25s", "bm25s-scores")
ENGINE_LABELS = {
    "reranklab": "RerankLab BM25Index (okapi)",
    "rank-bm25": "rank_bm25 BM25Okapi (epsilon=0)",
    "bm25s": "bm25s BM25 (robertson), bare, `retrieve`",
    "bm25s-scores": "bm25s BM25 (robertson), bare, `get_scores` + numpy top 10",
}
BARE_BM25S = ("bm25s", "bm25s-scores")
TOP_K = 10
K1, B = 1.5, 0.75

# Synthetic corpus. Word frequencies in English text follow Zipf's law with an exponent near 1.
ZIPF_VOCABULARY = 50_000
ZIPF_EXPONENT = 1.1
ZIPF_MEAN_LENGTH = 60
ZIPF_SEED = 2024


# --- Corpora and queries -----------------------------------------------------------------


def zipf_corpus(
    n_documents: int,
    vocabulary_size: int = ZIPF_VOCABULARY,
    exponent: float = ZIPF_EXPONENT,
    mean_length: int = ZIPF_MEAN_LENGTH,
    seed: int = ZIPF_SEED,
) -> list[str]:
    """Generate documents whose words follow a Zipf law over a fixed vocabulary.

    The word of rank r (1-based) is `f"w{r}"` and has probability proportional to
    1 / r**exponent. A document's length is 3 + Poisson(mean_length - 3) words. The same
    arguments always give the same documents.

    Returns:
        `n_documents` strings of space-separated words.
    """
    rng = np.random.default_rng(seed)
    ranks = np.arange(1, vocabulary_size + 1, dtype=np.float64)
    probabilities = ranks**-exponent
    probabilities /= probabilities.sum()
    lengths = 3 + rng.poisson(max(mean_length - 3, 0), size=n_documents)
    word_ids = rng.choice(vocabulary_size, size=int(lengths.sum()), p=probabilities)
    words = np.char.add("w", (word_ids + 1).astype(str))
    boundaries = np.cumsum(lengths)[:-1]
    return [" ".join(document) for document in np.split(words, boundaries)]


def zipf_queries(documents: list[str], n_queries: int, seed: int = ZIPF_SEED) -> list[str]:
    """Draw queries of 2 to 5 distinct words, each from the words of one random document."""
    rng = np.random.default_rng(seed + 1)
    queries = []
    for _ in range(n_queries):
        words = sorted(set(documents[rng.integers(len(documents))].split()))
        size = min(len(words), int(rng.integers(2, 6)))
        queries.append(" ".join(rng.choice(words, size=size, replace=False)))
    return queries


def read_scifact_documents(folder: Path) -> list[str]:
    """Return the title and text of every document in corpus.jsonl.gz, joined by a newline."""
    documents = []
    with gzip.open(folder / "corpus.jsonl.gz", "rt", encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                record = json.loads(line)
                title = record.get("title") or ""
                documents.append(f"{title}\n{record['text']}" if title else record["text"])
    return documents


# --- Agreement ---------------------------------------------------------------------------


def top_k_agrees(candidate_ids, reference_scores: np.ndarray, top_k: int = TOP_K, rtol: float = 1e-5) -> bool:
    """Return True when a top-k list is a valid top k of the reference scores.

    Ties make "the" top k ambiguous, so the check compares scores, not ids: the reference
    scores of the candidate's documents, sorted, must equal the k highest positive
    reference scores, within `rtol` (bm25s scores in float32, rank_bm25 in float64).
    Documents with a reference score of 0 match no query token and are ignored, so an
    engine may pad a short list with them.

    Args:
        candidate_ids: the engine's top documents, as indices into `reference_scores`.
        reference_scores: shape (n_documents,), the reference engine's score of each document.
    """
    reference_scores = np.asarray(reference_scores, dtype=np.float64)
    expected = np.sort(reference_scores[reference_scores > 0])[::-1][:top_k]
    picked = reference_scores[np.asarray(list(candidate_ids)[:top_k], dtype=np.int64)]
    picked = np.sort(picked[picked > 0])[::-1]
    return len(picked) == len(expected) and bool(np.allclose(picked, expected, rtol=rtol, atol=1e-9))


def reference_top_k(reference_scores: np.ndarray, top_k: int = TOP_K) -> list[int]:
    """Return the indices of the k highest positive scores, ties in index order."""
    order = np.argsort(-np.asarray(reference_scores), kind="stable")[:top_k]
    return [int(index) for index in order if reference_scores[index] > 0]


# --- Worker: one engine in one process ---------------------------------------------------


def vm_status_mib() -> dict[str, float]:
    """Return VmRSS and VmHWM (peak RSS) of this process in MiB."""
    values = {}
    for line in Path("/proc/self/status").read_text(encoding="ascii").splitlines():
        if line.startswith(("VmRSS:", "VmHWM:")):
            key, amount = line.split(":", 1)
            values[key] = int(amount.split()[0]) / 1024
    return values


def reset_peak_rss() -> None:
    """Reset VmHWM to the current RSS (Linux 4.0 and later), so the peak excludes loading the data."""
    try:
        Path("/proc/self/clear_refs").write_text("5", encoding="ascii")
    except OSError as exc:
        logger.warning("could not reset the peak RSS, so it includes loading the data: %s", exc)


def load_corpus(spec: dict) -> tuple[list[str], list[str]]:
    if spec["corpus"] == "scifact":
        folder = Path(spec["scifact"])
        return read_scifact_documents(folder), [text for _, text in read_test_queries(folder)[0]]
    documents = zipf_corpus(spec["documents"], seed=spec["seed"])
    return documents, zipf_queries(documents, spec["queries"], seed=spec["seed"])


def run_engine(engine: str, documents: list[str], queries: list[str]) -> tuple[float, float, float, list, list]:
    """Build one engine and run the queries.

    Returns:
        Build seconds, query seconds, peak RSS in MiB after the build and one warm-up
        query, the top-10 ids of each query, and rank_bm25's scores of each query (empty
        for the other engines). The peak is taken before the timed queries because the
        kept rank_bm25 scores (queries × documents floats) would otherwise count as its memory.
    """
    from reranklab.tokenization import Tokenizer

    tokenizer = Tokenizer()
    scores_out: list[np.ndarray] = []
    start = time.perf_counter()
    if engine == "reranklab":
        from reranklab.bm25 import BM25Index, BM25Settings
        from reranklab.documents import Passage

        passages = [Passage(passage_id=str(i), doc_id=str(i), text=text) for i, text in enumerate(documents)]
        index = BM25Index.build(passages, BM25Settings(variant="okapi", k1=K1, b=B))

        def search(query: str) -> list[int]:
            return [int(hit.passage.passage_id) for hit in index.search(query, top_k=TOP_K)]
    elif engine == "rank-bm25":
        import rank_bm25

        okapi = rank_bm25.BM25Okapi(tokenizer.tokenize_many(documents), k1=K1, b=B, epsilon=0.0)

        def search(query: str) -> list[int]:
            scores = okapi.get_scores(tokenizer.tokenize(query))
            scores_out.append(scores)
            return reference_top_k(scores)
    elif engine in BARE_BM25S:
        import bm25s

        retriever = bm25s.BM25(method="robertson", k1=K1, b=B)
        retriever.index(tokenizer.tokenize_many(documents), show_progress=False)

        def search(query: str) -> list[int]:
            if engine == "bm25s":
                ids, scores = retriever.retrieve([tokenizer.tokenize(query)], k=TOP_K, show_progress=False)
                return [int(i) for i, score in zip(ids[0], scores[0]) if score > 0]
            # The lower-level path: score every document, then take the top 10 with numpy.
            scores = retriever.get_scores(tokenizer.tokenize(query))
            top = np.argpartition(-scores, TOP_K)[:TOP_K]
            top = top[np.argsort(-scores[top], kind="stable")]
            return [int(i) for i in top if scores[i] > 0]
    else:
        raise ValueError(f"invalid engine {engine!r}; use one of {', '.join(ENGINES)}")
    build_s = time.perf_counter() - start

    search(queries[0])  # warm-up, not timed
    scores_out.clear()
    peak_rss_mib = vm_status_mib()["VmHWM"]
    start = time.perf_counter()
    results = [search(query) for query in queries]
    query_s = time.perf_counter() - start
    return build_s, query_s, peak_rss_mib, results, scores_out


def worker(spec_path: Path) -> int:
    spec = json.loads(spec_path.read_text(encoding="utf-8"))
    documents, queries = load_corpus(spec)
    queries = queries[: spec["engine_queries"]]
    # Import the engine's libraries before the baseline, so the baseline is "data loaded".
    import bm25s  # noqa: F401
    import rank_bm25  # noqa: F401

    import reranklab.bm25  # noqa: F401

    reset_peak_rss()
    baseline = vm_status_mib()
    build_s, query_s, peak_rss_mib, results, scores = run_engine(spec["engine"], documents, queries)
    if scores:
        np.save(spec["scores_path"], np.vstack(scores).astype(np.float64))
    Path(spec["result_path"]).write_text(json.dumps({
        "engine": spec["engine"],
        "documents": len(documents),
        "queries": len(queries),
        "build_s": build_s,
        "query_s": query_s,
        "baseline_rss_mib": baseline["VmRSS"],
        "peak_rss_mib": peak_rss_mib,
        "results": results,
    }), encoding="utf-8")
    return 0


# --- Parent: run the workers and summarize -----------------------------------------------


@dataclass
class EngineResult:
    engine: str
    documents: int
    queries: int
    build_s: float
    query_s: float
    baseline_rss_mib: float
    peak_rss_mib: float
    results: list[list[int]]
    agreement: float = float("nan")
    exact_lists: float = float("nan")

    @property
    def qps(self) -> float:
        return self.queries / self.query_s


def run_worker(spec: dict, work_dir: Path) -> EngineResult:
    name = f"{spec['corpus']}-{spec['engine']}"
    spec = {**spec, "result_path": str(work_dir / f"{name}.json"), "scores_path": str(work_dir / f"{name}.npy")}
    spec_path = work_dir / f"{name}-spec.json"
    spec_path.write_text(json.dumps(spec), encoding="utf-8")
    logger.info("running %s on %s", spec["engine"], spec["corpus"])
    subprocess.run([sys.executable, __file__, "--worker", str(spec_path)], check=True)
    data = json.loads(Path(spec["result_path"]).read_text(encoding="utf-8"))
    data.pop("engine")
    return EngineResult(engine=spec["engine"], **data)


def run_corpus(spec: dict, fast_queries: int, reference_queries: int, work_dir: Path) -> list[EngineResult]:
    """Run the engines on one corpus and fill in their agreement with rank_bm25."""
    results = []
    for engine in ENGINES:
        count = reference_queries if engine == "rank-bm25" else fast_queries
        results.append(run_worker({**spec, "engine": engine, "engine_queries": count}, work_dir))
    reference = np.load(work_dir / f"{spec['corpus']}-rank-bm25.npy")
    for result in results:
        pairs = list(zip(result.results, reference))
        result.agreement = sum(top_k_agrees(ids, scores) for ids, scores in pairs) / len(pairs)
        result.exact_lists = sum(ids == reference_top_k(scores) for ids, scores in pairs) / len(pairs)
    return results


def render(corpora: dict[str, list[EngineResult]], load_start, load_end, quick: bool) -> str:
    lines = [
        "## First stage: RerankLab BM25, rank_bm25 and bm25s",
        "",
        *machine_lines(extra_packages=("rank-bm25", "PyStemmer")),
        f"- Command: `{command_line()}`" + (" (quick mode)" if quick else ""),
        f"- Load average (1 / 5 / 15 min) at start: {format_load(load_start)}; at end: {format_load(load_end)}",
        "",
        "All engines score Okapi BM25 (Robertson idf, k1 = 1.5, b = 0.75) over the same tokens: "
        "RerankLab's tokenizer with its defaults (lowercase, bm25s English stopwords, Snowball "
        "English stemmer). rank_bm25 runs with `epsilon=0`, so a token in more than half of the "
        "documents gets idf 0 in all of them. Each engine runs in its own process. Build time starts "
        "from the texts and includes tokenizing them; QPS is sequential queries on one thread, "
        "each tokenizing the query and taking the top 10. Peak RSS is the process's VmHWM after the build and one warm-up query; "
        "\"above data\" subtracts the RSS after the texts and queries were loaded and the "
        "libraries imported (the peak is reset there through /proc/self/clear_refs). Bare bm25s "
        "runs twice: through `retrieve`, its top-k API, and through `get_scores` with a numpy "
        "top 10, close to what RerankLab's `BM25Index.search` does.",
        "",
        "Top-10 agreement is the share of queries whose top 10 is a valid top 10 of rank_bm25's "
        "scores (same scores, ties in any order, relative tolerance 1e-5). \"Same ids\" is the "
        "stricter share with the identical ordered list.",
        "",
    ]
    for title, results in corpora.items():
        reference = next(result for result in results if result.engine == "rank-bm25")
        bare = max((result for result in results if result.engine in BARE_BM25S), key=lambda result: result.qps)
        lines += [
            f"**{title}** ({results[0].documents:,} documents)",
            "",
            "| Engine | Build (s) | Queries timed | QPS | × rank_bm25 QPS | × fastest bare bm25s QPS | Peak RSS (MiB) "
            "| Peak above data (MiB) | Top-10 agreement | Same ids |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for result in results:
            lines.append(
                f"| {ENGINE_LABELS[result.engine]} | {result.build_s:.2f} | {result.queries:,} | {result.qps:,.0f} "
                f"| {result.qps / reference.qps:,.1f} | {result.qps / bare.qps:.2f} | {result.peak_rss_mib:,.0f} "
                f"| {result.peak_rss_mib - result.baseline_rss_mib:,.0f} | {result.agreement:.1%} "
                f"| {result.exact_lists:.1%} |"
            )
        lines.append("")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--worker", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--scifact", type=Path, metavar="PATH",
                        help="SciFact folder with corpus.jsonl.gz, queries.jsonl and qrels/test.tsv")
    parser.add_argument("--documents", type=int, default=100_000,
                        help="documents in the synthetic Zipf corpus (default: %(default)s)")
    parser.add_argument("--quick", action="store_true",
                        help="time fewer queries: 300 per engine on the Zipf corpus, 50 for rank_bm25")
    parser.add_argument("--output", type=Path, help="markdown file to write the section into")
    add_load_arguments(parser)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s", stream=sys.stderr)
    if args.worker is not None:
        return worker(args.worker)

    if args.scifact is None:
        parser.error("--scifact is required")
    check_scifact_folder(parser, args.scifact)
    if args.documents < 100:
        parser.error("--documents must be at least 100")

    zipf_fast, zipf_reference = (300, 50) if args.quick else (1000, 300)
    load_start = wait_for_idle_cpu(args.max_load, args.load_wait)
    with tempfile.TemporaryDirectory(prefix="reranklab-first-stage-") as work_dir:
        scifact_spec = {"corpus": "scifact", "scifact": str(args.scifact.resolve())}
        zipf_spec = {"corpus": "zipf", "documents": args.documents, "seed": ZIPF_SEED, "queries": zipf_fast}
        corpora = {
            "SciFact, 300 test queries": run_corpus(scifact_spec, 300, 300, Path(work_dir)),
            f"Synthetic Zipf corpus, seed {ZIPF_SEED}": run_corpus(zipf_spec, zipf_fast, zipf_reference,
                                                                 Path(work_dir)),
        }
    load_end = load_average()

    section = render(corpora, load_start, load_end, args.quick)
    section += (
        f"\nThe synthetic corpus (`zipf_corpus` in benchmarks/first_stage.py) draws words \"w1\" to "
        f"\"w{ZIPF_VOCABULARY}\" with probability ∝ 1 / rank^{ZIPF_EXPONENT}, {ZIPF_MEAN_LENGTH} words per "
        "document on average (Poisson). A query is 2 to 5 distinct words of one random document.\n"
    )
    print(section)
    if args.output is not None:
        write_section(args.output, SECTION, section)
        logger.info("wrote the %s section of %s", SECTION, args.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
