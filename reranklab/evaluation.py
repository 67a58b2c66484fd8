"""Evaluate BM25 and the rerankers against relevance judgments with ranx.

`collect_runs` runs `reranklab.compare.compare` on every judged query and turns each
method's ranking into a run. `evaluate_runs` scores the runs with ranx (0.3.21) and tests
each method against the baseline, BM25 by default, with ranx's paired significance test.

Metrics use ranx's names. ranx's "ndcg" uses the linear gain of Järvelin and Kekäläinen
(the grade itself, divided by log2(rank + 1)), as trec_eval and the BEIR benchmark do, so
grade 2 counts twice as much as grade 1. The other metrics count a judgment with grade 1
or more as relevant. ranx drops judgments below grade 1 before computing any metric.
"""

from __future__ import annotations

import logging
import math
import warnings
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import ranx

from reranklab.compare import BM25, METHOD_LABELS, compare
from reranklab.corpus import Corpus
from reranklab.documents import RankedPassage
from reranklab.rerankers.base import Reranker
from reranklab.trec import Qrels, Run

logger = logging.getLogger(__name__)

METRICS = ("ndcg@10", "mrr@10", "recall@10", "recall@100", "map@100")
METRIC_LABELS = {
    "ndcg@10": "nDCG@10",
    "mrr@10": "MRR@10",
    "recall@10": "R@10",
    "recall@100": "R@100",
    "map@100": "MAP@100",
}
STAT_TESTS = {
    "student": "paired Student's t-test",
    "fisher": "Fisher's randomization test",
}

Level = Literal["document", "passage"]
# Called as progress(queries_done, queries_total, query_id) after each query.
ProgressCallback = Callable[[int, int, str], None]

NO_JUDGMENTS = "no judgments"
NO_RELEVANT = "only non-relevant judgments"


def run_from_ranking(ranking: Sequence[RankedPassage], level: Level) -> dict[str, float]:
    """Convert one method's ranking of one query into a run entry: id to score.

    At passage level the ids are passage ids. At document level each document takes the
    place of its best-ranked passage and its later passages are dropped, so a document
    with three passages in the top 10 uses one rank, as it would in a document run.

    The scores keep the ranking's order under ranx, which sorts each query by score:
    - When every item has a score and the scores never rise down the ranking, the
      method's scores are kept, so an exported run shows them. A score that ties the
      one above it is lowered to the next float below, because ranx orders tied ids
      arbitrarily and the metrics must score the order the method returned.
    - Otherwise the score is 1 / rank. A listwise reranker such as the Gemini one
      returns an order without scores, and the metrics only depend on the order.

    Args:
        ranking: best first, as in `MethodResult.ranking`.
        level: "document" or "passage".

    Returns:
        Ids in ranking order mapped to strictly decreasing scores.

    Raises:
        ValueError: `level` is neither "document" nor "passage".
    """
    if level not in ("document", "passage"):
        raise ValueError(f"invalid level {level!r}; use 'document' or 'passage'")

    items: list[tuple[str, float | None]] = []
    seen: set[str] = set()
    for item in ranking:
        item_id = item.passage.doc_id if level == "document" else item.passage.passage_id
        if item_id in seen:
            continue
        seen.add(item_id)
        items.append((item_id, item.score))

    scores = [score for _, score in items]
    usable = all(score is not None and math.isfinite(score) for score in scores) and all(
        later <= earlier for earlier, later in zip(scores, scores[1:])
    )
    if not usable:
        return {item_id: 1.0 / rank for rank, (item_id, _) in enumerate(items, start=1)}

    run: dict[str, float] = {}
    previous = math.inf
    for item_id, score in items:
        if score >= previous:
            score = math.nextafter(previous, -math.inf)
        run[item_id] = score
        previous = score
    return run


def detect_level(qrels: Qrels, corpus: Corpus) -> Level:
    """Return "passage" when the judged ids are mostly passage ids of the corpus, else "document".

    BEIR and TREC qrels judge documents. Judgments clicked in the app can be kept per
    passage ("doc_id#index"). When no judged id is found in the corpus, the level is
    "document", and every query scores 0.
    """
    passage_ids = {passage.passage_id for passage in corpus.passages}
    doc_ids = {document.doc_id for document in corpus.documents}
    judged = {item_id for grades in qrels.values() for item_id in grades}
    passage_matches = len(judged & passage_ids)
    doc_matches = len(judged & doc_ids)
    return "passage" if passage_matches > doc_matches else "document"


@dataclass
class MethodErrors:
    """Queries on which one method failed.

    Attributes:
        count: number of queries on which the method returned an error.
        first_message: the error on the first such query.
        first_query_id: the id of that query.
    """

    count: int = 0
    first_message: str = ""
    first_query_id: str = ""


@dataclass
class EvaluationRuns:
    """Runs of every method over a set of queries, made by `collect_runs`.

    Attributes:
        level: "document" or "passage": what the run ids are.
        query_ids: the queries that were run, in order. On cancel, the ones done.
        total_queries: the number of queries that were requested.
        runs: method id to run. A query on which the method failed maps to {}.
        latency_ms: method id to the method's time per query in milliseconds, for the
            queries on which it succeeded. See `MethodResult.latency_ms`.
        errors: method id to its failures. Methods that never failed are absent.
        cancelled: True when `should_stop` ended the loop early.
    """

    level: Level
    query_ids: list[str] = field(default_factory=list)
    total_queries: int = 0
    runs: dict[str, Run] = field(default_factory=dict)
    latency_ms: dict[str, list[float]] = field(default_factory=dict)
    errors: dict[str, MethodErrors] = field(default_factory=dict)
    cancelled: bool = False

    def failed_everywhere(self) -> list[str]:
        """Return the methods that failed on every query run, such as a model that did not load."""
        if not self.query_ids:
            return []
        return [method for method, errors in self.errors.items() if errors.count == len(self.query_ids)]


def collect_runs(
    corpus: Corpus,
    queries: Mapping[str, str],
    rerankers: Mapping[str, Reranker],
    unavailable: Mapping[str, str] | None = None,
    methods: Sequence[str] | None = None,
    candidates: int = 100,
    level: Level = "document",
    progress: ProgressCallback | None = None,
    should_stop: Callable[[], bool] | None = None,
    rrf_k: int = 60,
) -> EvaluationRuns:
    """Run `compare` on each query and keep every method's full ranking as a run.

    Each method's run contains all the candidates it ranked, so Recall@100 sees up to
    `candidates` passages. At document level a query may have fewer documents than
    candidates, because passages of one document share one entry.

    Args:
        corpus: the indexed corpus.
        queries: query id to query text, run in this order.
        rerankers: method id to a ready reranker, as `build_rerankers` returns.
        unavailable: method id to the reason it could not be set up.
        methods: method ids to run. Defaults to those that `compare` picks.
        candidates: BM25 candidates given to each reranker. Defaults to 100.
        level: "document" (default) or "passage": which ids the runs use.
        progress: called after each query as `progress(done, total, query_id)`.
        should_stop: checked before each query. When it returns True the runs done so
            far are returned with `cancelled=True`.
        rrf_k: the k of reciprocal rank fusion. Defaults to 60.
    """
    if level not in ("document", "passage"):
        raise ValueError(f"invalid level {level!r}; use 'document' or 'passage'")
    collected = EvaluationRuns(level=level, total_queries=len(queries))
    for method in methods or ():
        collected.runs.setdefault(method, {})
        collected.latency_ms.setdefault(method, [])

    for number, (query_id, text) in enumerate(queries.items(), start=1):
        if should_stop is not None and should_stop():
            collected.cancelled = True
            logger.info("evaluation cancelled after %d of %d queries", number - 1, len(queries))
            break

        comparison = compare(
            text, corpus, rerankers, unavailable, methods=methods,
            candidates=candidates, rrf_k=rrf_k,
        )
        for method, result in comparison.results.items():
            run = collected.runs.setdefault(method, {})
            latencies = collected.latency_ms.setdefault(method, [])
            if result.error is None:
                run[query_id] = run_from_ranking(result.ranking, level)
                latencies.append(result.latency_ms)
                continue
            run[query_id] = {}
            errors = collected.errors.setdefault(method, MethodErrors())
            if errors.count == 0:
                errors.first_message = result.error
                errors.first_query_id = query_id
            errors.count += 1
        collected.query_ids.append(query_id)
        if progress is not None:
            progress(number, len(queries), query_id)
    return collected


@dataclass
class EvaluationReport:
    """Metrics of each method, per query and averaged, with significance against a baseline.

    Attributes:
        methods: method ids (or run names), in input order.
        metrics: ranx metric names, such as "ndcg@10".
        query_ids: the evaluated queries: every one has a relevant judgment.
        mean: method to metric to the mean over `query_ids`.
        per_query: method to metric to query id to the value on that query.
        baseline: the method every other method is tested against, or None.
        p_values: method to metric to the p-value against the baseline, for every method
            but the baseline. None when the test cannot be computed (fewer than 2 queries).
        significant: method to metric to whether p <= max_p.
        stat_test: "student" or "fisher", as ranx names them.
        max_p: the significance level.
        skipped: query id to the reason it was not evaluated.
        level: "document" or "passage", when known.
        latency_ms: method to its mean milliseconds per query, when measured.
        errors: method to the queries on which it failed.
        unavailable: method to the error that stopped it on every query; such a method
            has no metrics.
        cancelled: True when the runs stopped before every query was done.
    """

    methods: list[str]
    metrics: tuple[str, ...]
    query_ids: list[str]
    mean: dict[str, dict[str, float]]
    per_query: dict[str, dict[str, dict[str, float]]]
    baseline: str | None
    p_values: dict[str, dict[str, float | None]]
    significant: dict[str, dict[str, bool]]
    stat_test: str
    max_p: float
    skipped: dict[str, str] = field(default_factory=dict)
    level: Level | None = None
    latency_ms: dict[str, float] = field(default_factory=dict)
    errors: dict[str, MethodErrors] = field(default_factory=dict)
    unavailable: dict[str, str] = field(default_factory=dict)
    cancelled: bool = False

    def skipped_counts(self) -> dict[str, int]:
        """Return the number of skipped queries per reason."""
        return dict(Counter(self.skipped.values()))

    def to_table(self) -> list[dict]:
        """Return one row per method: "method", "label", each metric's mean and "latency_ms".

        "latency_ms" is None for runs without a measured time, such as imported runs.
        """
        rows = []
        for method in self.methods:
            row = {"method": method, "label": METHOD_LABELS.get(method, method)}
            row.update(self.mean[method])
            row["latency_ms"] = self.latency_ms.get(method)
            rows.append(row)
        return rows

    def to_json(self, dataset: str | None = None, split: str | None = None) -> dict:
        """Return the report as the CLI's JSON document.

        Shape: `{"dataset", "split", "level", "queries", "metrics": {method: {metric:
        mean}}, "latency_ms": {method: ms}, "baseline", "stat_test", "max_p", "p_values":
        {method: {metric: p}}, "significant": {method: {metric: bool}}, "skipped":
        {"count", "reasons": {reason: count}}, "errors": {method: {"count", "first_message",
        "first_query_id"}}, "unavailable": {method: message}, "cancelled"}`.
        """
        return {
            "dataset": dataset,
            "split": split,
            "level": self.level,
            "queries": len(self.query_ids),
            "metrics": self.mean,
            "latency_ms": {method: _round(self.latency_ms.get(method)) for method in self.methods},
            "baseline": self.baseline,
            "stat_test": self.stat_test,
            "max_p": self.max_p,
            "p_values": self.p_values,
            "significant": self.significant,
            "skipped": {"count": len(self.skipped), "reasons": self.skipped_counts()},
            "errors": {
                method: {
                    "count": errors.count,
                    "first_message": errors.first_message,
                    "first_query_id": errors.first_query_id,
                }
                for method, errors in self.errors.items()
                if method not in self.unavailable
            },
            "unavailable": self.unavailable,
            "cancelled": self.cancelled,
        }

    def to_text(self) -> str:
        """Render the report as a plain-text table with a legend.

        A dagger (†) after a value marks a significant difference from the baseline.
        """
        headers = ["Method", *(METRIC_LABELS.get(metric, metric) for metric in self.metrics), "ms/query"]
        rows = []
        for row in self.to_table():
            method = row["method"]
            cells = [row["label"]]
            for metric in self.metrics:
                # A space in place of the dagger keeps the digits of a column aligned.
                mark = "†" if self.significant.get(method, {}).get(metric) else " "
                cells.append(f"{row[metric]:.4f}{mark}")
            latency = row["latency_ms"]
            cells.append("" if latency is None else f"{latency:.1f}")
            rows.append(cells)

        widths = [max(len(str(cells[i])) for cells in [headers, *rows]) for i in range(len(headers))]
        lines = [_format_row(headers, widths), _format_row(["-" * width for width in widths], widths)]
        lines.extend(_format_row(cells, widths) for cells in rows)
        lines.append("")
        lines.extend(self._notes())
        return "\n".join(lines) + "\n"

    def _notes(self) -> list[str]:
        notes = []
        if self.baseline is not None and len(self.methods) > 1:
            label = METHOD_LABELS.get(self.baseline, self.baseline)
            notes.append(
                f"† differs from {label} with p <= {self.max_p:g} "
                f"({STAT_TESTS.get(self.stat_test, self.stat_test)} over {len(self.query_ids)} queries, ranx)."
            )
        level = f" at {self.level} level" if self.level else ""
        skipped = ", ".join(f"{count} with {reason}" for reason, count in self.skipped_counts().items())
        notes.append(
            f"Evaluated {len(self.query_ids)} queries{level}; skipped {len(self.skipped)}"
            + (f" ({skipped})." if skipped else ".")
        )
        if self.cancelled:
            notes.append("Cancelled: only the queries run before the cancel are evaluated.")
        for method, message in self.unavailable.items():
            notes.append(f"{METHOD_LABELS.get(method, method)} not evaluated: {message}")
        for method, errors in self.errors.items():
            if method in self.unavailable:
                continue
            notes.append(
                f"{METHOD_LABELS.get(method, method)} failed on {errors.count} queries, which score 0; "
                f"first error (query {errors.first_query_id}): {errors.first_message}"
            )
        return notes


def evaluate_runs(
    qrels: Qrels,
    runs: Mapping[str, Run],
    baseline: str | None = BM25,
    metrics: Sequence[str] = METRICS,
    stat_test: str = "student",
    max_p: float = 0.05,
    query_ids: Iterable[str] | None = None,
) -> EvaluationReport:
    """Score each run against the judgments and test each one against the baseline.

    Only queries with at least one relevant judgment (grade 1 or more) are evaluated.
    A query with judgments of grade 0 only is skipped, because every metric here is
    undefined for it and ranx would score it 0 for every method. That would lower every
    mean without telling the methods apart. A query that is missing from a run, or maps
    to {}, scores 0 in that run.

    The default test is ranx's two-sided paired Student's t-test on the per-query values
    (scipy's `ttest_rel`). It is deterministic, and Smucker, Allan and Carterette (CIKM
    2007) found that it agrees closely with Fisher's randomization test on IR metrics.
    "fisher" runs ranx's randomization test with 1,000 permutations and seed 42.
    NOTE: p-values are not corrected for testing several methods and metrics at once.

    Args:
        qrels: query id to judged id to grade.
        runs: method id (or run name) to run. Imported TREC runs can be added here.
        baseline: the run the others are tested against. None skips the tests.
        metrics: ranx metric names. Defaults to `METRICS`.
        stat_test: "student" (default) or "fisher".
        max_p: significance level. Defaults to 0.05.
        query_ids: the queries to evaluate, such as the ones that were run. Defaults to
            every query in `qrels`. Ids without judgments are reported as skipped.

    Raises:
        ValueError: no run is given, the baseline is not one of the runs, the test or a
            metric is unknown, or no query has a relevant judgment. The message names the cause.
    """
    if not runs:
        raise ValueError("no run to evaluate; pass at least one run")
    if baseline is not None and baseline not in runs:
        raise ValueError(f"baseline {baseline!r} is not one of the runs ({', '.join(runs)}); pass one of them or None")
    if stat_test not in STAT_TESTS:
        raise ValueError(f"unknown significance test {stat_test!r}; use one of {', '.join(STAT_TESTS)}")
    metrics = tuple(metrics)
    for metric in metrics:
        _check_metric(metric)

    evaluated, skipped = _split_queries(qrels, query_ids)
    if not evaluated:
        counts = ", ".join(f"{count} with {reason}" for reason, count in Counter(skipped.values()).items())
        raise ValueError(f"no query to evaluate: every query was skipped ({counts or 'no query given'})")

    ranx_qrels = ranx.Qrels.from_dict({query_id: dict(qrels[query_id]) for query_id in evaluated})
    ranx_runs = [_to_ranx_run(name, run, ranx_qrels, evaluated) for name, run in runs.items()]
    with warnings.catch_warnings():
        # scipy warns when a t-test has fewer than 2 queries or zero variance; `_p_value`
        # handles the NaN it returns then.
        warnings.simplefilter("ignore", RuntimeWarning)
        comparison = ranx.compare(
            qrels=ranx_qrels, runs=ranx_runs, metrics=list(metrics), stat_test=stat_test,
            max_p=max_p, rounding_digits=6,
        )

    per_query: dict[str, dict[str, dict[str, float]]] = {}
    mean: dict[str, dict[str, float]] = {}
    for ranx_run in ranx_runs:
        per_query[ranx_run.name] = {
            metric: {query_id: float(ranx_run.scores[metric][query_id]) for query_id in evaluated}
            for metric in metrics
        }
        mean[ranx_run.name] = {metric: float(comparison.results[ranx_run.name][metric]) for metric in metrics}

    p_values: dict[str, dict[str, float | None]] = {}
    significant: dict[str, dict[str, bool]] = {}
    for method in runs:
        if baseline is None or method == baseline:
            continue
        tests = comparison.comparisons[baseline, method]
        p_values[method] = {}
        significant[method] = {}
        for metric in metrics:
            p_value = _p_value(tests[metric]["p_value"], per_query[baseline][metric], per_query[method][metric])
            p_values[method][metric] = p_value
            significant[method][metric] = p_value is not None and p_value <= max_p

    return EvaluationReport(
        methods=list(runs), metrics=metrics, query_ids=evaluated, mean=mean, per_query=per_query,
        baseline=baseline, p_values=p_values, significant=significant, stat_test=stat_test,
        max_p=max_p, skipped=skipped,
    )


def evaluate_collected(
    qrels: Qrels,
    collected: EvaluationRuns,
    extra_runs: Mapping[str, Run] | None = None,
    **options,
) -> EvaluationReport:
    """Evaluate the runs of `collect_runs`, with their latency and errors, on the queries run.

    Methods that failed on every query, such as a model that could not load, get no
    metrics and are listed in `unavailable`. Methods that failed on some queries are
    evaluated with those queries scoring 0, and their failures are listed in `errors`.

    Args:
        qrels: query id to judged id to grade.
        collected: the output of `collect_runs`.
        extra_runs: more runs evaluated on the same queries, such as imported TREC runs.
        **options: `baseline`, `metrics`, `stat_test` and `max_p` of `evaluate_runs`.
    """
    failed = set(collected.failed_everywhere())
    runs = {method: run for method, run in collected.runs.items() if method not in failed}
    for name, run in (extra_runs or {}).items():
        if name in runs:
            raise ValueError(f"run name {name!r} is already used by a method; rename the run")
        runs[name] = run

    report = evaluate_runs(qrels, runs, query_ids=collected.query_ids, **options)
    report.level = collected.level
    report.latency_ms = {
        method: float(np.mean(times)) for method, times in collected.latency_ms.items()
        if times and method in runs
    }
    report.errors = dict(collected.errors)
    report.unavailable = {method: collected.errors[method].first_message for method in collected.runs if method in failed}
    report.cancelled = collected.cancelled
    return report


def _split_queries(qrels: Qrels, query_ids: Iterable[str] | None) -> tuple[list[str], dict[str, str]]:
    """Return the queries to evaluate, in order, and the skipped ones with the reason."""
    requested = list(qrels) if query_ids is None else list(dict.fromkeys(query_ids))
    evaluated: list[str] = []
    skipped: dict[str, str] = {}
    for query_id in requested:
        grades = qrels.get(query_id)
        if not grades:
            skipped[query_id] = NO_JUDGMENTS
        elif max(grades.values()) < 1:
            skipped[query_id] = NO_RELEVANT
        else:
            evaluated.append(query_id)
    return evaluated, skipped


def _to_ranx_run(name: str, run: Run, qrels: ranx.Qrels, query_ids: Collection[str]) -> ranx.Run:
    """Build a ranx run restricted to `query_ids`, with an empty entry for each missing query.

    ranx 0.3.21 cannot build a run from a dict whose entries are all empty, so empty
    entries are left out and `make_comparable` adds them back.
    """
    kept = {query_id: dict(run[query_id]) for query_id in query_ids if run.get(query_id)}
    ranx_run = ranx.Run.from_dict(kept, name=name) if kept else ranx.Run(name=name)
    return ranx_run.make_comparable(qrels)


def _p_value(p_value: float, control: Mapping[str, float], treatment: Mapping[str, float]) -> float | None:
    """Return ranx's p-value, or 1.0 where scipy gives NaN for identical values, or None.

    scipy's `ttest_rel` returns NaN when every per-query difference is 0 (the variance is
    0) and when there are fewer than 2 queries. No difference at all means p = 1.
    """
    p_value = float(p_value)
    if not math.isnan(p_value):
        return p_value
    if all(control[query_id] == treatment[query_id] for query_id in control):
        return 1.0
    return None


def _check_metric(metric: str) -> None:
    from ranx.meta.evaluate import extract_metric_and_params
    from ranx.metrics import metric_switch

    try:
        name, _, _ = extract_metric_and_params(metric)
        metric_switch(name)
    except ValueError as exc:
        raise ValueError(f"unknown metric {metric!r}; use ranx names such as {', '.join(METRICS)}") from exc


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def _format_row(cells: Sequence[str], widths: Sequence[int]) -> str:
    first, *rest = cells
    return "  ".join([f"{first:<{widths[0]}}", *(f"{cell:>{width}}" for cell, width in zip(rest, widths[1:]))])
