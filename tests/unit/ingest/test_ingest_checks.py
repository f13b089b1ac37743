"""The pure request checks of POST /v1/messages: every refusal, and what goes to the raw topic."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
import pytest

from hubdev.records import placement
from services.contracts.canonical import inbound_from_json
from services.contracts.codec import decode, encode
from services.ingest import problems as P
from services.ingest.checks import (
    AVRO_TYPE,
    JSON_TYPE,
    ParsedBody,
    accepted_body,
    check_content_length,
    check_senders,
    count_by_label,
    media_format,
    parse_avro,
    parse_body,
    parse_json,
    parse_limit,
    raw_records,
)
from services.ingest.problems import Problem
from services.ingest.tokens import Sender

SENDER = Sender("provider", "12345678")
RECEIVED = datetime(2026, 3, 2, 9, 30, 1, tzinfo=UTC)
MESSAGE = placement()


def parse(body: bytes, max_batch: int = 1000, max_message_bytes: int = 900_000) -> ParsedBody | Problem:
    return parse_json(body, max_batch=max_batch, max_message_bytes=max_message_bytes)


def problem(result: object) -> Problem:
    assert isinstance(result, Problem), result
    return result


def parsed(result: object) -> ParsedBody:
    assert isinstance(result, ParsedBody), result
    return result


# -- content type and size -------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("application/json", "json"),
        ("Application/JSON; charset=utf-8", "json"),
        ('application/json; charset="UTF-8"', "json"),
        (AVRO_TYPE, "avro"),
        ("application/vnd.jeugdhub.avro; v=1", "avro"),
    ],
)
def test_accepted_media_types(header: str, expected: str) -> None:
    assert media_format(header) == expected


@pytest.mark.parametrize(
    "header",
    [None, "", "text/plain", "application/xml", "application/json; charset=latin-1", "multipart/form-data"],
)
def test_other_media_types_are_415(header: str | None) -> None:
    result = problem(media_format(header))
    assert result.status == 415 and result.kind is P.UNSUPPORTED_MEDIA_TYPE


def test_announced_length_over_the_limit_is_413() -> None:
    assert check_content_length(None, 100) is None
    assert check_content_length(100, 100) is None
    assert problem(check_content_length(101, 100)).status == 413


# -- JSON shape ------------------------------------------------------------------------------------
def test_one_message_keeps_its_bytes_exactly() -> None:
    body = b'{ "message_id" : "m1", "sender": {"kind": "provider", "code": "12345678"}, "x": [1, 2] }'
    result = parsed(parse(body))
    assert not result.is_batch
    assert [m.payload for m in result.messages] == [body]
    assert result.messages[0].message_id == "m1"


def test_a_batch_is_split_into_one_payload_per_message() -> None:
    elements = [placement(message_id=f"m{i}") for i in range(3)]
    result = parsed(parse(orjson.dumps(elements)))
    assert result.is_batch
    assert [orjson.loads(m.payload) for m in result.messages] == elements
    assert [m.message_id for m in result.messages] == ["m0", "m1", "m2"]


def test_unknown_message_types_are_labelled_other() -> None:
    elements = [
        placement(message_type="measure"),
        placement(message_type="bogus"),
        placement(message_type=...),
    ]
    result = parsed(parse(orjson.dumps(elements)))
    assert [m.message_type for m in result.messages] == ["measure", "other", "other"]
    assert count_by_label(result.messages) == {("provider", "measure"): 1, ("provider", "other"): 2}


def test_everything_else_is_left_to_validate() -> None:
    # Wrong types, unknown fields, bad BSN: ingest routes it; validate answers with a retour.
    weird = placement(bsn=123, start_dat="2026-01-01", birth_date="17-05-2010", status="whatever")
    assert isinstance(parse(orjson.dumps(weird)), ParsedBody)
    assert isinstance(parse(orjson.dumps(placement(message_id=""))), ParsedBody)


@pytest.mark.parametrize(
    ("body", "kind", "index"),
    [
        (b"{", P.INVALID_JSON, None),
        (b"", P.INVALID_JSON, None),
        (b"\xff\xfe", P.INVALID_JSON, None),
        (b'{"a": NaN}', P.INVALID_JSON, None),
        (b"42", P.NOT_A_MESSAGE, None),
        (b'"text"', P.NOT_A_MESSAGE, None),
        (b"null", P.NOT_A_MESSAGE, None),
        (b"[]", P.EMPTY_BATCH, None),
        (orjson.dumps([MESSAGE, 5]), P.NOT_A_MESSAGE, 1),
        (orjson.dumps([MESSAGE, [MESSAGE]]), P.NOT_A_MESSAGE, 1),
        (orjson.dumps(placement(message_id=...)), P.MISSING_MESSAGE_ID, None),
        (orjson.dumps([MESSAGE, MESSAGE, placement(message_id=...)]), P.MISSING_MESSAGE_ID, 2),
        (orjson.dumps(placement(message_id=7)), P.INVALID_MESSAGE_ID, None),
        (orjson.dumps([placement(message_id=None)]), P.INVALID_MESSAGE_ID, 0),
        (orjson.dumps(placement(sender=...)), P.MISSING_SENDER, None),
        (orjson.dumps([MESSAGE, placement(sender=...)]), P.MISSING_SENDER, 1),
        (orjson.dumps(placement(sender="12345678")), P.INVALID_SENDER, None),
        (orjson.dumps(placement(sender={"kind": "user", "code": "1"})), P.INVALID_SENDER, None),
        (orjson.dumps(placement(sender={"kind": "provider"})), P.INVALID_SENDER, None),
        (orjson.dumps(placement(sender={"kind": "provider", "code": 12345678})), P.INVALID_SENDER, None),
    ],
)
def test_bad_bodies_get_a_precise_problem(body: bytes, kind: P.ProblemType, index: int | None) -> None:
    result = problem(parse(body))
    assert result.kind is kind
    assert result.status == 400
    assert result.index == index
    assert result.body()["detail"]


def test_problem_details_never_repeat_message_content() -> None:
    body = orjson.dumps([MESSAGE, placement(message_id=...)])
    assert b"123456782" not in problem(parse(body)).to_bytes()


def test_batch_limit() -> None:
    assert isinstance(parse(orjson.dumps([MESSAGE] * 3), max_batch=3), ParsedBody)
    result = problem(parse(orjson.dumps([MESSAGE] * 4), max_batch=3))
    assert result.kind is P.BATCH_TOO_LARGE and result.status == 400
    assert "at most 3" in result.detail


def test_message_size_limit() -> None:
    big = placement(location_code="x" * 2000)
    single = problem(parse(orjson.dumps(big), max_message_bytes=1500))
    assert single.kind is P.MESSAGE_TOO_LARGE and single.status == 413 and single.index is None
    batch = problem(parse(orjson.dumps([MESSAGE, big]), max_message_bytes=1500))
    assert batch.index == 1


# -- Avro ------------------------------------------------------------------------------------------
def test_avro_body_is_decoded_for_routing_and_forwarded_unchanged() -> None:
    body = encode("InboundMessage", inbound_from_json(MESSAGE))
    result = parsed(parse_body("avro", body, max_batch=1000, max_message_bytes=900_000))
    assert result.format == "avro" and not result.is_batch
    (only,) = result.messages
    assert only.payload == body
    assert (only.message_id, only.sender_code, only.message_type) == (
        MESSAGE["message_id"],
        "12345678",
        "placement_started",
    )


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"{}",
        b"\xc3\x01" + b"\x00" * 8,
        encode(
            "Retour",
            {"message_id": None, "sender": None, "received_at": None, "status": "accepted", "errors": []},
        ),
    ],
)
def test_undecodable_avro_is_400(body: bytes) -> None:
    result = problem(parse_avro(body, max_message_bytes=900_000))
    assert result.kind is P.INVALID_AVRO and result.status == 400


def test_truncated_avro_is_400() -> None:
    body = encode("InboundMessage", inbound_from_json(MESSAGE))
    assert problem(parse_avro(body[:-3], max_message_bytes=900_000)).kind is P.INVALID_AVRO


# -- sender ----------------------------------------------------------------------------------------
def test_all_messages_must_claim_the_tokens_sender() -> None:
    batch = parsed(parse(orjson.dumps([MESSAGE, MESSAGE])))
    assert check_senders(batch, SENDER) is None
    other = parsed(parse(orjson.dumps([MESSAGE, placement(sender={"kind": "provider", "code": "87654321"})])))
    refused = problem(check_senders(other, SENDER))
    assert refused.status == 403 and refused.index == 1
    kind_differs = parsed(parse(orjson.dumps(placement(sender={"kind": "municipality", "code": "12345678"}))))
    single = problem(check_senders(kind_differs, SENDER))
    assert single.status == 403 and single.index is None


# -- records ---------------------------------------------------------------------------------------
def test_raw_records_decode_to_the_contract_record_with_the_dedup_key() -> None:
    batch = parsed(parse(orjson.dumps([placement(message_id="a"), placement(message_id="b")])))
    records = raw_records(batch, SENDER, RECEIVED)
    assert [key for key, _ in records] == [b"12345678:a", b"12345678:b"]
    for (_, value), original in zip(records, batch.messages, strict=True):
        raw = decode("RawMessage", value)
        assert raw == {
            "received_at": RECEIVED,
            "sender": {"kind": "provider", "code": "12345678"},
            "message_id": original.message_id,
            "format": "json",
            "payload": original.payload,
        }


def test_accepted_body_mirrors_the_request_shape() -> None:
    single = parsed(parse(orjson.dumps(MESSAGE)))
    assert accepted_body(single, RECEIVED) == {
        "message_id": MESSAGE["message_id"],
        "received": True,
        "received_at": "2026-03-02T09:30:01Z",
    }
    batch = parsed(parse(orjson.dumps([placement(message_id="a"), placement(message_id="b")])))
    body = accepted_body(batch, RECEIVED)
    assert [item["message_id"] for item in body] == ["a", "b"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (None, 100),
        ("", 100),
        ("1", 1),
        ("1000", 1000),
        ("0", None),
        ("1001", None),
        ("-1", None),
        ("x", None),
        ("1.5", None),
    ],
)
def test_limit_parameter(text: str | None, expected: int | None) -> None:
    result = parse_limit(text, 100, 1000)
    if expected is None:
        assert problem(result).kind is P.INVALID_QUERY
    else:
        assert result == expected


def test_json_constants() -> None:
    assert JSON_TYPE == "application/json"
