"""Models page: inspect and adjust a model through AutoConfig, and train a cross-encoder."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from components import resources
from components.judgment_panel import judgment_store
from components.state import bm25_settings, chunking_settings
from reranklab.datasets import load_beir
from reranklab.errors import DocumentLoadError, ModelLoadError
from reranklab.judgments import default_data_dir
from reranklab.model_config import (
    adjust_config,
    has_module_head,
    load_config,
    load_sequence_classifier,
    save_model,
    summarize_config,
)
from reranklab.models import DEFAULT_BI_ENCODER
from reranklab.training import TrainingProgress, TrainingSettings, train_cross_encoder

logger = logging.getLogger(__name__)

REMOTE_CODE_WARNING = (
    "Trusting remote code runs Python files from the model's repository or folder on this "
    "machine, with your permissions. Tick it only for a model whose code you have read or trust."
)


def models_folder() -> Path:
    """Return the folder where the page saves models: `models/` under the data folder."""
    return default_data_dir() / "models"


def use_model(folder: Path, role: str) -> None:
    """Make the saved model the compare page's cross-encoder or bi-encoder, and show its column."""
    key = "cross_encoder_model" if role == "cross-encoder" else "bi_encoder_model"
    st.session_state[key] = str(folder)
    if role not in st.session_state.methods:
        st.session_state.methods = [*st.session_state.methods, role]


def render_inspect() -> None:
    st.header("Inspect and adjust a model")
    left, right = st.columns([3, 1])
    reference = left.text_input(
        "Model", value=DEFAULT_BI_ENCODER, key="models_reference",
        help="A Hugging Face model id or a local folder.",
    ).strip()
    trust = right.checkbox("Trust remote code", value=False, key="models_trust_remote_code")
    if trust:
        st.warning(REMOTE_CODE_WARNING)

    if st.button("Load configuration"):
        try:
            st.session_state.models_config = (reference, trust, load_config(reference, trust_remote_code=trust))
        except ModelLoadError as exc:
            st.session_state.models_config = None
            st.error(str(exc))
    loaded = st.session_state.get("models_config")
    if not loaded or loaded[0] != reference or loaded[1] != trust:
        return
    _, _, config = loaded
    summary = summarize_config(config, reference)
    st.table(pd.DataFrame(summary.to_rows(), columns=["field", "value"]))
    if has_module_head(reference):
        st.warning(
            "This folder is a sentence-transformers CrossEncoder whose scoring head follows the encoder "
            "(for example mean pooling and a linear layer, as RerankLab trains them). The table shows only "
            "the encoder's config, and loading it below adds a new, untrained head in place of the trained one. "
            "To rerank with it, enter the folder as the cross-encoder model in the sidebar instead."
        )

    st.subheader("Adjust")
    columns = st.columns(3)
    num_labels = columns[0].number_input(
        "num_labels", min_value=1, max_value=1000, value=summary.num_labels, key="models_num_labels"
    )
    dropouts = {}
    for column, field in zip(columns[1:], ("hidden_dropout_prob", "attention_probs_dropout_prob"), strict=True):
        if field in summary.dropouts:
            dropouts[field] = column.number_input(
                field, min_value=0.0, max_value=0.99, step=0.05, value=float(summary.dropouts[field]),
                key=f"models_{field}",
            )
        else:
            column.caption(f"This architecture has no {field}.")

    if st.button("Load the model with this configuration"):
        try:
            adjusted = adjust_config(config, num_labels=int(num_labels), **dropouts)
            classifier = load_sequence_classifier(reference, adjusted, trust_remote_code=trust)
        except (ModelLoadError, ValueError) as exc:
            st.error(str(exc))
            return
        st.session_state.models_loaded = (reference, classifier)
    loaded_model = st.session_state.get("models_loaded")
    if not loaded_model or loaded_model[0] != reference:
        return
    classifier = loaded_model[1]
    parameters = sum(parameter.numel() for parameter in classifier.model.parameters())
    st.success(
        f"Loaded {type(classifier.model).__name__} with {parameters:,} parameters and "
        f"{classifier.model.config.num_labels} output labels."
    )
    if classifier.new_head:
        st.info("The classification head is newly initialised: train it before trusting its scores as a cross-encoder.")

    st.subheader("Use on the compare page")
    name = Path(reference.rstrip("/")).name or "model"
    left, middle, right = st.columns([3, 1, 1])
    folder = left.text_input("Save to folder", value=str(models_folder() / f"{name}-adjusted"), key="models_save_to")
    role = middle.radio("As", ["cross-encoder", "bi-encoder"], key="models_role")
    if right.button("Save and use"):
        if role == "cross-encoder" and classifier.model.config.num_labels != 1:
            st.error(
                f"A cross-encoder for reranking needs num_labels = 1, and this model has "
                f"{classifier.model.config.num_labels}. Set num_labels to 1 and load the model again."
            )
            return
        try:
            saved = save_model(classifier.tokenizer, classifier.model, folder, overwrite=True)
        except (OSError, ValueError) as exc:
            st.error(f"Could not save to {folder}: {exc}")
            return
        use_model(saved, role)
        st.success(f"Saved to {saved}. The compare page now uses it as the {role}.")


def training_data():
    """Return (name, corpus, queries, qrels) for training, or None with a message."""
    source = st.radio(
        "Judgments to train on", ["BEIR dataset folder", "Judgments clicked in the app"],
        key="train_source", horizontal=True,
    )
    if source == "BEIR dataset folder":
        left, right = st.columns([3, 1])
        folder = left.text_input("Dataset folder", key="train_folder", placeholder="/path/to/scifact").strip()
        split = right.text_input("Split", value="train", key="train_split").strip()
        if not folder:
            st.info("Enter the path of a BEIR dataset folder whose qrels have a train split.")
            return None
        try:
            dataset = load_beir(folder, split)
        except DocumentLoadError as exc:
            st.error(str(exc))
            return None
        corpus = resources.dataset_corpus(str(dataset.corpus_path), chunking_settings(), bm25_settings())
        return f"{Path(folder).name}/{split}", corpus, dataset.judged_queries, dataset.qrels

    if st.session_state.get("uploads") and st.session_state.get("corpus") is not None:
        corpus, label = st.session_state.corpus, "uploaded files"
    else:
        corpus, label = resources.sample_corpus(chunking_settings(), bm25_settings()), "sample corpus"
    store = judgment_store()
    queries = store.queries(corpus.document_id)
    if not queries:
        st.info(f"No judgments for the {label} yet. Grade passages on the compare page first.")
        return None
    return f"judgments ({label})", corpus, queries, store.qrels(corpus.document_id, level="passage")


def render_training() -> None:
    st.header("Train a cross-encoder")
    st.write(
        "Starts from the bundled all-MiniLM-L6-v2 encoder with a new one-label head and trains it on "
        "(query, relevant passage, BM25 hard negatives) with sentence-transformers' CrossEncoder trainer. "
        "Held-out judged queries are evaluated before and after."
    )
    data = training_data()
    if data is None:
        return
    name, corpus, queries, qrels = data
    st.caption(f"{len(queries):,} judged queries in {name}.")

    columns = st.columns(4)
    epochs = columns[0].number_input("Epochs", min_value=1, max_value=20, value=1, key="train_epochs")
    negatives = columns[1].number_input("Negatives per positive", min_value=1, max_value=32, value=4, key="train_negatives")
    max_steps = columns[2].number_input("Max steps (0 = all)", min_value=0, value=0, key="train_max_steps")
    batch_size = columns[3].number_input("Batch size", min_value=1, max_value=256, value=16, key="train_batch")
    stamp = time.strftime("%Y%m%d-%H%M%S")
    output = st.text_input("Save to folder", value=str(models_folder() / f"cross-encoder-{stamp}"), key="train_output")

    if st.button("Start training", type="primary"):
        try:
            settings = TrainingSettings(
                epochs=int(epochs), negatives=int(negatives),
                max_steps=int(max_steps) or None, batch_size=int(batch_size),
            )
        except ValueError as exc:
            st.error(str(exc))
            return
        _train(name, corpus, queries, qrels, Path(output), settings)

    report = st.session_state.get("train_report")
    if report is not None:
        _show_report(report)


def _train(name, corpus, queries, qrels, output: Path, settings: TrainingSettings) -> None:
    bar = st.progress(0.0, text="Preparing")
    cancel = st.empty()
    cancel.button("Cancel", key="train_cancel", help="Stops the training; nothing is saved.")
    chart = st.empty()
    losses: list[tuple[int, float]] = []
    stages = {"evaluate-before": "Evaluating before training", "train": "Training", "evaluate-after": "Evaluating after training"}

    def on_progress(progress: TrainingProgress) -> None:
        fraction = progress.step / max(progress.total_steps, 1)
        text = f"{stages.get(progress.stage, progress.stage)}: {progress.step:,} of {progress.total_steps:,}"
        if progress.loss is not None:
            losses.append((progress.step, progress.loss))
            text += f" · loss {progress.loss:.4f}"
            figure = go.Figure(go.Scatter(x=[s for s, _ in losses], y=[v for _, v in losses], mode="lines"))
            figure.update_layout(title="Training loss", xaxis_title="step", yaxis_title="loss", height=300)
            chart.plotly_chart(figure, width="stretch")
        bar.progress(min(fraction, 1.0), text=text)

    try:
        report = train_cross_encoder(
            DEFAULT_BI_ENCODER, corpus, queries, qrels, output, settings,
            progress=on_progress, data_name=name,
        )
    except (ModelLoadError, ValueError, OSError) as exc:
        bar.empty()
        cancel.empty()
        st.error(f"Training failed: {exc}")
        return
    bar.empty()
    cancel.empty()
    st.session_state.train_report = report


def _show_report(report) -> None:
    if report.cancelled:
        st.warning("Training was cancelled.")
    st.success(
        f"{report.steps:,} steps in {report.seconds:,.0f} s on {report.train_pairs:,} pairs "
        f"from {report.train_queries:,} queries." + (f" Saved to {report.output_dir}." if report.saved else "")
    )
    rows = []
    for label, metrics in (("BM25", report.metrics_bm25), ("before training", report.metrics_before),
                           ("after training", report.metrics_after)):
        if metrics:
            rows.append({"model": label, **{metric: round(value, 4) for metric, value in metrics.items()}})
    if rows:
        st.caption(f"Evaluated on {report.eval_queries:,} held-out queries.")
        st.dataframe(pd.DataFrame(rows), hide_index=True)
    if report.losses:
        figure = go.Figure(go.Scatter(x=[s for s, _ in report.losses], y=[v for _, v in report.losses], mode="lines"))
        figure.update_layout(title="Training loss", xaxis_title="step", yaxis_title="loss", height=300)
        st.plotly_chart(figure, width="stretch", key="train_loss_final")
    if report.saved and st.button("Use as the cross-encoder on the compare page"):
        use_model(Path(report.output_dir), "cross-encoder")
        st.success("The compare page now uses the trained cross-encoder.")


def main() -> None:
    st.title("Models")
    render_inspect()
    st.divider()
    render_training()


main()
