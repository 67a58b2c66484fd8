"""Compare page: BM25 next to every reranker on the same candidates."""

from __future__ import annotations

import json
import logging

import streamlit as st

from components import resources
from components.answer_panel import render_answer, render_answer_button
from components.judgment_panel import render_judgments
from components.charts import latency_figure, rank_shift_figure
from components.result_column import render_column
from components.pipeline import load_rerankers
from components.state import bm25_settings, chunking_settings, max_file_bytes, reranker_settings
from components.upload_panel import render_file_reports, render_upload, upload_key
from reranklab.compare import METHOD_LABELS, Comparison, MethodResult, compare
from reranklab.corpus import Corpus
from reranklab.errors import DocumentLoadError, ModelLoadError
from reranklab.models import model_fingerprint, resolve_model
from reranklab.tokenization import Tokenizer

logger = logging.getLogger(__name__)


def load_corpus() -> tuple[Corpus | None, str]:
    """Return the corpus for this session and its source: "upload", "dataset" or "sample".

    Uploaded files win. Otherwise the evaluation dataset is used when the evaluate page
    opened one of its queries here, else the bundled sample.
    """
    try:
        chunking = chunking_settings()
        bm25 = bm25_settings()
    except (TypeError, ValueError) as exc:
        st.error(f"Invalid setting: {exc}")
        return None, "sample"

    files, csv_columns = render_upload()
    if not files:
        dataset = st.session_state.get("compare_dataset")
        if dataset is not None:
            left, right = st.columns([4, 1])
            left.caption(f"Showing the evaluation dataset {dataset['name']}. Upload files to use your own.")
            if right.button("Back to the sample corpus"):
                st.session_state.compare_dataset = None
                st.rerun()
            return resources.dataset_corpus(dataset["corpus_path"], chunking, bm25), "dataset"
        st.caption("Showing the bundled sample corpus: SciFact abstracts (ODC-By 1.0). Upload files to use your own.")
        return resources.sample_corpus(chunking, bm25), "sample"

    max_bytes = max_file_bytes()
    key = upload_key(files, csv_columns, (chunking, bm25, max_bytes))
    if st.session_state.get("corpus_key") != key:
        bar = st.progress(0.0, text="Reading files")
        try:
            corpus = Corpus.from_files(
                files, chunking=chunking, bm25=bm25, csv_columns=csv_columns, max_bytes=max_bytes,
                progress=lambda fraction, message: bar.progress(fraction, text=message),
            )
        except DocumentLoadError as exc:
            bar.empty()
            st.error(f"No file could be indexed. {exc.reason}")
            return None, "upload"
        bar.empty()
        st.session_state.corpus = corpus
        st.session_state.corpus_key = key
    corpus = st.session_state.corpus
    render_file_reports(corpus.reports)
    return corpus, "upload"


def render_query_form(source: str) -> str:
    examples = resources.example_queries()
    sample = source == "sample"
    if sample and not st.session_state.query:
        st.session_state.query = examples[0]
    if source == "upload" and st.session_state.query in examples:
        # A sample query finds nothing in the user's own files.
        st.session_state.query = ""
    if sample:
        current = examples.index(st.session_state.query) if st.session_state.query in examples else None
        st.selectbox(
            "Example queries", examples, index=current, placeholder="Pick an example query",
            key="example_query",
            on_change=lambda: st.session_state.update(query=st.session_state.example_query or ""),
        )
    # The query lives under a plain key, which outlives the widget (see components.sidebar).
    st.session_state.widget_query = st.session_state.query
    with st.form("query_form", border=False):
        st.text_input("Query", key="widget_query", placeholder="Type a query and press Enter")
        st.form_submit_button(
            "Rerank", type="primary",
            # A press reranks even an unchanged query, for example to measure latency again.
            on_click=lambda: st.session_state.update(query=st.session_state.widget_query, force_rerank=True),
        )
    return st.session_state.query.strip()


def run_comparison(query: str, corpus: Corpus, methods: list[str]):
    """Compare the methods on the query, drawing each column as soon as its result is ready.

    Every column first shows its header and "Ranking…", so a slow service keeps only its
    own column waiting, up to its timeout.
    """
    rerankers, unavailable = load_rerankers(corpus)
    tokenizer = Tokenizer(corpus.bm25.settings.tokenizer)
    query_tokens = corpus.bm25.query_tokens(query)
    placeholders = {method: column.empty() for method, column in zip(methods, st.columns(len(methods)), strict=True)}
    for method, placeholder in placeholders.items():
        with placeholder.container():
            st.markdown(f"#### {METHOD_LABELS.get(method, method)}")
            st.caption("Ranking…")

    def draw(partial: Comparison, result: MethodResult) -> None:
        with placeholders[result.method].container():
            draw_column(partial, result, query_tokens, tokenizer)

    return compare(
        query, corpus, rerankers, unavailable,
        methods=methods,
        candidates=int(st.session_state.candidates),
        top_k=int(st.session_state.top_k),
        rrf_k=int(st.session_state.rrf_k),
        on_result=draw,
    )


def draw_columns(comparison: Comparison, corpus: Corpus) -> None:
    """Draw the columns of a comparison made on an earlier run."""
    tokenizer = Tokenizer(corpus.bm25.settings.tokenizer)
    query_tokens = corpus.bm25.query_tokens(comparison.query)
    results = list(comparison.results.values())
    for column, result in zip(st.columns(len(results)), results, strict=True):
        with column:
            draw_column(comparison, result, query_tokens, tokenizer)


def draw_column(comparison: Comparison, result: MethodResult, query_tokens: list[str], tokenizer: Tokenizer) -> None:
    """Draw one method's column and, when it has results, its answer button."""
    render_column(comparison, result, query_tokens, tokenizer)
    if result.error is None and result.ranking:
        render_answer_button(comparison, result.method)


def comparison_key(query: str, corpus: Corpus, methods: list[str]) -> tuple:
    """Return what a comparison depends on: the query, corpus, methods, settings and model files.

    The model part changes when a model folder is deleted, restored or trained again, so
    a column that failed to load its model is retried once the folder is back.
    """
    settings = reranker_settings()
    models = tuple(_model_state(reference) for reference in (settings.bi_encoder, settings.cross_encoder))
    return (
        query, corpus.fingerprint, tuple(methods), settings, models,
        int(st.session_state.candidates), int(st.session_state.top_k), int(st.session_state.rrf_k),
    )


def _model_state(reference: str) -> str:
    try:
        return model_fingerprint(resolve_model(reference))
    except (OSError, ValueError, ModelLoadError) as exc:
        return f"{reference}: {exc}"


def render_results(comparison: Comparison, corpus: Corpus) -> None:
    """Draw what follows the columns: the answer, judgments, charts and downloads."""
    tokenizer = Tokenizer(corpus.bm25.settings.tokenizer)
    render_answer(comparison, tokenizer)
    render_judgments(comparison, corpus)

    left, right = st.columns([3, 2])
    left.plotly_chart(rank_shift_figure(comparison), width="stretch", key="rank_shift_chart")
    right.plotly_chart(latency_figure(comparison), width="stretch", key="latency_chart")

    download_csv, download_json, _ = st.columns([1, 1, 4])
    download_csv.download_button(
        "Download CSV", comparison.to_csv(), file_name="comparison.csv", mime="text/csv"
    )
    download_json.download_button(
        "Download JSON",
        json.dumps(comparison.to_json(), ensure_ascii=False, indent=2),
        file_name="comparison.json",
        mime="application/json",
    )


def main() -> None:
    st.title("Compare rerankers")
    st.write("BM25 retrieves candidates; each reranker orders the same candidates. Arrows show movement against BM25.")

    corpus, source = load_corpus()
    if corpus is None:
        return
    st.caption(f"{len(corpus.documents):,} documents, {len(corpus.passages):,} passages indexed.")

    query = render_query_form(source)
    if not query:
        st.info("Type a query to compare the methods.")
        return

    methods = list(dict.fromkeys(["bm25", *st.session_state.methods]))
    # Clicks on the page (an answer button, a judgment, a chart) rerun this script. They
    # show the stored comparison, so they neither re-rank nor call Cohere or Gemini again.
    key = comparison_key(query, corpus, methods)
    stored = st.session_state.get("comparison")
    forced = st.session_state.pop("force_rerank", False)
    if not forced and stored is not None and st.session_state.get("comparison_key") == key:
        comparison = stored
        draw_columns(comparison, corpus)
    else:
        comparison = run_comparison(query, corpus, methods)
        st.session_state.comparison = comparison
        st.session_state.comparison_key = key
    render_results(comparison, corpus)


main()
