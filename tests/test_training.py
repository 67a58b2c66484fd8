"""Cross-encoder training: examples with BM25 hard negatives, the training run, the saved folder, the CLI."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from reranklab.corpus import Corpus
from reranklab.documents import Document
from reranklab.judgments import JudgmentStore
from reranklab.training import (
    TrainingReport,
    TrainingSettings,
    build_examples,
    train_cross_encoder,
)

ROOT = Path(__file__).resolve().parent.parent

ANIMALS = ["otter", "falcon", "lynx", "heron", "bison", "gecko", "badger", "walrus", "koala", "moose", "lemur", "ibis"]
FOODS = ["fish", "pigeons", "hares", "frogs", "grass", "crickets", "worms", "clams", "eucalyptus", "willow", "fruit",
         "insects"]


def animal_documents() -> list[Document]:
    """Three documents per animal: its diet (relevant), a sighting and a zoo enclosure.

    Every diet document shares the words "diet" and "eats", which the other two lack, so
    even a tiny random model can learn to tell the relevant document apart. Each query
    names its animal, so BM25 returns all three documents of that animal.
    """
    documents = []
    for animal, food in zip(ANIMALS, FOODS):
        documents.append(Document(f"{animal}-diet", f"The {animal} diet is mostly {food}; an adult {animal} eats "
                                                    f"{food} daily.", title=f"What the {animal} eats"))
        documents.append(Document(f"{animal}-photo", f"A photographer filmed one {animal} at dawn near a road. "
                                                     f"The {animal} video went viral.", title=f"{animal} sighting"))
        documents.append(Document(f"{animal}-zoo", f"The city zoo opened a new {animal} enclosure with a "
                                                   "visitor bridge.", title=f"New {animal} enclosure"))
    return documents


@pytest.fixture(scope="module")
def corpus() -> Corpus:
    return Corpus.from_documents(animal_documents())


QUERIES = {f"q-{animal}": f"what does the {animal} eat" for animal in ANIMALS}
# The zoo document is judged not relevant: it must stay eligible as a negative.
QRELS = {f"q-{animal}": {f"{animal}-diet": 1, f"{animal}-zoo": 0} for animal in ANIMALS}

# 30 full-batch steps at a high learning rate: every step sees the same pairs, so the
# loss of one step is comparable to the next, and the tiny model fits them.
TINY_SETTINGS = TrainingSettings(
    epochs=100, max_steps=30, batch_size=64, learning_rate=5e-3, negatives=2, candidates=6,
    eval_candidates=6, held_out=0.25, max_length=64, warmup_ratio=0.0,
)


@pytest.fixture(scope="module")
def trained(tmp_path_factory, tiny_cross_encoder_path, corpus) -> tuple[TrainingReport, Path, list]:
    output = tmp_path_factory.mktemp("trained") / "model"
    updates = []
    report = train_cross_encoder(
        tiny_cross_encoder_path, corpus, QUERIES, QRELS, output, TINY_SETTINGS,
        progress=updates.append, data_name="animal test corpus", command="pytest tests/test_training.py",
    )
    return report, output, updates


# --- Settings --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("epochs", 0),
        ("negatives", 0),
        ("max_steps", 0),
        ("batch_size", -1),
        ("learning_rate", 0.0),
        ("learning_rate", float("nan")),
        ("head_learning_rate", -1.0),
        ("max_length", 2.5),
        ("candidates", 3),
        ("eval_candidates", 0),
        ("seed", "12"),
        ("warmup_ratio", 1.0),
        ("held_out", -0.1),
        ("held_out", True),
        ("pooling", "max"),
    ],
)
def test_settings_invalid_value_rejected(field, value):
    with pytest.raises(ValueError, match=field):
        TrainingSettings(**{field: value})


# --- Training examples -------------------------------------------------------------------


def test_examples_negatives_not_judged_relevant(corpus):
    qrels = {"q-otter": {"otter-diet": 2, "otter-photo": 1, "otter-zoo": 0}}
    settings = TrainingSettings(negatives=4, candidates=10, held_out=0.0)

    examples, held_out = build_examples(corpus, {"q-otter": "otter diet photographer"}, qrels, settings)

    assert held_out == []
    assert sorted(example.positive.doc_id for example in examples) == ["otter-diet", "otter-photo"]
    for example in examples:
        negative_ids = {negative.doc_id for negative in example.negatives}
        assert not negative_ids & {"otter-diet", "otter-photo"}
        assert negative_ids


def test_examples_keep_grade_zero_negative(corpus):
    settings = TrainingSettings(negatives=2, candidates=3, held_out=0.0)

    examples, _ = build_examples(corpus, {"q-otter": "otter"}, {"q-otter": {"otter-diet": 1, "otter-zoo": 0}},
                                 settings)

    assert {negative.doc_id for negative in examples[0].negatives} == {"otter-photo", "otter-zoo"}


def test_examples_negatives_from_bm25_candidates(corpus):
    settings = TrainingSettings(negatives=2, candidates=3, held_out=0.0)

    examples, _ = build_examples(corpus, QUERIES, QRELS, settings)

    for example in examples:
        top = {ranked.passage.passage_id for ranked in corpus.bm25.search(example.query, top_k=3)}
        assert {negative.passage_id for negative in example.negatives} <= top


def test_examples_held_out_disjoint(corpus):
    settings = TrainingSettings(held_out=0.25, seed=3)

    examples, held_out = build_examples(corpus, QUERIES, QRELS, settings)

    trained_ids = {example.query_id for example in examples}
    assert len(held_out) == 3
    assert not trained_ids & set(held_out)
    assert trained_ids | set(held_out) == set(QUERIES)


def test_examples_held_out_repeats_with_seed(corpus):
    settings = TrainingSettings(held_out=0.25, seed=3)

    first = build_examples(corpus, QUERIES, QRELS, settings)
    second = build_examples(corpus, QUERIES, QRELS, settings)

    assert first == second


def test_examples_skip_query_without_relevant(corpus):
    queries = {"q-otter": "otter", "q-lynx": "lynx", "q-unknown": "moose"}
    qrels = {"q-otter": {"otter-diet": 1}, "q-lynx": {"lynx-zoo": 0}, "q-missing-text": {"moose-diet": 1}}

    examples, _ = build_examples(corpus, queries, qrels, TrainingSettings(held_out=0.0))

    assert [example.query_id for example in examples] == ["q-otter"]


def test_examples_ids_not_in_corpus_rejected(corpus):
    with pytest.raises(ValueError, match="not in the corpus"):
        build_examples(corpus, {"q": "otter"}, {"q": {"no-such-doc": 1}}, TrainingSettings(held_out=0.0))


def test_examples_no_relevant_judgment_rejected(corpus):
    with pytest.raises(ValueError, match="grade 1 or more"):
        build_examples(corpus, {"q": "otter"}, {"q": {"otter-diet": 0}}, TrainingSettings())


def test_examples_from_app_judgments_at_passage_level(tmp_path):
    # Long documents split into several passages; the app judges single passages.
    words = " ".join(f"filler{i}" for i in range(150))
    documents = [
        Document("otters", f"Otters eat fish and crabs. {words} Otters sleep in dens."),
        Document("falcons", f"Falcons hunt pigeons. {words} Falcons nest on cliffs."),
    ]
    corpus = Corpus.from_documents(documents)
    store = JudgmentStore(tmp_path / "judgments.sqlite")
    store.set_grade("animals", "what do otters eat", "otters#0", "otters", 3)
    store.set_grade("animals", "what do otters eat", "falcons#0", "falcons", 0)

    examples, _ = build_examples(
        corpus, store.queries("animals"), store.qrels("animals", "passage"),
        TrainingSettings(negatives=4, candidates=10, held_out=0.0),
    )

    assert [example.positive.passage_id for example in examples] == ["otters#0"]
    assert "otters#0" not in {negative.passage_id for negative in examples[0].negatives}
    assert examples[0].negatives


def test_examples_document_positive_is_best_bm25_passage():
    words = " ".join(f"filler{i}" for i in range(150))
    corpus = Corpus.from_documents([
        Document("otters", f"{words} Otters eat crabs and fish in cold rivers."),
        Document("falcons", "Falcons hunt pigeons over cities."),
    ])

    examples, _ = build_examples(corpus, {"q": "otters crabs"}, {"q": {"otters": 1}},
                                 TrainingSettings(negatives=1, candidates=5, held_out=0.0))

    assert "crabs" in examples[0].positive.text
    assert examples[0].positive.index > 0


# --- Training run ---------------------------------------------------------------------------


def test_train_loss_decreases(trained):
    report, _, _ = trained
    losses = [loss for _, loss in report.losses]

    assert len(losses) == TINY_SETTINGS.max_steps
    assert np.mean(losses[-5:]) < 0.9 * np.mean(losses[:5])


def test_train_report_counts(trained):
    report, output, _ = trained

    assert report.saved
    assert not report.cancelled
    assert report.steps == report.total_steps == TINY_SETTINGS.max_steps
    assert report.train_queries == 9
    assert report.train_pairs == 9 * 3
    assert report.eval_queries == 3
    assert report.output_dir == output
    # The tiny model was saved with a classification head, so no weight gets a higher rate.
    assert report.head_learning_rate is None


def test_train_progress_reports_each_step(trained):
    _, _, updates = trained
    steps = [update.step for update in updates if update.stage == "train"]

    assert steps == list(range(1, TINY_SETTINGS.max_steps + 1))
    assert {update.stage for update in updates} == {"evaluate-before", "train", "evaluate-after"}


def test_train_metrics_before_and_after(trained):
    report, _, _ = trained

    for metrics in (report.metrics_before, report.metrics_after, report.metrics_bm25):
        assert 0.0 <= metrics["ndcg@10"] <= 1.0
        assert 0.0 <= metrics["mrr@10"] <= 1.0


def test_saved_folder_loads_and_ranks(trained):
    from sentence_transformers import CrossEncoder

    from reranklab.models import load_cross_encoder

    _, output, _ = trained
    pairs = [(QUERIES[f"q-{animal}"], document.full_text) for animal in ANIMALS[:6]
             for document in Corpus.from_documents(animal_documents()).passages
             if document.doc_id.startswith(f"{animal}-")]
    labels = np.array([1.0 if document_text.startswith("What the") else 0.0 for _, document_text in pairs])

    plain = CrossEncoder(str(output), device="cpu")
    scores = load_cross_encoder(str(output)).predict(pairs)

    assert plain.num_labels == 1
    assert np.allclose(plain.predict(pairs), scores, atol=1e-6)
    assert scores.shape == (len(pairs),)
    assert scores[labels == 1].mean() > scores[labels == 0].mean()


def test_model_card_has_fields(trained):
    report, output, _ = trained
    card = (output / "README.md").read_text(encoding="utf-8")

    for expected in (
        f"Base model: `{report.base_model}`",
        "Data: animal test corpus; 9 queries, 9 positive passages, 27 (query, passage) pairs",
        f"Steps: {TINY_SETTINGS.max_steps} of {TINY_SETTINGS.max_steps} planned",
        "Wall time:",
        f"Hardware: {report.hardware}",
        "pytest tests/test_training.py",
        "| negatives | 2 |",
        "| cross-encoder before |",
        "| cross-encoder after |",
        "nDCG@10",
        "MRR@10",
    ):
        assert expected in card


def test_train_cancel_saves_nothing(tmp_path, tiny_cross_encoder_path, corpus):
    output = tmp_path / "model"
    checks = []
    settings = TrainingSettings(epochs=100, max_steps=20, batch_size=4, held_out=0.0, max_length=64)

    def stop_on_second_check() -> bool:
        # Without evaluation queries, should_stop is checked once after each step.
        checks.append(True)
        return len(checks) >= 2

    report = train_cross_encoder(
        tiny_cross_encoder_path, corpus, QUERIES, QRELS, output, settings, should_stop=stop_on_second_check,
    )

    assert report.cancelled
    assert report.steps == 2
    assert report.total_steps == 20
    assert not report.saved
    assert not output.exists()


def test_train_cancel_saves_when_asked(tmp_path, tiny_cross_encoder_path, corpus):
    output = tmp_path / "model"
    settings = TrainingSettings(epochs=100, max_steps=20, batch_size=4, held_out=0.0, max_length=64)

    report = train_cross_encoder(
        tiny_cross_encoder_path, corpus, QUERIES, QRELS, output, settings,
        should_stop=lambda: True, save_if_cancelled=True,
    )

    assert report.steps == 1
    assert report.saved
    assert "cancelled before the end" in (output / "README.md").read_text(encoding="utf-8")


def test_train_eval_queries_train_on_every_query(tmp_path, tiny_cross_encoder_path, corpus):
    settings = TrainingSettings(max_steps=1, batch_size=4, max_length=64, eval_candidates=3, held_out=0.5)
    eval_queries = {"e-otter": "otter food", "e-unjudged": "lynx"}

    report = train_cross_encoder(
        tiny_cross_encoder_path, corpus, QUERIES, QRELS, tmp_path / "model", settings,
        eval_queries=eval_queries, eval_qrels={"e-otter": {"otter-diet": 1}},
    )

    assert report.train_queries == len(QUERIES)
    assert report.eval_queries == 1


def test_train_output_folder_with_other_files_rejected(tmp_path, tiny_cross_encoder_path, corpus):
    (tmp_path / "notes.txt").write_text("keep me")

    with pytest.raises(ValueError, match="no config.json"):
        train_cross_encoder(tiny_cross_encoder_path, corpus, QUERIES, QRELS, tmp_path, TINY_SETTINGS)
    assert (tmp_path / "notes.txt").read_text() == "keep me"


def test_train_missing_base_model_rejected(tmp_path, corpus):
    from reranklab.errors import ModelLoadError

    with pytest.raises(ModelLoadError, match="not found"):
        train_cross_encoder(str(tmp_path / "absent"), corpus, QUERIES, QRELS, tmp_path / "model", TINY_SETTINGS)


def test_train_from_shipped_minilm(tmp_path, minilm_path, corpus):
    from sentence_transformers.base.modules import Dense

    from reranklab.models import load_cross_encoder

    settings = TrainingSettings(max_steps=2, batch_size=4, max_length=64, held_out=0.0, seed=1)

    report = train_cross_encoder(minilm_path, corpus, QUERIES, QRELS, tmp_path / "minilm-ce", settings)
    model = load_cross_encoder(str(tmp_path / "minilm-ce"))
    scores = model.predict([("otter food", "Otters eat fish.")] * 2)

    assert report.steps == 2
    assert report.new_head == "mean"
    assert report.head_learning_rate == settings.head_learning_rate
    assert isinstance(model[-1], Dense)
    assert model[-1].module_output_name == "scores"
    assert scores.shape == (2,)
    assert "mean pooling" in (tmp_path / "minilm-ce" / "README.md").read_text()


def test_train_mean_head_loss_decreases(tmp_path, minilm_path, corpus):
    # Full batches of the same 27 pairs, as in TINY_SETTINGS, so the losses of two steps compare.
    settings = TrainingSettings(
        epochs=100, max_steps=12, batch_size=64, learning_rate=1e-4, head_learning_rate=1e-2, negatives=2,
        candidates=6, eval_candidates=6, held_out=0.0, max_length=64, warmup_ratio=0.0,
    )

    report = train_cross_encoder(minilm_path, corpus, QUERIES, QRELS, tmp_path / "minilm-ce", settings)
    losses = [loss for _, loss in report.losses]

    assert len(losses) == 12
    assert np.mean(losses[-3:]) < 0.7 * np.mean(losses[:3])


def test_train_cls_head_from_shipped_minilm(tmp_path, minilm_path, corpus):
    from reranklab.models import load_cross_encoder

    settings = TrainingSettings(max_steps=1, batch_size=4, max_length=64, held_out=0.0, pooling="cls")

    report = train_cross_encoder(minilm_path, corpus, QUERIES, QRELS, tmp_path / "minilm-ce", settings)
    model = load_cross_encoder(str(tmp_path / "minilm-ce"))

    assert report.new_head == "cls"
    assert report.head_learning_rate == settings.head_learning_rate
    assert model.config.architectures == ["BertForSequenceClassification"]


def test_train_again_keeps_trained_head(tmp_path, minilm_path, corpus):
    import torch

    from reranklab.models import load_cross_encoder

    settings = TrainingSettings(max_steps=1, batch_size=4, max_length=64, held_out=0.0, seed=3)
    first = tmp_path / "first"
    train_cross_encoder(minilm_path, corpus, QUERIES, QRELS, first, settings)
    trained_weight = load_cross_encoder(str(first))[-1].linear.weight.detach().clone()

    # A learning rate too small to move any weight visibly leaves the head as it was loaded.
    report = train_cross_encoder(
        str(first), corpus, QUERIES, QRELS, tmp_path / "second", dataclasses.replace(settings, learning_rate=1e-12),
    )
    second_weight = load_cross_encoder(str(tmp_path / "second"))[-1].linear.weight.detach()

    assert report.new_head is None
    assert report.head_learning_rate is None
    assert torch.allclose(trained_weight, second_weight, atol=1e-6)


# --- Command line ---------------------------------------------------------------------------


@pytest.fixture
def beir_folder(tmp_path) -> Path:
    folder = tmp_path / "animals"
    (folder / "qrels").mkdir(parents=True)
    with open(folder / "corpus.jsonl", "w", encoding="utf-8") as corpus_file:
        for document in animal_documents():
            corpus_file.write(json.dumps({"_id": document.doc_id, "title": document.title, "text": document.text}) + "\n")
    with open(folder / "queries.jsonl", "w", encoding="utf-8") as queries_file:
        for query_id, text in QUERIES.items():
            queries_file.write(json.dumps({"_id": query_id, "text": text}) + "\n")
    lines = ["query-id\tcorpus-id\tscore"]
    lines += [f"{query_id}\t{doc_id}\t{grade}" for query_id, grades in QRELS.items() for doc_id, grade in grades.items()]
    (folder / "qrels" / "train.tsv").write_text("\n".join(lines[:17]) + "\n")
    (folder / "qrels" / "test.tsv").write_text("\n".join([lines[0], *lines[17:]]) + "\n")
    return folder


def test_cli_trains_and_prints_summary(beir_folder, tiny_cross_encoder_path, tmp_path):
    output = tmp_path / "cli-model"
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}

    result = subprocess.run(
        [sys.executable, "-m", "reranklab", "train-cross-encoder", "--dataset", str(beir_folder),
         "--output", str(output), "--base-model", tiny_cross_encoder_path, "--max-steps", "3",
         "--batch-size", "4", "--max-length", "64", "--negatives", "2", "--candidates", "6",
         "--eval-split", "test", "--eval-max-queries", "2", "--eval-candidates", "3"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )

    assert result.returncode == 0, result.stderr
    assert "step 3/3  loss" in result.stderr
    assert "step" not in result.stdout.splitlines()[0]
    assert f"Saved the cross-encoder to {output}" in result.stdout
    assert "Training data: 8 queries, 8 positives, 24 pairs per epoch" in result.stdout
    assert "Evaluation on 2 queries not trained on:" in result.stdout
    assert "cross-encoder after" in result.stdout
    assert "--eval-split test" in (output / "README.md").read_text(encoding="utf-8")


def test_cli_invalid_setting_exits_1(beir_folder, tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "reranklab", "train-cross-encoder", "--dataset", str(beir_folder),
         "--output", str(tmp_path / "model"), "--negatives", "0"],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )

    assert result.returncode == 1
    assert "error: invalid negatives 0" in result.stderr
