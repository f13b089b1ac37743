"""RFC 9457 problem bodies and headers, and their agreement with the OpenAPI document."""

from __future__ import annotations

import orjson

from services.ingest import problems as P
from services.ingest.openapi import openapi_document
from services.ingest.problems import ALL_TYPES, CONTENT_TYPE, Problem
from services.ingest.settings import IngestSettings


def test_body_has_the_rfc_9457_members() -> None:
    body = orjson.loads(Problem(P.MISSING_SENDER, "sender is required (element 3)", 3).to_bytes())
    assert body == {
        "type": "/problems/missing-sender",
        "title": "A message has no sender",
        "status": 400,
        "detail": "sender is required (element 3)",
        "index": 3,
    }


def test_index_is_left_out_when_not_a_batch_element() -> None:
    assert "index" not in Problem(P.INVALID_JSON, "x").body()


def test_headers() -> None:
    assert Problem(P.INVALID_JSON, "x").headers() == {"Content-Type": CONTENT_TYPE}
    assert Problem(P.KAFKA_UNAVAILABLE, "x", retry_after=5).headers()["Retry-After"] == "5"
    assert Problem(P.RATE_LIMITED, "x", retry_after=0).headers()["Retry-After"] == "1"
    assert Problem(P.UNAUTHENTICATED, "x").headers()["WWW-Authenticate"].startswith("Bearer")
    assert Problem(P.METHOD_NOT_ALLOWED, "x", allow="GET,HEAD").headers()["Allow"] == "GET,HEAD"


def test_types_are_unique_and_statuses_are_errors() -> None:
    slugs = [t.slug for t in ALL_TYPES]
    assert len(set(slugs)) == len(slugs)
    assert all(400 <= t.status < 600 for t in ALL_TYPES)
    assert Problem(P.RATE_LIMITED, "x").reason == "rate-limited"


def test_openapi_lists_every_problem_type_and_the_configured_limits() -> None:
    settings = IngestSettings(ingest_max_batch=250, ingest_rate_burst=250)
    doc = openapi_document(settings)
    assert doc["openapi"].startswith("3.")
    enum = doc["components"]["schemas"]["Problem"]["properties"]["type"]["enum"]
    assert set(enum) == {"/problems/" + t.slug for t in ALL_TYPES}
    post = doc["paths"]["/v1/messages"]["post"]
    batch = post["requestBody"]["content"]["application/json"]["schema"]["oneOf"][1]
    assert batch["maxItems"] == 250
    assert set(post["responses"]) == {"202", "400", "401", "403", "413", "415", "429", "431", "503"}
    statuses_by_route = {
        "/v1/messages": {
            t.status for t in (P.INVALID_JSON, P.UNAUTHENTICATED, P.FORBIDDEN_SENDER, P.BODY_TOO_LARGE)
        },
    }
    for route, statuses in statuses_by_route.items():
        assert {str(s) for s in statuses} <= set(doc["paths"][route]["post"]["responses"])
    orjson.dumps(doc)  # serialisable as served
