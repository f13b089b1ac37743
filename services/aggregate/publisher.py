"""The one writer of region snapshots, so that published figures never go back in time.

Every aggregate worker holds all figures (it reads the whole youth-facts topic), but at different
positions. If each published, a consumer of the aggregates topic could see a region's figures from
a worker that is behind right after figures from one that is ahead. So:

1. **One publisher at a time, by election.** The worker that owns partition 0 of the validated
   topic (faust's group assignment) publishes; the others only keep their Prometheus gauges. A
   rebalance moves the role with the partition.
2. **Fencing, for the moments the election is wrong** (a paused or partitioned worker that still
   believes it owns partition 0, or two workers in the middle of a rebalance). Every publisher uses
   the same transactional id, ``<prefix><app id>-snapshots``, and writes each round of snapshots in
   one transaction. Taking over calls ``init_transactions`` (an empty transaction waits for it): the
   broker aborts an open transaction of the previous holder and rejects anything it sends later, so
   from then on nobody else can commit a snapshot until the next take-over.
3. **Reading the tail after fencing.** Only then does the new publisher read the aggregates topic
   (read_committed) to its end and take the join of every position found there
   (:mod:`services.aggregate.ordering`). It publishes only from a figures state whose position
   covers that join, and advances the join with every committed round. Until its own reading of
   the youth-facts topic has caught up, it holds back (``jeugdhub_aggregate_snapshots_held_back``).

Each take-over starts with a complete read of what the previous holders committed, and nobody but
the holder can commit, so committed snapshots form a chain of positions, each covering the one
before, across rebalances, restarts and two workers that both think they are the publisher (each
take-over fences the other, and each re-reads the tail). Readers must consume with
``isolation_level=read_committed``: a fenced publisher's aborted records are on the log too.

The same producer, so the same fencing, writes two more topics:

- the **public aggregates topic**: in each round's transaction, the public form of the exact rows
  (``services/regulator/public.py``), when it changed (:func:`snapshots.public_due`); a new
  publisher takes the public form of the exact tail's last row per region as what is there;
- the **daily topic** (provisional history): the days it lacks, in transactions of their own
  (:meth:`SnapshotPublisher.write_daily`). At take-over, after fencing, its keys are read: every
  key committed before this epoch is then known and nobody else can commit one, and a key counts as
  written only after its commit succeeded, so each key is committed once (``history.py``).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Sequence
from datetime import date, datetime, timedelta
from typing import Any, TypeVar

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from kafka import KafkaConsumer

from services.aggregate.figures import FIGURE_KEYS
from services.aggregate.history import (
    DEFAULT_MAX_LATE_DAYS,
    DailyLedger,
    DailyRow,
    daily_value,
    parse_daily_key,
)
from services.aggregate.metrics import AggregateMetrics
from services.aggregate.ordering import POSITION_HEADER, Position, may_follow, position_of
from services.aggregate.snapshots import Latest, SnapshotThrottle, public_due, snapshot
from services.contracts.canonical import record_from_json, record_to_json
from services.contracts.codec import decode, encode
from services.contracts.errors import ContractError
from services.regulator.public import public_row
from services.settings import DEFAULT_FETCH_MAX_WAIT_MS

log = logging.getLogger("jeugdhub.aggregate")
_T = TypeVar("_T")

TRANSACTION_TIMEOUT_MS = 10_000
"""A publisher killed inside a transaction leaves the aggregates partition's last stable offset
(what read_committed consumers see) stuck until the next take-over aborts it, or this long."""
ROUND_TIMEOUT_S = 15.0
"""A take-over or a round that takes longer fails; the role is given up and taken again."""


def partition_ids(bootstrap: str, topic: str, timeout_s: float = 60.0) -> set[int]:
    """The topic's partitions, waiting for it to exist (the worker creates it before starting)."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap)
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            partitions = consumer.partitions_for_topic(topic)
            if partitions:
                return set(partitions)
            if time.monotonic() > deadline:
                raise RuntimeError(f"topic {topic} does not exist")
            time.sleep(0.5)
    finally:
        consumer.close()


def figures_row(value: dict[str, Any]) -> dict[str, Any]:
    """The figures row of a RegionSnapshot in JSON form (what ``FiguresState.rows()`` gives)."""
    return {key: value[key] for key in FIGURE_KEYS}


async def _committed_records(
    bootstrap: str, topic: str, fetch_max_wait_ms: int = DEFAULT_FETCH_MAX_WAIT_MS
) -> AsyncIterator[Any]:
    """Every committed record of *topic* from its beginning to its last stable offset (as it stood
    when the read began), read_committed."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        enable_auto_commit=False,
        group_id=None,
        isolation_level="read_committed",
        fetch_max_wait_ms=fetch_max_wait_ms,
    )
    await consumer.start()
    try:
        partitions = await asyncio.to_thread(partition_ids, bootstrap, topic)
        tps = [TopicPartition(topic, p) for p in sorted(partitions)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        ends = await consumer.end_offsets(tps)  # the last stable offsets (read_committed)
        while [tp for tp in tps if await consumer.position(tp) < ends[tp]]:
            batches = await consumer.getmany(*tps, timeout_ms=200, max_records=10_000)
            for records in batches.values():
                for record in records:
                    yield record
    finally:
        await consumer.stop()


async def read_published(
    bootstrap: str, topic: str, fetch_max_wait_ms: int = DEFAULT_FETCH_MAX_WAIT_MS
) -> tuple[Position | None, Latest, int]:
    """Read the committed snapshots to the topic's end: the join of their positions, the last row
    per region and how many records were read. A record without a position header (written before
    positions existed) counts with its as-of date; one that does not decode is skipped."""
    published: Position | None = None
    latest: Latest = {}
    read = 0
    async for record in _committed_records(bootstrap, topic, fetch_max_wait_ms):
        read += 1
        if record.value is None:
            continue
        try:
            value = record_to_json("RegionSnapshot", decode("RegionSnapshot", record.value))
        except ContractError:
            continue
        position = position_of(record.headers) or Position(date.fromisoformat(value["as_of"]))
        published = position if published is None else published.join(position)
        latest[value["region"]] = (value["as_of"], figures_row(value))
    return published, latest, read


async def read_daily(
    bootstrap: str, topic: str, since: date, fetch_max_wait_ms: int = DEFAULT_FETCH_MAX_WAIT_MS
) -> tuple[DailyLedger, int]:
    """Read the committed keys of the daily topic: the ledger of the keys from ``since`` on (and
    the topic's first day) and how many records were read. Only keys are read (they name the region
    and the day); a key of another form is skipped."""
    ledger = DailyLedger(since)
    read = 0
    async for record in _committed_records(bootstrap, topic, fetch_max_wait_ms):
        read += 1
        parsed = parse_daily_key(record.key)
        if parsed is not None and record.value is not None:
            ledger.saw(*parsed)
    return ledger, read


class SnapshotPublisher:
    """Writes region snapshots in transactions, only from positions covering what is published."""

    def __init__(
        self,
        bootstrap: str,
        topic: str,
        transactional_id: str,
        metrics: AggregateMetrics,
        min_interval_s: float = 1.0,
        fetch_max_wait_ms: int = DEFAULT_FETCH_MAX_WAIT_MS,
        *,
        public_topic: str | None = None,
        daily_topic: str | None = None,
        history_late_days: int = DEFAULT_MAX_LATE_DAYS,
    ) -> None:
        self._bootstrap = bootstrap
        self._topic = topic
        self._public_topic = public_topic
        self._daily_topic = daily_topic
        self._history_late_days = history_late_days
        self._transactional_id = transactional_id
        self._metrics = metrics
        self._min_interval_s = min_interval_s
        self._fetch_max_wait_ms = fetch_max_wait_ms
        self._producer: AIOKafkaProducer | None = None
        self._held_back_since: float | None = None
        self.published: Position | None = None
        """The join of every position on the topic when this publisher took over, advanced by each
        committed round: what the next snapshot's position must cover."""
        self.throttle = SnapshotThrottle(min_interval_s)
        self.public_latest: Latest = {}
        """region -> (as_of, public row) of the last record per region on the public topic."""
        self.ledger: DailyLedger | None = None
        """The keys on the daily topic (read after fencing, then kept with each commit); None
        while not the publisher or without a daily topic."""

    @property
    def active(self) -> bool:
        return self._producer is not None

    def may_publish(self, position: Position) -> bool:
        """Figures from ``position`` reflect at least what is already published."""
        return may_follow(position, self.published)

    @property
    def pending(self) -> bool:
        """Changed rows were held back (interval, or a position behind the topic's): publish again."""
        return self.throttle.pending

    async def take_over(self, today: date) -> None:
        """Fence every earlier publisher, then learn what they published: the snapshots, and the
        daily topic's keys of the days a publisher on ``today`` may still write."""
        started = time.perf_counter()
        producer = AIOKafkaProducer(
            bootstrap_servers=self._bootstrap,
            client_id=self._transactional_id,
            transactional_id=self._transactional_id,
            enable_idempotence=True,
            acks="all",
            transaction_timeout_ms=TRANSACTION_TIMEOUT_MS,
            linger_ms=0,
        )
        try:
            async with asyncio.timeout(ROUND_TIMEOUT_S):
                await producer.start()
                # An empty transaction waits for init_transactions: the broker has then bumped the
                # id's epoch (fencing the previous holder) and completed its open transaction.
                await producer.begin_transaction()
                await producer.commit_transaction()
                # Both topics are read at once; only keys are kept of the daily one.
                since = today - timedelta(days=self._history_late_days)
                keys_read = (
                    read_daily(self._bootstrap, self._daily_topic, since, self._fetch_max_wait_ms)
                    if self._daily_topic is not None
                    else _nothing((None, 0))
                )
                async with asyncio.TaskGroup() as reads:  # one failing cancels the other
                    snapshots_task = reads.create_task(
                        read_published(self._bootstrap, self._topic, self._fetch_max_wait_ms)
                    )
                    keys_task = reads.create_task(keys_read)
                (published, latest, read), (ledger, daily_read) = snapshots_task.result(), keys_task.result()
                # Each round writes a region's public form with its exact row whenever the form
                # changed, so the last public record of a region is the public form of its last
                # exact one.
                public_latest = {region: (as_of, public_row(row)) for region, (as_of, row) in latest.items()}
        except BaseException:
            await _discard(producer)
            raise
        self._producer = producer
        self.published = published
        self.public_latest = public_latest
        self.ledger = ledger
        self.throttle = SnapshotThrottle(self._min_interval_s)
        self.throttle.seed(latest)
        self._metrics.publisher.set(1)
        self._metrics.publisher_takeovers.inc()
        log.info(
            "took over publishing region snapshots",
            extra={
                "transactional_id": self._transactional_id,
                "records_read": read,
                "daily_records_read": daily_read,
                "daily_last_day": ledger.last.isoformat() if ledger and ledger.last else None,
                "published_position": _describe(published),
                "seconds": round(time.perf_counter() - started, 3),
            },
        )

    async def resign(self, reason: str) -> None:
        """Give up the role (lost partition 0, fenced, or a failed round); idempotent."""
        if self._producer is None:
            return
        producer, self._producer = self._producer, None
        self.ledger = None
        self._metrics.publisher.set(0)
        log.info("stopped publishing region snapshots", extra={"reason": reason})
        await _discard(producer)

    async def publish(
        self, rows: Sequence[dict[str, Any]], position: Position, computed_at: datetime, now: float
    ) -> int:
        """Publish the rows that are due, all from ``position``, in one transaction; returns how many.

        Nothing is published (and the rows stay pending) while ``position`` does not cover what is
        already on the topic. A failure gives up the role and re-raises: the next round takes over
        again, which re-reads the tail, since a commit whose answer was lost may have succeeded.
        """
        producer = self._producer
        if producer is None:
            raise RuntimeError("not the publisher")
        if not may_follow(position, self.published):
            self.throttle.pending = True
            self._metrics.snapshots_held_back.inc()
            if self._held_back_since is None:
                self._held_back_since = now
                log.info(
                    "snapshots held back: the figures state is behind what is published",
                    extra={"position": _describe(position), "published_position": _describe(self.published)},
                )
            elif now - self._held_back_since > 60:
                self._held_back_since = now  # say it again every minute while it lasts
                log.warning(
                    "snapshots still held back (a pinned as-of date before the published one, or a "
                    "recreated youth-facts topic, needs a new aggregates topic: docs/aggregate.md)",
                    extra={"position": _describe(position), "published_position": _describe(self.published)},
                )
            return 0
        self._held_back_since = None
        due = self.throttle.due(rows, position.as_of, now)
        public = (
            public_due(rows, due, position.as_of, self.throttle, self.public_latest)
            if self._public_topic is not None
            else []
        )
        if due or public:
            try:
                async with asyncio.timeout(ROUND_TIMEOUT_S):
                    await producer.begin_transaction()
                    sent = await self._send_snapshots(producer, due, position, computed_at)
                    sent += await self._send_public(producer, public, position.as_of, computed_at)
                    await asyncio.gather(*sent)
                    await producer.commit_transaction()
            except BaseException as exc:
                await self.resign(f"publishing failed: {type(exc).__name__}: {exc}")
                raise
            for row in due:
                self.throttle.published(row, position.as_of, now)
            for form in public:
                self.public_latest[form["region"]] = (position.as_of.isoformat(), form)
            if due:
                self.published = position if self.published is None else self.published.join(position)
            self._metrics.snapshots_published.inc(len(due))
            self._metrics.public_snapshots_published.inc(len(public))
        self.throttle.pending = self.throttle.has_unpublished(rows, position.as_of)
        return len(due)

    async def _send_snapshots(
        self,
        producer: AIOKafkaProducer,
        rows: Sequence[dict[str, Any]],
        position: Position,
        computed_at: datetime,
    ) -> list[Any]:
        headers = [(POSITION_HEADER, position.to_header())]
        sent = []
        for row in rows:
            value = encode(
                "RegionSnapshot",
                record_from_json("RegionSnapshot", snapshot(row, position.as_of, computed_at)),
            )
            sent.append(
                await producer.send(self._topic, key=row["region"].encode(), value=value, headers=headers)
            )
        return sent

    async def _send_public(
        self, producer: AIOKafkaProducer, rows: Sequence[dict[str, Any]], as_of: date, computed_at: datetime
    ) -> list[Any]:
        """The public forms, without the position header: its offsets and accepted-message count
        are exact figures of their own, not for the public reader."""
        sent = []
        for row in rows:
            value = encode(
                "PublicRegionSnapshot",
                record_from_json("PublicRegionSnapshot", snapshot(row, as_of, computed_at)),
            )
            assert self._public_topic is not None
            sent.append(await producer.send(self._public_topic, key=row["region"].encode(), value=value))
        return sent

    async def write_daily(self, rows: Sequence[DailyRow]) -> int:
        """Write the daily records whose keys are not on the daily topic, in one transaction;
        returns how many. A failure gives up the role and re-raises, like :meth:`publish`: the
        next take-over re-reads the daily topic, so a commit whose answer was lost is not repeated.
        """
        producer, ledger = self._producer, self.ledger
        if producer is None or ledger is None or self._daily_topic is None:
            raise RuntimeError("not the publisher of the daily figures")
        new = [r for r in rows if not ledger.has(r.row["region"], r.day)]
        if not new:
            return 0
        try:
            async with asyncio.timeout(ROUND_TIMEOUT_S):
                await producer.begin_transaction()
                sent = []
                for r in new:
                    value = encode(
                        "DailyRegionFigures", daily_value(r.row, r.day, r.computed_at, r.written_late)
                    )
                    headers = [(POSITION_HEADER, r.position.to_header())]
                    sent.append(
                        await producer.send(
                            self._daily_topic, key=r.key.encode(), value=value, headers=headers
                        )
                    )
                await asyncio.gather(*sent)
                await producer.commit_transaction()
        except BaseException as exc:
            await self.resign(f"writing daily figures failed: {type(exc).__name__}: {exc}")
            raise
        for r in new:
            ledger.saw(r.row["region"], r.day)
        late = sum(1 for r in new if r.written_late)
        self._metrics.daily_written.labels(late="true").inc(late)
        self._metrics.daily_written.labels(late="false").inc(len(new) - late)
        days = sorted({r.day for r in new})
        log.info(
            "daily figures written",
            extra={
                "days": [d.isoformat() for d in days],
                "records": len(new),
                "written_late": late,
            },
        )
        return len(new)


def _describe(position: Position | None) -> dict[str, Any] | None:
    if position is None:
        return None
    return {"as_of": position.as_of.isoformat(), "facts": list(position.facts), "accepted": position.accepted}


async def _nothing(value: _T) -> _T:
    """An awaitable of ``value`` (a topic this publisher does not write is not read)."""
    return value


async def _discard(producer: AIOKafkaProducer) -> None:
    try:
        async with asyncio.timeout(5.0):
            await producer.stop()
    except Exception as exc:  # a fenced or unreachable producer may not stop cleanly
        log.debug("snapshot producer did not stop cleanly", extra={"error": type(exc).__name__})
