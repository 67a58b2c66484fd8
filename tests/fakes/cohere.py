"""A fake Cohere Rerank API (`POST /v2/rerank`) on top of `FakeServer`.

Bodies follow the v2 rerank types of the cohere 7.3.1 SDK (`cohere/v2/raw_client.py` and
`V2RerankResponse`). A request contains `model`, `query`, `documents` (strings), `top_n`
and `max_tokens_per_doc`. A response contains `id`, `results` (`index` and
`relevance_score`, best first) and `meta`. Errors are JSON bodies with a `message`, as
Cohere sends them, for example `{"message": "invalid api token"}` on HTTP 401.

The relevance score is `relevance_score(query, document)`, a deterministic word-overlap
score in [0, 1], so tests can compute the expected ranking.
"""

from __future__ import annotations

import json
import re
import uuid

from tests.fakes.server import FakeServer, RecordedRequest, Reply

RERANK_PATH = "/v2/rerank"

# Cohere's per-request document limit, from the "Number of Documents" row of
# https://docs.cohere.com/docs/reranking-best-practices. Kept apart from the reranker's own
# constant so that a wrong value there makes the tests fail.
MAX_DOCUMENTS = 10_000

_WORD = re.compile(r"\w+")


def relevance_score(query: str, document: str) -> float:
    """Return the fake model's score in [0, 1], computed from the words shared by query and document.

    Each query word missing from the document costs 1 and each document word that is
    not in the query costs 0.1, so shorter documents that cover the query score higher.
    The score is 0 when no word is shared, and rounded to 6 decimals like a JSON float.
    """
    query_words = set(_WORD.findall(query.lower()))
    document_words = set(_WORD.findall(document.lower()))
    shared = len(query_words & document_words)
    if shared == 0:
        return 0.0
    missing = len(query_words - document_words)
    extra = len(document_words - query_words)
    return round(shared / (shared + missing + 0.1 * extra), 6)


def error_reply(status: int, message: str) -> Reply:
    """Return an error response with Cohere's JSON error body."""
    return Reply(status, {"id": str(uuid.uuid4()), "message": message})


def install_cohere(server: FakeServer, api_key: str = "sk-test-SECRET-1234") -> None:
    """Register `POST /v2/rerank` on `server`, accepting only `Authorization: Bearer <api_key>`."""

    def rerank(request: RecordedRequest, match: re.Match) -> Reply:
        authorization = request.headers.get("Authorization")
        if authorization is None:
            return error_reply(401, "no api key supplied")
        if authorization != f"Bearer {api_key}":
            return error_reply(401, "invalid api token")

        try:
            body = request.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            return error_reply(400, "invalid request: the request body is not valid JSON")
        problem = _validate_rerank_body(body)
        if problem:
            return error_reply(400, f"invalid request: {problem}")

        documents = body["documents"]
        scored = [
            {"index": index, "relevance_score": relevance_score(body["query"], document)}
            for index, document in enumerate(documents)
        ]
        # Python's sort is stable, so equal scores keep the documents' input order.
        scored.sort(key=lambda result: result["relevance_score"], reverse=True)
        top_n = body.get("top_n")
        if top_n is not None:
            scored = scored[:top_n]
        return Reply(
            200,
            {
                "id": str(uuid.uuid4()),
                "results": scored,
                "meta": {"api_version": {"version": "2"}, "billed_units": {"search_units": 1}},
            },
        )

    server.route("POST", RERANK_PATH, rerank)


def _validate_rerank_body(body: object) -> str | None:
    """Return what is wrong with a rerank request body, or None when it is valid."""
    if not isinstance(body, dict):
        return "the request body must be a JSON object"
    for name in ("model", "query"):
        value = body.get(name)
        if not isinstance(value, str) or not value.strip():
            return f"{name} must be a non-empty string"

    documents = body.get("documents")
    if not isinstance(documents, list) or not documents:
        return "documents must be a non-empty list"
    if not all(isinstance(document, str) for document in documents):
        return "documents must be a list of strings"
    # NOTE: the status and the limit follow Cohere's docs, but the message text is invented
    # because the docs do not give the text the real API sends.
    if len(documents) > MAX_DOCUMENTS:
        return f"too many documents: got {len(documents)}, the maximum is {MAX_DOCUMENTS}"

    for name in ("top_n", "max_tokens_per_doc"):
        value = body.get(name)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            return f"{name} must be a positive integer, got {value!r}"
    return None
