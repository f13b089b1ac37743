"""The pure part of ``POST /v1/messages``: bytes and headers in, messages or a Problem out.

Ingest checks only what it needs to route a message and to keep senders apart: the JSON shape,
``message_id`` (a string, for the key) and ``sender`` (it must be the token's). Everything else is
the validate step's job, so that every message gets its retour (and its rejection record) from one
place. Nothing here does I/O; the aiohttp shell calls these functions in order.

What ingest accepts must also be something every later step can handle, whatever a sender posts:
so the nesting depth of a message is bounded (a 300-deep value made ``orjson.dumps`` raise here and
in validate), ``message_id`` is bounded (it is stored three times per record), and the encoded
record must fit Kafka's record limit. Each refusal is a 4xx naming the rule; none may become a 500
or a 503 that a client would retry forever.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

import orjson

from services.contracts.canonical import BODY_RECORDS, format_timestamp, inbound_to_json
from services.contracts.codec import decode
from services.contracts.errors import ContractError
from services.contracts.raw_encoder import RawEncoder
from services.contracts.topics import dedup_key
from services.contracts.vocabulary import SENDER_KINDS, RawFormat
from services.ingest import problems as P
from services.ingest.problems import Problem
from services.ingest.tokens import Sender

JSON_TYPE = "application/json"
AVRO_TYPE = "application/vnd.jeugdhub.avro"
MEDIA_TYPES: dict[str, RawFormat] = {JSON_TYPE: "json", AVRO_TYPE: "avro"}
KNOWN_MESSAGE_TYPES = frozenset(BODY_RECORDS)
_DETAIL_MAX = 300
DEFAULT_MAX_DEPTH = 32
DEFAULT_MAX_ID_CHARS = 36
KAFKA_RECORD_OVERHEAD = 128
"""Bytes Kafka adds around one record's key and value when it is alone in a record batch (a 61-byte
batch header, the record's length, attributes, timestamp and offset deltas, key and value lengths
and header count as varints), rounded up: what the broker compares with ``max.message.bytes``."""


@dataclass(frozen=True, slots=True)
class Incoming:
    """One message as ingest routes it; ``message_type`` is a metric label (bounded)."""

    message_id: str
    sender_kind: str
    sender_code: str
    message_type: str
    payload: bytes


@dataclass(frozen=True, slots=True)
class ParsedBody:
    format: RawFormat
    messages: tuple[Incoming, ...]
    is_batch: bool


def media_format(content_type: str | None) -> RawFormat | Problem:
    """``application/json`` (any charset parameter must be UTF-8) or the Avro media type, else 415."""
    if not content_type:
        return Problem(P.UNSUPPORTED_MEDIA_TYPE, f"Content-Type is required: {JSON_TYPE} or {AVRO_TYPE}")
    main, _, params = content_type.partition(";")
    media = main.strip().lower()
    fmt = MEDIA_TYPES.get(media)
    if fmt is None:
        return Problem(
            P.UNSUPPORTED_MEDIA_TYPE, f"Content-Type {_short(media)!r} is not {JSON_TYPE} or {AVRO_TYPE}"
        )
    for param in params.split(";"):
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset" and value.strip().strip('"').lower() not in ("utf-8", "utf8"):
            return Problem(P.UNSUPPORTED_MEDIA_TYPE, "JSON bodies must be UTF-8")
    return fmt


def check_content_length(content_length: int | None, max_body_bytes: int) -> Problem | None:
    """413 before reading a body the client already announced as too large."""
    if content_length is not None and content_length > max_body_bytes:
        return body_too_large(max_body_bytes)
    return None


def body_too_large(max_body_bytes: int) -> Problem:
    return Problem(P.BODY_TOO_LARGE, f"the body may be at most {max_body_bytes} bytes")


def parse_body(
    fmt: RawFormat,
    body: bytes,
    *,
    max_batch: int,
    max_message_bytes: int,
    max_depth: int = DEFAULT_MAX_DEPTH,
    max_id_chars: int = DEFAULT_MAX_ID_CHARS,
) -> ParsedBody | Problem:
    if fmt == "avro":
        return parse_avro(body, max_message_bytes=max_message_bytes, max_id_chars=max_id_chars)
    return parse_json(
        body,
        max_batch=max_batch,
        max_message_bytes=max_message_bytes,
        max_depth=max_depth,
        max_id_chars=max_id_chars,
    )


def parse_json(
    body: bytes,
    *,
    max_batch: int,
    max_message_bytes: int,
    max_depth: int = DEFAULT_MAX_DEPTH,
    max_id_chars: int = DEFAULT_MAX_ID_CHARS,
) -> ParsedBody | Problem:
    """One message object, or an array of 1..max_batch message objects.

    The depth of every message is checked before anything serialises it again (``orjson.dumps``
    of a batch element raises at 255 levels; orjson's parser stops at 1024).
    """
    try:
        value = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        if "depth" in str(exc) or "recursion" in str(exc):
            return _too_deep(None, max_depth)
        return Problem(P.INVALID_JSON, _short(f"not valid JSON: {exc}"))
    if isinstance(value, dict):
        if len(body) > max_message_bytes:
            return _message_too_large(None, len(body), max_message_bytes)
        if may_nest_deeper_than(body, max_depth) and nests_deeper_than(value, max_depth):
            return _too_deep(None, max_depth)
        checked = _check_message(value, body, None, max_id_chars)
        if isinstance(checked, Problem):
            return checked
        return ParsedBody("json", (checked,), is_batch=False)
    if not isinstance(value, list):
        return Problem(
            P.NOT_A_MESSAGE, f"the body must be a message object or an array of them, got {_json_type(value)}"
        )
    if not value:
        return Problem(P.EMPTY_BATCH, "send at least one message")
    if len(value) > max_batch:
        return Problem(P.BATCH_TOO_LARGE, f"{len(value)} messages; at most {max_batch} per request")
    messages: list[Incoming] = []
    for index, element in enumerate(value):
        if not isinstance(element, dict):
            return Problem(P.NOT_A_MESSAGE, f"element is {_json_type(element)}, not an object", index)
        if nests_deeper_than(element, max_depth):
            return _too_deep(index, max_depth)
        payload = orjson.dumps(element)
        if len(payload) > max_message_bytes:
            return _message_too_large(index, len(payload), max_message_bytes)
        checked = _check_message(element, payload, index, max_id_chars)
        if isinstance(checked, Problem):
            return checked
        messages.append(checked)
    return ParsedBody("json", tuple(messages), is_batch=True)


def parse_avro(
    body: bytes, *, max_message_bytes: int, max_id_chars: int = DEFAULT_MAX_ID_CHARS
) -> ParsedBody | Problem:
    """One single-object-encoded InboundMessage; its bytes go to the raw topic unchanged."""
    if len(body) > max_message_bytes:
        return _message_too_large(None, len(body), max_message_bytes)
    try:
        record = decode("InboundMessage", body)
    except ContractError as exc:
        return Problem(P.INVALID_AVRO, _short(str(exc)))
    try:
        obj: dict[str, Any] = inbound_to_json(record)
    except ContractError:
        # Decodable but inconsistent (say, a body that does not fit message_type): that is a SCHEMA
        # rejection for validate to report in the retour; we only need the routing fields.
        obj = {"message_id": str(record.get("message_id")), "sender": record.get("sender")}
        obj["message_type"] = record.get("message_type")
    checked = _check_message(obj, body, None, max_id_chars)
    if isinstance(checked, Problem):
        return checked
    return ParsedBody("avro", (checked,), is_batch=False)


def may_nest_deeper_than(text: bytes, limit: int) -> bool:
    """False when the JSON *text* cannot nest more than *limit* levels: every level opens with a
    ``{`` or ``[`` of its own, so their count (string contents included) bounds the depth. Two
    C-speed counts instead of :func:`nests_deeper_than`'s walk over every member, which was about
    5 % of ingest's CPU per single-message request (py-spy, issue 18)."""
    return text.count(b"{") + text.count(b"[") > limit


def nests_deeper_than(value: Any, limit: int) -> bool:
    """True when *value* nests more than *limit* levels (an object or array is level 1).

    Iterative, so no input can hit Python's recursion limit; it stops at the first path past the
    limit. The cost is one step per array element or object member, bounded by the body size.
    """
    if not isinstance(value, dict | list):
        return False
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        children = node.values() if isinstance(node, dict) else node
        for child in children:
            if isinstance(child, dict | list):
                if depth >= limit:
                    return True
                stack.append((child, depth + 1))
    return False


def _check_message(
    obj: dict[str, Any], payload: bytes, index: int | None, max_id_chars: int = DEFAULT_MAX_ID_CHARS
) -> Incoming | Problem:
    where = "" if index is None else f" (element {index})"
    if "message_id" not in obj:
        return Problem(P.MISSING_MESSAGE_ID, f"message_id is required{where}", index)
    message_id = obj["message_id"]
    if not isinstance(message_id, str):
        return Problem(
            P.INVALID_MESSAGE_ID, f"message_id must be a string, got {_json_type(message_id)}{where}", index
        )
    if len(message_id) > max_id_chars:
        return Problem(
            P.MESSAGE_ID_TOO_LONG,
            f"message_id is {len(message_id)} characters{where}; at most {max_id_chars} "
            "(a lower-case UUID has 36)",
            index,
        )
    if "sender" not in obj:
        return Problem(P.MISSING_SENDER, f"sender is required{where}", index)
    sender = obj["sender"]
    if not isinstance(sender, dict):
        return Problem(P.INVALID_SENDER, f"sender must be an object, got {_json_type(sender)}{where}", index)
    kind, code = sender.get("kind"), sender.get("code")
    if kind not in SENDER_KINDS:
        return Problem(P.INVALID_SENDER, f"sender.kind must be provider or municipality{where}", index)
    if not isinstance(code, str):
        return Problem(P.INVALID_SENDER, f"sender.code must be a string{where}", index)
    message_type = obj.get("message_type")
    label = message_type if isinstance(message_type, str) and message_type in KNOWN_MESSAGE_TYPES else "other"
    return Incoming(message_id, str(kind), code, label, payload)


def check_senders(parsed: ParsedBody, sender: Sender) -> Problem | None:
    """403 unless every message claims exactly the token's sender."""
    for index, message in enumerate(parsed.messages):
        if message.sender_kind != sender.kind or message.sender_code != sender.code:
            return Problem(
                P.FORBIDDEN_SENDER,
                f"this token sends as {sender.kind} {sender.code}; the message claims "
                f"{message.sender_kind} {_short(message.sender_code, 40)}",
                index if parsed.is_batch else None,
            )
    return None


def raw_records(parsed: ParsedBody, sender: Sender, received_at: datetime) -> list[tuple[bytes, bytes]]:
    """(key, value) of each message's RawMessage record, in request order.

    The value is byte for byte what ``codec.encode("RawMessage", record)`` returns (a unit test
    compares them); see :class:`~services.contracts.raw_encoder.RawEncoder` for why it is not called
    once per message.
    """
    encoder = raw_encoder(sender, received_at, parsed.format)
    code = sender.code
    return [
        (dedup_key(code, m.message_id).encode("utf-8"), encoder.encode(m.message_id, m.payload))
        for m in parsed.messages
    ]


@lru_cache(maxsize=64)
def _timestamp_text(received_at: datetime) -> str:
    return format_timestamp(received_at)


@lru_cache(maxsize=256)
def raw_encoder(sender: Sender, received_at: datetime, fmt: RawFormat) -> RawEncoder:
    """Shared per (sender, second, format): single-message requests then skip the template encode."""
    return RawEncoder(sender.as_dict(), received_at, fmt)


def record_bytes(record: tuple[bytes, bytes]) -> int:
    """What Kafka counts against ``max.message.bytes`` for *record* alone in a batch (an upper bound)."""
    key, value = record
    return len(key) + len(value) + KAFKA_RECORD_OVERHEAD


def check_record_sizes(
    records: Sequence[tuple[bytes, bytes]], max_record_bytes: int, is_batch: bool
) -> Problem | None:
    """413 when a message's RawMessage record would be larger than Kafka takes.

    Such a record can never be stored, so answering it with 503 (retry later) would make a client
    retry forever, and in a group commit it would fail the other requests' records with it.
    """
    for index, record in enumerate(records):
        size = record_bytes(record)
        if size > max_record_bytes:
            where = f" (element {index})" if is_batch else ""
            return Problem(
                P.RECORD_TOO_LARGE,
                f"the message's Kafka record would be {size} bytes{where}; at most {max_record_bytes}",
                index if is_batch else None,
            )
    return None


def accepted_body(parsed: ParsedBody, received_at: datetime) -> Any:
    """The 202 body mirrors the request: an object for one message, an array for a batch."""
    stamp = _timestamp_text(received_at)
    items = [{"message_id": m.message_id, "received": True, "received_at": stamp} for m in parsed.messages]
    return items if parsed.is_batch else items[0]


def parse_limit(text: str | None, default: int, maximum: int) -> int | Problem:
    if text is None or text == "":
        return default
    if not text.isdigit() or not 1 <= int(text) <= maximum:
        return Problem(P.INVALID_QUERY, f"limit must be an integer from 1 to {maximum}")
    return int(text)


def _message_too_large(index: int | None, size: int, limit: int) -> Problem:
    where = "" if index is None else f" (element {index})"
    return Problem(P.MESSAGE_TOO_LARGE, f"a message is {size} bytes{where}; at most {limit}", index)


def _too_deep(index: int | None, limit: int) -> Problem:
    where = "" if index is None else f" (element {index})"
    return Problem(
        P.JSON_TOO_DEEP, f"a message nests objects/arrays deeper than {limit} levels{where}", index
    )


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object" if isinstance(value, dict) else type(value).__name__


def _short(text: str, limit: int = _DETAIL_MAX) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def count_by_label(messages: Sequence[Incoming]) -> dict[tuple[str, str], int]:
    """Messages per (sender kind, message type) for the metric, computed once per request."""
    counts: dict[tuple[str, str], int] = {}
    for message in messages:
        label = (message.sender_kind, message.message_type)
        counts[label] = counts.get(label, 0) + 1
    return counts
