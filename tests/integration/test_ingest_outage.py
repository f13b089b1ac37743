"""Kafka goes away and comes back: 503 with Retry-After (bounded, no hang), then 202 again.

Uses a broker of its own (started and stopped here, same data directory and ports across the
restart) so the session's shared broker is never touched.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiohttp.test_utils import TestClient, TestServer
from aiokafka import AIOKafkaConsumer, TopicPartition

from hubdev.localkafka.broker import Broker, free_port
from services.contracts.codec import decode
from services.contracts.topics import RAW, RETOUR
from services.ingest.app import create_app
from services.ingest.settings import IngestSettings
from services.ingest.tokens import Sender, TokenStore, hash_token
from services.streaming.topic_admin import create_hub_topics

pytestmark = pytest.mark.integration

TOKEN = "it-outage-token-0123456789"
HEADERS = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
WRITE_TIMEOUT_S = 3.0
TXN_TIMEOUT_S = 6.0


@pytest.fixture
def own_broker(tmp_path: Path) -> Iterator[Broker]:
    """A function-scoped broker with fixed ports, so a restart keeps its bootstrap address."""
    broker = Broker(tmp_path / "kafka", port=free_port(), controller_port=free_port(), progress=None)
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()


def message() -> dict[str, Any]:
    return {
        "message_id": str(uuid.uuid4()),
        "message_type": "measure",
        "sender": {"kind": "provider", "code": "12345678"},
    }


async def committed_ids(bootstrap: str, topic: str, expect: set[str]) -> set[str]:
    """Message ids visible to read_committed readers; re-read (up to 45 s) until *expect* is among them.

    The commit is durable when ingest answers 202; the markers that make it visible follow within
    milliseconds. But a transaction that was open when the broker stopped (its request got 503) and
    whose producer had not reconnected before the app closed holds the partition's last stable
    offset until the broker aborts it: the transaction timeout (TXN_TIMEOUT_S here) plus the
    broker's 10 s abort check. Acknowledged records behind it are durable, just not yet visible.
    """
    deadline = time.monotonic() + TXN_TIMEOUT_S + 10 + 30
    while True:
        ids = await _committed_ids_once(bootstrap, topic)
        if expect <= ids or time.monotonic() > deadline:
            return ids
        await asyncio.sleep(0.1)


async def _committed_ids_once(bootstrap: str, topic: str) -> set[str]:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None, isolation_level="read_committed")
    await consumer.start()
    try:
        partitions = (await consumer._client.fetch_all_metadata()).partitions_for_topic(topic)
        tps = [TopicPartition(topic, p) for p in partitions]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        ends = await consumer.end_offsets(tps)
        ids: set[str] = set()
        for tp in tps:
            while await consumer.position(tp) < ends[tp]:
                for record in (await consumer.getmany(tp, timeout_ms=1000)).get(tp, []):
                    ids.add(decode("RawMessage", record.value)["message_id"])
        return ids
    finally:
        await consumer.stop()


def test_ingest_broker_stopped_503_then_started_202(own_broker: Broker) -> None:
    prefix = f"it{uuid.uuid4().hex[:8]}."
    create_hub_topics(own_broker.bootstrap, prefix, specs=(RAW, RETOUR))
    settings = IngestSettings(
        kafka_bootstrap=own_broker.bootstrap,
        topic_prefix=prefix,
        ingest_transactional_id=f"it-outage-{uuid.uuid4().hex[:8]}",
        ingest_kafka_write_timeout_s=WRITE_TIMEOUT_S,
        ingest_transaction_timeout_s=TXN_TIMEOUT_S,
        ingest_kafka_connect_timeout_s=2.0,
        ingest_kafka_read_timeout_s=2.0,
        ingest_retry_after_s=2,
    )
    tokens = TokenStore({hash_token(TOKEN): Sender("provider", "12345678")})
    acknowledged: set[str] = set()

    async def post(client: Any) -> tuple[int, float, Any]:
        sent = message()
        started = time.monotonic()
        response = await client.post("/v1/messages", data=orjson.dumps(sent), headers=HEADERS)
        elapsed = time.monotonic() - started
        if response.status == 202:
            acknowledged.add(sent["message_id"])
        return response.status, elapsed, response

    async def scenario() -> None:
        app = create_app(settings, tokens=tokens)
        async with TestClient(TestServer(app, host="127.0.0.1", port=free_port())) as client:
            for _ in range(300):
                if (await client.get("/readyz")).status == 200:
                    break
                await asyncio.sleep(0.1)
            status, _, _ = await post(client)
            assert status == 202

            await asyncio.to_thread(own_broker.stop)
            # The first request after the broker vanished may wait for its transaction to time
            # out; it must not hang beyond the write timeout (x2 for time queued) plus slack.
            statuses = []
            for _ in range(3):
                status, elapsed, response = await post(client)
                statuses.append(status)
                assert elapsed < 2 * WRITE_TIMEOUT_S + 3, elapsed
                if status == 503:
                    assert response.headers["Retry-After"] == "2"
                    problem = await response.json(content_type="application/problem+json")
                    assert problem["type"] == "/problems/kafka-unavailable"
            assert statuses[-1] == 503
            # Once the producer is known to be gone, refusals are immediate.
            status, elapsed, _ = await post(client)
            assert status == 503 and elapsed < 1.0, elapsed
            assert (await client.get("/readyz")).status == 503
            retour = await client.get("/v1/retour", headers=HEADERS)
            assert retour.status == 503 and "Retry-After" in retour.headers

            await asyncio.to_thread(own_broker.start)
            deadline = time.monotonic() + 90
            while True:
                status, _, _ = await post(client)
                if status == 202:
                    break
                assert status == 503
                assert time.monotonic() < deadline, "ingest did not recover after the broker came back"
                await asyncio.sleep(0.5)
            for _ in range(5):
                assert (await post(client))[0] == 202
            assert (await client.get("/readyz")).status == 200
            assert (await client.get("/v1/retour", headers=HEADERS)).status == 200

        # Every acknowledged message is on the raw topic.
        assert acknowledged <= await committed_ids(own_broker.bootstrap, RAW.full_name(prefix), acknowledged)

    asyncio.run(scenario())
