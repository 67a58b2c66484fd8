"""Evaluate page: nDCG@10, MRR@10, recall and MAP of every method against relevance judgments."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from components import resources
from components.judgment_panel import judgment_store
from components.pipeline import load_rerankers
from components.state import bm25_settings, chunking_settings
from reranklab.compare import METHOD_LABELS
from reranklab.corpus import Corpus
from reranklab.datasets import load_beir, read_queries
from reranklab.errors import DocumentLoadError
from reranklab.evaluation import (
    EvaluationReport,
    EvaluationRuns,
    STAT_TESTS,
    collect_runs,
    detect_level,
    evaluate_collected,
)
from reranklab.trec import Qrels, read_qrels, read_qrels_path, read_run, write_run

logger = logging.getLogger(__name__)

SAMPLE_QUERIES = resources.ASSETS / "sample_queries.jsonl"
SAMPLE_QRELS = resources.ASSETS / "sample_qrels.tsv"
SOURCES = {
    "sample": "Sample corpus (30 SciFact claims)",
    "beir": "BEIR dataset folder",
    "qrels": "TREC qrels for the current corpus",
    "clicked": "Judgments clicked in the app",
}
METRIC_LABELS = {
    "ndcg@10": "nDCG@10", "mrr@10": "MRR@10", "recall@10": "Recall@10",
    "recall@100": "Recall@100", "map@100": "MAP@100",
}
# Plotly's point selection returns the clicked bar; its x value is the query id.
PER_QUERY_CHART = "per_query_chart"


@dataclass
class Judgments:
    """What one evaluation needs: the corpus, the judged queries and their qrels.

    Attributes:
        name: shown in titles and exports, such as "scifact/test".
        corpus: the indexed corpus.
        queries: query id to text.
        qrels: query id to judged id to grade.
        dataset_path: the corpus file, for opening a query on the compare page; None
            when the corpus is the one the compare page already shows.
        warnings: problems found while reading the judgments.
    """

    name: str
    corpus: Corpus
    queries: dict[str, str]
    qrels: Qrels
    dataset_path: str | None = None
    warnings: list[str] | None = None


def current_corpus() -> tuple[Corpus, str]:
    """Return the corpus the compare page shows without a dataset: the uploads, else the sample."""
    if st.session_state.get("uploads") and st.session_state.get("corpus") is not None:
        return st.session_state.corpus, "uploaded files"
    return resources.sample_corpus(chunking_settings(), bm25_settings()), "sample corpus"


def select_judgments() -> Judgments | None:
    """Draw the judgment source picker and return the loaded judgments, or None with a message."""
    source = st.radio(
        "Judgments", list(SOURCES), format_func=SOURCES.get, key="eval_source", horizontal=True
    )
    try:
        if source == "sample":
            return _sample_judgments()
        if source == "beir":
            return _beir_judgments()
        if source == "qrels":
            return _uploaded_judgments()
        return _clicked_judgments()
    except DocumentLoadError as exc:
        st.error(str(exc))
        return None


def _sample_judgments() -> Judgments:
    queries, _ = read_queries(SAMPLE_QUERIES.read_bytes(), SAMPLE_QUERIES.name)
    qrels, _ = read_qrels_path(SAMPLE_QRELS)
    corpus = resources.sample_corpus(chunking_settings(), bm25_settings())
    return Judgments("sample", corpus, queries, qrels)


def _beir_judgments() -> Judgments | None:
    left, right = st.columns([3, 1])
    folder = left.text_input(
        "Dataset folder", key="eval_beir_folder", placeholder="/path/to/scifact",
        help="A BEIR folder: corpus.jsonl or corpus.jsonl.gz, queries.jsonl and qrels/{split}.tsv.",
    ).strip()
    splits = sorted(path.stem for path in (Path(folder) / "qrels").glob("*.tsv")) if folder else []
    split = right.selectbox("Split", splits or ["test"], key="eval_beir_split")
    if not folder:
        st.info("Enter the path of a BEIR dataset folder on this machine.")
        return None
    dataset = load_beir(folder, split)
    for warning in dataset.warnings:
        st.warning(warning)
    corpus = resources.dataset_corpus(str(dataset.corpus_path), chunking_settings(), bm25_settings())
    name = f"{Path(folder).name}/{split}"
    return Judgments(name, corpus, dataset.judged_queries, dataset.qrels, str(dataset.corpus_path))


def _uploaded_judgments() -> Judgments | None:
    corpus, label = current_corpus()
    st.caption(f"The qrels must use the document or passage ids of the {label} (see the compare page).")
    left, right = st.columns(2)
    qrels_file = left.file_uploader("TREC or BEIR qrels", key="eval_qrels_file")
    queries_file = right.file_uploader(
        "Queries (BEIR queries.jsonl, or TSV: id, text)", type=["jsonl", "tsv", "txt"], key="eval_queries_file"
    )
    if qrels_file is None or queries_file is None:
        st.info("Upload a qrels file and the queries it judges.")
        return None
    qrels, qrels_warnings = read_qrels(qrels_file.getvalue(), qrels_file.name)
    queries, query_warnings = read_queries(queries_file.getvalue(), queries_file.name)
    judged = {query_id: text for query_id, text in queries.items() if query_id in qrels}
    warnings = qrels_warnings + query_warnings
    missing = len(set(qrels) - set(queries))
    if missing:
        warnings.append(f"{missing} judged queries have no text in {queries_file.name}; they are skipped")
    return Judgments(qrels_file.name, corpus, judged, qrels, warnings=warnings)


def _clicked_judgments() -> Judgments | None:
    corpus, label = current_corpus()
    store = judgment_store()
    queries = store.queries(corpus.document_id)
    if not queries:
        st.info(
            f"No judgments for the {label} yet. Grade passages under 'Judge these passages' on the compare page."
        )
        return None
    return Judgments(f"judgments ({label})", corpus, queries, store.qrels(corpus.document_id, level="passage"))


def run_evaluation(judgments: Judgments, max_queries: int) -> None:
    """Run every method on the judged queries, in batches so a cancel keeps what is done.

    The runs so far live in the session state. A click on Cancel (or any other widget)
    stops this script run, and the next run of the page reports the partial results.
    """
    queries = dict(list(judgments.queries.items())[:max_queries] if max_queries else judgments.queries.items())
    rerankers, unavailable = load_rerankers(judgments.corpus)
    methods = ["bm25", *(m for m in st.session_state.methods if m != "bm25")]
    level = detect_level(judgments.qrels, judgments.corpus)
    state = {
        "status": "running", "name": judgments.name, "level": level, "total": len(queries),
        "runs": EvaluationRuns(level=level, total_queries=len(queries)), "unavailable": unavailable,
    }
    st.session_state.evaluation = state

    bar = st.progress(0.0, text=f"Evaluating {len(queries):,} queries")
    cancel = st.empty()
    cancel.button("Cancel", key="eval_cancel")
    items = list(queries.items())
    batch_size = max(1, len(items) // 50)
    for start in range(0, len(items), batch_size):
        batch = dict(items[start : start + batch_size])
        part = collect_runs(
            judgments.corpus, batch, rerankers, unavailable, methods=methods,
            candidates=int(st.session_state.candidates), level=level, rrf_k=int(st.session_state.rrf_k),
        )
        _merge(state["runs"], part)
        done = len(state["runs"].query_ids)
        bar.progress(done / len(items), text=f"Evaluated {done:,} of {len(items):,} queries")
    bar.empty()
    cancel.empty()
    state["status"] = "done"


def _merge(total: EvaluationRuns, part: EvaluationRuns) -> None:
    total.query_ids.extend(part.query_ids)
    for method, run in part.runs.items():
        total.runs.setdefault(method, {}).update(run)
    for method, latencies in part.latency_ms.items():
        total.latency_ms.setdefault(method, []).extend(latencies)
    for method, errors in part.errors.items():
        merged = total.errors.get(method)
        if merged is None:
            total.errors[method] = errors
        else:
            merged.count += errors.count


def build_report(state: dict, qrels: Qrels, imported: dict) -> EvaluationReport | None:
    runs: EvaluationRuns = state["runs"]
    if not runs.query_ids:
        return None
    runs.cancelled = state["status"] == "cancelled"
    try:
        return evaluate_collected(qrels, runs, extra_runs=imported, baseline="bm25")
    except ValueError as exc:
        st.error(f"Could not evaluate: {exc}")
        return None


def render_report(report: EvaluationReport, state: dict, judgments: Judgments) -> None:
    if report.cancelled:
        st.warning(f"Cancelled after {len(state['runs'].query_ids):,} of {state['total']:,} queries; "
                   "the table covers the queries done.")
    skipped = report.skipped_counts()
    note = ", ".join(f"{count} with {reason}" for reason, count in skipped.items())
    st.caption(
        f"{len(report.query_ids):,} queries evaluated at {report.level or state['level']} level"
        + (f"; skipped {note}." if note else ".")
        + f" † marks a significant difference from BM25 ({STAT_TESTS.get(report.stat_test, report.stat_test)}, p ≤ {report.max_p})."
    )
    for method, message in report.unavailable.items():
        st.error(f"{METHOD_LABELS.get(method, method)} was not evaluated: {message}")
    for method, errors in report.errors.items():
        if method not in report.unavailable:
            st.warning(f"{METHOD_LABELS.get(method, method)} failed on {errors.count} queries: {errors.first_message}")

    st.dataframe(_metrics_table(report), hide_index=True, width="stretch")
    _render_charts(report, judgments)
    _render_exports(report, state)


def _metrics_table(report: EvaluationReport) -> pd.DataFrame:
    rows = []
    for row in report.to_table():
        method = row["method"]
        shown = {"method": row["label"]}
        for metric in report.metrics:
            mark = "†" if report.significant.get(method, {}).get(metric) else ""
            shown[METRIC_LABELS.get(metric, metric)] = f"{row[metric]:.4f}{mark}"
        latency = row.get("latency_ms")
        shown["latency (ms/query)"] = "" if latency is None else f"{latency:,.1f}"
        rows.append(shown)
    return pd.DataFrame(rows)


def _render_charts(report: EvaluationReport, judgments: Judgments) -> None:
    labels = [METHOD_LABELS.get(method, method) for method in report.methods]
    by_metric = go.Figure()
    for method, label in zip(report.methods, labels, strict=True):
        by_metric.add_bar(
            name=label,
            x=[METRIC_LABELS.get(metric, metric) for metric in report.metrics],
            y=[report.mean[method][metric] for metric in report.metrics],
        )
    by_metric.update_layout(title="Each metric per method", barmode="group", height=380, yaxis_range=[0, 1])
    st.plotly_chart(by_metric, width="stretch", key="metrics_chart")

    others = [method for method in report.methods if method != "bm25"]
    if others and "bm25" in report.per_query:
        left, right = st.columns(2)
        method = left.selectbox(
            "Per-query difference of", others, format_func=lambda m: METHOD_LABELS.get(m, m), key="eval_diff_method"
        )
        metric = right.selectbox(
            "Metric", list(report.metrics), format_func=lambda m: METRIC_LABELS.get(m, m), key="eval_diff_metric"
        )
        differences = sorted(
            (
                (report.per_query[method][metric].get(query_id, 0.0)
                 - report.per_query["bm25"][metric].get(query_id, 0.0), query_id)
                for query_id in report.query_ids
            ),
            reverse=True,
        )
        figure = go.Figure(
            go.Bar(
                x=[query_id for _, query_id in differences],
                y=[difference for difference, _ in differences],
                customdata=[judgments.queries.get(query_id, "")[:120] for _, query_id in differences],
                hovertemplate="query %{x}<br>%{customdata}<br>difference %{y:.3f}<extra></extra>",
            )
        )
        figure.update_layout(
            title=f"{METHOD_LABELS.get(method, method)} minus BM25, {METRIC_LABELS.get(metric, metric)}, "
                  "per query (click a bar to open the query)",
            xaxis={"type": "category", "showticklabels": len(differences) <= 60, "title": "query"},
            yaxis_title="difference", height=380,
        )
        event = st.plotly_chart(
            figure, width="stretch", key=PER_QUERY_CHART, on_select="rerun", selection_mode="points"
        )
        points = event.selection.points if event and event.selection else []
        if points:
            open_in_compare(str(points[0]["x"]), judgments)

    latency = [method for method in report.methods if method in report.latency_ms]
    if latency and "ndcg@10" in report.metrics:
        scatter = go.Figure(
            go.Scatter(
                x=[report.latency_ms[method] for method in latency],
                y=[report.mean[method]["ndcg@10"] for method in latency],
                text=[METHOD_LABELS.get(method, method) for method in latency],
                mode="markers+text", textposition="top center", marker={"size": 12},
            )
        )
        scatter.update_layout(
            title="Latency against nDCG@10", xaxis_title="ms per query", yaxis_title="nDCG@10", height=380
        )
        st.plotly_chart(scatter, width="stretch", key="latency_ndcg_chart")

    query_id = st.selectbox(
        "Open a query on the compare page", report.query_ids, index=None,
        format_func=lambda q: f"{q}: {judgments.queries.get(q, '')[:100]}", key="eval_open_query",
    )
    if query_id is not None and st.button("Open in Compare"):
        open_in_compare(query_id, judgments)


def open_in_compare(query_id: str, judgments: Judgments) -> None:
    """Show the query's side-by-side columns on the compare page, on the evaluated corpus."""
    st.session_state.query = judgments.queries.get(query_id, "")
    st.session_state.compare_dataset = (
        {"name": judgments.name, "corpus_path": judgments.dataset_path} if judgments.dataset_path else None
    )
    st.switch_page("app_pages/compare.py")


def _render_exports(report: EvaluationReport, state: dict) -> None:
    st.subheader("Export")
    columns = st.columns(4)
    columns[0].download_button(
        "Metrics (CSV)", _metrics_table(report).to_csv(index=False), file_name="metrics.csv", mime="text/csv"
    )
    columns[1].download_button(
        "Metrics (JSON)", json.dumps(report.to_json(dataset=state["name"]), indent=2),
        file_name="metrics.json", mime="application/json",
    )
    runs: EvaluationRuns = state["runs"]
    method = columns[2].selectbox(
        "Run of", list(runs.runs), format_func=lambda m: METHOD_LABELS.get(m, m), key="eval_export_method",
        label_visibility="collapsed",
    )
    columns[3].download_button(
        "TREC run", write_run(runs.runs[method], method), file_name=f"{method}.run", mime="text/plain"
    )


def imported_runs() -> dict:
    """Return the TREC runs the user uploaded to compare against, keyed by their tag."""
    files = st.file_uploader(
        "Import TREC runs to compare against", accept_multiple_files=True, key="eval_import_runs",
        help="Lines of 'query_id Q0 doc_id rank score tag', using this corpus's ids.",
    )
    runs = {}
    for file in files or []:
        try:
            run, tag, warnings = read_run(file.getvalue(), file.name)
        except DocumentLoadError as exc:
            st.error(str(exc))
            continue
        for warning in warnings:
            st.warning(warning)
        runs[f"{tag or file.name} (imported)"] = run
    return runs


def main() -> None:
    st.title("Evaluate rerankers")
    st.write(
        "Score every method against relevance judgments: nDCG@10, MRR@10, Recall@10, Recall@100 and MAP@100, "
        "with a paired significance test against BM25."
    )
    state = st.session_state.get("evaluation")
    if state is not None and state["status"] == "running":
        # The previous run of this page was stopped by a click, which is how Cancel works.
        state["status"] = "cancelled"

    judgments = select_judgments()
    if judgments is None:
        return
    for warning in judgments.warnings or []:
        st.warning(warning)
    st.caption(
        f"{len(judgments.queries):,} judged queries; corpus of {len(judgments.corpus.documents):,} documents "
        f"and {len(judgments.corpus.passages):,} passages."
    )
    max_queries = st.number_input(
        "Queries to evaluate (0 = all)", min_value=0, max_value=max(len(judgments.queries), 1),
        value=0, key="eval_max_queries",
    )
    extra = imported_runs()
    if st.button("Run evaluation", type="primary"):
        run_evaluation(judgments, int(max_queries))
        state = st.session_state.evaluation

    if state is None or state["name"] != judgments.name:
        return
    report = build_report(state, judgments.qrels, extra)
    if report is not None:
        render_report(report, state, judgments)


main()
