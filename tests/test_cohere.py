"""CohereReranker against the real `cohere` SDK and a fake Cohere server on 127.0.0.1."""

from __future__ import annotations

import email.utils
import logging
import socket
import time

import cohere
import pytest

from reranklab.documents import Passage
from reranklab.rerankers.cohere import COHERE_MODELS, MAX_DOCUMENTS_PER_REQUEST, CohereReranker
from reranklab.services import (
    AuthenticationError,
    ConnectionFailedError,
    MalformedResponseError,
    RateLimitError,
    ServerError,
    ServiceConfig,
    ServiceError,
    ServiceTimeoutError,
)
from tests.fakes.cohere import MAX_DOCUMENTS, RERANK_PATH, install_cohere, relevance_score
from tests.fakes.server import FakeServer, Reply

KEY = "sk-test-SECRET-1234"
QUERY = "solar panels produce electricity"

PASSAGES = [
    Passage("bread#0", "bread", "Bake the bread for forty minutes until the crust is golden."),
    Passage("wind#0", "wind", "Wind turbines produce electricity when the wind blows."),
    Passage("solar#0", "solar", "Panels convert sunlight into electricity.", title="Solar panels"),
    Passage("garden#0", "garden", "Water the garden early in the morning."),
]


def expected_order(query: str, passages: list[Passage]) -> list[str]:
    """Return passage ids by descending fake score; equal scores keep the input order."""
    scores = [relevance_score(query, passage.full_text) for passage in passages]
    order = sorted(range(len(passages)), key=lambda i: (-scores[i], i))
    return [passages[i].passage_id for i in order]


@pytest.fixture(scope="module")
def shared_server():
    # One server for the module: stopping a FakeServer takes about 0.5 s (the
    # serve_forever poll interval), which would dominate the run time of these tests.
    with FakeServer() as fake:
        install_cohere(fake, api_key=KEY)
        yield fake


@pytest.fixture
def server(shared_server):
    """Return the shared fake Cohere server with no recorded requests and no queued replies."""
    shared_server.requests.clear()
    shared_server.queued.clear()
    yield shared_server
    shared_server.queued.clear()


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def make_reranker(server, sleeps):
    """Build a CohereReranker on the fake server whose retry waits are recorded, not slept."""

    def make(api_key: str = KEY, timeout: float = 5.0, max_retries: int = 2, **kwargs):
        config = ServiceConfig(api_key, base_url=server.url, timeout=timeout, max_retries=max_retries)
        reranker = CohereReranker(config, **kwargs)
        reranker.sleep = sleeps.append
        return reranker

    return make


def closed_port() -> int:
    """Return a port on 127.0.0.1 that nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- success ---------------------------------------------------------------------------


def test_rerank_orders_by_relevance(make_reranker):
    ranking = make_reranker().rerank(QUERY, PASSAGES)
    assert [item.passage.passage_id for item in ranking] == expected_order(QUERY, PASSAGES)
    assert [item.rank for item in ranking] == [1, 2, 3, 4]


def test_rerank_keeps_scores_as_returned(make_reranker):
    ranking = make_reranker().rerank(QUERY, PASSAGES)
    for item in ranking:
        assert item.score == relevance_score(QUERY, item.passage.full_text)


def test_rerank_sends_documented_request(make_reranker, server):
    make_reranker().rerank(QUERY, PASSAGES)
    assert len(server.requests) == 1
    request = server.requests[0]
    assert request.method == "POST"
    assert request.path == RERANK_PATH
    assert request.headers["Authorization"] == f"Bearer {KEY}"
    assert request.json() == {
        "model": "rerank-v3.5",
        "query": QUERY,
        "documents": [passage.full_text for passage in PASSAGES],
        "top_n": 4,
        "max_tokens_per_doc": 4096,
    }


def test_rerank_sends_unlisted_model_as_is(make_reranker, server):
    make_reranker(model="rerank-v9.0-future", max_tokens_per_doc=512).rerank(QUERY, PASSAGES)
    body = server.requests[0].json()
    assert body["model"] == "rerank-v9.0-future"
    assert body["max_tokens_per_doc"] == 512


def test_score_returns_input_order(make_reranker):
    scores = make_reranker().score(QUERY, PASSAGES)
    assert scores.shape == (4,)
    assert scores.tolist() == [relevance_score(QUERY, p.full_text) for p in PASSAGES]


def test_rerank_uses_given_client(server):
    client = cohere.ClientV2(api_key=KEY, base_url=server.url, max_retries=0)
    config = ServiceConfig(KEY, base_url=f"http://127.0.0.1:{closed_port()}")
    ranking = CohereReranker(config, client=client).rerank(QUERY, PASSAGES)
    assert [item.passage.passage_id for item in ranking] == expected_order(QUERY, PASSAGES)
    assert len(server.requests) == 1


def test_rerank_empty_candidates_sends_nothing(make_reranker, server):
    assert make_reranker().rerank(QUERY, []) == []
    assert server.requests == []


def test_models_start_with_default():
    assert COHERE_MODELS[0] == "rerank-v3.5"
    assert len(set(COHERE_MODELS)) == len(COHERE_MODELS)


# --- batching --------------------------------------------------------------------------


BATCH_PASSAGES = [
    Passage("a#0", "a", "Bake the bread until golden."),
    Passage("b#0", "b", "Wind turbines produce electricity."),
    Passage("c#0", "c", "Coal plants produce electricity and smoke."),
    Passage("d#0", "d", "Solar panels on the roof."),
    # Same text as b#0 in another batch: equal scores must keep the earlier batch first.
    Passage("e#0", "e", "Wind turbines produce electricity."),
    Passage("f#0", "f", "Water the garden in the morning."),
    Passage("g#0", "g", "Solar panels produce electricity."),
]


def test_rerank_splits_batches(make_reranker, server):
    make_reranker(batch_size=3).rerank(QUERY, BATCH_PASSAGES)
    bodies = [request.json() for request in server.requests]
    assert [len(body["documents"]) for body in bodies] == [3, 3, 1]
    assert [body["top_n"] for body in bodies] == [3, 3, 1]
    assert [doc for body in bodies for doc in body["documents"]] == [
        passage.full_text for passage in BATCH_PASSAGES
    ]


def test_rerank_merges_batches_by_score(make_reranker):
    ranking = make_reranker(batch_size=3).rerank(QUERY, BATCH_PASSAGES)
    ids = [item.passage.passage_id for item in ranking]
    assert ids == expected_order(QUERY, BATCH_PASSAGES)
    assert ids[0] == "g#0"
    assert ids.index("b#0") < ids.index("e#0")
    assert [item.rank for item in ranking] == list(range(1, 8))


def test_score_merges_batches_in_input_order(make_reranker):
    scores = make_reranker(batch_size=3).score(QUERY, BATCH_PASSAGES)
    assert scores.tolist() == [relevance_score(QUERY, p.full_text) for p in BATCH_PASSAGES]


def test_default_batch_stays_within_limit(make_reranker, server):
    candidates = [Passage(f"d{i}#0", f"d{i}", f"passage {i} about solar") for i in range(MAX_DOCUMENTS + 1)]
    ranking = make_reranker().rerank(QUERY, candidates)
    assert [len(request.json()["documents"]) for request in server.requests] == [MAX_DOCUMENTS, 1]
    assert len(ranking) == MAX_DOCUMENTS + 1


def test_limit_matches_cohere_docs():
    assert MAX_DOCUMENTS_PER_REQUEST == MAX_DOCUMENTS


def test_batch_size_above_limit_rejected(server):
    config = ServiceConfig(KEY, base_url=server.url)
    with pytest.raises(ValueError, match="batch_size must be from 1 to 10000"):
        CohereReranker(config, batch_size=MAX_DOCUMENTS_PER_REQUEST + 1)


# --- authentication and request errors -------------------------------------------------


def test_wrong_key_raises_authentication_error(make_reranker, server):
    with pytest.raises(AuthenticationError) as caught:
        make_reranker(api_key="sk-test-WRONG-9999").rerank(QUERY, PASSAGES)
    assert caught.value.status == 401
    assert "invalid key" in str(caught.value)
    assert "invalid api token" in str(caught.value)
    assert "COHERE_API_KEY" in str(caught.value)
    assert len(server.requests) == 1


def test_forbidden_raises_authentication_error(make_reranker, server):
    server.enqueue(RERANK_PATH, Reply(403, {"message": "this key may not use rerank-v3.5"}))
    with pytest.raises(AuthenticationError) as caught:
        make_reranker().rerank(QUERY, PASSAGES)
    assert caught.value.status == 403
    assert "this key may not use rerank-v3.5" in str(caught.value)


def test_empty_key_rejected(server):
    with pytest.raises(AuthenticationError, match="COHERE_API_KEY"):
        CohereReranker(ServiceConfig("  ", base_url=server.url))


def test_bad_request_raises_service_error(make_reranker, server):
    with pytest.raises(ServiceError) as caught:
        make_reranker().rerank("", PASSAGES)
    assert type(caught.value) is ServiceError
    assert caught.value.status == 400
    assert "query must be a non-empty string" in str(caught.value)
    assert len(server.requests) == 1


# --- rate limits -----------------------------------------------------------------------


def test_429_retry_after_is_honoured(make_reranker, server, sleeps):
    server.enqueue(RERANK_PATH, Reply(429, {"message": "too many requests"}, headers={"Retry-After": "2"}))
    ranking = make_reranker().rerank(QUERY, PASSAGES)
    assert sleeps == [2.0]
    assert len(server.requests) == 2
    assert [item.passage.passage_id for item in ranking] == expected_order(QUERY, PASSAGES)


def test_429_exhausted_says_how_long(make_reranker, server, sleeps):
    limited = Reply(429, {"message": "too many requests"}, headers={"Retry-After": "7"})
    server.enqueue(RERANK_PATH, limited, limited, limited)
    with pytest.raises(RateLimitError) as caught:
        make_reranker(max_retries=2).rerank(QUERY, PASSAGES)
    assert caught.value.retry_after == 7.0
    assert "Wait 7 s and retry" in str(caught.value)
    assert sleeps == [7.0, 7.0]
    assert len(server.requests) == 3


def test_429_long_retry_after_fails_at_once(make_reranker, server, sleeps):
    server.enqueue(RERANK_PATH, Reply(429, {"message": "quota"}, headers={"Retry-After": "120"}))
    with pytest.raises(RateLimitError, match="Wait 120 s and retry"):
        make_reranker().rerank(QUERY, PASSAGES)
    assert sleeps == []
    assert len(server.requests) == 1


def test_429_http_date_retry_after(make_reranker, server):
    when = email.utils.formatdate(time.time() + 20, usegmt=True)
    server.enqueue(RERANK_PATH, Reply(429, {"message": "quota"}, headers={"Retry-After": when}))
    with pytest.raises(RateLimitError) as caught:
        make_reranker(max_retries=0).rerank(QUERY, PASSAGES)
    assert 0 < caught.value.retry_after <= 20


def test_429_without_retry_after_backs_off(make_reranker, server, sleeps):
    limited = Reply(429, {"message": "too many requests"})
    server.enqueue(RERANK_PATH, limited, limited)
    with pytest.raises(RateLimitError) as caught:
        make_reranker(max_retries=1).rerank(QUERY, PASSAGES)
    assert caught.value.retry_after is None
    assert "Wait up to 60 s" in str(caught.value)
    assert len(sleeps) == 1


# --- server errors ---------------------------------------------------------------------


@pytest.mark.parametrize("status", [500, 503])
def test_5xx_then_success(make_reranker, server, sleeps, status):
    server.enqueue(RERANK_PATH, Reply(status, {"message": "internal server error"}))
    ranking = make_reranker().rerank(QUERY, PASSAGES)
    assert len(sleeps) == 1
    assert len(server.requests) == 2
    assert [item.passage.passage_id for item in ranking] == expected_order(QUERY, PASSAGES)


def test_5xx_exhausted_raises_server_error(make_reranker, server, sleeps):
    failing = Reply(502, "<html><body>502 Bad Gateway</body></html>")
    server.enqueue(RERANK_PATH, failing, failing, failing)
    with pytest.raises(ServerError) as caught:
        make_reranker(max_retries=2).rerank(QUERY, PASSAGES)
    assert caught.value.status == 502
    assert "HTTP 502" in str(caught.value)
    assert "502 Bad Gateway" in str(caught.value)
    assert len(sleeps) == 2
    assert len(server.requests) == 3


# --- timeouts and connections ----------------------------------------------------------


def test_timeout_raises_timeout_error(make_reranker, server):
    server.enqueue(RERANK_PATH, Reply(200, {"results": []}, delay=1.5))
    with pytest.raises(ServiceTimeoutError) as caught:
        make_reranker(timeout=0.5).rerank(QUERY, PASSAGES)
    assert "no response within 0.5 s" in str(caught.value)
    assert "Raise the timeout" in str(caught.value)
    assert caught.value.status is None


def test_connection_refused(sleeps):
    base_url = f"http://127.0.0.1:{closed_port()}"
    reranker = CohereReranker(ServiceConfig(KEY, base_url=base_url, timeout=2))
    reranker.sleep = sleeps.append
    with pytest.raises(ConnectionFailedError) as caught:
        reranker.rerank(QUERY, PASSAGES)
    assert f"Could not connect to Cohere at {base_url}" in str(caught.value)
    assert sleeps == []


def test_base_url_without_scheme():
    reranker = CohereReranker(ServiceConfig(KEY, base_url="127.0.0.1:9", timeout=2))
    with pytest.raises(ServiceError, match="COHERE_BASE_URL"):
        reranker.rerank(QUERY, PASSAGES)


# --- malformed responses ---------------------------------------------------------------


def test_invalid_json_raises_malformed(make_reranker, server, sleeps):
    server.enqueue(RERANK_PATH, Reply(200, '{"results": [{"index": 0,'))
    with pytest.raises(MalformedResponseError, match="not valid JSON"):
        make_reranker().rerank(QUERY, PASSAGES)
    assert sleeps == []


def test_missing_results_raises_malformed(make_reranker, server):
    server.enqueue(RERANK_PATH, Reply(200, {"id": "abc", "meta": {"api_version": {"version": "2"}}}))
    with pytest.raises(MalformedResponseError, match="no `results` list"):
        make_reranker().rerank(QUERY, PASSAGES)


def test_json_array_raises_malformed(make_reranker, server):
    server.enqueue(RERANK_PATH, Reply(200, [{"index": 0, "relevance_score": 0.5}]))
    with pytest.raises(MalformedResponseError, match="could not read the response"):
        make_reranker().rerank(QUERY, PASSAGES)


def full_results(**override) -> list[dict]:
    results = [{"index": i, "relevance_score": 0.9 - 0.1 * i} for i in range(4)]
    results[0].update(override)
    return results


@pytest.mark.parametrize(
    ("results", "problem"),
    [
        (full_results(index=4), "index 4, outside 0..3"),
        (full_results(index=-1), "index -1, outside 0..3"),
        (full_results(index=1), "index 1 appears more than once"),
        (full_results(index="first"), "has index 'first', not an integer"),
        (full_results(relevance_score="high"), "relevance_score 'high', not a number"),
        (full_results(relevance_score=None), "relevance_score None, not a number"),
        (full_results()[:3], "3 results for 4 documents"),
    ],
    ids=["index-too-high", "index-negative", "index-duplicated", "index-string", "score-string",
         "score-missing", "result-missing"],
)
def test_bad_results_raise_malformed(make_reranker, server, results, problem):
    server.enqueue(RERANK_PATH, Reply(200, {"id": "abc", "results": results}))
    with pytest.raises(MalformedResponseError) as caught:
        make_reranker().rerank(QUERY, PASSAGES)
    assert problem in str(caught.value)


# --- the key never leaks ---------------------------------------------------------------


FAULTS = {
    # A proxy may echo the request, key included, in its error body.
    "401-echo": Reply(401, {"message": f"invalid api token {KEY}"}),
    "429-echo": Reply(429, {"message": f"slow down, {KEY}"}, headers={"Retry-After": "300"}),
    "500-echo": Reply(500, f"upstream failed for Bearer {KEY}"),
    "400-echo": Reply(400, {"message": f"bad request from {KEY}"}),
    "malformed": Reply(200, f"<html>{KEY}</html>"),
    "timeout": Reply(200, {"results": []}, delay=1.5),
}


@pytest.mark.parametrize("fault", list(FAULTS))
def test_key_never_leaks(make_reranker, server, caplog, fault):
    caplog.set_level(logging.DEBUG)
    server.enqueue(RERANK_PATH, *[FAULTS[fault]] * 3)
    reranker = make_reranker(timeout=0.5, max_retries=1)
    with pytest.raises(ServiceError) as caught:
        reranker.rerank(QUERY, PASSAGES)
    assert KEY not in str(caught.value)
    assert KEY not in repr(caught.value)
    assert KEY not in repr(reranker)
    assert KEY not in caplog.text


def test_retry_logged_without_key(make_reranker, server, caplog):
    caplog.set_level(logging.DEBUG)
    server.enqueue(RERANK_PATH, Reply(503, {"message": "overloaded"}))
    make_reranker().rerank(QUERY, PASSAGES)
    assert "Cohere returned 503; retry 1 of 2" in caplog.text
    assert KEY not in caplog.text
