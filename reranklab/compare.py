"""Run BM25 and every reranker on one query and compare their rankings.

BM25 retrieves the candidates; each reranker orders the same candidates. Methods are
identified by short ids: `bm25`, `bi-encoder`, `cross-encoder`, `rrf`.
"""

from __future__ import annotations

import csv
import io
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field

from reranklab.corpus import Corpus
from reranklab.documents import RankedPassage
from reranklab.errors import RerankLabError
from reranklab.fusion import reciprocal_rank_fusion
from reranklab.rerankers.base import Reranker

logger = logging.getLogger(__name__)

BM25 = "bm25"
RRF = "rrf"
METHOD_LABELS = {
    "bm25": "BM25",
    "bi-encoder": "Bi-encoder",
    "cross-encoder": "Cross-encoder",
    "cohere": "Cohere Rerank",
    "gemini": "Gemini (listwise)",
    "rrf": "RRF (BM25 + bi-encoder)",
}
# RRF fuses the BM25 ranking with this method's ranking.
RRF_PARTNER = "bi-encoder"


@dataclass
class MethodResult:
    """One method's answer to a query.

    Attributes:
        method: method id.
        ranking: all candidates in this method's order; empty when `error` is set.
        latency_ms: wall time of the method, in milliseconds. For BM25 it is the retrieval
            time; for a reranker, the time to order the candidates; for RRF, the
            bi-encoder time plus the fusion time.
        error: why the method produced no ranking, or None.
        warnings: notes about this run, such as passages longer than the model reads.
    """

    method: str
    ranking: list[RankedPassage] = field(default_factory=list)
    latency_ms: float = 0.0
    error: str | None = None
    warnings: list[str] = field(default_factory=list)

    @property
    def label(self) -> str:
        return METHOD_LABELS.get(self.method, self.method)


@dataclass(frozen=True)
class Movement:
    """Where a passage moved to, compared with its BM25 rank.

    Attributes:
        bm25_rank: 1-based rank among the BM25 candidates, or None if BM25 did not retrieve it.
        rank: rank in this method.
        entered_top_k: True when the passage is in this method's top k but not in BM25's.
    """

    bm25_rank: int | None
    rank: int
    entered_top_k: bool

    @property
    def delta(self) -> int | None:
        """Positions gained (positive) or lost (negative) against BM25."""
        return None if self.bm25_rank is None else self.bm25_rank - self.rank

    @property
    def label(self) -> str:
        """Return a short label: "new (BM25 #37)", "up 5", "down 2" or "same"."""
        if self.bm25_rank is None:
            return "new"
        if self.entered_top_k:
            return f"new (BM25 #{self.bm25_rank})"
        if self.delta > 0:
            return f"up {self.delta}"
        if self.delta < 0:
            return f"down {-self.delta}"
        return "same"


@dataclass
class Comparison:
    """Results of every method on one query.

    Attributes:
        query: the query text.
        top_k: how many results each method shows.
        candidates: how many BM25 candidates were requested.
        results: method id to result, BM25 first.
    """

    query: str
    top_k: int
    candidates: int
    results: dict[str, MethodResult]

    @property
    def bm25_ranks(self) -> dict[str, int]:
        bm25 = self.results.get(BM25)
        if bm25 is None:
            return {}
        return {item.passage.passage_id: item.rank for item in bm25.ranking}

    def movement(self, item: RankedPassage) -> Movement:
        bm25_rank = self.bm25_ranks.get(item.passage.passage_id)
        entered = bm25_rank is not None and bm25_rank > self.top_k and item.rank <= self.top_k
        return Movement(bm25_rank=bm25_rank, rank=item.rank, entered_top_k=entered)

    def top(self, method: str) -> list[RankedPassage]:
        return self.results[method].ranking[: self.top_k]

    def to_records(self) -> list[dict]:
        """Return one flat record per shown result, for CSV export and tables."""
        records = []
        for method, result in self.results.items():
            for item in result.ranking[: self.top_k]:
                movement = self.movement(item)
                records.append(
                    {
                        "query": self.query,
                        "method": method,
                        "rank": item.rank,
                        "score": item.score,
                        "bm25_rank": movement.bm25_rank,
                        "movement": movement.label if method != BM25 else "",
                        "doc_id": item.passage.doc_id,
                        "passage_id": item.passage.passage_id,
                        "title": item.passage.title,
                        "text": item.passage.text,
                        "latency_ms": round(result.latency_ms, 3),
                    }
                )
        return records

    def to_json(self) -> dict:
        """Return the comparison as the CLI's JSON document.

        Shape: `{"query", "results": {method: [{"rank", "doc_id", "passage_id", "score",
        "text"}]}, "latency_ms": {method: float}, "errors": {method: message}}`. Methods
        that failed appear under "errors" only.
        """
        return {
            "query": self.query,
            "results": {
                method: [
                    {
                        "rank": item.rank,
                        "doc_id": item.passage.doc_id,
                        "passage_id": item.passage.passage_id,
                        "score": item.score,
                        "text": item.passage.text,
                    }
                    for item in result.ranking[: self.top_k]
                ]
                for method, result in self.results.items()
                if result.error is None
            },
            "latency_ms": {
                method: round(result.latency_ms, 3)
                for method, result in self.results.items()
                if result.error is None
            },
            "errors": {
                method: result.error for method, result in self.results.items() if result.error is not None
            },
        }

    def to_csv(self) -> str:
        """Return `to_records()` as CSV text with a header row."""
        buffer = io.StringIO()
        fields = [
            "query", "method", "rank", "score", "bm25_rank", "movement",
            "doc_id", "passage_id", "title", "text", "latency_ms",
        ]
        writer = csv.DictWriter(buffer, fieldnames=fields)
        writer.writeheader()
        writer.writerows(self.to_records())
        return buffer.getvalue()


def compare(
    query: str,
    corpus: Corpus,
    rerankers: Mapping[str, Reranker],
    unavailable: Mapping[str, str] | None = None,
    methods: Sequence[str] | None = None,
    candidates: int = 100,
    top_k: int = 10,
    rrf_k: int = 60,
    on_result: Callable[[Comparison, MethodResult], None] | None = None,
) -> Comparison:
    """Retrieve BM25 candidates for the query and order them with each reranker.

    A reranker that raises gets its error in its own result and the others still run.

    Args:
        query: the query text.
        corpus: the indexed corpus.
        rerankers: method id to a ready reranker.
        unavailable: method id to the reason it could not be set up (for example a model
            that failed to load); those methods get that error as their result.
        methods: method ids to run, in column order. Defaults to BM25, the rerankers, the
            unavailable methods, then RRF when its partner is present.
        candidates: BM25 candidates handed to each reranker. Defaults to 100.
        top_k: results shown per method. Defaults to 10.
        rrf_k: the k of reciprocal rank fusion. Defaults to 60.
        on_result: called in the calling thread with the comparison so far and one
            method's result as soon as that result is ready: BM25 first, then the local
            methods and RRF in order, then the remote ones as they finish. The app draws
            each column from it, so a slow service delays only its own column.
    """
    unavailable = dict(unavailable or {})
    if methods is None:
        methods = [BM25, *rerankers, *(m for m in unavailable if m not in rerankers)]
        if RRF_PARTNER in methods:
            methods.append(RRF)

    results: dict[str, MethodResult] = {}

    def add(result: MethodResult) -> None:
        results[result.method] = result
        if on_result is not None:
            on_result(Comparison(query=query, top_k=top_k, candidates=candidates, results=dict(results)), result)

    start = time.perf_counter()
    bm25_ranking = corpus.bm25.search(query, top_k=candidates)
    bm25_result = MethodResult(BM25, bm25_ranking, (time.perf_counter() - start) * 1000)
    if not bm25_ranking:
        bm25_result.warnings.append(
            "BM25 found no passage that contains a query term, so the rerankers have no candidates. "
            "Try other words; stopwords and one-letter words are not indexed."
        )
    add(bm25_result)
    candidate_passages = [item.passage for item in bm25_ranking]

    # Remote rerankers wait on the network, so they run in threads while the local ones
    # use the CPU here. A slow service then delays only its own column; each call is
    # bounded by its service timeout.
    remote = [m for m in methods if m in rerankers and m not in unavailable and rerankers[m].remote]
    with ThreadPoolExecutor(max_workers=max(len(remote), 1), thread_name_prefix="reranklab-remote") as pool:
        futures = {
            method: pool.submit(run_reranker, method, rerankers[method], query, candidate_passages)
            for method in remote
        }
        for method in methods:
            if method in (BM25, RRF) or method in futures:
                continue
            if method in unavailable:
                add(MethodResult(method, error=unavailable[method]))
            elif method in rerankers:
                add(run_reranker(method, rerankers[method], query, candidate_passages))
            else:
                add(MethodResult(method, error=f"Unknown method {method!r}."))
        # RRF fuses BM25 with the local bi-encoder, so it need not wait for the remote ones.
        if RRF in methods:
            add(_fuse(results, query, candidate_passages, rerankers, unavailable, rrf_k))
        for future in as_completed(futures.values()):
            add(future.result())

    ordered = {method: results[method] for method in methods if method in results}
    ordered = {BM25: results[BM25], **ordered}
    return Comparison(query=query, top_k=top_k, candidates=candidates, results=ordered)


def run_reranker(method: str, reranker: Reranker, query: str, candidates: Sequence) -> MethodResult:
    """Time one reranker on the candidates; an exception becomes the result's error."""
    start = time.perf_counter()
    try:
        ranking = reranker.rerank(query, candidates)
    except RerankLabError as exc:
        logger.warning("%s failed: %s", method, exc)
        return MethodResult(method, error=str(exc), latency_ms=(time.perf_counter() - start) * 1000)
    except Exception as exc:  # noqa: BLE001 - one failing model must not take down the other columns
        logger.exception("%s failed on query %r", method, query[:80])
        return MethodResult(
            method,
            error=f"{method} failed: {type(exc).__name__}: {exc}",
            latency_ms=(time.perf_counter() - start) * 1000,
        )
    latency_ms = (time.perf_counter() - start) * 1000
    # Per-call notes, such as an LLM reply that had to be repaired.
    warnings = list(getattr(reranker, "last_warnings", []))
    warnings += reranker.length_warnings(query, candidates)
    return MethodResult(method, ranking, latency_ms, warnings=warnings)


def _fuse(results, query, candidates, rerankers, unavailable, rrf_k) -> MethodResult:
    partner = results.get(RRF_PARTNER)
    if partner is None:
        if RRF_PARTNER in rerankers:
            partner = run_reranker(RRF_PARTNER, rerankers[RRF_PARTNER], query, candidates)
        else:
            reason = unavailable.get(RRF_PARTNER, "the bi-encoder is not enabled")
            return MethodResult(RRF, error=f"RRF needs the bi-encoder ranking: {reason}")
    if partner.error is not None:
        return MethodResult(RRF, error=f"RRF needs the bi-encoder ranking, which failed: {partner.error}")

    start = time.perf_counter()
    fused = reciprocal_rank_fusion([results[BM25].ranking, partner.ranking], k=rrf_k)
    fusion_ms = (time.perf_counter() - start) * 1000
    return MethodResult(RRF, fused, partner.latency_ms + fusion_ms)
