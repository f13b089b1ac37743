"""The ingest service on the real broker: what lands on the raw topic, what never does, retours.

Each test gets its own topic prefix (``unique_prefix``) and its own transactional id; the server
is the production app (``create_app``) on 127.0.0.1 and a free port, driven over HTTP.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import uuid
from collections.abc import AsyncIterator
from contextlib import redirect_stdout
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from hubdev.localkafka.broker import free_port
from hubdev.records import placement
from services.cli import main as jeugdhub
from services.contracts.canonical import inbound_from_json, record_from_json
from services.contracts.codec import decode, encode
from services.contracts.topics import AUDIT, RAW, RETOUR
from services.ingest.app import create_app
from services.ingest.cursor import partition_for
from services.ingest.settings import IngestSettings
from services.ingest.tokens import Sender, TokenStore, hash_token
from services.streaming.topic_admin import create_hub_topics

pytestmark = pytest.mark.integration

PROVIDER = Sender("provider", "12345678")
OTHER = Sender("provider", "87654321")
TOKENS = {"provider": "it-token-provider-0123456789", "other": "it-token-other-0123456789"}
Client = TestClient[web.Request, web.Application]


def message(sender: Sender = PROVIDER, **changes: Any) -> dict[str, Any]:
    fresh = {"message_id": str(uuid.uuid4()), "sender": sender.as_dict(), "provider_agb": sender.code}
    return placement(**(fresh | changes))


def settings_for(bootstrap: str, prefix: str, **extra: Any) -> IngestSettings:
    values: dict[str, Any] = {
        "kafka_bootstrap": bootstrap,
        "topic_prefix": prefix,
        "ingest_transactional_id": f"it-ingest-{uuid.uuid4().hex[:8]}",
        "ingest_kafka_write_timeout_s": 10.0,
        "ingest_kafka_connect_timeout_s": 10.0,
        **extra,
    }
    return IngestSettings(**values)


def token_store() -> TokenStore:
    return TokenStore({hash_token(TOKENS["provider"]): PROVIDER, hash_token(TOKENS["other"]): OTHER})


def headers(who: str = "provider", content_type: str = "application/json") -> dict[str, str]:
    return {"Authorization": f"Bearer {TOKENS[who]}", "Content-Type": content_type}


@contextlib.asynccontextmanager
async def serving(settings: IngestSettings, tokens: TokenStore | None = None) -> AsyncIterator[Client]:
    app = create_app(settings, tokens=tokens)
    async with TestClient(TestServer(app, host="127.0.0.1", port=free_port())) as client:
        await wait_ready(client)
        yield client


async def wait_ready(client: Client, timeout_s: float = 60.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while True:
        if (await client.get("/readyz")).status == 200:
            return
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("ingest did not become ready")
        await asyncio.sleep(0.1)


async def read_topic(bootstrap: str, topic: str, isolation: str, expect: int = 0) -> list[Any]:
    """Every record on *topic* up to its current end, at the given isolation level.

    A commit is durable when the producer's commit returns (and ingest answers 202), but the
    transaction markers that make the records visible to read_committed readers are written just
    after; so with ``expect`` the read is repeated (for up to 30 s) until that many are visible.
    """
    deadline = asyncio.get_running_loop().time() + 30
    while True:
        records = await _read_once(bootstrap, topic, isolation)
        if len(records) >= expect or asyncio.get_running_loop().time() > deadline:
            return records
        await asyncio.sleep(0.05)


async def _read_once(bootstrap: str, topic: str, isolation: str) -> list[Any]:
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False, isolation_level=isolation
    )
    await consumer.start()
    try:
        partitions = (await consumer._client.fetch_all_metadata()).partitions_for_topic(topic)
        tps = [TopicPartition(topic, p) for p in sorted(partitions)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        ends = await consumer.end_offsets(tps)
        records: list[Any] = []
        for tp in tps:
            while await consumer.position(tp) < ends[tp]:
                batch = await consumer.getmany(tp, timeout_ms=1000)
                records.extend(batch.get(tp, []))
        return sorted(records, key=lambda r: (r.partition, r.offset))
    finally:
        await consumer.stop()


async def high_watermarks(bootstrap: str, topic: str) -> int:
    """Sum of the partitions' end offsets under read_uncommitted: every record or marker ever written."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, group_id=None, isolation_level="read_uncommitted"
    )
    await consumer.start()
    try:
        partitions = (await consumer._client.fetch_all_metadata()).partitions_for_topic(topic)
        tps = [TopicPartition(topic, p) for p in partitions]
        return sum((await consumer.end_offsets(tps)).values())
    finally:
        await consumer.stop()


@pytest.fixture
def hub_topics(kafka_bootstrap: str, unique_prefix: str) -> str:
    # The audit topic too: a retour page waits for its access record, and a topic the broker must
    # auto-create on the first send can take longer than the write timeout on a loaded machine.
    create_hub_topics(kafka_bootstrap, unique_prefix, specs=(RAW, RETOUR, AUDIT))
    return unique_prefix


def test_ingest_single_message_is_on_the_raw_topic_when_202(kafka_bootstrap: str, hub_topics: str) -> None:
    settings = settings_for(kafka_bootstrap, hub_topics)
    body = orjson.dumps(message(), option=orjson.OPT_INDENT_2)  # its exact bytes must be kept
    sent = orjson.loads(body)

    async def scenario() -> None:
        async with serving(settings, token_store()) as client:
            before = datetime.now(UTC).replace(microsecond=0)
            response = await client.post("/v1/messages", data=body, headers=headers())
            assert response.status == 202, await response.text()
            answer = await response.json()
            assert answer["message_id"] == sent["message_id"] and answer["received"] is True
        for isolation in ("read_committed", "read_uncommitted"):
            (record,) = await read_topic(kafka_bootstrap, RAW.full_name(hub_topics), isolation, expect=1)
            assert record.key == f"12345678:{sent['message_id']}".encode()
            assert record.partition == partition_for(record.key, RAW.partitions)
            raw = decode("RawMessage", record.value)
            assert raw["payload"] == body
            assert raw["format"] == "json"
            assert raw["sender"] == {"kind": "provider", "code": "12345678"}
            assert raw["message_id"] == sent["message_id"]
            assert raw["received_at"] >= before and raw["received_at"].microsecond == 0
            assert answer["received_at"] == raw["received_at"].strftime("%Y-%m-%dT%H:%M:%SZ")

    asyncio.run(scenario())


def test_ingest_batch_is_committed_whole_in_order(kafka_bootstrap: str, hub_topics: str) -> None:
    settings = settings_for(kafka_bootstrap, hub_topics)
    batch = [message() for _ in range(50)]

    async def scenario() -> None:
        async with serving(settings, token_store()) as client:
            response = await client.post("/v1/messages", data=orjson.dumps(batch), headers=headers())
            assert response.status == 202, await response.text()
            assert [r["message_id"] for r in await response.json()] == [m["message_id"] for m in batch]
            metrics = await (await client.get("/metrics")).text()
            assert (
                'jeugdhub_ingest_messages_received_total{message_type="placement_started",sender_kind="provider"} 50.0'
                in metrics
            )
            assert "jeugdhub_ingest_kafka_write_seconds_count" in metrics
        records = await read_topic(kafka_bootstrap, RAW.full_name(hub_topics), "read_committed", expect=50)
        assert len(records) == 50
        by_key = {r.key: decode("RawMessage", r.value) for r in records}
        for sent in batch:
            raw = by_key[f"12345678:{sent['message_id']}".encode()]
            assert raw["payload"] == orjson.dumps(sent)
        # Within each partition the request's order is kept.
        order = {m["message_id"]: i for i, m in enumerate(batch)}
        for partition in {r.partition for r in records}:
            ids = [decode("RawMessage", r.value)["message_id"] for r in records if r.partition == partition]
            assert ids == sorted(ids, key=order.__getitem__)

    asyncio.run(scenario())


def test_ingest_avro_message_is_forwarded_unchanged(kafka_bootstrap: str, hub_topics: str) -> None:
    settings = settings_for(kafka_bootstrap, hub_topics)
    sent = message()
    body = encode("InboundMessage", inbound_from_json(sent))

    async def scenario() -> None:
        async with serving(settings, token_store()) as client:
            response = await client.post(
                "/v1/messages", data=body, headers=headers(content_type="application/vnd.jeugdhub.avro")
            )
            assert response.status == 202, await response.text()
        (record,) = await read_topic(kafka_bootstrap, RAW.full_name(hub_topics), "read_committed", expect=1)
        raw = decode("RawMessage", record.value)
        assert (raw["format"], raw["payload"], raw["message_id"]) == ("avro", body, sent["message_id"])

    asyncio.run(scenario())


def test_ingest_another_providers_message_is_403_and_never_written(
    kafka_bootstrap: str, hub_topics: str
) -> None:
    settings = settings_for(kafka_bootstrap, hub_topics)
    topic = RAW.full_name(hub_topics)
    mixed = [message(), message(OTHER), message()]

    async def scenario() -> None:
        async with serving(settings, token_store()) as client:
            response = await client.post("/v1/messages", data=orjson.dumps(mixed), headers=headers())
            assert response.status == 403
            problem = await response.json(content_type="application/problem+json")
            assert problem["type"] == "/problems/forbidden-sender" and problem["index"] == 1
            single = await client.post("/v1/messages", data=orjson.dumps(message()), headers=headers("other"))
            assert single.status == 403
            # Nothing at all was written, not even inside an aborted transaction.
            assert await high_watermarks(kafka_bootstrap, topic) == 0
            assert await read_topic(kafka_bootstrap, topic, "read_uncommitted") == []
            assert await read_topic(kafka_bootstrap, topic, "read_committed") == []
            # The same provider's own message still goes through afterwards.
            own = message()
            assert (
                await client.post("/v1/messages", data=orjson.dumps(own), headers=headers())
            ).status == 202
        for isolation in ("read_committed", "read_uncommitted"):
            records = await read_topic(kafka_bootstrap, topic, isolation, expect=1)
            assert [decode("RawMessage", r.value)["message_id"] for r in records] == [own["message_id"]]

    asyncio.run(scenario())


def test_ingest_refused_requests_write_nothing(kafka_bootstrap: str, hub_topics: str) -> None:
    settings = settings_for(
        kafka_bootstrap, hub_topics, ingest_max_batch=5, ingest_max_body_bytes=4096, ingest_rate_burst=50
    )
    topic = RAW.full_name(hub_topics)
    no_id = message()
    del no_id["message_id"]
    no_sender = message()
    del no_sender["sender"]
    cases: list[tuple[bytes, dict[str, str], int, str]] = [
        (orjson.dumps(message()), {"Content-Type": "application/json"}, 401, "unauthenticated"),
        (orjson.dumps(message()), {**headers(), "Authorization": "Bearer nope"}, 401, "unauthenticated"),
        (b'{"message_id": ', headers(), 400, "invalid-json"),
        (orjson.dumps([message()] * 6), headers(), 400, "batch-too-large"),
        (orjson.dumps([message(location_code="x" * 5000)]), headers(), 413, "body-too-large"),
        (orjson.dumps(message()), headers(content_type="text/csv"), 415, "unsupported-media-type"),
        (orjson.dumps([message(), no_id]), headers(), 400, "missing-message-id"),
        (orjson.dumps(no_sender), headers(), 400, "missing-sender"),
        (b"garbage", headers(content_type="application/vnd.jeugdhub.avro"), 400, "invalid-avro"),
    ]

    async def scenario() -> None:
        async with serving(settings, token_store()) as client:
            for body, request_headers, status, slug in cases:
                response = await client.post("/v1/messages", data=body, headers=request_headers)
                assert response.status == status, (slug, await response.text())
                assert response.headers["Content-Type"] == "application/problem+json"
                assert (await response.json(content_type=None))["type"] == f"/problems/{slug}"
        assert await high_watermarks(kafka_bootstrap, topic) == 0

    asyncio.run(scenario())


def _same_partition_code(code: str) -> str:
    """Another 8-digit code whose retour records share *code*'s partition (key filtering matters)."""
    target = partition_for(code.encode(), RETOUR.partitions)
    for n in range(10_000_000, 99_999_999):
        other = str(n)
        if other != code and partition_for(other.encode(), RETOUR.partitions) == target:
            return other
    raise AssertionError("unreachable")


async def produce_retours(bootstrap: str, topic: str, retours: list[dict[str, Any]]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        for retour in retours:
            code = retour["sender"]["code"]
            await producer.send_and_wait(
                topic, encode("Retour", record_from_json("Retour", retour)), key=code.encode()
            )
    finally:
        await producer.stop()


def retour(code: str, n: int, status: str = "accepted") -> dict[str, Any]:
    errors = [] if status != "rejected" else [{"code": "CS002", "field": "bsn", "message": "11-proef"}]
    return {
        "message_id": f"{code}-{n}",
        "sender": {"kind": "provider", "code": code},
        "received_at": "2026-03-02T09:30:00Z",
        "status": status,
        "errors": errors,
    }


def test_ingest_retour_polling_with_cursor(kafka_bootstrap: str, hub_topics: str) -> None:
    settings = settings_for(kafka_bootstrap, hub_topics)
    topic = RETOUR.full_name(hub_topics)
    neighbour = _same_partition_code(PROVIDER.code)
    first = [retour(PROVIDER.code, 0), retour(neighbour, 0), retour(PROVIDER.code, 1, "rejected")]
    first += [retour(OTHER.code, 0), retour(neighbour, 1), retour(PROVIDER.code, 2, "duplicate")]
    later = [retour(neighbour, 2), retour(PROVIDER.code, 3), retour(OTHER.code, 1)]

    async def page(client: Client, who: str, query: str) -> dict[str, Any]:
        response = await client.get(f"/v1/retour?{query}", headers=headers(who))
        assert response.status == 200, await response.text()
        body: dict[str, Any] = await response.json()
        return body

    async def scenario() -> None:
        async with serving(settings, token_store()) as client:
            empty = await page(client, "provider", "")
            assert empty["retours"] == [] and empty["more"] is False
            await produce_retours(kafka_bootstrap, topic, first)
            one = await page(client, "provider", "limit=2")
            assert [r["message_id"] for r in one["retours"]] == ["12345678-0", "12345678-1"]
            assert one["more"] is True
            assert one["retours"][1]["errors"] == [{"code": "CS002", "field": "bsn", "message": "11-proef"}]
            two = await page(client, "provider", f"limit=2&since={one['cursor']}")
            assert [r["message_id"] for r in two["retours"]] == ["12345678-2"]
            assert two["retours"][0]["status"] == "duplicate"
            assert two["more"] is False
            again = await page(client, "provider", f"since={two['cursor']}")
            assert again["retours"] == [] and again["cursor"] == two["cursor"]
            await produce_retours(kafka_bootstrap, topic, later)
            three = await page(client, "provider", f"since={two['cursor']}")
            assert [r["message_id"] for r in three["retours"]] == ["12345678-3"]
            # The other provider sees only its own, and cannot use this provider's cursor.
            theirs = await page(client, "other", "")
            assert [r["message_id"] for r in theirs["retours"]] == ["87654321-0", "87654321-1"]
            if partition_for(b"87654321", RETOUR.partitions) != partition_for(b"12345678", RETOUR.partitions):
                response = await client.get(f"/v1/retour?since={one['cursor']}", headers=headers("other"))
                assert response.status == 400

    asyncio.run(scenario())


def test_ingest_tokens_from_the_file_issued_by_the_cli(
    kafka_bootstrap: str, hub_topics: str, tmp_path: Path
) -> None:
    tokens_file = tmp_path / "tokens.json"
    out = io.StringIO()
    with redirect_stdout(out):
        assert (
            jeugdhub(
                ["tokens", "add", "--kind", "provider", "--code", "12345678", "--file", str(tokens_file)]
            )
            == 0
        )
    token = out.getvalue().strip()
    assert token and token not in tokens_file.read_text()
    settings = settings_for(
        kafka_bootstrap, hub_topics, ingest_tokens_file=tokens_file, ingest_tokens_reload_s=0.2
    )
    auth = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

    async def scenario() -> None:
        async with serving(settings) as client:
            assert (
                await client.post("/v1/messages", data=orjson.dumps(message()), headers=auth)
            ).status == 202
            with redirect_stdout(io.StringIO()):
                assert (
                    jeugdhub(
                        [
                            "tokens",
                            "revoke",
                            "--kind",
                            "provider",
                            "--code",
                            "12345678",
                            "--file",
                            str(tokens_file),
                        ]
                    )
                    == 0
                )
            for _ in range(50):
                await asyncio.sleep(0.1)
                response = await client.post("/v1/messages", data=orjson.dumps(message()), headers=auth)
                if response.status == 401:
                    break
            assert response.status == 401

    asyncio.run(scenario())
