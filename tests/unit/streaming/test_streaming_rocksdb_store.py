"""The RocksDB table store (services/streaming/rocksdb_store.py) and ChangelogWriter on it: values
land in their source partition's database only with the acknowledgement of their changelog batch,
together with the persisted offset (the batch's last), a deletion withdraws the offset, an old or
foreign database is emptied."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from faust.types import TP
from hypothesis import given
from hypothesis import strategies as st

from services.aggregate.settings import AggregateSettings
from services.settings import WorkerSettings
from services.streaming import rocksdb_store
from services.streaming.changelog import ChangelogWriter, send_changelog, state_table
from services.streaming.faust_app import new_faust_app
from services.streaming.partitioner import partition_for
from services.streaming.rocksdb_store import TOPIC_ID_KEY, WRITTEN_AT_KEY, Store, usable_offset

PARTITIONS = 6
TOPIC_ID = "6de2370a-c90e-4e57-a28b-81ed79dbecd1"


def _writer(tmp_path: Path) -> tuple[ChangelogWriter, Any]:
    settings = WorkerSettings(app_id="rocksdbtest", data_dir=tmp_path, table_store="rocksdb")
    app = new_faust_app(settings, PARTITIONS)
    writer = state_table(app, "youth-messages", PARTITIONS)
    table: Any = app.tables["youth-messages"]
    assert isinstance(table.data, Store)
    table.data.lookup_topic_id = lambda bootstrap, topic: TOPIC_ID  # Kafka's answer, without Kafka
    for partition in range(PARTITIONS):  # assigned: faust opens their databases (assign_partitions)
        table.data._db_for_partition(partition)
    return writer, table


def _db(table: Any, key: str) -> Any:
    return table.data._db_for_partition(partition_for(key.encode(), PARTITIONS))


class _Batch:
    def __init__(self) -> None:
        self.records: list[tuple[bytes, bytes]] = []

    def append(self, *, key: bytes, value: bytes, timestamp: Any) -> object | None:
        if len(self.records) == 3:  # a small batch: several per partition
            return None
        self.records.append((key, value))
        return object()

    def record_count(self) -> int:
        return len(self.records)


class _Metadata:
    def __init__(self, partition: int, offset: int) -> None:
        self.partition, self.offset = partition, offset


class _Producer:
    """aiokafka's batch API: a future per batch, resolved (by the test) with the *base* offset."""

    def __init__(self) -> None:
        self.sent: list[tuple[int, _Batch, asyncio.Future[Any]]] = []
        self.ends: dict[int, int] = {}

    async def partitions_for(self, topic: str) -> set[int]:
        return set(range(PARTITIONS))

    def create_batch(self) -> _Batch:
        return _Batch()

    async def send_batch(self, batch: _Batch, topic: str, *, partition: int) -> asyncio.Future[Any]:
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self.sent.append((partition, batch, future))
        return future

    def ack(self, index: int) -> None:
        partition, batch, future = self.sent[index]
        base = self.ends.get(partition, 0)
        self.ends[partition] = base + batch.record_count()
        future.set_result(_Metadata(partition, base))


def _store(writer: ChangelogWriter) -> None:
    """Drain the writer and let Kafka acknowledge every batch (a fake producer)."""

    async def run() -> None:
        producer = _Producer()
        futures = await writer.send(producer, writer.drain())
        for index in range(len(producer.sent)):
            producer.ack(index)
        await asyncio.gather(*futures)

    asyncio.run(run())


def test_the_aggregate_uses_rocksdb_and_other_workers_memory_by_default() -> None:
    assert AggregateSettings().table_store == "rocksdb"
    assert WorkerSettings().table_store == "memory"


def test_values_are_stored_only_when_their_changelog_batch_is_acknowledged(tmp_path: Path) -> None:
    writer, table = _writer(tmp_path)
    store = table.data
    tp = TP(writer.topic, partition_for(b"youth-a", PARTITIONS))
    writer.set("youth-a", {"m1": {"x": 1}})
    assert writer.get("youth-a") == {"m1": {"x": 1}}  # the pending value, before the drain
    writer.set("youth-a", {"m1": {"x": 1}, "m2": {"x": 2}})
    records = writer.drain()
    assert records == [(b"youth-a", b'"youth-a"', b'{"m1":{"x":1},"m2":{"x":2}}')]
    assert writer.get("youth-a") == {"m1": {"x": 1}, "m2": {"x": 2}}  # in flight: readable ...
    assert _db(table, "youth-a").get(b'"youth-a"') is None  # ... but not stored

    async def run() -> None:
        producer = _Producer()
        producer.ends[tp.partition] = 41
        (future,) = await writer.send(producer, records)
        assert _db(table, "youth-a").get(b'"youth-a"') is None and store.persisted_offset(tp) is None
        producer.ack(0)
        await future

    asyncio.run(run())
    # value and offset together
    assert _db(table, "youth-a").get(b'"youth-a"') == records[0][2]
    assert store.persisted_offset(tp) == 41
    assert writer.get("youth-a") == {"m1": {"x": 1}, "m2": {"x": 2}}
    assert table.data.get("youth-a") == {"m1": {"x": 1}, "m2": {"x": 2}}  # faust's own read path
    assert writer._in_flight == {}
    assert writer.get("nobody") is None


def test_a_crash_before_the_acknowledgement_leaves_the_store_as_the_changelog_is(tmp_path: Path) -> None:
    """SIGKILL between the send and Kafka's answer: the next start (a new store on the same
    directory) finds neither the value nor a newer offset, so the re-read message is judged against
    what the changelog holds, as with the in-memory store."""
    writer, table = _writer(tmp_path)
    writer.set("youth-a", {"m": 1})
    _store(writer)
    tp = TP(writer.topic, partition_for(b"youth-a", PARTITIONS))
    stored_offset = table.data.persisted_offset(tp)
    assert stored_offset == 0

    async def crash() -> None:
        writer.set("youth-a", {"m": 1, "n": 2})
        failing = _Producer()
        (future,) = await writer.send(failing, writer.drain())
        future.set_exception(RuntimeError("not acknowledged"))  # or never answered: the same
        with pytest.raises(RuntimeError):
            await future

    asyncio.run(crash())
    assert _db(table, "youth-a").get(b'"youth-a"') == b'{"m":1}'
    assert table.data.persisted_offset(tp) == stored_offset
    for db in table.data._dbs.values():  # the process ends: its databases are closed
        db.close()
    table.data._dbs.clear()
    reopened, _ = _writer(tmp_path)
    assert reopened.get("youth-a") == {"m": 1}


def test_a_partition_revoked_before_the_acknowledgement_is_left_to_its_new_owner(tmp_path: Path) -> None:
    writer, table = _writer(tmp_path)
    tp = TP(writer.topic, partition_for(b"youth-a", PARTITIONS))
    writer.set("youth-a", {"m": 1})

    async def run() -> None:
        producer = _Producer()
        (future,) = await writer.send(producer, writer.drain())
        table.data._dbs.pop(tp.partition)  # what faust's revoke_partitions does
        producer.ack(0)
        await future

    asyncio.run(run())
    assert not table.data.has_partition(tp.partition) and writer._in_flight == {}
    assert table.data.persisted_offset(tp) is None  # reopened: nothing claimed, the changelog is read


def test_an_older_acknowledgement_does_not_hide_a_newer_value_in_flight(tmp_path: Path) -> None:
    writer, table = _writer(tmp_path)
    writer.set("youth-a", {"v": 1})
    first = writer.drain()
    writer.set("youth-a", {"v": 2})
    second = writer.drain()

    async def run() -> None:
        producer = _Producer()
        (one,) = await writer.send(producer, first)
        (two,) = await writer.send(producer, second)
        producer.ack(0)
        await one
        assert writer.get("youth-a") == {"v": 2}  # the newer one is still in flight
        producer.ack(1)
        await two

    asyncio.run(run())
    assert writer.get("youth-a") == {"v": 2} and _db(table, "youth-a").get(b'"youth-a"') == b'{"v":2}'


def test_a_hashed_key_goes_to_the_partition_of_its_route(tmp_path: Path) -> None:
    writer, table = _writer(tmp_path)
    route = next(r for r in (f"src{i}" for i in range(100)) if partition_for(r.encode(), 6) != 0)
    writer.set("hashed-key", {"v": 1}, route=route)
    _store(writer)
    assert _db(table, route).get(b'"hashed-key"') == b'{"v":1}'


def test_the_persisted_offset_is_the_last_offset_of_each_acknowledged_batch(tmp_path: Path) -> None:
    writer, table = _writer(tmp_path)
    store = table.data
    keys = [f"y{i}" for i in range(40)]
    partition = partition_for(keys[0].encode(), PARTITIONS)
    same = [k for k in keys if partition_for(k.encode(), PARTITIONS) == partition][:7]
    assert len(same) == 7
    tp = TP(writer.topic, partition)

    async def run() -> None:
        for key in same:
            writer.set(key, {"v": key})
        producer = _Producer()
        futures = await writer.send(producer, writer.drain())
        assert [len(b.records) for _, b, _ in producer.sent] == [3, 3, 1]
        assert store.persisted_offset(tp) is None  # nothing acknowledged yet
        producer.ack(0)
        await asyncio.sleep(0)
        assert store.persisted_offset(tp) == 2  # offsets 0..2
        producer.ack(1)
        producer.ack(2)
        await asyncio.gather(*futures)
        assert store.persisted_offset(tp) == 6  # 7 records: 0..6, not the last batch's base (6)
        # a failed batch moves nothing
        writer.set(same[0], {"v": "again"})
        failing = _Producer()
        (future,) = await writer.send(failing, writer.drain())
        future.set_exception(RuntimeError("not acknowledged"))
        with pytest.raises(RuntimeError):
            await future
        assert store.persisted_offset(tp) == 6

    asyncio.run(run())


def test_a_deletion_withdraws_its_partitions_offset_until_the_tombstone_is_acknowledged(
    tmp_path: Path,
) -> None:
    writer, table = _writer(tmp_path)
    store = table.data
    a = "youth-a"
    pa = partition_for(a.encode(), PARTITIONS)
    b = next(k for k in (f"b{i}" for i in range(50)) if partition_for(k.encode(), PARTITIONS) != pa)
    pb = partition_for(b.encode(), PARTITIONS)
    writer.set(a, {"m": 1})
    writer.set(b, {"m": 2})
    _store(writer)
    store.set_persisted_offset(TP(writer.topic, pa), 10)
    store.set_persisted_offset(TP(writer.topic, pb), 20)
    assert store.pop(a) == {"m": 1}
    assert writer.get(a) is None
    assert store.persisted_offset(TP(writer.topic, pa)) is None  # a restart reads this partition whole
    assert store.persisted_offset(TP(writer.topic, pb)) == 20  # the other partition keeps its own

    async def run() -> None:
        producer = _Producer()
        producer.ends[pa] = 11
        (future,) = await send_changelog(producer, table, [(a.encode(), b'"youth-a"', None)])  # type: ignore[list-item]
        producer.ack(0)
        await future

    asyncio.run(run())
    assert store.persisted_offset(TP(writer.topic, pa)) == 11


def test_an_old_or_foreign_database_is_emptied_and_read_whole(tmp_path: Path) -> None:
    writer, table = _writer(tmp_path)
    store = table.data
    writer.set("youth-a", {"m": 1})
    _store(writer)
    tp = TP(writer.topic, partition_for(b"youth-a", PARTITIONS))
    store.set_persisted_offset(tp, 5)
    assert store.persisted_offset(tp) == 5 and store.get("youth-a") == {"m": 1}
    db = store._db_for_partition(tp.partition)
    db.put(WRITTEN_AT_KEY, repr(1.0).encode())  # last brought up to date in 1970
    assert store.persisted_offset(tp) is None
    assert store.get("youth-a") is None  # a tombstone after it may be compacted away: start empty
    writer.set("youth-a", {"m": 1})
    _store(writer)
    db.delete(WRITTEN_AT_KEY)
    db.put(Store.offset_key, b"5")  # faust's own offset, without the hub's time
    assert store.persisted_offset(tp) is None and store.get("youth-a") is None


def test_tables_are_not_written_around_the_changelog_writer(tmp_path: Path) -> None:
    _, table = _writer(tmp_path)
    with pytest.raises(TypeError):
        table.data._set(b'"k"', b"1")


@given(
    offset=st.integers(0, 2**62),
    age=st.integers(-10, 30 * 86_400),
    max_age=st.integers(1, 20 * 86_400),
)
def test_an_offset_is_used_only_when_it_is_younger_than_the_limit(
    offset: int, age: int, max_age: int
) -> None:
    now = 1_800_000_000.0
    topic = TOPIC_ID.encode()
    got = usable_offset(str(offset).encode(), repr(now - age).encode(), now, max_age, topic, TOPIC_ID)
    assert got == (offset if age <= max_age else None)
    assert usable_offset(None, repr(now).encode(), now, max_age, topic, TOPIC_ID) is None
    assert usable_offset(str(offset).encode(), None, now, max_age, topic, TOPIC_ID) is None
    assert usable_offset(b"x", repr(now).encode(), now, max_age, topic, TOPIC_ID) is None
    # another incarnation of the topic, or an id that cannot be compared
    fresh = repr(now).encode()
    assert usable_offset(str(offset).encode(), fresh, now, max_age, b"another-id", TOPIC_ID) is None
    assert usable_offset(str(offset).encode(), fresh, now, max_age, None, TOPIC_ID) is None
    assert usable_offset(str(offset).encode(), fresh, now, max_age, topic, None) is None


def test_the_age_limit_is_below_the_changelogs_tombstone_retention() -> None:
    assert 0 < rocksdb_store.MAX_AGE_S < 7 * 86_400


def test_iteration_shows_only_table_entries(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The sweeps walk the store (items, keys, len): the offset and its time are not entries."""
    writer, table = _writer(tmp_path)
    store = table.data
    writer.set("youth-a", {"m": 1})
    _store(writer)
    store.set_persisted_offset(TP(writer.topic, partition_for(b"youth-a", PARTITIONS)), 3)
    monkeypatch.setattr(store, "_dbs_for_actives", lambda: iter(list(store._dbs.values())))
    assert dict(store.items()) == {"youth-a": {"m": 1}}
    assert list(store.keys()) == ["youth-a"]
    assert len(store) == 1


def test_the_group_instance_id_reaches_fausts_consumer_and_blank_means_dynamic(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    static = new_faust_app(WorkerSettings(data_dir=tmp_path, group_instance_id="jeugdhub-aggregate-0"), 6)
    assert static.conf.consumer_group_instance_id == "jeugdhub-aggregate-0"
    monkeypatch.setenv("JEUGDHUB_GROUP_INSTANCE_ID", "")
    assert WorkerSettings().group_instance_id is None
    assert new_faust_app(WorkerSettings(data_dir=tmp_path), 6).conf.consumer_group_instance_id is None


def test_a_database_of_another_incarnation_of_the_changelog_is_emptied(tmp_path: Path) -> None:
    """Topics deleted and created again (a developer's reset broker, a restore): offsets of a log
    that no longer exists must not be resumed from, nor its entries kept."""
    writer, table = _writer(tmp_path)
    store = table.data
    writer.set("youth-a", {"m": 1})
    _store(writer)
    tp = TP(writer.topic, partition_for(b"youth-a", PARTITIONS))
    store.set_persisted_offset(tp, 7)
    db = store._db_for_partition(tp.partition)
    assert db.get(TOPIC_ID_KEY) == TOPIC_ID.encode()
    assert store.persisted_offset(tp) == 7
    store._topic_ids.clear()
    store.lookup_topic_id = lambda bootstrap, topic: "0f0f0f0f-0000-4000-8000-000000000000"
    assert store.persisted_offset(tp) is None
    assert store.get("youth-a") is None
    # Kafka not reachable for the id: not comparable, so not trusted either
    writer.set("youth-a", {"m": 1})
    _store(writer)
    store.set_persisted_offset(tp, 8)
    store._topic_ids.clear()
    store.lookup_topic_id = lambda bootstrap, topic: None
    assert store.persisted_offset(tp) is None and store.get("youth-a") is None


def test_a_read_with_its_route_asks_only_that_partitions_database(tmp_path: Path) -> None:
    """faust's own read asks every partition's database for a key it has not seen; the writer,
    given the key's route, asks one (a key planted in another partition is not found that way)."""
    writer, table = _writer(tmp_path)
    route = next(r for r in (f"src{i}" for i in range(100)) if partition_for(r.encode(), 6) != 0)
    writer.set("hashed-key", {"v": 1}, route=route)
    writer.set("youth-a", {"v": 2})
    _store(writer)
    assert writer.get("hashed-key", route) == {"v": 1}
    assert writer.get("hashed-key") == {"v": 1}  # without its route: found by asking every partition
    assert writer.get("youth-a", "youth-a") == {"v": 2}
    elsewhere = (partition_for(b"planted", PARTITIONS) + 1) % PARTITIONS
    table.data._db_for_partition(elsewhere).put(b'"planted"', b'{"v":3}')
    assert writer.get("planted", "planted") is None
    assert writer.get("planted") == {"v": 3}
