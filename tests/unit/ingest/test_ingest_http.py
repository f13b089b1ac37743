"""The aiohttp shell without Kafka: authentication, limits, problem responses, metrics, health.

The writer and reader are replaced by in-memory fakes (the real ones are exercised against the
real broker in tests/integration/test_ingest_*.py); everything else is the production app.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import orjson
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from services.contracts.codec import decode
from services.contracts.records import RetourJSON
from services.ingest.app import create_app
from services.ingest.cursor import Cursor
from services.ingest.kafka import KafkaUnavailable, Record, RetourPage
from services.ingest.settings import IngestSettings
from services.ingest.tokens import Sender, TokenStore, hash_token

TOKEN = "provider-token-0123456789"
OTHER_TOKEN = "municipality-token-0123456789"
SENDER = {"kind": "provider", "code": "12345678"}


class FakeWriter:
    def __init__(self) -> None:
        self.available = True
        self.fail = False
        self.writes: list[list[Record]] = []
        self.audits: list[Record | None] = []
        """The access record written with each request's records (same index as ``writes``)."""

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        return None

    async def write(self, records: Sequence[Record], audit: Record | None = None) -> None:
        if self.fail:
            raise KafkaUnavailable("fake outage")
        self.writes.append(list(records))
        self.audits.append(audit)

    async def probe(self) -> bool:
        return self.available


class FakeReader:
    def __init__(self) -> None:
        self.calls: list[tuple[str, str, Cursor, int]] = []

    async def close(self) -> None:
        return None

    async def sender_partition(self, sender_code: str) -> tuple[int, int]:
        return 6, 2

    async def read(self, sender_kind: str, sender_code: str, start: Cursor, limit: int) -> RetourPage:
        self.calls.append((sender_kind, sender_code, start, limit))
        record: RetourJSON = {
            "message_id": "m1",
            "sender": {"kind": "provider", "code": SENDER["code"]},
            "received_at": None,
            "status": "accepted",
            "errors": [],
        }
        return RetourPage([record], Cursor(start.partitions, start.partition, start.offset + 1), more=False)


Scenario = Callable[[TestClient[web.Request, web.Application], FakeWriter, FakeReader], Awaitable[None]]


def run(scenario: Scenario, **overrides: Any) -> None:
    settings = IngestSettings(**overrides)
    tokens = TokenStore(
        {
            hash_token(TOKEN): Sender("provider", "12345678"),
            hash_token(OTHER_TOKEN): Sender("municipality", "0363"),
        }
    )
    writer, reader = FakeWriter(), FakeReader()

    async def main() -> None:
        app = create_app(settings, tokens=tokens, writer=writer, reader=reader)
        async with TestClient(TestServer(app, host="127.0.0.1")) as client:
            await scenario(client, writer, reader)

    asyncio.run(main())


def auth(token: str = TOKEN, content_type: str = "application/json") -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", "Content-Type": content_type}


def message(message_id: str = "m1", sender: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "message_id": message_id,
        "message_type": "measure",
        "sender": sender or SENDER,
        "bsn": "123456782",
    }


async def problem_of(response: Any, status: int, slug: str) -> dict[str, Any]:
    assert response.status == status, await response.text()
    assert response.headers["Content-Type"] == "application/problem+json"
    body: dict[str, Any] = orjson.loads(await response.read())
    assert body["type"] == f"/problems/{slug}"
    assert body["status"] == status
    assert body["title"] and body["detail"]
    return body


def test_single_and_batch_are_accepted_and_written_once() -> None:
    async def scenario(client: Any, writer: FakeWriter, reader: FakeReader) -> None:
        response = await client.post("/v1/messages", data=orjson.dumps(message()), headers=auth())
        assert response.status == 202
        body = await response.json()
        assert body["message_id"] == "m1" and body["received"] is True and body["received_at"].endswith("Z")
        batch = [message("a"), message("b")]
        response = await client.post("/v1/messages", data=orjson.dumps(batch), headers=auth())
        assert response.status == 202
        assert [item["message_id"] for item in await response.json()] == ["a", "b"]
        assert [[key for key, _ in write] for write in writer.writes] == [
            [b"12345678:m1"],
            [b"12345678:a", b"12345678:b"],
        ]
        raw = decode("RawMessage", writer.writes[1][0][1])
        assert raw["sender"] == SENDER and raw["format"] == "json"

    run(scenario)


def test_missing_and_unknown_tokens_are_401() -> None:
    async def scenario(client: Any, writer: FakeWriter, reader: FakeReader) -> None:
        response = await client.post("/v1/messages", data=b"{}", headers={"Content-Type": "application/json"})
        await problem_of(response, 401, "unauthenticated")
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
        response = await client.post("/v1/messages", data=b"{}", headers=auth("wrong"))
        await problem_of(response, 401, "unauthenticated")
        response = await client.get("/v1/retour", headers={"Authorization": "Basic eDp5"})
        await problem_of(response, 401, "unauthenticated")
        assert writer.writes == []

    run(scenario)


def test_failed_authentications_are_limited_per_address() -> None:
    async def scenario(client: Any, writer: FakeWriter, reader: FakeReader) -> None:
        for _ in range(3):
            await problem_of(await client.get("/v1/retour", headers=auth("guess")), 401, "unauthenticated")
        response = await client.get("/v1/retour", headers=auth("guess"))
        await problem_of(response, 429, "auth-rate-limited")
        assert int(response.headers["Retry-After"]) >= 1
        # Even the right token waits: guessing must not be able to tell a hit apart at speed.
        await problem_of(await client.get("/v1/retour", headers=auth()), 429, "auth-rate-limited")

    run(scenario, ingest_auth_failures_per_min=1, ingest_auth_failure_burst=3)


def test_missing_token_does_not_count_as_a_guess() -> None:
    async def scenario(client: Any, writer: FakeWriter, reader: FakeReader) -> None:
        for _ in range(5):
            await problem_of(await client.get("/v1/retour"), 401, "unauthenticated")
        assert (await client.get("/v1/retour", headers=auth())).status == 200

    run(scenario, ingest_auth_failures_per_min=1, ingest_auth_failure_burst=1)


def test_another_senders_message_is_403_and_nothing_is_written() -> None:
    async def scenario(client: Any, writer: FakeWriter, reader: FakeReader) -> None:
        batch = [message("a"), message("b", {"kind": "provider", "code": "87654321"})]
        body = await problem_of(
            await client.post("/v1/messages", data=orjson.dumps(batch), headers=auth()),
            403,
            "forbidden-sender",
        )
        assert body["index"] == 1
        municipality = await client.post(
            "/v1/messages", data=orjson.dumps(message()), headers=auth(OTHER_TOKEN)
        )
        await problem_of(municipality, 403, "forbidden-sender")
        assert writer.writes == []

    run(scenario)


@pytest.mark.parametrize(
    ("body", "content_type", "status", "slug", "index"),
    [
        (b"{nope", "application/json", 400, "invalid-json", None),
        (b"[]", "application/json", 400, "empty-batch", None),
        (orjson.dumps([message(), 3]), "application/json", 400, "not-a-message", 1),
        (orjson.dumps([message(), {"sender": SENDER}]), "application/json", 400, "missing-message-id", 1),
        (orjson.dumps({"message_id": "x"}), "application/json", 400, "missing-sender", None),
        (orjson.dumps([message()] * 4), "application/json", 400, "batch-too-large", None),
        (orjson.dumps(message()), "text/plain", 415, "unsupported-media-type", None),
        (b"\x00\x01", "application/vnd.jeugdhub.avro", 400, "invalid-avro", None),
        (b"[" + b" " * 3000 + b"]", "application/json", 413, "body-too-large", None),
    ],
)
def test_bad_requests(body: bytes, content_type: str, status: int, slug: str, index: int | None) -> None:
    async def scenario(client: Any, writer: FakeWriter, reader: FakeReader) -> None:
        response = await client.post("/v1/messages", data=body, headers=auth(content_type=content_type))
        problem = await problem_of(response, status, slug)
        assert problem.get("index") == index
        assert writer.writes == []
        metrics = await (await client.get("/metrics")).text()
        assert f'jeugdhub_ingest_rejected_requests_total{{reason="{slug}"}} 1.0' in metrics

    run(scenario, ingest_max_batch=3, ingest_max_body_bytes=2048, ingest_rate_burst=10)


def test_chunked_body_over_the_limit_is_413() -> None:
    async def scenario(client: Any, writer: FakeWriter, reader: FakeReader) -> None:
        async def chunks() -> Any:
            for _ in range(10):
                yield b" " * 1024

        response = await client.post("/v1/messages", data=chunks(), headers=auth())
        await problem_of(response, 413, "body-too-large")

    run(scenario, ingest_max_body_bytes=4096)


def test_rate_limit_per_sender_counts_messages() -> None:
    async def scenario(client: Any, writer: FakeWriter, reader: FakeReader) -> None:
        batch = orjson.dumps([message(str(i)) for i in range(4)])
        assert (await client.post("/v1/messages", data=batch, headers=auth())).status == 202
        response = await client.post("/v1/messages", data=batch, headers=auth())
        await problem_of(response, 429, "rate-limited")
        assert int(response.headers["Retry-After"]) >= 1
        # Another sender has its own bucket.
        retour = await client.get("/v1/retour", headers=auth(OTHER_TOKEN))
        assert retour.status == 200
        assert len(writer.writes) == 1

    run(scenario, ingest_rate_per_s=0.01, ingest_rate_burst=5, ingest_max_batch=5)


def test_kafka_unavailable_is_503_with_retry_after() -> None:
    async def scenario(client: Any, writer: FakeWriter, reader: FakeReader) -> None:
        writer.available = False
        response = await client.post("/v1/messages", data=orjson.dumps(message()), headers=auth())
        await problem_of(response, 503, "kafka-unavailable")
        assert response.headers["Retry-After"] == "7"
        assert (await client.get("/readyz")).status == 503
        writer.available, writer.fail = True, True
        response = await client.post("/v1/messages", data=orjson.dumps(message()), headers=auth())
        await problem_of(response, 503, "kafka-unavailable")
        writer.fail = False
        assert (await client.post("/v1/messages", data=orjson.dumps(message()), headers=auth())).status == 202
        assert (await client.get("/readyz")).status == 200

    run(scenario, ingest_retry_after_s=7)


def test_retour_page_and_cursor() -> None:
    async def scenario(client: Any, writer: FakeWriter, reader: FakeReader) -> None:
        response = await client.get("/v1/retour?limit=5", headers=auth())
        assert response.status == 200
        page = await response.json()
        assert page["retours"][0]["message_id"] == "m1" and page["more"] is False
        assert reader.calls[-1] == ("provider", "12345678", Cursor(6, 2, 0), 5)
        response = await client.get(f"/v1/retour?since={page['cursor']}", headers=auth())
        assert reader.calls[-1][2] == Cursor(6, 2, 1)
        assert reader.calls[-1][3] == 100
        await problem_of(await client.get("/v1/retour?since=zzzz", headers=auth()), 400, "invalid-cursor")
        await problem_of(await client.get("/v1/retour?since=", headers=auth()), 400, "invalid-cursor")
        other = Cursor(6, 3, 0).encode()
        await problem_of(await client.get(f"/v1/retour?since={other}", headers=auth()), 400, "invalid-cursor")
        await problem_of(await client.get("/v1/retour?limit=0", headers=auth()), 400, "invalid-query")

    run(scenario)


def test_health_metrics_openapi_and_unknown_routes() -> None:
    async def scenario(client: Any, writer: FakeWriter, reader: FakeReader) -> None:
        assert (await (await client.get("/healthz")).json()) == {"status": "ok"}
        assert (await client.get("/readyz")).status == 200
        doc = await (await client.get("/openapi.json")).json()
        assert "/v1/messages" in doc["paths"]
        await problem_of(await client.get("/nope"), 404, "not-found")
        response = await client.delete("/v1/messages")
        await problem_of(response, 405, "method-not-allowed")
        assert "POST" in response.headers["Allow"]
        await client.post("/v1/messages", data=orjson.dumps(message()), headers=auth())
        metrics = await (await client.get("/metrics")).text()
        assert 'jeugdhub_ingest_requests_total{route="/v1/messages",status="202"} 1.0' in metrics
        assert 'jeugdhub_ingest_requests_total{route="other",status="404"} 1.0' in metrics
        assert (
            'jeugdhub_ingest_messages_received_total{message_type="measure",sender_kind="provider"} 1.0'
            in metrics
        )
        assert "jeugdhub_ingest_payload_bytes_count 1.0" in metrics
        assert "jeugdhub_ingest_tokens 2.0" in metrics
        assert "12345678" not in metrics  # no sender codes (unbounded) in labels

    run(scenario)
