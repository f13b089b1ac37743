"""RFC 9457 problem details: every 4xx/5xx of the ingest API is one of these, as data.

A sender's system must be able to act on an error without a human reading prose: the ``type``
names the problem precisely (and doubles as the bounded ``reason`` label of the rejection metric),
``index`` points at the offending element of a batch, and ``detail`` says what to change. Details
never repeat message content (a BSN could be in it), only field names and sizes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

CONTENT_TYPE = "application/problem+json"
TYPE_BASE = "/problems/"


@dataclass(frozen=True, slots=True)
class ProblemType:
    slug: str
    status: int
    title: str


def _t(slug: str, status: int, title: str) -> ProblemType:
    return ProblemType(slug, status, title)


INVALID_JSON = _t("invalid-json", 400, "The body is not valid JSON")
NOT_A_MESSAGE = _t("not-a-message", 400, "A message must be a JSON object")
EMPTY_BATCH = _t("empty-batch", 400, "The batch holds no messages")
MISSING_MESSAGE_ID = _t("missing-message-id", 400, "A message has no message_id")
INVALID_MESSAGE_ID = _t("invalid-message-id", 400, "message_id must be a string")
MESSAGE_ID_TOO_LONG = _t("message-id-too-long", 400, "message_id is longer than allowed")
JSON_TOO_DEEP = _t("json-too-deep", 400, "A message nests objects or arrays deeper than allowed")
BAD_REQUEST = _t("bad-request", 400, "The request is not valid HTTP/1.1")
MISSING_SENDER = _t("missing-sender", 400, "A message has no sender")
INVALID_SENDER = _t("invalid-sender", 400, "sender must be {kind: provider|municipality, code: string}")
INVALID_AVRO = _t("invalid-avro", 400, "The body is not a single-object-encoded InboundMessage")
INVALID_QUERY = _t("invalid-query", 400, "A query parameter is not valid")
INVALID_CURSOR = _t("invalid-cursor", 400, "The cursor is not one this service gave out for this sender")
UNAUTHENTICATED = _t("unauthenticated", 401, "A valid bearer token is required")
FORBIDDEN_SENDER = _t("forbidden-sender", 403, "The message claims a sender other than the token's")
NOT_FOUND = _t("not-found", 404, "No such resource")
METHOD_NOT_ALLOWED = _t("method-not-allowed", 405, "Method not allowed on this resource")
BODY_TOO_LARGE = _t("body-too-large", 413, "The request body is larger than allowed")
BATCH_TOO_LARGE = _t("batch-too-large", 400, "The batch holds more messages than allowed")
MESSAGE_TOO_LARGE = _t("message-too-large", 413, "One message is larger than allowed")
RECORD_TOO_LARGE = _t("record-too-large", 413, "A message makes a Kafka record larger than Kafka takes")
HEADERS_TOO_LARGE = _t("headers-too-large", 431, "The request line or a header field is too large")
UNSUPPORTED_MEDIA_TYPE = _t("unsupported-media-type", 415, "Unsupported Content-Type")
RATE_LIMITED = _t("rate-limited", 429, "Too many messages from this sender; slow down")
AUTH_RATE_LIMITED = _t("auth-rate-limited", 429, "Too many failed authentications from this address")
KAFKA_UNAVAILABLE = _t("kafka-unavailable", 503, "The message store is unavailable; nothing was accepted")
PIPELINE_BEHIND = _t(
    "pipeline-behind", 503, "The hub is behind on processing; nothing was accepted, try again later"
)
INTERNAL = _t("internal", 500, "Internal error; nothing was accepted")

ALL_TYPES: tuple[ProblemType, ...] = (
    INVALID_JSON,
    NOT_A_MESSAGE,
    EMPTY_BATCH,
    MISSING_MESSAGE_ID,
    INVALID_MESSAGE_ID,
    MESSAGE_ID_TOO_LONG,
    JSON_TOO_DEEP,
    BAD_REQUEST,
    MISSING_SENDER,
    INVALID_SENDER,
    INVALID_AVRO,
    INVALID_QUERY,
    INVALID_CURSOR,
    UNAUTHENTICATED,
    FORBIDDEN_SENDER,
    NOT_FOUND,
    METHOD_NOT_ALLOWED,
    BODY_TOO_LARGE,
    BATCH_TOO_LARGE,
    MESSAGE_TOO_LARGE,
    RECORD_TOO_LARGE,
    HEADERS_TOO_LARGE,
    UNSUPPORTED_MEDIA_TYPE,
    RATE_LIMITED,
    AUTH_RATE_LIMITED,
    KAFKA_UNAVAILABLE,
    PIPELINE_BEHIND,
    INTERNAL,
)
BY_SLUG = {t.slug: t for t in ALL_TYPES}


@dataclass(frozen=True, slots=True)
class Problem:
    """One problem response. ``retry_after`` (seconds) becomes the Retry-After header on 429/503."""

    kind: ProblemType
    detail: str
    index: int | None = None
    retry_after: int | None = None
    allow: str | None = None  # the Allow header of a 405

    @property
    def status(self) -> int:
        return self.kind.status

    @property
    def reason(self) -> str:
        """Bounded label for metrics and logs."""
        return self.kind.slug

    def body(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "type": TYPE_BASE + self.kind.slug,
            "title": self.kind.title,
            "status": self.kind.status,
            "detail": self.detail,
        }
        if self.index is not None:
            out["index"] = self.index
        return out

    def to_bytes(self) -> bytes:
        return orjson.dumps(self.body())

    def headers(self) -> dict[str, str]:
        headers = {"Content-Type": CONTENT_TYPE}
        if self.retry_after is not None:
            headers["Retry-After"] = str(max(1, self.retry_after))
        if self.allow is not None:
            headers["Allow"] = self.allow
        if self.kind is UNAUTHENTICATED:
            headers["WWW-Authenticate"] = 'Bearer realm="jeugdhub"'
        return headers


class ProblemError(Exception):
    """Raised inside the shell to leave a handler with a problem response."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(problem.detail)
        self.problem = problem
