"""A faust transport with the delivery guarantees the hub needs, registered as ``jeugdhub://``.

faust's aiokafka driver reads ``read_uncommitted`` and produces without idempotence unless the whole
app runs ``exactly_once``, whose open bugs we do not want to depend on. We run at-least-once, but:
- consumers read ``read_committed``, so a batch that ingest wrote in an aborted transaction is never
  seen (ingest's all-or-nothing promise);
- producers use ``acks=all`` and idempotence, so a retried send never duplicates a record;
- consumers wait at most ``JEUGDHUB_FETCH_MAX_WAIT_MS`` for a fetch (faust's fixed 1.5 s made
  records wait that long behind an in-flight fetch; see ``ReadCommittedConsumerThread``).
Offsets are committed by faust only after our agents awaited the delivery of their outputs.

The producer also survives a table write before it has metadata for the table's changelog topic
(:func:`declared_changelog_partitions`): faust's ``key_partition`` would raise ``TypeError``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import aiokafka
from faust.transport.drivers import TRANSPORTS
from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types import TP

from services.streaming.partitioner import partition_for

SCHEME = "jeugdhub"
DEFAULT_FETCH_MAX_WAIT_MS = 500  # aiokafka's own default


class ReadCommittedConsumerThread(faust_aiokafka.AIOKafkaConsumerThread):
    def _create_worker_consumer(self, transport: Any) -> aiokafka.AIOKafkaConsumer:
        consumer = super()._create_worker_consumer(transport)
        # aiokafka takes the level at construction and hands it to its fetcher in start(), which
        # has not run yet; faust offers no setting for it outside exactly_once.
        consumer._isolation_level = "read_committed"
        # faust hard-codes fetch_max_wait_ms=1500. aiokafka leaves out of a fetch request every
        # partition whose previous records are still unconsumed and sends no second request to a
        # node while one is in flight, so records arriving on those partitions wait for the
        # in-flight request to come back: up to fetch_max_wait. Measured on one broker at 500/s:
        # validated -> youth-facts p50 1.5-2.9 s at 1500 ms, 0.32 s at 100 ms.
        consumer._fetch_max_wait_ms = fetch_max_wait_ms(self.app)
        return consumer


def fetch_max_wait_ms(app: Any) -> int:
    """The app's ``fetch_max_wait_ms`` (``HubApp``; set by ``new_faust_app``), else aiokafka's default."""
    return int(getattr(app, "fetch_max_wait_ms", DEFAULT_FETCH_MAX_WAIT_MS))


class Consumer(faust_aiokafka.Consumer):
    def _new_consumer_thread(self) -> ReadCommittedConsumerThread:
        return ReadCommittedConsumerThread(self, loop=self.loop, beacon=self.beacon)

    async def _add_gap(self, tp: TP, offset_from: int, offset_to: int) -> None:
        """Record only the offsets *between* two received records as a gap.

        faust calls this with ``offset_to`` = the record just received and stores the interval up
        to and including it, so that record's offset is counted twice among the acknowledged ones
        (as a gap and when acked). ``_new_offset`` then stops its run of consecutive offsets at the
        duplicate, and a commit advances past one gap only: on the transactional raw topic, with a
        commit marker after every ingest request, validate's committed offsets fell ever further
        behind what it had answered (tests/integration/test_validate_commits_transactional.py).
        """
        await super()._add_gap(tp, offset_from, offset_to - 1)


class Producer(faust_aiokafka.Producer):
    def _settings_extra(self) -> Mapping[str, Any]:
        extra: dict[str, Any] = dict(super()._settings_extra())
        extra.update({"acks": "all", "enable_idempotence": True})
        return extra

    def key_partition(self, topic: str, key: bytes) -> TP:
        """faust's choice, but without metadata for a table's changelog use its declared count.

        faust asks for the partition of a ``use_partitioner`` table's changelog record before it
        sends it; aiokafka then needs the topic in the producer's metadata, which a freshly
        created changelog topic may not be yet (seen once: the first table write raised
        ``TypeError: 'NoneType' object is not iterable`` and the agent crashed). The changelog was
        created with the table's partition count, so the default partitioner's rule over that
        count is the same choice; the send that follows waits for the metadata as usual.
        """
        producer = self._ensure_producer()
        if producer._metadata.partitions_for_topic(topic) is None:
            count = declared_changelog_partitions(self.app.tables.values(), topic)
            if count is not None:
                return TP(topic, partition_for(key, count))
        tp: TP = super().key_partition(topic, key)
        return tp


def declared_changelog_partitions(tables: Iterable[Any], topic: str) -> int | None:
    """Partition count declared for the table whose changelog topic is *topic* (None: no such table)."""
    for table in tables:
        if table.changelog_topic.get_topic_name() == topic and table.partitions:
            return int(table.partitions)
    return None


class Transport(faust_aiokafka.Transport):
    Consumer = Consumer
    Producer = Producer


def register() -> None:
    """Make ``jeugdhub://host:port`` resolve to this transport (idempotent)."""
    TRANSPORTS.aliases[SCHEME] = f"{__name__}:Transport"


def broker_url(bootstrap: str) -> str:
    """``host:port[,host:port]`` -> the faust broker URL using this transport."""
    register()
    return ";".join(f"{SCHEME}://{server.strip()}" for server in bootstrap.split(",") if server.strip())
