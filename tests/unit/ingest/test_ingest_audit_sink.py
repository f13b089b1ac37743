"""The audit producer's two deliveries with a fake producer: awaited writes fail closed, best-effort
offers are queued while Kafka is away, bounded, and every record not written is counted."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

from services.contracts.codec import decode
from services.ingest.audit import AccessRecord, access_record
from services.ingest.audit_sink import AuditUnavailable, KafkaAuditSink
from services.ingest.metrics import new_metrics
from services.ingest.settings import IngestSettings


class FakeProducer:
    def __init__(self, sent: list[tuple[bytes, bytes]], fail: bool) -> None:
        self.sent = sent
        self.fail = fail

    async def send(self, topic: str, value: bytes, key: bytes) -> asyncio.Future[None]:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if self.fail:
            future.set_exception(OSError("broker away"))
        else:
            self.sent.append((key, value))
            future.set_result(None)
        return future

    async def flush(self) -> None:
        return None

    async def stop(self) -> None:
        return None


class FakeSink(KafkaAuditSink):
    def __init__(self, queue: int = 10) -> None:
        super().__init__(IngestSettings(ingest_audit_queue=queue), new_metrics(), "audit")
        self.sent: list[tuple[bytes, bytes]] = []
        self.connects = 0
        self.failing = 0  # producers still to come that fail every send
        self.kafka_up = asyncio.Event()

    async def _connect(self) -> Any:
        await self.kafka_up.wait()
        self.connects += 1
        failing = self.failing > 0
        self.failing -= 1
        return FakeProducer(self.sent, failing)


def record(status: int = 401) -> AccessRecord:
    return access_record(
        time=datetime.now(UTC),
        request_id=str(uuid.uuid4()),
        instance="test",
        method="POST",
        path="/v1/messages",
        sender=None,
        token_id=None,
        credential="invalid",
        message_count=0,
        body_bytes=2,
        status=status,
        outcome="unauthenticated",
        client_address="10.0.0.1",
    )


def counter(sink: KafkaAuditSink, name: str, label: str) -> float:
    return float(getattr(sink.metrics, name).labels(label)._value.get())


async def until(predicate: Any) -> None:
    async with asyncio.timeout(5):
        while not predicate():
            await asyncio.sleep(0.01)


def test_offers_wait_for_kafka_within_the_bound_and_the_excess_is_counted() -> None:
    async def main() -> None:
        sink = FakeSink(queue=3)
        await sink.start()
        records = [record(400 + i) for i in range(5)]
        for r in records:
            sink.offer(r)  # Kafka is away: never blocks
        assert counter(sink, "audit_lost", "queue_full") == 2
        sink.kafka_up.set()
        await until(lambda: len(sink.sent) == 3)
        assert [decode("AccessRecord", v)["status"] for _, v in sink.sent] == [400, 401, 402]
        assert sink.sent[0][0] == b"unauthenticated"
        assert counter(sink, "audit_written", "best_effort") == 3
        await sink.close()

    asyncio.run(main())


def test_a_failed_send_is_counted_and_the_producer_replaced() -> None:
    async def main() -> None:
        sink = FakeSink()
        sink.failing = 1
        sink.kafka_up.set()
        await sink.start()
        sink.offer(record())
        await until(lambda: counter(sink, "audit_lost", "kafka_error") == 1)
        await until(lambda: sink.connects == 2)
        sink.offer(record(403))
        await until(lambda: len(sink.sent) == 1)
        assert decode("AccessRecord", sink.sent[0][1])["status"] == 403
        await sink.close()

    asyncio.run(main())


def test_an_awaited_write_fails_closed_without_a_producer_and_succeeds_with_one() -> None:
    async def main() -> None:
        sink = FakeSink()
        await sink.start()
        with pytest.raises(AuditUnavailable):
            await sink.write(record(200))
        sink.kafka_up.set()
        await until(lambda: sink._producer is not None)
        await sink.write(record(200))
        assert len(sink.sent) == 1 and counter(sink, "audit_written", "acknowledged") == 1
        await sink.close()

    asyncio.run(main())


def test_close_hands_over_what_is_queued_and_counts_later_offers() -> None:
    async def main() -> None:
        sink = FakeSink()
        sink.kafka_up.set()
        await sink.start()
        await until(lambda: sink._producer is not None)
        for _ in range(3):
            sink.offer(record())
        await sink.close()
        assert len(sink.sent) == 3 and counter(sink, "audit_lost", "shutdown") == 0
        sink.offer(record())
        assert counter(sink, "audit_lost", "shutdown") == 1

    asyncio.run(main())
