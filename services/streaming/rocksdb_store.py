"""faust's RocksDB table store with the hub's rules, registered as ``hubrocksdb://``.

A worker's tables live in one RocksDB database per changelog partition under its data directory
(``JEUGDHUB_DATA_DIR``, a persistent volume in Kubernetes). Each database also holds the offset of
the last changelog record it reflects (faust's *persisted offset*); faust's recovery then reads only
the changelog after it, so a restarted worker reads the tail instead of the whole changelog.

The rule that keeps this exact: **the store holds what the changelog holds up to its persisted
offset, no more and no less.** The hub writes its tables through
:class:`services.streaming.changelog.ChangelogWriter`, which keeps a batch's values *in flight*
(readable, not stored) until Kafka acknowledged their changelog record batch, and then writes them
here together with the persisted offset (the batch's last offset) in one RocksDB write
(:meth:`Store.write_acknowledged`). So:

* a SIGKILL before the acknowledgement: neither value nor offset is stored, and the source
  message's offset was not committed; the message is read and judged again against exactly what
  the changelog holds, as with the in-memory store.
* a SIGKILL after it: value and offset are both stored, and the changelog holds the record.
* a key deleted here (the erasure and retention sweeps pop it), its tombstone not yet acknowledged:
  the deletion also removes the persisted offset (:meth:`Store._del`), so a crash in between makes
  the next start read that partition's whole changelog, which still holds the youth, and the sweep
  forgets it again, exactly as with the in-memory store. The tombstones' acknowledgement sets the
  offset again (:func:`services.streaming.changelog.send_changelog`).
* a database last brought up to date longer ago than the changelog keeps its tombstones (another
  worker owned the partition meanwhile, or the volume was down for a week): a deletion after it may
  be gone from the compacted changelog, so the database is emptied and the partition read whole
  (:func:`usable_offset`).
* a database written against another incarnation of the changelog topic (deleted and created again,
  or another Kafka cluster: a developer's reset broker, a restore) holds offsets of a log that no
  longer exists: the topic's id (Kafka's topic UUID, KIP-516) is stored with the offset, and a
  database whose id differs from the topic's, or cannot be compared, is emptied and read whole.

Every start logs how many changelog records it read per table (``table partitions restored``):
the tail, not the whole changelog, is what makes a restart take seconds (docs/performance.md,
"Restarts").
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Iterable
from typing import Any

import rocksdict
from faust.stores import STORES
from faust.stores import rocksdb as faust_rocksdb
from faust.types import TP

from services.contracts.topics import COMPACTED_STATE_CONFIG

log = logging.getLogger("jeugdhub.tables")
SCHEME = "hubrocksdb"
WRITTEN_AT_KEY = b"__jeugdhub\0offset_written_at__"
"""Wall-clock time (seconds) at which the persisted offset was last set, beside faust's offset key."""
TOPIC_ID_KEY = b"__jeugdhub\0changelog_topic_id__"
"""The id of the changelog topic the persisted offset belongs to."""
HUB_KEYS = (WRITTEN_AT_KEY, TOPIC_ID_KEY)
"""The hub's own keys in a partition database (besides faust's offset key): never table entries."""
DAY_S = 86_400.0
MAX_AGE_S = int(COMPACTED_STATE_CONFIG["delete.retention.ms"]) / 1000 - DAY_S
"""Oldest persisted offset trusted: a day less than the changelog keeps a tombstone."""

# Small per-partition buffers and caches: faust's defaults (64 MiB write buffer, a 2 GiB block
# cache per partition database) are sized for one table on a large machine; the hub runs up to
# six partitions of one table in a pod of a few hundred MiB (deploy/k8s).
STORE_OPTIONS: dict[str, int] = {
    "write_buffer_size": 16 * 1024 * 1024,
    "max_write_buffer_number": 2,
    "block_cache_size": 32 * 1024 * 1024,
    "block_cache_compressed_size": 0,
}


def usable_offset(
    offset: bytes | None,
    written_at: bytes | None,
    now: float,
    max_age_s: float,
    stored_topic: bytes | None,
    topic: str | None,
) -> int | None:
    """The persisted offset to resume from, or None to read the partition's whole changelog.

    None without an offset, without a time (written by another program), when older than
    ``max_age_s`` (a tombstone written after it may already be compacted away), or when the topic
    id stored with it is not the changelog topic's (``topic``; unknown counts as different).
    """
    if offset is None or written_at is None:
        return None
    if topic is None or stored_topic is None or stored_topic.decode(errors="replace") != topic:
        return None
    try:
        value, when = int(offset), float(written_at)
    except ValueError:
        return None
    if now - when > max_age_s:
        return None
    return value


class Store(faust_rocksdb.Store):
    """faust's RocksDB store, written by :class:`~services.streaming.changelog.ChangelogWriter`."""

    max_age_s: float = MAX_AGE_S
    lookup_topic_id: Callable[[str, str], str | None] = staticmethod(
        lambda bootstrap, topic: kafka_topic_id(bootstrap, topic)
    )
    _restored: Counter[int]

    def __init__(self, *args: Any, options: dict[str, Any] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, options={**STORE_OPTIONS, **(options or {})}, **kwargs)
        self._restored = Counter()
        self._topic_ids: dict[str, str | None] = {}

    # -- the persisted offset -------------------------------------------------------------------
    def persisted_offset(self, tp: TP) -> int | None:
        """faust asks this when a partition is assigned; an untrusted database is emptied first."""
        db = self._db_for_partition(tp.partition)
        raw = db.get(self.offset_key)
        offset = usable_offset(
            raw,
            db.get(WRITTEN_AT_KEY),
            time.time(),
            self.max_age_s,
            db.get(TOPIC_ID_KEY),
            self.topic_id(tp.topic),
        )
        if offset is None and _has_keys(db):
            removed = _empty(db)
            log.warning(
                "table partition read whole: its local store has no usable changelog offset",
                extra={
                    "table": self.table_name,
                    "partition": tp.partition,
                    "offset_found": raw is not None,
                    "keys_removed": removed,
                },
            )
        return offset

    def set_persisted_offset(self, tp: TP, offset: int) -> None:
        """The store reflects every changelog record of *tp* up to and including *offset*."""
        batch = rocksdict.WriteBatch(raw_mode=True)
        self._put_offset(batch, tp, offset)
        self._db_for_partition(tp.partition).write(batch)

    def _put_offset(self, batch: Any, tp: TP, offset: int) -> None:
        batch.put(self.offset_key, str(offset).encode())
        batch.put(WRITTEN_AT_KEY, repr(time.time()).encode())
        topic_id = self.topic_id(tp.topic)
        if topic_id is not None:
            batch.put(TOPIC_ID_KEY, topic_id.encode())
        else:
            batch.delete(TOPIC_ID_KEY)  # cannot be compared: the next start reads the partition whole

    def topic_id(self, topic: str) -> str | None:
        """The changelog topic's id, asked of Kafka once per topic (None when it cannot be had)."""
        if topic not in self._topic_ids:
            bootstrap = ",".join(f"{url.host}:{url.port}" for url in self.app.conf.broker)
            self._topic_ids[topic] = self.lookup_topic_id(bootstrap, topic)
        return self._topic_ids[topic]

    def has_partition(self, partition: int) -> bool:
        """Is the partition's database open (assigned to this worker now)?"""
        return partition in self._dbs

    # -- reads and writes -----------------------------------------------------------------------
    def get_encoded(self, key: bytes, partition: int | None = None) -> bytes | None:
        """The stored value bytes of an encoded key, without faust's codec machinery.

        With its ``partition`` (the writer knows it from the key's route) one database is asked;
        faust's own read asks every partition's database in turn for a key it has not seen (each
        new message's duplicate-table key in validate: +13 % CPU per message when measured).
        """
        if partition is not None:
            db = self._dbs.get(partition)
            if db is not None:
                return db.get(key)  # type: ignore[no-any-return]
        return self._get(key)

    def write_acknowledged(self, tp: TP, items: Iterable[tuple[bytes, bytes | None]], offset: int) -> None:
        """Encoded (key, value) pairs of an acknowledged changelog batch of *tp*, and *offset* (its
        last record's) as the persisted offset, in one RocksDB write: the database never holds a
        value without the offset that covers it, nor the offset without the value. A None value (a
        tombstone) was deleted already and only moves the offset."""
        batch = rocksdict.WriteBatch(raw_mode=True)
        for key, value in items:  # not in faust's key index: the writer reads by partition, and
            if value is not None:  # an index of every key would grow with the state
                batch.put(key, value)
        self._put_offset(batch, tp, offset)
        self._db_for_partition(tp.partition).write(batch)

    def _set(self, key: bytes, value: bytes | None) -> None:
        raise TypeError("tables are written through ChangelogWriter (services/streaming/changelog.py)")

    def _del(self, key: bytes) -> None:
        """Delete *key* and, in the same write, the persisted offset of its partition: until the
        tombstone is acknowledged a restart must read that partition's changelog whole."""
        found = self._get_bucket_for_key(key)
        if found is None:
            return
        batch = rocksdict.WriteBatch(raw_mode=True)
        batch.delete(key)
        batch.delete(self.offset_key)
        batch.delete(WRITTEN_AT_KEY)
        found.db.write(batch)
        self._key_index.pop(key, None)

    def _visible_keys(self, db: Any) -> Any:
        """faust's, without the hub's offset timestamp (faust leaves out only its own offset key)."""
        return (key for key in super()._visible_keys(db) if key not in HUB_KEYS)

    def _visible_items(self, db: Any) -> Any:
        return ((key, value) for key, value in super()._visible_items(db) if key not in HUB_KEYS)

    def estimated_size(self) -> int:
        """Keys in the assigned partitions as RocksDB estimates them (cheap; counting is a scan)."""
        total = 0
        for db in self._dbs_for_actives():
            total += max(0, (db.property_int_value("rocksdb.estimate-num-keys") or 0) - 2)
        return total

    # -- recovery -------------------------------------------------------------------------------
    def apply_changelog_batch(self, batch: Iterable[Any], to_key: Any, to_value: Any) -> None:
        events = list(batch)
        for event in events:
            self._restored[event.message.partition] += 1
        super().apply_changelog_batch(events, to_key, to_value)

    async def on_recovery_completed(self, active_tps: set[TP], standby_tps: set[TP]) -> None:
        await super().on_recovery_completed(active_tps, standby_tps)
        restored, self._restored = self._restored, Counter()
        log.info(
            "table partitions restored",
            extra={
                "table": self.table_name,
                "partitions": sorted(tp.partition for tp in active_tps),
                "changelog_records_read": sum(restored.values()),
                "records_per_partition": {str(p): n for p, n in sorted(restored.items())},
            },
        )


def _has_keys(db: Any) -> bool:
    keys = db.keys()  # an iterator over the database, not a dict's view
    return any(key != Store.offset_key and key not in HUB_KEYS for key in keys)


def _empty(db: Any) -> int:
    """Delete every key of *db*; returns how many (excluding the offset keys)."""
    batch = rocksdict.WriteBatch(raw_mode=True)
    count = 0
    keys = db.keys()
    for key in keys:
        batch.delete(key)
        if key != Store.offset_key and key not in HUB_KEYS:
            count += 1
    db.write(batch)
    return count


def kafka_topic_id(bootstrap: str, topic: str) -> str | None:
    """The topic's id from Kafka's metadata (one admin round trip), None on any failure."""
    from kafka import KafkaAdminClient

    try:
        admin = KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10_000)
    except Exception as exc:  # no broker: the store cannot be trusted, read the changelog whole
        log.warning("changelog topic id not known", extra={"topic": topic, "error": repr(exc)})
        return None
    try:
        (described,) = admin.describe_topics([topic])
        found = described.get("topic_id") if not described.get("error_code") else None
        return None if found is None else str(found)
    except Exception as exc:
        log.warning("changelog topic id not known", extra={"topic": topic, "error": repr(exc)})
        return None
    finally:
        admin.close()


def register() -> None:
    """Make ``hubrocksdb://`` resolve to :class:`Store` (idempotent)."""
    STORES.aliases[SCHEME] = f"{__name__}:Store"
