from __future__ import annotations

import csv
import io
import json

import numpy as np
import pytest

from reranklab.compare import Movement, compare
from reranklab.corpus import Corpus
from reranklab.documents import Document
from reranklab.errors import RerankError
from reranklab.rerankers.base import Reranker

DOCUMENTS = [
    Document("solar", "Solar panels convert sunlight into electricity for homes."),
    Document("wind", "Wind turbines produce electricity when the wind blows."),
    Document("coal", "Coal power plants burn coal to produce electricity and emit carbon."),
    Document("bread", "Bake the bread for forty minutes until the crust is golden."),
    Document("garden", "Water the garden early in the morning during hot weather."),
]


class ReverseReranker(Reranker):
    """Scores candidates in reverse BM25 order, so every movement is known in advance."""

    name = "reverse"

    def score(self, query, candidates):
        return np.arange(len(candidates), dtype=float)


class FailingReranker(Reranker):
    name = "failing"

    def score(self, query, candidates):
        raise RerankError("the service is down")


class CrashingReranker(Reranker):
    name = "crashing"

    def score(self, query, candidates):
        raise RuntimeError("out of memory")


@pytest.fixture(scope="module")
def corpus() -> Corpus:
    return Corpus.from_documents(DOCUMENTS)


def test_compare_reranks_bm25_candidates(corpus):
    comparison = compare("electricity", corpus, {"reverse": ReverseReranker()}, top_k=2)
    bm25 = [item.passage.doc_id for item in comparison.results["bm25"].ranking]
    reverse = [item.passage.doc_id for item in comparison.results["reverse"].ranking]
    assert sorted(bm25) == ["coal", "solar", "wind"]
    assert reverse == bm25[::-1]
    assert list(comparison.results) == ["bm25", "reverse"]


def test_movement_labels(corpus):
    comparison = compare("electricity", corpus, {"reverse": ReverseReranker()}, top_k=2)
    top = comparison.top("reverse")
    first, second = (comparison.movement(item) for item in top)
    assert first == Movement(bm25_rank=3, rank=1, entered_top_k=True)
    assert first.label == "new (BM25 #3)"
    assert second.label == "same"
    assert Movement(bm25_rank=5, rank=1, entered_top_k=False).label == "up 4"
    assert Movement(bm25_rank=1, rank=3, entered_top_k=False).label == "down 2"
    assert Movement(bm25_rank=None, rank=1, entered_top_k=False).label == "new"


def test_failing_reranker_keeps_other_columns(corpus):
    rerankers = {"failing": FailingReranker(), "crashing": CrashingReranker(), "reverse": ReverseReranker()}
    comparison = compare("electricity", corpus, rerankers)
    assert comparison.results["failing"].error == "the service is down"
    assert "RuntimeError: out of memory" in comparison.results["crashing"].error
    assert comparison.results["reverse"].error is None
    assert len(comparison.results["reverse"].ranking) == 3


def test_unavailable_method_shows_reason(corpus):
    comparison = compare("electricity", corpus, {}, unavailable={"cross-encoder": "model not found"})
    assert comparison.results["cross-encoder"].error == "model not found"


def test_rrf_without_bi_encoder_explains(corpus):
    comparison = compare("electricity", corpus, {}, methods=["bm25", "rrf"])
    assert "RRF needs the bi-encoder" in comparison.results["rrf"].error


def test_rrf_fuses_bm25_and_bi_encoder(corpus):
    comparison = compare("electricity", corpus, {"bi-encoder": ReverseReranker()}, methods=["bm25", "bi-encoder", "rrf"])
    rrf = comparison.results["rrf"]
    assert rrf.error is None
    assert len(rrf.ranking) == 3
    assert rrf.latency_ms >= comparison.results["bi-encoder"].latency_ms


def test_stopword_query_warns(corpus):
    comparison = compare("the and of", corpus, {"reverse": ReverseReranker()})
    assert comparison.results["bm25"].ranking == []
    assert "no passage" in comparison.results["bm25"].warnings[0]
    assert comparison.results["reverse"].ranking == []


def test_json_export_shape(corpus):
    rerankers = {"reverse": ReverseReranker(), "failing": FailingReranker()}
    document = compare("electricity", corpus, rerankers, top_k=2).to_json()
    json.dumps(document)
    assert set(document) == {"query", "results", "latency_ms", "errors"}
    assert set(document["results"]) == {"bm25", "reverse"}
    assert set(document["results"]["bm25"][0]) == {"rank", "doc_id", "passage_id", "score", "text"}
    assert len(document["results"]["reverse"]) == 2
    assert document["errors"] == {"failing": "the service is down"}


def test_csv_export_rows(corpus):
    text = compare("electricity", corpus, {"reverse": ReverseReranker()}, top_k=2).to_csv()
    rows = list(csv.DictReader(io.StringIO(text)))
    assert len(rows) == 4
    assert rows[2]["method"] == "reverse"
    assert rows[2]["movement"] == "new (BM25 #3)"


def test_rank_shift_chart_links_every_method(corpus):
    from components.charts import latency_figure, rank_shift_figure

    comparison = compare("electricity", corpus, {"reverse": ReverseReranker()}, top_k=2)
    figure = rank_shift_figure(comparison)
    assert len(figure.data) == 3
    lines = {trace.name: list(trace.y) for trace in figure.data}
    bm25_first = comparison.results["bm25"].ranking[0].passage.passage_id
    assert lines[bm25_first] == [1, 3]
    assert list(figure.layout.yaxis.ticktext) == ["1", "2", "> 2"]
    assert [bar for bar in latency_figure(comparison).data[0].x] == ["BM25", "reverse"]


def test_document_id_ignores_chunking():
    from reranklab.chunking import ChunkingSettings

    small = Corpus.from_documents(DOCUMENTS, chunking=ChunkingSettings(3, 1))
    large = Corpus.from_documents(DOCUMENTS)
    assert small.document_id == large.document_id
    assert small.fingerprint != large.fingerprint
    changed = Corpus.from_documents([*DOCUMENTS[:-1], Document("garden", "Water the roses.")])
    assert changed.document_id != large.document_id


class GatedRemoteReranker(Reranker):
    """A remote reranker that finishes only once the local reranker has run.

    Run one after the other, it would time out waiting; run concurrently, it sees the
    local reranker's signal.
    """

    name = "remote"
    remote = True

    def __init__(self, local_done):
        self.local_done = local_done
        self.saw_local = None

    def score(self, query, candidates):
        self.saw_local = self.local_done.wait(timeout=10)
        return np.zeros(len(candidates))


class SignallingReranker(ReverseReranker):
    def __init__(self, local_done):
        self.local_done = local_done

    def score(self, query, candidates):
        self.local_done.set()
        return super().score(query, candidates)


def test_remote_rerankers_run_alongside_local(corpus):
    import threading

    local_done = threading.Event()
    remote = GatedRemoteReranker(local_done)
    rerankers = {"remote": remote, "local": SignallingReranker(local_done)}
    comparison = compare("electricity", corpus, rerankers, methods=["bm25", "remote", "local"])
    assert remote.saw_local is True
    assert list(comparison.results) == ["bm25", "remote", "local"]
    assert comparison.results["remote"].error is None
