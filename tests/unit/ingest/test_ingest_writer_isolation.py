"""The group-committing writer: one request's record that Kafka refuses never fails the others
(issue 12, defect 3). A fake producer makes the grouping exact; the real broker does the same in
tests/integration/test_ingest_backpressure.py.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiokafka.errors import MessageSizeTooLargeError

from services.ingest.kafka import KafkaUnavailable, RawWriter, RecordRefused
from services.ingest.metrics import new_metrics
from services.ingest.settings import IngestSettings

TOPIC_LIMIT = 2000  # the fake broker's max.message.bytes


class FakeBatch:
    def __init__(self) -> None:
        self.records: list[tuple[bytes, bytes]] = []

    def append(self, *, key: bytes, value: bytes, timestamp: Any) -> object:
        self.records.append((key, value))
        return object()


class FakeProducer:
    """Transactions in memory; a batch with a record over TOPIC_LIMIT fails like the broker does."""

    def __init__(self, log: list[list[bytes]]) -> None:
        self.committed = log
        self.current: list[bytes] = []
        self.client = self

    async def fetch_all_metadata(self) -> None:
        return None

    async def partitions_for(self, topic: str) -> set[int]:
        return {0, 1, 2}

    async def begin_transaction(self) -> None:
        self.current = []

    async def commit_transaction(self) -> None:
        if self.current:
            self.committed.append(self.current)

    def create_batch(self) -> FakeBatch:
        return FakeBatch()

    async def send_batch(self, batch: FakeBatch, topic: str, *, partition: int) -> asyncio.Future[None]:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if any(len(k) + len(v) > TOPIC_LIMIT for k, v in batch.records):
            future.set_exception(MessageSizeTooLargeError())
        else:
            mark = b"" if topic == "raw" else topic.encode() + b"/"
            self.current.extend(mark + key for key, _ in batch.records)
            future.set_result(None)
        return future

    async def stop(self) -> None:
        return None


class FakeWriter(RawWriter):
    def __init__(self, settings: IngestSettings) -> None:
        super().__init__(settings.model_copy(update={"create_topics": False}), new_metrics(), "raw", "audit")
        self.committed: list[list[bytes]] = []
        self.connects = 0

    async def _connect(self, index: int) -> Any:
        self.connects += 1
        return FakeProducer(self.committed)


def record(name: str, size: int = 10) -> tuple[bytes, bytes]:
    return (name.encode(), b"v" * size)


def test_a_refused_record_in_a_group_fails_only_its_own_request() -> None:
    async def main() -> None:
        writer = FakeWriter(IngestSettings(ingest_producers=1, ingest_kafka_write_timeout_s=5))
        await writer.start()
        try:
            while not writer.available:
                await asyncio.sleep(0.01)
            # Queued together, before the slot wakes up: one group of five requests.
            requests = {
                "a": [record("a1"), record("a2")],
                "b": [record("b1")],
                "big": [record("big1"), record("big2", 5000)],
                "c": [record("c1")],
                "d": [record("d1"), record("d2")],
            }
            results = await asyncio.gather(
                *(writer.write(records) for records in requests.values()), return_exceptions=True
            )
            outcome = dict(zip(requests, results, strict=True))
            assert isinstance(outcome.pop("big"), RecordRefused)
            assert all(result is None for result in outcome.values()), outcome
            committed = [key for txn in writer.committed for key in txn]
            assert sorted(committed) == sorted(key.encode() for key in ("a1", "a2", "b1", "c1", "d1", "d2"))
            assert b"big1" not in committed  # all-or-nothing per request still holds
            assert writer.metrics.isolated_requests._value.get() == 5
            # The writer goes on grouping afterwards.
            await asyncio.gather(writer.write([record("e1")]), writer.write([record("f1")]))
            assert writer.committed[-1] == [b"e1", b"f1"]
        finally:
            await writer.close()

    asyncio.run(main())


def test_a_record_over_the_configured_limit_never_joins_a_group() -> None:
    async def main() -> None:
        writer = FakeWriter(IngestSettings(ingest_max_record_bytes=4096, ingest_max_message_bytes=2048))
        with pytest.raises(RecordRefused) as refused:
            await writer.write([record("ok"), record("huge", 5000)])
        assert refused.value.index == 1
        assert writer.committed == [] and writer._queue.empty()
        with pytest.raises(KafkaUnavailable):  # not started: no producer
            await writer.write([record("ok")])

    asyncio.run(main())


def test_access_records_commit_with_their_requests_records_and_never_without_them() -> None:
    """An accepted post's access record is in its request's transaction (docs/privacy.md, Audit):
    committed exactly when the request's messages are, also when a group fails and is retried."""

    async def main() -> None:
        writer = FakeWriter(IngestSettings(ingest_producers=1, ingest_kafka_write_timeout_s=5))
        await writer.start()
        try:
            while not writer.available:
                await asyncio.sleep(0.01)
            requests = {
                "a": [record("a1"), record("a2")],
                "big": [record("big1", 5000)],
                "c": [record("c1")],
            }
            results = await asyncio.gather(
                *(writer.write(records, record(f"access-{name}")) for name, records in requests.items()),
                return_exceptions=True,
            )
            outcome = dict(zip(requests, results, strict=True))
            assert isinstance(outcome.pop("big"), RecordRefused)
            assert all(result is None for result in outcome.values()), outcome
            for txn in writer.committed:
                raw = {key.decode()[0] for key in txn if not key.startswith(b"audit/")}
                audits = {
                    key.decode().removeprefix("audit/access-")[0] for key in txn if key.startswith(b"audit/")
                }
                assert raw == audits, txn  # each transaction: the requests' messages and their records
            committed = [key for txn in writer.committed for key in txn]
            assert sorted(k for k in committed if k.startswith(b"audit/")) == [
                b"audit/access-a",
                b"audit/access-c",
            ]
            assert b"big1" not in committed and b"audit/access-big" not in committed
        finally:
            await writer.close()

    asyncio.run(main())
