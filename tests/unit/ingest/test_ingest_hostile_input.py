"""Hostile input at the front door (issue 12, defects 1–3 and 6): every client input gets a 4xx
problem body naming the rule; nothing becomes a 500, or a 503 a client would retry forever.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from aiohttp import web
from hypothesis import given, settings
from hypothesis import strategies as st

from hubdev.localkafka.broker import free_port
from hubdev.records import placement
from services.contracts.codec import decode
from services.ingest import problems as P
from services.ingest.app import create_app
from services.ingest.checks import (
    KAFKA_RECORD_OVERHEAD,
    ParsedBody,
    check_record_sizes,
    nests_deeper_than,
    parse_json,
    raw_records,
    record_bytes,
)
from services.ingest.problems import Problem
from services.ingest.server import make_runner
from services.ingest.settings import RECORD_OVERHEAD_BYTES, IngestSettings
from services.ingest.tokens import Sender, TokenStore, hash_token
from tests.unit.ingest.test_ingest_http import FakeReader, FakeWriter, auth, problem_of, run

SENDER = Sender("provider", "12345678")


def message(**changes: Any) -> dict[str, Any]:
    return placement(**({"message_id": str(uuid.uuid4())} | changes))


def nested(depth: int) -> Any:
    """A value of *depth* nested arrays (``[[[]]]`` is 3), built without recursion."""
    value: Any = []
    for _ in range(depth - 1):
        value = [value]
    return value


def deep_json(fields: dict[str, Any], depth: int) -> bytes:
    """*fields* as a JSON object plus ``"extra"``: *depth* nested arrays (orjson cannot write them)."""
    return orjson.dumps(fields)[:-1] + b', "extra": ' + b"[" * depth + b"]" * depth + b"}"


def parse(body: bytes, **limits: Any) -> ParsedBody | Problem:
    return parse_json(body, max_batch=1000, max_message_bytes=900 * 1024, **limits)


def problem(result: object) -> Problem:
    assert isinstance(result, Problem), result
    return result


# -- nesting depth (defects 1 and 2) ---------------------------------------------------------------
def test_depth_counts_the_message_itself_as_level_one() -> None:
    assert not nests_deeper_than({}, 1)
    assert nests_deeper_than({"a": []}, 1)
    assert not nests_deeper_than({"a": nested(31)}, 32)
    assert nests_deeper_than({"a": nested(32)}, 32)
    assert not nests_deeper_than("scalar", 1)
    assert not nests_deeper_than([1, "x", None, {"b": 2}], 2)


def test_depth_check_is_iterative_whatever_the_depth() -> None:
    assert nests_deeper_than({"x": nested(200_000)}, 32)  # no RecursionError


def test_a_batch_element_nested_300_deep_is_a_400_not_a_500() -> None:
    """Defect 2: ``orjson.dumps`` of the element raised TypeError (recursion limit) -> 500."""
    for depth in (253, 254, 300, 1000):
        body = b"[" + orjson.dumps(message()) + b"," + deep_json(message(), depth) + b"]"
        refused = problem(parse(body))
        assert refused.kind is P.JSON_TOO_DEEP and refused.index == 1, depth
        assert "32" in refused.detail


def test_a_single_message_nested_300_deep_is_refused_before_validate_sees_it() -> None:
    """Defect 1a: it got 202 and made validate's redaction raise."""
    refused = problem(parse(deep_json(message(), 300)))
    assert refused.kind is P.JSON_TOO_DEEP and refused.index is None and refused.status == 400


def test_json_deeper_than_orjson_parses_names_the_depth_rule() -> None:
    body = b'{"message_id": "m", "x": ' + b"[" * 5000 + b"]" * 5000 + b"}"
    assert problem(parse(body)).kind is P.JSON_TOO_DEEP


def test_the_depth_limit_is_a_setting() -> None:
    body = orjson.dumps(message(extra={"a": {"b": {"c": 1}}}))  # depth 4
    assert isinstance(parse(body, max_depth=4), ParsedBody)
    assert problem(parse(body, max_depth=3)).kind is P.JSON_TOO_DEEP


# -- message_id and record size (defect 3) ---------------------------------------------------------
def test_message_id_longer_than_the_contract_is_400_naming_field_and_limit() -> None:
    assert isinstance(parse(orjson.dumps(message(message_id="a" * 36))), ParsedBody)
    refused = problem(parse(orjson.dumps(message(message_id="a" * 380_000))))
    assert refused.kind is P.MESSAGE_ID_TOO_LONG and refused.status == 400
    assert "message_id" in refused.detail and "380000" in refused.detail and "36" in refused.detail
    batch = orjson.dumps([message(), message(message_id="b" * 37)])
    assert problem(parse(batch)).index == 1


def test_a_record_over_the_kafka_limit_is_413_with_its_index() -> None:
    small, big = (b"k", b"v" * 100), (b"k", b"v" * 5000)
    assert record_bytes(big) == 1 + 5000 + KAFKA_RECORD_OVERHEAD
    assert check_record_sizes([small, small], 5000, True) is None
    refused = check_record_sizes([small, big], 5000, True)
    assert refused is not None and refused.kind is P.RECORD_TOO_LARGE and refused.index == 1
    assert refused.status == 413
    single = check_record_sizes([big], 5000, False)
    assert single is not None and single.index is None


@settings(max_examples=30, deadline=None)
@given(
    payload=st.integers(min_value=100, max_value=900 * 1024),
    id_chars=st.integers(min_value=1, max_value=36),
    wide=st.booleans(),
)
def test_any_accepted_message_makes_a_record_under_the_default_limit(
    payload: int, id_chars: int, wide: bool
) -> None:
    """With the default limits (what the settings validator enforces), the 413 record check can never
    refuse a message the other checks accepted: a message at the size limit with the longest
    (4-byte-per-character) message_id still fits."""
    limits = IngestSettings()
    message_id = ("\U0001f600" if wide else "a") * id_chars
    filler = "x" * max(0, payload - 400)
    body = orjson.dumps(message(message_id=message_id, extra=filler))
    result = parse(body)
    if isinstance(result, Problem):
        assert result.kind is P.MESSAGE_TOO_LARGE
        return
    records = raw_records(result, SENDER, datetime(2026, 3, 2, tzinfo=UTC))
    assert check_record_sizes(records, limits.ingest_max_record_bytes, False) is None
    key, value = records[0]
    assert len(key) + len(value) <= len(body) + RECORD_OVERHEAD_BYTES + 8 * id_chars


def test_settings_refuse_a_message_limit_that_cannot_fit_a_record() -> None:
    with pytest.raises(ValueError, match="ingest_max_record_bytes"):
        IngestSettings(ingest_max_message_bytes=1_000_000, ingest_max_record_bytes=1_000_000)


# -- over HTTP: the production app -----------------------------------------------------------------
def test_http_deep_batch_element_is_400_problem() -> None:
    async def scenario(client: Any, writer: FakeWriter, reader: FakeReader) -> None:
        body = b"[" + orjson.dumps(message()) + b"," + deep_json({"x": 1}, 300) + b"]"
        response = await client.post("/v1/messages", data=body, headers=auth())
        problem_body = await problem_of(response, 400, "json-too-deep")
        assert problem_body["index"] == 1
        assert writer.writes == []

    run(scenario)


def test_http_huge_message_id_is_400_not_503_forever() -> None:
    """Defect 3: a 371 KiB message with a 380,000-character message_id made a RawMessage over
    1 MiB; ingest answered 503 every time and a client following the docs retried forever."""

    async def scenario(client: Any, writer: FakeWriter, reader: FakeReader) -> None:
        body = orjson.dumps(message(message_id="7" * 380_000))
        for _ in range(2):
            response = await client.post("/v1/messages", data=body, headers=auth())
            await problem_of(response, 400, "message-id-too-long")
        assert writer.writes == []

    run(scenario)


def test_http_writer_refusal_of_a_record_is_413_not_503() -> None:
    class RefusingWriter(FakeWriter):
        async def write(self, records: Any, audit: Any = None) -> None:
            from services.ingest.kafka import RecordRefused

            raise RecordRefused("Kafka refused a record of this request as too large", 0)

    async def main() -> None:
        app = create_app(
            IngestSettings(),
            tokens=TokenStore({hash_token("provider-token-0123456789"): SENDER}),
            writer=RefusingWriter(),
            reader=FakeReader(),
        )
        from aiohttp.test_utils import TestClient, TestServer

        async with TestClient(TestServer(app, host="127.0.0.1")) as client:
            response = await client.post("/v1/messages", data=orjson.dumps(message()), headers=auth())
            await problem_of(response, 413, "record-too-large")
            response = await client.post("/v1/messages", data=orjson.dumps([message()]), headers=auth())
            assert (await problem_of(response, 413, "record-too-large"))["index"] == 0

    asyncio.run(main())


def test_written_records_of_accepted_messages_decode() -> None:
    async def scenario(client: Any, writer: FakeWriter, reader: FakeReader) -> None:
        body = orjson.dumps(message(extra=nested(30)))
        assert (await client.post("/v1/messages", data=body, headers=auth())).status == 202
        assert decode("RawMessage", writer.writes[0][0][1])["payload"] == body

    run(scenario)


# -- the HTTP parser's refusals (defect 6) ---------------------------------------------------------
async def _raw_exchange(port: int, request: bytes) -> tuple[int, dict[str, str], bytes]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(request)
        await writer.drain()
        data = await asyncio.wait_for(reader.read(), 10)
    finally:
        writer.close()
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    return status, headers, body


@pytest.mark.parametrize(
    ("request_bytes", "status", "slug"),
    [
        (
            b"POST /v1/messages HTTP/1.1\r\nHost: x\r\nX-Big: "
            + b"a" * 9000
            + b"\r\nContent-Length: 0\r\n\r\n",
            431,
            "headers-too-large",
        ),
        (
            b"GET /v1/retour?" + b"q" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
            431,
            "headers-too-large",
        ),
        (
            b"GET /healthz HTTP/1.1\r\nHost: x\r\n"
            + b"".join(b"X-%d: 1\r\n" % i for i in range(200))
            + b"\r\n",
            431,
            "headers-too-large",
        ),
        (b"GET /healthz HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n", 400, "bad-request"),
        (b"\x16\x03\x01\x00garbage\r\n\r\n", 400, "bad-request"),
    ],
)
def test_requests_the_http_parser_refuses_get_problem_bodies(
    request_bytes: bytes, status: int, slug: str
) -> None:
    """Defect 6: a header over 8 KiB got aiohttp's plain-text 400."""

    async def main() -> None:
        settings = IngestSettings()
        app = create_app(settings, tokens=TokenStore(), writer=FakeWriter(), reader=FakeReader())
        runner = make_runner(app, settings)
        await runner.setup()
        port = free_port()
        site = web.TCPSite(runner, "127.0.0.1", port)
        await site.start()
        try:
            got_status, headers, body = await _raw_exchange(port, request_bytes)
            assert got_status == status, body
            assert headers["content-type"] == "application/problem+json"
            problem_body = orjson.loads(body)
            assert problem_body["type"] == f"/problems/{slug}" and problem_body["status"] == status
            assert b"aaaa" not in body and b"qqqq" not in body  # never echoes what was sent
            # Normal requests still work, and the refusal was counted.
            ok_status, _, _ = await _raw_exchange(
                port, b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
            )
            assert ok_status == 200
            _, _, metrics = await _raw_exchange(
                port, b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
            )
            assert f'jeugdhub_ingest_rejected_requests_total{{reason="{slug}"}} 1.0'.encode() in metrics
        finally:
            await runner.cleanup()

    asyncio.run(main())
