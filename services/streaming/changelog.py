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
"""

from __future__ import annotations

from typing import Any, Protocol

import orjson

from services.contracts.topics import COMPACTED_STATE_CONFIG
from services.streaming.batches import Routed

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

    def get(self, key: str) -> Any: ...

    def set(self, key: str, value: Any, route: str | None = None) -> None: ...

    def drain(self) -> list[Routed]: ...

    def __len__(self) -> int: ...


class ChangelogWriter:
    """Writes to a faust ``Table`` with ``key_type=str`` and json values, keyed like its source."""

    def __init__(self, table: Any) -> None:
        self._table = table
        self._pending: dict[str, tuple[Any, str]] = {}

    @property
    def topic(self) -> str:
        """The table's changelog topic."""
        return str(self._table.changelog_topic.get_topic_name())

    def get(self, key: str) -> Any:
        return self._table.data.get(key)  # the store faust recovers into (created on first use)

    def __len__(self) -> int:
        return len(self._table.data)

    def set(self, key: str, value: Any, route: str | None = None) -> None:
        """Visible to :meth:`get` at once; durable once :meth:`drain`'s records are acknowledged.

        ``route`` is the source record's key when the table key differs from it (a hashed key): the
        changelog record must still go to the source record's partition.
        """
        self._table.data[key] = value
        self._pending[key] = (value, key if route is None else route)

    def drain(self) -> list[Routed]:
        """(partition key, key, value) of every key set since the last drain, last value per key."""
        pending, self._pending = self._pending, {}
        return [
            (route.encode("utf-8", "surrogatepass"), faust_json(key), faust_json(value))
            for key, (value, route) in pending.items()
        ]


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
