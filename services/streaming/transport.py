"""A faust transport with the delivery guarantees the hub needs, registered as ``jeugdhub://``.

faust's aiokafka driver reads ``read_uncommitted`` and produces without idempotence unless the whole
app runs ``exactly_once``, whose open bugs we do not want to depend on. We run at-least-once, but:
- consumers read ``read_committed``, so a batch that ingest wrote in an aborted transaction is never
  seen (ingest's all-or-nothing promise);
- producers use ``acks=all`` and idempotence, so a retried send never duplicates a record;
- consumers wait at most ``JEUGDHUB_FETCH_MAX_WAIT_MS`` for a fetch (faust's fixed 1.5 s made
  records wait that long behind an in-flight fetch; see ``ReadCommittedConsumerThread``).
Offsets are committed by faust only after our agents awaited the delivery of their outputs.

No agent sees a source record fetched while the worker rebalances or before a seek, and a record
read again after a seek is not dropped as already read (:class:`SourceGate`).

The agents' source topics are delivered as runs, one faust message per partition per fetch
(services/streaming/runs.py): ``getmany`` makes them, ``ack`` marks a run's offsets done together
and ``_add_gap`` keeps a run's own offsets out of faust's gaps (docs/architecture.md, "Delivery and
commits").

The producer also survives a table write before it has metadata for the table's changelog topic
(:func:`declared_changelog_partitions`): faust's ``key_partition`` would raise ``TypeError``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import aiokafka
from faust.transport.drivers import TRANSPORTS
from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types import TP
from faust.types.tuples import ack_lock

from services.settings import DEFAULT_FETCH_MAX_WAIT_MS
from services.streaming.partitioner import partition_for
from services.streaming.runs import RunMessage, run_offsets, run_topics

log = logging.getLogger("jeugdhub.transport")
SCHEME = "jeugdhub"


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
    """The app's ``fetch_max_wait_ms`` (``HubApp``; set by ``new_faust_app``), else the settings' default."""
    return int(getattr(app, "fetch_max_wait_ms", DEFAULT_FETCH_MAX_WAIT_MS))


@dataclass
class SourceGate:
    """Which fetched source records may reach the agents, and when the positions must be reset.

    Traced in faust-streaming 0.15 on a real cluster with workers killed under load
    (docs/reliability.md): source records reached the agents while the worker rebalanced (before its
    tables were recovered), records fetched before a seek were handed over after it (faust then
    records the offsets in between as a *gap*, i.e. as done, and commits past them unprocessed), and a
    record in flight during a seek set the drainer's read offset back beyond the seek, so the records
    read again were dropped as already read and the partition's commits stopped. The aggregate then
    published facts derived from part of a youth's messages, or none of a partition's newer ones.

    So a source record is held back while the app rebalances (from the revocation until the tables
    are recovered and the partitions sought), when a seek started after the fetch that returned it,
    and after any record was held back. Its offset is past the consumer's position by
    then, so once the rebalance is over every partition is sought back to its committed offset
    (:meth:`Consumer.getmany`), which reads the held records again: at-least-once, and the agents'
    outputs are upserts.
    """

    epoch: int = 0
    """Seeks started so far; a fetch started in an earlier epoch may hold records from before a seek."""
    held: int = 0
    """Source records held back since the last re-seek."""

    def seek_started(self) -> None:
        self.epoch += 1

    def admit(self, *, fetched_in: int, rebalancing: bool, count: int = 1) -> bool:
        """May this source record (or run of *count* records), from a fetch started in epoch
        *fetched_in*, go to the agents now?"""
        if self.held or rebalancing or fetched_in != self.epoch:
            # Once one record is held, every later one is too until the re-seek: passing a later
            # record first would make faust count the held offsets before it as a gap, i.e. as done.
            self.held += count
            return False
        return True

    def reseek_due(self, *, rebalancing: bool) -> bool:
        """Records were held back and the rebalance is over: reset the positions before fetching."""
        return self.held > 0 and not rebalancing

    def reseeked(self) -> int:
        """The positions were reset; returns how many records had been held back."""
        held, self.held = self.held, 0
        return held


def read_again_from(read_offset: int | None, offset: int) -> bool:
    """Is *offset* a record read again after a seek, below the drainer's read offset?

    aiokafka delivers an offset twice only after a seek, and every seek means to read from there; a
    read offset beyond it was set by a record that was in flight during the seek."""
    return read_offset is not None and offset < read_offset


class Consumer(faust_aiokafka.Consumer):
    _gate: SourceGate | None = None
    _delivering: RunMessage | None = None
    """The run just handed to faust's drainer, until it asks for the next item (see ``_add_gap``)."""

    def _new_consumer_thread(self) -> ReadCommittedConsumerThread:
        return ReadCommittedConsumerThread(self, loop=self.loop, beacon=self.beacon)

    @property
    def gate(self) -> SourceGate:
        if self._gate is None:
            self._gate = SourceGate()
        return self._gate

    async def perform_seek(self) -> None:
        self.gate.seek_started()
        await super().perform_seek()

    async def seek(self, partition: TP, offset: int) -> None:
        self.gate.seek_started()
        await super().seek(partition, offset)

    async def seek_to_committed(self) -> Mapping[TP, int]:
        """faust's (aiokafka's), but a source partition with no commit (or commit 0) is sought too.

        aiokafka seeks only to a committed offset above 0 and leaves the other partitions where they
        are; after records were held back there (:class:`SourceGate`, e.g. in the first rebalance of
        a new group) they would never be read again. Those go to offset 0 or the log's start.
        """
        committed: Mapping[TP, int] = await super().seek_to_committed()
        changelogs = self.app.tables.changelog_topics
        unsought = [tp for tp, offset in committed.items() if not offset and tp.topic not in changelogs]
        if unsought:
            earliest = await self.earliest_offsets(*unsought)
            for tp in unsought:
                target = committed[tp] if committed[tp] is not None else earliest.get(tp)
                await self._seek(tp, int(target or 0))
        return committed

    async def getmany(self, timeout: float) -> AsyncIterator[Any]:
        """The fetched records for faust's drainer, source records only as :class:`SourceGate`
        allows, and those of a run topic (services/streaming/runs.py) as one :class:`RunMessage`
        per partition per fetch.

        faust's own ``getmany`` with these changes: it makes a ``Message`` per record and
        interleaves the partitions record by record; here a run topic's records stay together. The
        checks per item are faust's: stop when the flow stops or the group generation changes,
        skip partitions that are neither active nor buffered. The positions are reset here, before
        a fetch: no record is inside faust's drainer then, so none can set a read offset behind
        the seek's back. Changelog records (table recovery and standbys) pass one by one, unchanged.
        """
        gate = self.gate
        if gate.reseek_due(rebalancing=bool(self.app.rebalancing)):
            try:
                await self.perform_seek()
            except Exception as exc:  # held records stay held; the next fetch tries again
                log.warning("seeking back to the committed offsets failed", extra={"error": repr(exc)})
                await asyncio.sleep(1.0)
                return
            log.info(
                "source records fetched while rebalancing were held back; read again from the committed offsets",
                extra={"held": gate.reseeked()},
            )
        fetched_in = gate.epoch
        fetched, active = await self._wait_next_records(timeout)
        if fetched is None or self.should_stop:
            return
        if not self.flow_active:
            try:  # faust's: records fetched while the flow stopped are read again from the commits
                await self.perform_seek()
            except Exception as exc:
                log.warning("seeking back while the flow is stopped failed", extra={"error": repr(exc)})
            return
        app = self.app
        generation_id = app.consumer_generation_id
        changelogs = app.tables.changelog_topics
        runs = run_topics(app)
        for tp, records in fetched.items():
            if not records:
                continue
            if not self.flow_active or app.consumer_generation_id != generation_id:
                break
            if active is not None and tp not in active and tp not in self._buffered_partitions:
                continue
            app.monitor.track_tp_end_offset(tp, self.highwater(tp))
            if tp.topic in changelogs:
                for record in records:
                    yield tp, self._to_message(tp, record)
                continue
            if tp.topic in runs:
                if not gate.admit(
                    fetched_in=fetched_in, rebalancing=bool(app.rebalancing), count=len(records)
                ):
                    continue
                run = RunMessage(tp, records, generation_id)
                if read_again_from(self._read_offset.get(tp), run.first_offset):
                    self._read_again(tp, run.first_offset)
                self._delivering = run
                try:
                    yield tp, run
                finally:
                    self._delivering = None
                continue
            for record in records:
                if not gate.admit(fetched_in=fetched_in, rebalancing=bool(app.rebalancing)):
                    continue
                if read_again_from(self._read_offset.get(tp), record.offset):
                    self._read_again(tp, record.offset)
                yield tp, self._to_message(tp, record)

    def ack(self, message: Any) -> bool:
        """faust's, and for a :class:`RunMessage` every offset of the run is marked done with its last.

        faust's ``_new_offset`` commits up to the first offset that is neither acknowledged nor in
        a gap; with the run's offsets marked together, an unacknowledged run holds back its
        partition's commits at its first offset, like an unacknowledged record.
        """
        if not isinstance(message, RunMessage):
            return bool(super().ack(message))
        with ack_lock:
            if message.acked:
                return False
            done = bool(super().ack(message))
            if done:
                tp = message.tp
                index = self._acked_index[tp]
                body = run_offsets(message.first_offset, message.offset, self._committed_offset[tp], index)
                index.update(body)
                self._acked[tp].extend(body)
                self._n_acked += len(body)
            return done

    def _read_again(self, tp: TP, offset: int) -> None:
        """Let the drainer take *offset* instead of dropping it, and forget the gaps recorded past it
        (they came from the records before the seek; reading on finds the real ones again)."""
        self._read_offset[tp] = offset
        gaps = self._gap.get(tp)
        if gaps:
            gaps.chop(offset, 2**63)

    def on_buffer_drop(self, tp: TP) -> None:
        """faust's, except that a partition paused since its buffer filled stays paused."""
        if tp in self._paused_partitions:
            self._buffered_partitions.discard(tp)
            return
        super().on_buffer_drop(tp)

    async def _add_gap(self, tp: TP, offset_from: int, offset_to: int) -> None:
        """Record only the offsets *between* two received records as a gap.

        faust calls this with ``offset_to`` = the record just received and stores the interval up
        to and including it, so that record's offset is counted twice among the acknowledged ones
        (as a gap and when acked). ``_new_offset`` then stops its run of consecutive offsets at the
        duplicate, and a commit advances past one gap only: on the transactional raw topic, with a
        commit marker after every ingest request, validate's committed offsets fell ever further
        behind what it had answered (tests/integration/test_validate_commits_transactional.py).
        """
        delivering = self._delivering
        if delivering is not None and delivering.tp == tp:
            # A run: the drainer passes its last offset; the gap ends before the run's first record.
            offset_to = delivering.first_offset
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
