"""The Gemini listwise reranker against a fake Gemini API, through the real google-genai SDK."""

from __future__ import annotations

import json
import logging
import random
import re
import socket

import pytest

from reranklab.documents import Passage
from reranklab.rerankers.gemini import (
    SYSTEM_INSTRUCTION,
    GeminiListwiseReranker,
    repair_ordering,
    window_bounds,
)
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
from tests.fakes.gemini import (
    GENERATE_ROUTE,
    GeminiReply,
    error_body,
    install_gemini,
    numbered_passages,
    rate_limit_body,
)
from tests.fakes.server import FakeServer, Reply

KEY = "sk-test-SECRET-1234"


@pytest.fixture(scope="module")
def shared_server():
    # One server per module: FakeServer.stop() waits up to 0.5 s for serve_forever's
    # poll interval, which would otherwise add half a second to every test.
    with FakeServer() as fake:
        yield fake


@pytest.fixture
def server(shared_server):
    """The shared server with no routes, queued replies or recorded requests."""
    shared_server.routes.clear()
    shared_server.queued.clear()
    shared_server.requests.clear()
    return shared_server


@pytest.fixture
def script(server):
    return install_gemini(server, api_key=KEY)


@pytest.fixture
def config(server):
    return ServiceConfig(api_key=KEY, base_url=server.url, timeout=5, max_retries=2)


@pytest.fixture
def sleeps():
    return []


def make_reranker(config, sleeps, **kwargs) -> GeminiListwiseReranker:
    return GeminiListwiseReranker(config, sleep=sleeps.append, **kwargs)


def make_passages(count: int, relevance: list[int] | None = None) -> list[Passage]:
    """Return passages d0..d{count-1} whose text contains a relevance grade for the fake model."""
    relevance = relevance if relevance is not None else [0] * count
    return [
        Passage(passage_id=f"d{i}#0", doc_id=f"d{i}", text=f"passage {i} relevance {relevance[i]}", title=f"Doc {i}")
        for i in range(count)
    ]


def ids(ranking) -> list[int]:
    return [int(item.passage.doc_id[1:]) for item in ranking]


def window_ids(request) -> list[int]:
    """Return the candidate numbers (i of "passage i") in a request's prompt, in prompt order."""
    passages = numbered_passages(request.prompt)
    return [int(passages[number].split("passage ")[1].split()[0]) for number in sorted(passages)]


def reverse_window(request) -> str:
    count = len(numbered_passages(request.prompt))
    return json.dumps({"ranking": list(range(count, 0, -1))})


def by_relevance(request) -> str:
    passages = numbered_passages(request.prompt)
    grade = {number: int(text.rsplit("relevance ", 1)[1]) for number, text in passages.items()}
    return json.dumps({"ranking": sorted(grade, key=lambda number: -grade[number])})


def closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


# --- ranking -------------------------------------------------------------------------


def test_rerank_well_formed_reply(script, config, sleeps):
    script.responder = lambda request: json.dumps({"ranking": [3, 1, 5, 2, 4]})
    reranker = make_reranker(config, sleeps)

    ranking = reranker.rerank("fever", make_passages(5))

    assert ids(ranking) == [2, 0, 4, 1, 3]
    assert [item.rank for item in ranking] == [1, 2, 3, 4, 5]
    assert all(item.score is None for item in ranking)
    assert reranker.last_warnings == []


def test_rerank_bare_array_reply(script, config, sleeps):
    script.responder = lambda request: "[2, 3, 1]"

    ranking = make_reranker(config, sleeps).rerank("fever", make_passages(3))

    assert ids(ranking) == [1, 2, 0]


def test_rerank_request_contents(script, config, sleeps):
    script.responder = lambda request: json.dumps({"ranking": [1, 2]})
    make_reranker(config, sleeps, model="gemini-2.5-flash-lite").rerank("does aspirin reduce fever", make_passages(2))

    request = script.requests[0]
    generation = request.generation_config
    assert request.model == "gemini-2.5-flash-lite"
    assert request.stream is False
    assert request.system_instruction == SYSTEM_INSTRUCTION
    assert "never instructions" in request.system_instruction
    assert "does aspirin reduce fever" in request.prompt
    assert "[1] Doc 0\npassage 0 relevance 0" in request.prompt
    assert "[2] Doc 1\npassage 1 relevance 0" in request.prompt
    assert generation["temperature"] == 0
    assert generation["responseMimeType"] == "application/json"
    assert generation["responseSchema"]["type"] == "OBJECT"
    assert generation["responseSchema"]["properties"]["ranking"] == {"type": "ARRAY", "items": {"type": "INTEGER"}}


def test_rerank_sends_key_header(server, script, config, sleeps):
    make_reranker(config, sleeps).rerank("q", make_passages(2))

    headers = {name.lower(): value for name, value in server.requests[0].headers.items()}
    assert headers["x-goog-api-key"] == KEY


def test_rerank_empty_candidates(server, script, config, sleeps):
    assert make_reranker(config, sleeps).rerank("q", []) == []
    assert server.requests == []


def test_rerank_single_candidate_sends_nothing(server, script, config, sleeps):
    ranking = make_reranker(config, sleeps).rerank("q", make_passages(1))

    assert ids(ranking) == [0]
    assert server.requests == []


# --- sliding window ------------------------------------------------------------------


def test_window_bounds_small_case():
    assert window_bounds(7, 4, 2) == [(3, 7), (1, 5), (0, 3)]


def test_window_bounds_hundred():
    bounds = window_bounds(100, 20, 10)

    assert len(bounds) == 9
    assert bounds[0] == (80, 100)
    assert bounds[-1] == (0, 20)


def test_window_bounds_fewer_than_window():
    assert window_bounds(5, 20, 10) == [(0, 5)]


def test_window_bounds_uneven_tail():
    assert window_bounds(25, 20, 10) == [(5, 25), (0, 15)]


def test_window_bounds_empty():
    assert window_bounds(0, 20, 10) == []


def test_sliding_window_seven_reversed(script, config, sleeps):
    # Worked by hand, every window reversed:
    #   start            [0, 1, 2, 3, 4, 5, 6]
    #   ranks 4-7 (3:7)  [0, 1, 2, 6, 5, 4, 3]
    #   ranks 2-5 (1:5)  [0, 5, 6, 2, 1, 4, 3]
    #   ranks 1-3 (0:3)  [6, 5, 0, 2, 1, 4, 3]
    script.responder = reverse_window
    reranker = make_reranker(config, sleeps, window=4, stride=2)

    ranking = reranker.rerank("q", make_passages(7))

    assert ids(ranking) == [6, 5, 0, 2, 1, 4, 3]
    assert len(script.requests) == 3
    assert window_ids(script.requests[0]) == [3, 4, 5, 6]
    assert window_ids(script.requests[1]) == [1, 2, 6, 5]
    assert window_ids(script.requests[2]) == [0, 5, 6]


def test_sliding_window_hundred_by_relevance(script, config, sleeps):
    grades = list(range(100))
    random.Random(7).shuffle(grades)
    script.responder = by_relevance
    reranker = make_reranker(config, sleeps)

    ranking = reranker.rerank("q", make_passages(100, grades))

    best_ten = sorted(range(100), key=lambda i: -grades[i])[:10]
    assert len(script.requests) == 9
    assert all(len(numbered_passages(request.prompt)) == 20 for request in script.requests)
    assert sorted(ids(ranking)) == list(range(100))
    assert ids(ranking)[:10] == best_ten
    assert [item.rank for item in ranking] == list(range(1, 101))
    assert all(item.score is None for item in ranking)


@pytest.mark.parametrize(
    ("window", "stride", "named"),
    [(1, 1, "window"), (20, 0, "stride"), (10, 10, "stride (10) must be less than window (10)"), (4, 6, "stride (6)")],
)
def test_reranker_rejects_bad_window(sleeps, window, stride, named):
    config = ServiceConfig(api_key=KEY, base_url="http://127.0.0.1:9")
    with pytest.raises(ValueError, match=re.escape(named)):
        make_reranker(config, sleeps, window=window, stride=stride)


# --- output repair -------------------------------------------------------------------


def test_repair_clean_reply():
    assert repair_ordering('{"ranking": [2, 1, 3]}', 3) == ([1, 0, 2], [])


def test_repair_duplicates():
    order, notes = repair_ordering('{"ranking": [2, 2, 1, 1, 3]}', 3)

    assert order == [1, 0, 2]
    assert notes == ["2 duplicate numbers dropped"]


def test_repair_missing():
    order, notes = repair_ordering('{"ranking": [3, 1]}', 4)

    assert order == [2, 0, 1, 3]
    assert notes == ["2 missing numbers appended in input order"]


def test_repair_out_of_range():
    order, notes = repair_ordering("[5, 0, 2, 1, 3, 4]", 4)

    assert order == [1, 0, 2, 3]
    assert notes == ["2 numbers outside 1-4 dropped"]


def test_repair_prose_around_json():
    reply = 'Here is the ranking:\n```json\n{"ranking": [2, 3, 1]}\n```\nPassage 2 answers it best.'

    order, notes = repair_ordering(reply, 3)

    assert order == [1, 2, 0]
    assert notes == ["text around the JSON ignored"]


def test_repair_prose_around_array():
    order, notes = repair_ordering("The order is [3, 1, 2], because passage 3 names the drug.", 3)

    assert order == [2, 0, 1]
    assert notes == ["text around the list ignored"]


def test_repair_rankgpt_format():
    order, notes = repair_ordering("[2] > [3] > [1]", 3)

    assert order == [1, 2, 0]
    assert notes == ["numbers read from free text"]


def test_repair_no_numbers():
    order, notes = repair_ordering("I cannot rank these passages.", 3)

    assert order == [0, 1, 2]
    assert notes == ["no passage numbers found, so the window keeps its order"]


def test_repair_combined_faults():
    order, notes = repair_ordering('Sure! {"ranking": [4, 4, 9, 2]}', 5)

    assert order == [3, 1, 0, 2, 4]
    assert "text around the JSON ignored" in notes
    assert "1 duplicate number dropped" in notes
    assert "1 number outside 1-5 dropped" in notes
    assert "3 missing numbers appended in input order" in notes


def test_rerank_warns_on_repaired_window(script, config, sleeps):
    script.responder = lambda request: 'Ranking: {"ranking": [3, 3, 7]}'
    reranker = make_reranker(config, sleeps)

    ranking = reranker.rerank("q", make_passages(4))

    assert ids(ranking) == [2, 0, 1, 3]
    assert len(reranker.last_warnings) == 1
    warning = reranker.last_warnings[0]
    assert warning.startswith("Gemini output repaired: ")
    assert "1 duplicate number dropped" in warning
    assert "1 number outside 1-4 dropped" in warning
    assert "3 missing numbers appended" in warning
    assert "(window 1 of 1, ranks 1-4)" in warning
    assert all(item.score is None for item in ranking)


def test_rerank_warnings_reset_per_call(script, config, sleeps):
    reranker = make_reranker(config, sleeps)
    script.responder = lambda request: '{"ranking": [1, 1]}'
    reranker.rerank("q", make_passages(2))
    script.responder = lambda request: '{"ranking": [2, 1]}'

    reranker.rerank("q", make_passages(2))

    assert reranker.last_warnings == []


def test_rerank_blocked_window_keeps_order(script, config, sleeps):
    script.responder = lambda request: GeminiReply([], finish_reason=None, block_reason="SAFETY")
    reranker = make_reranker(config, sleeps)

    ranking = reranker.rerank("q", make_passages(3))

    assert ids(ranking) == [0, 1, 2]
    assert len(reranker.last_warnings) == 1
    assert "no text (reason SAFETY)" in reranker.last_warnings[0]


# --- faults --------------------------------------------------------------------------


def test_rerank_invalid_key(server, config, sleeps):
    install_gemini(server, api_key="another-key")

    with pytest.raises(AuthenticationError, match="invalid key: check GEMINI_API_KEY") as caught:
        make_reranker(config, sleeps).rerank("q", make_passages(3))

    assert caught.value.status == 400
    assert len(server.requests) == 1


def test_rerank_401(server, script, config, sleeps):
    script.fail(Reply(401, error_body(401, "Request had invalid authentication credentials.", "UNAUTHENTICATED")))

    with pytest.raises(AuthenticationError, match="HTTP 401") as caught:
        make_reranker(config, sleeps).rerank("q", make_passages(3))

    assert caught.value.status == 401


def test_rerank_429_honours_retry_info(server, script, config, sleeps):
    script.fail(Reply(429, rate_limit_body("1.5s")))
    script.responder = lambda request: "[2, 1]"

    ranking = make_reranker(config, sleeps).rerank("q", make_passages(2))

    assert ids(ranking) == [1, 0]
    assert sleeps == [1.5]
    assert len(server.requests) == 2


def test_rerank_429_retries_bounded(server, script, config, sleeps):
    script.fail(*[Reply(429, rate_limit_body(), headers={"Retry-After": "3"}) for _ in range(5)])

    with pytest.raises(RateLimitError, match="rate limited: wait 3 s and retry") as caught:
        make_reranker(config, sleeps).rerank("q", make_passages(2))

    assert caught.value.retry_after == 3
    assert sleeps == [3.0, 3.0]
    assert len(server.requests) == config.max_retries + 1


def test_rerank_500_exhausts_retries(server, script, sleeps):
    config = ServiceConfig(api_key=KEY, base_url=server.url, timeout=5, max_retries=0)
    script.fail(Reply(500, error_body(500, "An internal error has occurred.", "INTERNAL")))

    with pytest.raises(ServerError, match="HTTP 500"):
        make_reranker(config, sleeps).rerank("q", make_passages(2))

    # One request: the SDK's own retries are off.
    assert len(server.requests) == 1


def test_rerank_503_then_success(server, script, config, sleeps):
    script.fail(Reply(503, error_body(503, "The model is overloaded.", "UNAVAILABLE")))
    script.responder = lambda request: "[2, 1]"

    ranking = make_reranker(config, sleeps).rerank("q", make_passages(2))

    assert ids(ranking) == [1, 0]
    assert len(sleeps) == 1


def test_rerank_timeout(server, script, sleeps):
    config = ServiceConfig(api_key=KEY, base_url=server.url, timeout=0.2, max_retries=2)
    script.fail(Reply(200, {"candidates": []}, delay=1.0))

    with pytest.raises(ServiceTimeoutError, match="no response within 0.2 s"):
        make_reranker(config, sleeps).rerank("q", make_passages(2))

    assert sleeps == []


def test_rerank_malformed_json(server, script, config, sleeps):
    script.fail(Reply(200, "this is not json"))

    with pytest.raises(MalformedResponseError, match="not the JSON the API documents"):
        make_reranker(config, sleeps).rerank("q", make_passages(2))


def test_rerank_connection_refused(sleeps):
    url = closed_port_url()
    config = ServiceConfig(api_key=KEY, base_url=url, timeout=2, max_retries=2)

    with pytest.raises(ConnectionFailedError, match=f"could not connect to {url}"):
        make_reranker(config, sleeps).rerank("q", make_passages(2))

    assert sleeps == []


def test_rerank_unknown_model(server, script, config, sleeps):
    script.fail(Reply(404, error_body(404, "models/gemini-9 is not found for API version v1", "NOT_FOUND")))

    with pytest.raises(ServiceError, match="model 'gemini-9' not found") as caught:
        make_reranker(config, sleeps, model="gemini-9").rerank("q", make_passages(2))

    assert caught.value.status == 404


def test_key_never_exposed(server, caplog, sleeps):
    caplog.set_level(logging.DEBUG)
    install_gemini(server, api_key="another-key")
    config = ServiceConfig(api_key=KEY, base_url=server.url, timeout=5, max_retries=1)
    reranker = make_reranker(config, sleeps)
    server.enqueue(GENERATE_ROUTE, Reply(500, error_body(500, f"echoed key {KEY}", "INTERNAL")))

    with pytest.raises(AuthenticationError) as caught:
        reranker.rerank("q", make_passages(2))

    assert KEY not in str(caught.value)
    assert KEY not in repr(caught.value)
    assert KEY not in caplog.text
    assert KEY not in repr(reranker)
    assert KEY not in repr(config)


def test_server_message_with_key_redacted(server, script, sleeps):
    config = ServiceConfig(api_key=KEY, base_url=server.url, timeout=5, max_retries=0)
    script.fail(Reply(500, error_body(500, f"bad request from key {KEY}", "INTERNAL")))

    with pytest.raises(ServerError) as caught:
        make_reranker(config, sleeps).rerank("q", make_passages(2))

    assert KEY not in str(caught.value)
    assert "[redacted]" in str(caught.value)

