"""Source records delivered to the agents as *runs*: one faust event per fetched run of a partition.

faust turns every consumed record into a ``Message`` and an ``Event`` and passes each one through
its drainer (a task per record), the conductor, the stream's queue, processors and sensors, and an
acknowledgement: about 60 µs of a worker's CPU per record before the agent sees it, more than
the hub's own work per message (docs/performance.md, "Batch agents"). A hub agent handles whole
batches anyway, so the transport's consumer (services/streaming/transport.py) hands it, for the
source topics registered here, one :class:`RunMessage` per partition per fetch: the records
aiokafka returned for that partition, in offset order, with the message's offset being the run's
last. faust's machinery then runs once per run instead of once per record.

The commit rule is unchanged: acknowledging a run (after its batch's outputs were acknowledged by
Kafka) marks every offset from its first to its last record as done (``Consumer.ack``), and a run
not acknowledged holds back every commit of its partition at its first offset, exactly like a
single unacknowledged record. See docs/architecture.md, "Delivery and commits".
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Sequence
from typing import Any, Protocol

import faust
from faust.types import TP
from faust.types.tuples import ConsumerMessage
from mode.utils.futures import notify

RUN_QUEUE_RUNS = 8
"""How many runs an agent's stream queue holds. faust's default (``stream_buffer_maxsize``, 4096)
counts events; 4,096 runs of up to a whole fetch each would be millions of records in memory.
The conductor pauses a partition's fetching once the queue is under pressure (at 1/1.25 of this)."""

_REGISTRY_ATTRIBUTE = "_jeugdhub_run_topics"


class SourceRecord(Protocol):
    """A consumed record as aiokafka returns it (``ConsumerRecord``; ``timestamp`` in milliseconds)."""

    @property
    def topic(self) -> str: ...

    @property
    def partition(self) -> int: ...

    @property
    def offset(self) -> int: ...

    @property
    def timestamp(self) -> int: ...

    @property
    def key(self) -> bytes | None: ...

    @property
    def value(self) -> bytes | None: ...


class RunMessage(ConsumerMessage):
    """A fetched run of one partition's records as one faust message.

    ``offset`` is the last record's (what faust's drainer keeps as the partition's read offset),
    ``first_offset`` the first's; key and value are None (the codecs pass None through), the
    records are in ``records``.
    """

    __slots__ = ("first_offset", "records")

    def __init__(self, tp: TP, records: Sequence[Any], generation_id: int | None) -> None:
        last = records[-1]
        super().__init__(
            tp.topic,
            tp.partition,
            last.offset,
            last.timestamp / 1000.0,  # faust's unit
            last.timestamp_type,
            None,
            None,
            None,
            None,
            0,
            0,
            tp,
            generation_id=generation_id,
        )
        self.records: Sequence[Any] = records
        self.first_offset: int = records[0].offset


def run_topics(app: Any) -> set[str]:
    """The source topics whose records *app*'s consumer delivers as runs."""
    registered: set[str] | None = app.__dict__.get(_REGISTRY_ATTRIBUTE)
    if registered is None:
        registered = set()
        app.__dict__[_REGISTRY_ATTRIBUTE] = registered
    return registered


def source_topic(app: faust.App, name: str) -> Any:
    """The faust topic of an agent's source, raw bytes in and out, delivered as runs."""
    run_topics(app).add(name)
    return app.topic(
        name,
        key_type=bytes,
        value_type=bytes,
        key_serializer="raw",
        value_serializer="raw",
        maxsize=RUN_QUEUE_RUNS,
    )


def run_size(message: Any) -> int:
    """Records in a consumed message: a run's count, 1 for any other message."""
    return len(message.records) if isinstance(message, RunMessage) else 1


def records_of(events: Sequence[Any]) -> list[Any]:
    """The consumed records of a batch of run events, in delivery order (per partition: by offset)."""
    records: list[Any] = []
    for event in events:
        message = event.message
        if not isinstance(message, RunMessage):
            raise TypeError(f"expected a run of records from {message.topic}, got one record")
        records.extend(message.records)
    return records


def run_offsets(first: int, last: int, committed: int | None, already: set[int]) -> list[int]:
    """The offsets that acknowledging the run ``first..last`` marks as done, besides ``last``.

    Offsets between records of one fetch (transaction markers, records of aborted transactions)
    belong to the run. Below the committed offset nothing is marked again (faust's own rule for a
    record), nor an offset marked already.
    """
    start = first if committed is None else max(first, committed)
    return [offset for offset in range(start, last) if offset not in already]


class _Batch:
    """The events gathered for the next batch of :func:`take_runs`, and their record count."""

    def __init__(self, stream: Any, max_records: int) -> None:
        self.stream = stream
        self.max_records = max_records
        self.events: list[Any] = []
        self.size = 0
        self.full = asyncio.Event()
        self.consumed = asyncio.Event()
        self.consuming: asyncio.Future[None] | None = None

    async def add(self, value: Any) -> Any:
        """The stream processor: add the current event; once full, wait until it was handled."""
        stream = self.stream
        try:
            consuming = self.consuming
            if consuming is not None:  # the previous batch is being handled: wait for its acks
                try:
                    await consuming
                finally:
                    self.consuming = None
            event = stream.current_event
            if event is None:
                raise RuntimeError("take_runs found current_event is None")
            self.events.append(event)
            self.size += run_size(event.message)
            if self.size >= self.max_records:
                self.full.set()
                self.consumed.clear()
                await stream.wait(self.consumed)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            stream.log.exception("Error adding to take_runs batch: %r", exc)
            await stream.crash(exc)
        return value

    async def handled(self) -> None:
        """Acknowledge the batch's events and let the next batch fill."""
        for event in self.events:
            await self.stream.ack(event)
        self.events.clear()
        self.size = 0
        notify(self.consuming)
        self.full.clear()
        self.consumed.set()


async def take_runs(stream: Any, max_records: int, within_s: float) -> AsyncGenerator[list[Any], None]:
    """faust's ``Stream.take_events`` with the batch measured in records instead of events.

    Yields the events (runs) that arrived within ``within_s`` seconds, or as soon as they hold at
    least ``max_records`` records; a run is never split. As in ``take_events`` the events are
    acknowledged only when the consumer of this generator asks for the next batch, i.e. after it
    handled this one; a batch whose handler raises must not come back here (delivery.py stops the
    process instead, since this ``finally`` would acknowledge it).
    """
    batch = _Batch(stream, max_records)
    enable_acks: bool = stream.enable_acks
    stream.enable_acks = False  # acknowledged by batch.handled(), after the batch was handled
    stream.add_processor(batch.add)
    stream._enable_passive(aiter(stream.channel))
    try:
        while not stream.should_stop:
            await stream.wait_for_stopped(batch.full, timeout=within_s)
            if batch.events:
                batch.consuming = stream.loop.create_future()
                try:
                    yield list(batch.events)
                finally:
                    await batch.handled()
    finally:
        stream.enable_acks = enable_acks
        stream._processors.remove(batch.add)
