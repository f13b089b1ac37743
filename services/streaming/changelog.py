"""Table writes whose changelog records the agent sends and awaits itself, once per key per batch.

A faust ``Table`` write (``table[key] = value``) queues one changelog record in faust's
``ProducerBuffer``, which sends them one by one and, once more than 100 are waiting, makes every
stream wait while it flushes them one ``asyncio.wait_for`` at a time ("producer buffer full"
warnings). Its ``flush()`` also returns after 0.1 s without progress even when records are still
queued, and faust commits offsets right after that flush: a changelog record could then be lost
while the offset of the message that caused it is committed. And with ``use_partitioner`` faust
hashes the *serialised* key (JSON text, with its quotes), so a key's changelog partition is not
the partition of the same key on the source topic, which a table co-partitioned with its source
needs once several workers share the partitions.

:class:`ChangelogWriter` sets the value in the table's local store (what ``table[key]`` reads)
and keeps the latest value per key; :meth:`ChangelogWriter.drain` returns them as changelog
records for the agent to send with its other outputs
(:func:`services.streaming.batches.send_routed_batches`) and to await before the batch counts as
done. Key and value are the bytes of the table's ``json`` codecs, so faust's recovery reads them
as its own; the partition is that of the key's UTF-8 bytes, i.e. of the source record with this
key. A key written several times in one batch gets one record, its last value, which is all a
compacted changelog keeps.

With the RocksDB store (``JEUGDHUB_TABLE_STORE=rocksdb``, services/streaming/rocksdb_store.py)
a drained value is *in flight*: :meth:`ChangelogWriter.get` reads it, but it reaches the partition
database only when Kafka acknowledged the record batch that carries it, in the same RocksDB write as
the store's persisted offset (the batch's last offset; :func:`send_changelog`). The store thus never
holds a value its changelog lacks, nor the changelog one the offset does not cover: after a SIGKILL
at any point a restart restores exactly what the changelog holds, as the in-memory store does.
"""

from __future__ import annotations

import asyncio
from typing import Any, Protocol

import orjson
from faust.types import TP

from services.contracts.topics import COMPACTED_STATE_CONFIG
from services.streaming.batches import Routed, send_routed_batches
from services.streaming.partitioner import partition_for

# faust.utils.json.dumps with orjson: the table's "json" key and value codecs write exactly these.
_FAUST_JSON_OPTIONS = orjson.OPT_NON_STR_KEYS | orjson.OPT_UTC_Z


def faust_json(value: Any) -> bytes:
    """The bytes faust's ``json`` codec writes for *value*."""
    return orjson.dumps(value, option=_FAUST_JSON_OPTIONS)


class StateTable(Protocol):
    """What an agent's logic needs of its state table: read, write, and the writes to send.

    :class:`ChangelogWriter` is the worker's; the unit tests use a dict-backed fake, so the logic
    that decides what to store is tested without faust or a broker.
    """

    @property
    def topic(self) -> str: ...

    def get(self, key: str, route: str | None = None) -> Any: ...

    def set(self, key: str, value: Any, route: str | None = None) -> None: ...

    def drain(self) -> list[Routed]: ...

    def __len__(self) -> int: ...


class ChangelogWriter:
    """Writes to a faust ``Table`` with ``key_type=str`` and json values, keyed like its source."""

    def __init__(self, table: Any) -> None:
        self._table = table
        self._pending: dict[str, tuple[Any, str]] = {}
        self._in_flight: dict[bytes, tuple[Any, bytes]] = {}
        """RocksDB store only: encoded key -> (value, value bytes) drained but not yet acknowledged."""
        self._partitioned_store: bool | None = None
        self._partitions = int(table.partitions)

    @property
    def _partitioned(self) -> bool:
        """The hub's RocksDB store takes encoded values per partition; the memory store objects.
        Asked lazily: faust creates a table's store on first use."""
        if self._partitioned_store is None:
            self._partitioned_store = hasattr(self._table.data, "write_acknowledged")
        return self._partitioned_store

    @property
    def topic(self) -> str:
        """The table's changelog topic."""
        return str(self._table.changelog_topic.get_topic_name())

    def get(self, key: str, route: str | None = None) -> Any:
        """The value of *key*; ``route`` (the key it was :meth:`set` with, or the key itself) lets
        the RocksDB store read its partition's database only. Without it every partition is asked."""
        pending = self._pending.get(key)
        if pending is not None:
            return pending[0]
        data = self._table.data  # the store faust recovers into (created on first use)
        if self._partitioned:
            encoded = faust_json(key)
            flying = self._in_flight.get(encoded)
            if flying is not None:
                return flying[0]
            partition = None
            if route is not None:
                partition = partition_for(route.encode("utf-8", "surrogatepass"), self._partitions)
            raw = data.get_encoded(encoded, partition)
            return None if raw is None else orjson.loads(raw)
        return data.get(key)

    def __len__(self) -> int:
        data = self._table.data
        return int(data.estimated_size()) if self._partitioned else len(data)

    def set(self, key: str, value: Any, route: str | None = None) -> None:
        """Visible to :meth:`get` at once; durable once :meth:`drain`'s records are acknowledged.

        ``route`` is the source record's key when the table key differs from it (a hashed key): the
        changelog record must still go to the source record's partition.
        """
        if not self._partitioned:
            self._table.data[key] = value
        self._pending[key] = (value, key if route is None else route)

    def drain(self) -> list[Routed]:
        """(partition key, key, value) of every key set since the last drain, last value per key.

        With the RocksDB store the values stay in flight (readable here, not yet in the store) until
        :meth:`send`'s record batches are acknowledged.
        """
        pending, self._pending = self._pending, {}
        records = [
            (route.encode("utf-8", "surrogatepass"), faust_json(key), faust_json(value))
            for key, (value, route) in pending.items()
        ]
        if self._partitioned and records:
            flying = self._in_flight
            for (value, _), (_, key_bytes, value_bytes) in zip(pending.values(), records, strict=True):
                flying[key_bytes] = (value, value_bytes)
        return records

    async def send(self, producer: Any, records: list[Routed]) -> list[asyncio.Future[Any]]:
        """Send :meth:`drain`'s records; each acknowledged batch goes into the store with its offset."""
        return await send_changelog(producer, self._table, records, self._in_flight)


async def send_changelog(
    producer: Any,
    table: Any,
    records: list[Routed],
    in_flight: dict[bytes, tuple[Any, bytes]] | None = None,
) -> list[asyncio.Future[Any]]:
    """Send changelog records of *table* as :func:`send_routed_batches` does and, once a record batch
    is acknowledged, write its values and the partition's persisted offset (the batch's last offset:
    aiokafka's batch future gives its *base* offset, the batch's record count the last) to the store
    in one RocksDB write, then drop them from ``in_flight`` (:class:`ChangelogWriter`'s values not
    yet stored) unless a newer value took their place.

    A tombstone (value None) writes nothing: the store deleted the key already and withdrew the
    offset until now (:meth:`services.streaming.rocksdb_store.Store._del`). A partition no longer
    open here (revoked meanwhile) is left alone. The memory store keeps no offsets.
    """
    store = table.data
    if not hasattr(store, "write_acknowledged"):
        return await send_routed_batches(producer, table.changelog_topic.get_topic_name(), records)
    topic = str(table.changelog_topic.get_topic_name())

    def acked(items: list[tuple[bytes, bytes | None]], future: asyncio.Future[Any]) -> None:
        if future.cancelled() or future.exception() is not None or not items:
            return
        metadata = future.result()
        if store.has_partition(metadata.partition):
            store.write_acknowledged(TP(topic, metadata.partition), items, metadata.offset + len(items) - 1)
        if in_flight:
            for key, value in items:
                flying = in_flight.get(key)
                if flying is not None and flying[1] is value:
                    del in_flight[key]

    return await send_routed_batches(_AckedBatches(producer, acked), topic, records)


class _AckedBatches:
    """The producer as :func:`send_routed_batches` uses it, whose batches remember their records and
    call back on acknowledgement (registered before anyone awaits the future, so it has run when the
    sender's ``await`` returns)."""

    def __init__(self, producer: Any, acked: Any) -> None:
        self._producer = producer
        self._acked = acked

    async def partitions_for(self, topic: str) -> Any:
        return await self._producer.partitions_for(topic)

    def create_batch(self) -> _RememberingBatch:
        return _RememberingBatch(self._producer.create_batch())

    async def send_batch(
        self, builder: _RememberingBatch, topic: str, *, partition: int
    ) -> asyncio.Future[Any]:
        future: asyncio.Future[Any] = await self._producer.send_batch(
            builder.builder, topic, partition=partition
        )
        items = builder.items
        future.add_done_callback(lambda f: self._acked(items, f))
        return future


class _RememberingBatch:
    """An aiokafka ``BatchBuilder`` that keeps the (key, value) pairs it took."""

    __slots__ = ("builder", "items")

    def __init__(self, builder: Any) -> None:
        self.builder = builder
        self.items: list[tuple[bytes, bytes | None]] = []

    def append(self, *, key: bytes, value: bytes | None, timestamp: Any) -> Any:
        taken = self.builder.append(key=key, value=value, timestamp=timestamp)
        if taken is not None:
            self.items.append((key, value))
        return taken


def state_table(app: Any, name: str, partitions: int) -> ChangelogWriter:
    """A worker's state: a faust table with ``str`` keys and JSON values, keyed and partitioned like
    its source topic (so no repartition topic), its changelog compacted like every state topic
    (``COMPACTED_STATE_CONFIG``), written through a :class:`ChangelogWriter`."""
    table = app.Table(
        name,
        key_type=str,
        partitions=partitions,
        use_partitioner=True,
        extra_topic_configs=COMPACTED_STATE_CONFIG,
    )
    return ChangelogWriter(table)
