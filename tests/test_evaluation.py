"""Evaluation with ranx: metrics, runs built from rankings, significance, and the CLI."""

from __future__ import annotations

import gzip
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from reranklab.corpus import Corpus
from reranklab.documents import Document, Passage, RankedPassage
from reranklab.errors import RerankError
from reranklab.evaluation import (
    METRICS,
    NO_JUDGMENTS,
    NO_RELEVANT,
    collect_runs,
    detect_level,
    evaluate_collected,
    evaluate_runs,
    run_from_ranking,
)
from reranklab.judgments import JudgmentStore
from reranklab.rerankers.base import Reranker
from reranklab.trec import read_run, write_run

ROOT = Path(__file__).resolve().parent.parent


def ranked(*ids: str, scores: list[float | None] | None = None) -> list[RankedPassage]:
    """Build a ranking from passage ids "doc#index", best first."""
    items = []
    for rank, passage_id in enumerate(ids, start=1):
        doc_id, index = passage_id.split("#")
        passage = Passage(passage_id=passage_id, doc_id=doc_id, text=f"text of {passage_id}", index=int(index))
        score = scores[rank - 1] if scores is not None else 10.0 - rank
        items.append(RankedPassage(passage=passage, rank=rank, score=score))
    return items


def ranked_run(*doc_ids: str) -> dict[str, float]:
    """Run entry for documents in this order, best first."""
    return {doc_id: float(len(doc_ids) - position) for position, doc_id in enumerate(doc_ids)}


# --- Metrics on a hand-made run -----------------------------------------------------

# q1: a has grade 2, b grade 1, z grade 0 (judged not relevant).
# q2: c has grade 1.    q3: e has grade 1.
HAND_QRELS = {
    "q1": {"a": 2, "b": 1, "z": 0},
    "q2": {"c": 1},
    "q3": {"e": 1},
}
# q1: x1, a, z, y0..y7, b: a at rank 2, z at 3, b at rank 12 (outside the top 10).
# q2: c at rank 3.          q3: the relevant document is not retrieved.
HAND_RUN = {
    "q1": ranked_run("x1", "a", "z", *(f"y{i}" for i in range(8)), "b"),
    "q2": ranked_run("x", "y", "c"),
    "q3": ranked_run("x", "y"),
}
LOG2_3 = math.log2(3)
# Worked out by hand. nDCG uses the linear gain grade / log2(rank + 1).
# q1: DCG@10 = 2 / log2(3) (a at rank 2; b is at 12). Ideal: a then b, 2 / log2(2) + 1 / log2(3).
#     MRR@10 = 1/2. Recall@10 = 1/2 (b is at 12), Recall@100 = 2/2.
#     AP@100 = (precision at a + precision at b) / 2 relevant = (1/2 + 2/12) / 2 = 1/3.
# q2: DCG@10 = 1 / log2(4) = 1/2, ideal 1, so nDCG = 1/2. MRR = 1/3. Recall = 1. AP = 1/3.
# q3: every metric is 0.
HAND_PER_QUERY = {
    "ndcg@10": {"q1": (2 / LOG2_3) / (2 + 1 / LOG2_3), "q2": 0.5, "q3": 0.0},
    "mrr@10": {"q1": 1 / 2, "q2": 1 / 3, "q3": 0.0},
    "recall@10": {"q1": 1 / 2, "q2": 1.0, "q3": 0.0},
    "recall@100": {"q1": 1.0, "q2": 1.0, "q3": 0.0},
    "map@100": {"q1": 1 / 3, "q2": 1 / 3, "q3": 0.0},
}
# Means over the 3 queries.
HAND_MEAN = {
    "ndcg@10": ((2 / LOG2_3) / (2 + 1 / LOG2_3) + 0.5) / 3,  # about 0.32654
    "mrr@10": (1 / 2 + 1 / 3) / 3,  # 5/18
    "recall@10": (1 / 2 + 1) / 3,  # 1/2
    "recall@100": 2 / 3,
    "map@100": (1 / 3 + 1 / 3) / 3,  # 2/9
}


@pytest.fixture(scope="module")
def hand_report():
    return evaluate_runs(HAND_QRELS, {"bm25": HAND_RUN})


@pytest.mark.parametrize("metric", METRICS)
def test_metric_mean_by_hand(hand_report, metric):
    assert hand_report.mean["bm25"][metric] == pytest.approx(HAND_MEAN[metric], abs=1e-12)


@pytest.mark.parametrize("metric", METRICS)
def test_metric_per_query_by_hand(hand_report, metric):
    assert hand_report.per_query["bm25"][metric] == pytest.approx(HAND_PER_QUERY[metric], abs=1e-12)


def test_grade_two_weighs_double():
    # Only the grade changes: a grade-2 document at rank 1 with a grade-1 one at rank 2
    # is the ideal order, so nDCG is 1; swapping the grades lowers it.
    qrels = {"q": {"a": 2, "b": 1}}
    swapped = {"q": {"a": 1, "b": 2}}
    run = {"q": ranked_run("a", "b")}
    ideal = evaluate_runs(qrels, {"bm25": run}).mean["bm25"]["ndcg@10"]
    worse = evaluate_runs(swapped, {"bm25": run}).mean["bm25"]["ndcg@10"]
    assert ideal == pytest.approx(1.0)
    # (1 + 2 / log2(3)) / (2 + 1 / log2(3))
    assert worse == pytest.approx((1 + 2 / LOG2_3) / (2 + 1 / LOG2_3))


def test_missing_query_in_run_scores_zero():
    run = {"q1": HAND_RUN["q1"], "q2": HAND_RUN["q2"]}
    report = evaluate_runs(HAND_QRELS, {"bm25": run})
    assert report.query_ids == ["q1", "q2", "q3"]
    assert report.per_query["bm25"]["recall@100"]["q3"] == 0.0


# --- Runs from rankings ---------------------------------------------------------------


def test_document_level_keeps_best_passage():
    ranking = ranked("d1#0", "d2#3", "d1#1", "d3#0", scores=[4.0, 3.0, 2.0, 1.0])
    run = run_from_ranking(ranking, "document")
    assert list(run) == ["d1", "d2", "d3"]
    assert run == {"d1": 4.0, "d2": 3.0, "d3": 1.0}


def test_passage_level_keeps_passage_ids():
    ranking = ranked("d1#0", "d2#3", "d1#1", scores=[4.0, 3.0, 2.0])
    assert run_from_ranking(ranking, "passage") == {"d1#0": 4.0, "d2#3": 3.0, "d1#1": 2.0}


def test_scoreless_ranking_uses_reciprocal_rank():
    ranking = ranked("d1#0", "d2#0", "d1#1", "d3#0", scores=[None, None, None, None])
    assert run_from_ranking(ranking, "document") == {"d1": 1.0, "d2": 1 / 2, "d3": 1 / 3}


def test_partly_scored_ranking_uses_reciprocal_rank():
    ranking = ranked("d1#0", "d2#0", scores=[0.9, None])
    assert run_from_ranking(ranking, "passage") == {"d1#0": 1.0, "d2#0": 0.5}


def test_rising_scores_use_reciprocal_rank():
    # Scores that contradict the order would make ranx reorder the documents.
    ranking = ranked("d1#0", "d2#0", scores=[0.1, 0.9])
    assert run_from_ranking(ranking, "passage") == {"d1#0": 1.0, "d2#0": 0.5}


def test_tied_scores_keep_ranking_order():
    ranking = ranked("d9#0", "d1#0", "d5#0", scores=[0.5, 0.5, 0.5])
    run = run_from_ranking(ranking, "passage")
    assert run["d9#0"] == 0.5
    assert run["d9#0"] > run["d1#0"] > run["d5#0"]
    assert run["d5#0"] == pytest.approx(0.5)


def test_tied_scores_evaluate_in_ranking_order():
    # The relevant d5 is ranked first among three ties; ranx must see it at rank 1.
    ranking = ranked("d5#0", "d1#0", "d9#0", scores=[0.5, 0.5, 0.5])
    run = {"q": run_from_ranking(ranking, "document")}
    report = evaluate_runs({"q": {"d5": 1}}, {"bm25": run})
    assert report.mean["bm25"]["mrr@10"] == 1.0


def test_scoreless_and_scored_rankings_evaluate_alike():
    order = ("d2#0", "d1#0", "d3#0")
    scored = {"q": run_from_ranking(ranked(*order), "document")}
    scoreless = {"q": run_from_ranking(ranked(*order, scores=[None] * 3), "document")}
    report = evaluate_runs({"q": {"d1": 1, "d3": 2}}, {"bm25": scored, "gemini": scoreless})
    assert report.mean["bm25"] == report.mean["gemini"]


def test_invalid_level_rejected():
    with pytest.raises(ValueError, match="invalid level 'doc'"):
        run_from_ranking(ranked("d1#0"), "doc")


# --- Judgment level --------------------------------------------------------------------


@pytest.fixture(scope="module")
def small_corpus() -> Corpus:
    from reranklab.chunking import ChunkingSettings

    documents = [
        Document("scurvy", "Scurvy is caused by a lack of vitamin C in the diet of sailors.", "Scurvy"),
        Document("rickets", "Rickets follows a lack of vitamin D and of sunlight in children.", "Rickets"),
        Document("bread", "Knead the dough for ten minutes and let the bread rise overnight.", "Bread"),
        Document("tides", "The moon pulls the oceans and causes the tides twice a day.", "Tides"),
        Document("volcano", "A volcano erupts when magma rises through the crust of the earth.", "Volcano"),
        Document("orbit", "The earth orbits the sun once a year, and the moon orbits the earth.", "Orbit"),
    ]
    return Corpus.from_documents(documents, ChunkingSettings(passage_words=8, overlap_words=2))


def test_detect_level_document(small_corpus):
    assert detect_level({"q": {"scurvy": 1, "bread": 0}}, small_corpus) == "document"


def test_detect_level_passage(small_corpus):
    assert detect_level({"q": {"scurvy#0": 1, "scurvy#1": 2}}, small_corpus) == "passage"


def test_detect_level_unknown_ids(small_corpus):
    assert detect_level({"q": {"nowhere": 1}}, small_corpus) == "document"


def test_detect_level_from_judgment_store(small_corpus, tmp_path):
    store = JudgmentStore(tmp_path / "judgments.sqlite")
    store.set_grade("small", "vitamin C", "scurvy#1", "scurvy", 3)
    store.set_grade("small", "vitamin C", "rickets#0", "rickets", 0)
    assert detect_level(store.qrels("small", level="passage"), small_corpus) == "passage"
    assert detect_level(store.qrels("small", level="document"), small_corpus) == "document"


# --- Skipped queries -------------------------------------------------------------------


def test_skipped_queries_counted():
    qrels = {"q1": {"a": 1}, "q2": {"b": 0, "c": 0}}
    run = {"q1": ranked_run("a"), "q2": ranked_run("b"), "q3": ranked_run("a")}
    report = evaluate_runs(qrels, {"bm25": run}, query_ids=["q1", "q2", "q3"])
    assert report.query_ids == ["q1"]
    assert report.skipped == {"q2": NO_RELEVANT, "q3": NO_JUDGMENTS}
    assert report.skipped_counts() == {NO_RELEVANT: 1, NO_JUDGMENTS: 1}


def test_skipped_query_not_in_mean():
    # q2 would score 0 for every metric; the mean stays that of q1 alone.
    qrels = {"q1": {"a": 1}, "q2": {"b": 0}}
    run = {"q1": ranked_run("a"), "q2": ranked_run("b")}
    report = evaluate_runs(qrels, {"bm25": run})
    assert report.mean["bm25"]["ndcg@10"] == 1.0


def test_no_relevant_judgment_raises():
    with pytest.raises(ValueError, match="no query to evaluate"):
        evaluate_runs({"q1": {"a": 0}}, {"bm25": {"q1": {"a": 1.0}}})


def test_unknown_baseline_raises():
    with pytest.raises(ValueError, match="baseline 'bm25' is not one of the runs"):
        evaluate_runs(HAND_QRELS, {"mine": HAND_RUN})


def test_unknown_metric_raises():
    with pytest.raises(ValueError, match="unknown metric 'ndgc@10'"):
        evaluate_runs(HAND_QRELS, {"bm25": HAND_RUN}, metrics=["ndgc@10"])


def test_unknown_stat_test_raises():
    with pytest.raises(ValueError, match="unknown significance test 'wilcoxon'"):
        evaluate_runs(HAND_QRELS, {"bm25": HAND_RUN}, stat_test="wilcoxon")


# --- Significance ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def twenty_queries():
    """20 queries, each with one relevant document "rel"; the better run ranks it first."""
    qrels = {f"q{i}": {"rel": 1} for i in range(20)}
    noise = [f"n{j}" for j in range(10)]
    better = {query_id: ranked_run("rel", *noise) for query_id in qrels}
    # The worse run puts "rel" at ranks 3 to 7, so the per-query differences vary.
    worse = {}
    for i, query_id in enumerate(qrels):
        position = 2 + i % 5
        worse[query_id] = ranked_run(*noise[:position], "rel", *noise[position:])
    return qrels, better, worse


def test_better_run_significant(twenty_queries):
    qrels, better, worse = twenty_queries
    report = evaluate_runs(qrels, {"bm25": worse, "bi-encoder": better})
    assert report.significant["bi-encoder"]["ndcg@10"] is True
    assert report.p_values["bi-encoder"]["ndcg@10"] < 0.001
    assert report.significant["bi-encoder"]["mrr@10"] is True


def test_equal_recall_not_significant(twenty_queries):
    # Both runs retrieve "rel" in the top 10 of every query.
    qrels, better, worse = twenty_queries
    report = evaluate_runs(qrels, {"bm25": worse, "bi-encoder": better})
    assert report.p_values["bi-encoder"]["recall@10"] == 1.0
    assert report.significant["bi-encoder"]["recall@10"] is False


@pytest.mark.parametrize("metric", METRICS)
def test_identical_runs_not_significant(twenty_queries, metric):
    qrels, better, _ = twenty_queries
    report = evaluate_runs(qrels, {"bm25": better, "copy": dict(better)})
    assert report.p_values["copy"][metric] == 1.0
    assert report.significant["copy"][metric] is False


def test_fisher_test_significant(twenty_queries):
    qrels, better, worse = twenty_queries
    report = evaluate_runs(qrels, {"bm25": worse, "bi-encoder": better}, stat_test="fisher")
    assert report.significant["bi-encoder"]["ndcg@10"] is True


def test_baseline_has_no_p_value(twenty_queries):
    qrels, better, worse = twenty_queries
    report = evaluate_runs(qrels, {"bm25": worse, "bi-encoder": better})
    assert "bm25" not in report.p_values


def test_text_table_marks_significance(twenty_queries):
    qrels, better, worse = twenty_queries
    text = evaluate_runs(qrels, {"bm25": worse, "bi-encoder": better}).to_text()
    bi_encoder_line = next(line for line in text.splitlines() if line.startswith("Bi-encoder"))
    bm25_line = next(line for line in text.splitlines() if line.startswith("BM25"))
    assert "1.0000†" in bi_encoder_line
    assert "†" not in bm25_line
    assert "† differs from BM25 with p <= 0.05 (paired Student's t-test over 20 queries" in text


# --- Imported TREC runs ----------------------------------------------------------------


def test_imported_trec_run_matches_original(twenty_queries):
    qrels, better, worse = twenty_queries
    run, name, warnings = read_run(write_run(better, "my-system"), "my.run")
    report = evaluate_runs(qrels, {"bm25": worse, name: run, "original": better})
    assert warnings == []
    assert report.mean["my-system"] == report.mean["original"]


# --- Collecting runs from the compare pipeline -----------------------------------------


class ReverseReranker(Reranker):
    """Orders candidates in reverse BM25 order and fails on one query text."""

    name = "reverse"

    def __init__(self, failing_query: str | None = None) -> None:
        self.failing_query = failing_query

    def score(self, query, candidates):
        if query == self.failing_query:
            raise RerankError(f"reverse cannot rank {query!r}")
        return np.arange(len(candidates), dtype=np.float64)


QUERIES = {
    "q-scurvy": "vitamin C lack sailors",
    "q-tides": "moon tides oceans",
    "q-volcano": "magma volcano erupts",
    "q-bread": "knead dough bread",
}
QRELS = {
    "q-scurvy": {"scurvy": 1, "rickets": 0},
    "q-tides": {"tides": 2, "orbit": 1},
    "q-volcano": {"volcano": 1},
    "q-bread": {"bread": 1},
}


def test_collect_runs_one_run_per_method(small_corpus):
    collected = collect_runs(small_corpus, QUERIES, {"reverse": ReverseReranker()}, methods=["bm25", "reverse"])
    assert list(collected.runs) == ["bm25", "reverse"]
    assert collected.query_ids == list(QUERIES)
    assert list(collected.runs["bm25"]["q-scurvy"])[0] == "scurvy"
    assert len(collected.latency_ms["reverse"]) == 4
    assert collected.errors == {}


def test_collect_runs_passage_level(small_corpus):
    collected = collect_runs(small_corpus, {"q": "volcano magma"}, {}, methods=["bm25"], level="passage")
    assert all("#" in passage_id for passage_id in collected.runs["bm25"]["q"])


def test_collect_runs_reports_progress(small_corpus):
    calls = []
    collect_runs(small_corpus, QUERIES, {}, methods=["bm25"], progress=lambda *args: calls.append(args))
    assert calls == [(1, 4, "q-scurvy"), (2, 4, "q-tides"), (3, 4, "q-volcano"), (4, 4, "q-bread")]


def test_collect_runs_cancel_after_two(small_corpus):
    done = []
    collected = collect_runs(
        small_corpus, QUERIES, {}, methods=["bm25"],
        progress=lambda number, total, query_id: done.append(query_id),
        should_stop=lambda: len(done) >= 2,
    )
    assert collected.cancelled is True
    assert collected.query_ids == ["q-scurvy", "q-tides"]
    assert list(collected.runs["bm25"]) == ["q-scurvy", "q-tides"]
    assert collected.total_queries == 4


def test_cancelled_runs_evaluate_done_queries(small_corpus):
    done = []
    collected = collect_runs(
        small_corpus, QUERIES, {}, methods=["bm25"],
        progress=lambda number, total, query_id: done.append(query_id),
        should_stop=lambda: len(done) >= 2,
    )
    report = evaluate_collected(QRELS, collected)
    assert report.query_ids == ["q-scurvy", "q-tides"]
    assert report.cancelled is True
    assert "Cancelled" in report.to_text()


def test_method_error_on_one_query(small_corpus):
    reverse = ReverseReranker(failing_query=QUERIES["q-tides"])
    collected = collect_runs(small_corpus, QUERIES, {"reverse": reverse}, methods=["bm25", "reverse"])
    errors = collected.errors["reverse"]
    assert errors.count == 1
    assert errors.first_query_id == "q-tides"
    assert "reverse cannot rank" in errors.first_message
    assert collected.runs["reverse"]["q-tides"] == {}
    assert collected.runs["reverse"]["q-volcano"]
    assert len(collected.latency_ms["reverse"]) == 3


def test_failed_query_scores_zero(small_corpus):
    reverse = ReverseReranker(failing_query=QUERIES["q-tides"])
    collected = collect_runs(small_corpus, QUERIES, {"reverse": reverse}, methods=["bm25", "reverse"])
    report = evaluate_collected(QRELS, collected)
    assert report.per_query["reverse"]["recall@100"]["q-tides"] == 0.0
    assert report.per_query["bm25"]["recall@100"]["q-tides"] == 1.0
    assert report.errors["reverse"].count == 1
    assert "reverse failed on 1 queries" in report.to_text()


def test_unavailable_method_has_no_metrics(small_corpus):
    collected = collect_runs(
        small_corpus, QUERIES, {}, unavailable={"cross-encoder": "model not found"},
        methods=["bm25", "cross-encoder"],
    )
    report = evaluate_collected(QRELS, collected)
    assert report.methods == ["bm25"]
    assert report.unavailable == {"cross-encoder": "model not found"}
    assert report.to_json()["unavailable"] == {"cross-encoder": "model not found"}


def test_collected_latency_is_mean(small_corpus):
    collected = collect_runs(small_corpus, QUERIES, {"reverse": ReverseReranker()}, methods=["bm25", "reverse"])
    report = evaluate_collected(QRELS, collected)
    assert report.latency_ms["reverse"] == pytest.approx(np.mean(collected.latency_ms["reverse"]))


def test_extra_run_name_clash_raises(small_corpus):
    collected = collect_runs(small_corpus, QUERIES, {}, methods=["bm25"])
    with pytest.raises(ValueError, match="run name 'bm25' is already used"):
        evaluate_collected(QRELS, collected, extra_runs={"bm25": {}})


def test_report_json_shape(small_corpus):
    collected = collect_runs(small_corpus, QUERIES, {"reverse": ReverseReranker()}, methods=["bm25", "reverse"])
    output = evaluate_collected(QRELS, collected).to_json(dataset="small", split="test")
    assert output["queries"] == 4
    assert set(output["metrics"]) == {"bm25", "reverse"}
    assert set(output["metrics"]["bm25"]) == set(METRICS)
    assert set(output["latency_ms"]) == {"bm25", "reverse"}
    assert set(output["p_values"]) == {"reverse"}
    json.dumps(output)


# --- The command line ------------------------------------------------------------------


def run_cli(*args: str, cache_dir: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "RERANKLAB_CACHE_DIR": str(cache_dir), "HF_HUB_OFFLINE": "1"}
    env.pop("RERANKLAB_CROSS_ENCODER", None)
    return subprocess.run(
        [sys.executable, "-m", "reranklab", *args],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )


@pytest.fixture
def beir_folder(tmp_path) -> Path:
    folder = tmp_path / "tiny-beir"
    (folder / "qrels").mkdir(parents=True)
    documents = [
        {"_id": "d1", "title": "Scurvy", "text": "Scurvy is caused by a lack of vitamin C in the diet."},
        {"_id": "d2", "title": "Rickets", "text": "Rickets follows a lack of vitamin D and sunlight."},
        {"_id": "d3", "title": "Sailors", "text": "Sailors on long voyages ate citrus fruit to stay healthy."},
        {"_id": "d4", "title": "Bread", "text": "Knead the dough for ten minutes and let it rise."},
    ]
    with gzip.open(folder / "corpus.jsonl.gz", "wt", encoding="utf-8") as stream:
        stream.writelines(json.dumps(document) + "\n" for document in documents)
    queries = [
        {"_id": "1", "text": "vitamin C deficiency"},
        {"_id": "2", "text": "how to knead dough"},
        {"_id": "3", "text": "sunlight and bones"},
        {"_id": "4", "text": "an unjudged query"},
    ]
    (folder / "queries.jsonl").write_text("".join(json.dumps(query) + "\n" for query in queries))
    (folder / "qrels" / "test.tsv").write_text(
        "query-id\tcorpus-id\tscore\n1\td1\t2\n1\td3\t1\n2\td4\t1\n3\td2\t0\n"
    )
    return folder


def test_cli_json_shape(beir_folder, tmp_path):
    result = run_cli("evaluate", "--dataset", str(beir_folder), "--format", "json", cache_dir=tmp_path / "cache")
    assert result.returncode == 0, result.stderr
    output = json.loads(result.stdout)
    assert {"dataset", "split", "queries", "metrics", "latency_ms", "skipped", "p_values"} <= set(output)
    assert output["split"] == "test"
    assert output["queries"] == 2
    assert output["skipped"] == {"count": 1, "reasons": {NO_RELEVANT: 1}}
    assert list(output["metrics"]) == ["bm25", "bi-encoder", "rrf"]
    assert set(output["metrics"]["bm25"]) == set(METRICS)
    # Query 1 judges d1 and d3, and d3 shares no word with it, so BM25 misses it: (1/2 + 1) / 2.
    assert output["metrics"]["bm25"]["recall@10"] == 0.75
    assert set(output["latency_ms"]) == {"bm25", "bi-encoder", "rrf"}


def test_cli_table_and_progress(beir_folder, tmp_path):
    result = run_cli("evaluate", "--dataset", str(beir_folder), "--rerankers", "bm25", cache_dir=tmp_path / "cache")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[2].split()[:2] == ["Method", "nDCG@10"]
    assert "Evaluated 2 queries at document level; skipped 1" in result.stdout
    assert "queries: 3/3 (100%)" in result.stderr


def test_cli_offline_cross_encoder_reported(beir_folder, tmp_path):
    result = run_cli(
        "evaluate", "--dataset", str(beir_folder), "--rerankers", "bm25,cross-encoder", "--format", "json",
        cache_dir=tmp_path / "cache",
    )
    assert result.returncode == 0, result.stderr
    output = json.loads(result.stdout)
    assert list(output["metrics"]) == ["bm25"]
    assert "RERANKLAB_CROSS_ENCODER" in output["unavailable"]["cross-encoder"]


def test_cli_imported_run(beir_folder, tmp_path):
    run_file = tmp_path / "mine.run"
    run_file.write_text("1 Q0 d1 1 2.0 mine\n1 Q0 d3 2 1.0 mine\n2 Q0 d4 1 1.0 mine\n")
    result = run_cli(
        "evaluate", "--dataset", str(beir_folder), "--rerankers", "bm25", "--run", str(run_file),
        "--format", "json", cache_dir=tmp_path / "cache",
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["metrics"]["mine"]["ndcg@10"] == 1.0


def test_cli_missing_split(beir_folder, tmp_path):
    result = run_cli("evaluate", "--dataset", str(beir_folder), "--split", "dev", cache_dir=tmp_path / "cache")
    assert result.returncode == 2
    assert "qrels/dev.tsv" in result.stderr
    assert "'test'" in result.stderr


def test_cli_warns_unknown_judged_ids(beir_folder, tmp_path):
    with (beir_folder / "qrels" / "test.tsv").open("a") as stream:
        stream.write("2\tmissing-doc\t1\n")
    result = run_cli("evaluate", "--dataset", str(beir_folder), "--rerankers", "bm25", cache_dir=tmp_path / "cache")
    assert result.returncode == 0, result.stderr
    assert "1 of 5 judged ids are not in the corpus (such as 'missing-doc')" in result.stderr
