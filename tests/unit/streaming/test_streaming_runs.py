"""Source records delivered as runs (services/streaming/runs.py) and what faust commits for them.

The records come from a stand-in for faust's fetch (``_wait_next_records``); faust's own drainer
(``Consumer._drain_messages``, with mode's sleep and wait replaced) hands them to a recording callback, so the read offsets and gaps
are faust's, and the committable offset is faust's ``_new_offset``. The whole path runs against a
real broker in tests/integration/test_validate_*.py, test_aggregate_*.py and tests/faults.
"""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from aiokafka.structs import ConsumerRecord
from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types import TP
from hypothesis import given, settings
from hypothesis import strategies as st

from services.settings import WorkerSettings
from services.streaming.faust_app import new_faust_app
from services.streaming.runs import RunMessage, records_of, run_offsets, run_size, run_topics, take_runs
from services.streaming.transport import Consumer

SOURCE = TP("jeugdhub.raw.v1", 0)


def _record(tp: TP, offset: int) -> ConsumerRecord[bytes, bytes]:
    return ConsumerRecord(
        tp.topic, tp.partition, offset, 1_700_000_000_000 + offset, 0, b"k", b"v", None, 1, 1, []
    )


def _consumer(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fetched: list[list[tuple[TP, int]]]) -> Any:
    """The transport consumer of an app whose source topic is delivered as runs; each item of
    *fetched* is one fetch's records; the fetcher stops after the last."""
    app = new_faust_app(WorkerSettings(app_id="runtest", data_dir=tmp_path), partitions=6)
    run_topics(app).add(SOURCE.topic)
    app.topics.acking_topics.add(SOURCE.topic)  # the conductor does this for an agent's topic
    app.rebalancing = False
    consumer = app.consumer
    assert isinstance(consumer, Consumer)
    batches = iter(fetched)
    fetcher = SimpleNamespace(_stopped=asyncio.Event())
    setattr(consumer, "fetcher", fetcher)  # noqa: B010 - read back by _drain

    async def wait_next_records(self: Any, timeout: float) -> tuple[dict[TP, list[Any]], None]:
        batch = next(batches, None)
        if batch is None:
            fetcher._stopped.set()
            return {}, None
        records: dict[TP, list[Any]] = {}
        for tp, offset in batch:
            records.setdefault(tp, []).append(_record(tp, offset))
        return records, None

    monkeypatch.setattr(faust_aiokafka.Consumer, "_wait_next_records", wait_next_records)
    monkeypatch.setattr(faust_aiokafka.Consumer, "highwater", lambda self, tp: 0)
    return consumer


def _drain(consumer: Any) -> list[Any]:
    """faust's drainer over every fetch; returns the messages it handed to the conductor."""
    delivered: list[Any] = []

    async def callback(message: Any) -> None:
        delivered.append(message)

    async def no_sleep(seconds: float) -> None:
        await asyncio.sleep(0)

    async def wait_first(delivery: Any, suspended: Any) -> None:
        suspended.close()  # mode's events belong to the loop the app was made in; never set here
        await delivery

    consumer.callback = callback
    consumer.sleep = no_sleep
    consumer.wait_first = wait_first

    async def run() -> None:
        await asyncio.wait_for(consumer._drain_messages(consumer.fetcher), timeout=10)

    asyncio.run(run())
    return delivered


def _gaps(consumer: Any, tp: TP) -> list[tuple[int, int]]:
    return sorted((interval.begin, interval.end) for interval in consumer._gap[tp])


def test_a_partitions_fetched_records_are_one_run_event(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    other = TP(SOURCE.topic, 3)
    consumer = _consumer(tmp_path, monkeypatch, [[(SOURCE, 10), (other, 4), (SOURCE, 11), (SOURCE, 13)]])
    delivered = _drain(consumer)
    assert [type(m) for m in delivered] == [RunMessage, RunMessage]
    run = next(m for m in delivered if m.tp == SOURCE)
    assert (run.first_offset, run.offset) == (10, 13)
    assert [r.offset for r in run.records] == [10, 11, 13]
    assert (run.key, run.value) == (None, None)
    assert run_size(run) == 3
    assert consumer._read_offset[SOURCE] == 13  # the last record handed over
    assert _gaps(consumer, SOURCE) == []  # the run's own offsets are no gap: only an ack marks them
    event = SimpleNamespace(message=run)
    assert [r.offset for r in records_of([event])] == [10, 11, 13]


def test_records_of_refuses_a_single_record_event() -> None:
    message = SimpleNamespace(topic="t")
    with pytest.raises(TypeError):
        records_of([SimpleNamespace(message=message)])


def test_only_offsets_between_runs_are_gaps(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    consumer = _consumer(tmp_path, monkeypatch, [[(SOURCE, 10), (SOURCE, 11)], [(SOURCE, 13), (SOURCE, 15)]])
    consumer._read_offset[SOURCE] = 10  # where perform_seek puts it: the committed offset
    consumer._committed_offset[SOURCE] = 10
    runs = _drain(consumer)
    assert [(m.first_offset, m.offset) for m in runs] == [(10, 11), (13, 15)]
    assert _gaps(consumer, SOURCE) == [(12, 13)]  # the transaction marker between the two fetches


def test_a_run_is_committed_only_once_acknowledged(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    consumer = _consumer(
        tmp_path, monkeypatch, [[(SOURCE, 10), (SOURCE, 11), (SOURCE, 13)], [(SOURCE, 15), (SOURCE, 17)]]
    )
    consumer._read_offset[SOURCE] = 10
    consumer._committed_offset[SOURCE] = 10
    first, second = _drain(consumer)
    assert consumer._new_offset(SOURCE) is None  # nothing acknowledged
    assert second.ack(consumer)  # the later run first: the earlier one still holds the commit back
    assert consumer._new_offset(SOURCE) is None
    assert first.ack(consumer)
    assert consumer._new_offset(SOURCE) == 18  # both runs and the marker between them
    assert not first.ack(consumer)  # an event is acknowledged once


def test_a_run_partly_below_the_commit_marks_only_from_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    consumer = _consumer(tmp_path, monkeypatch, [[(SOURCE, 5), (SOURCE, 6), (SOURCE, 7), (SOURCE, 8)]])
    consumer._committed_offset[SOURCE] = 7
    (run,) = _drain(consumer)
    assert run.ack(consumer)
    assert sorted(consumer._acked[SOURCE]) == [7, 8]
    assert consumer._new_offset(SOURCE) == 9


def test_a_run_read_again_after_a_seek_is_not_dropped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    consumer = _consumer(tmp_path, monkeypatch, [[(SOURCE, 94), (SOURCE, 95)]])
    consumer._read_offset[SOURCE] = 762  # set by a run in flight during the seek
    consumer._gap[SOURCE].addi(300, 400)  # recorded before the seek: forgotten
    consumer._gap[SOURCE].addi(10, 20)  # before the run read again: kept
    (run,) = _drain(consumer)
    assert (run.first_offset, run.offset) == (94, 95)
    assert consumer._read_offset[SOURCE] == 95
    assert _gaps(consumer, SOURCE) == [(10, 20)]


def test_a_run_fetched_while_rebalancing_is_held_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    consumer = _consumer(tmp_path, monkeypatch, [[(SOURCE, 1), (SOURCE, 2), (SOURCE, 3)]])
    consumer.app.rebalancing = True
    assert _drain(consumer) == []
    assert consumer.gate.held == 3


@settings(max_examples=200, deadline=None)
@given(
    first=st.integers(0, 50),
    length=st.integers(1, 30),
    committed=st.one_of(st.none(), st.integers(0, 90)),
    already=st.sets(st.integers(0, 90), max_size=10),
)
def test_run_offsets_are_the_runs_unmarked_offsets_from_the_commit(
    first: int, length: int, committed: int | None, already: set[int]
) -> None:
    last = first + length - 1
    marked = run_offsets(first, last, committed, already)
    floor = first if committed is None else max(first, committed)
    assert marked == sorted(marked)
    assert set(marked) == {o for o in range(first, last) if o >= floor and o not in already}


class _Stream:
    """The parts of a faust ``Stream`` that ``take_runs`` uses; its passive drainer feeds *events*
    one by one through the processors, as faust's does."""

    def __init__(self, events: list[Any]) -> None:
        self.events = events
        self.enable_acks = True
        self._processors: list[Any] = []
        self.current_event: Any = None
        self.should_stop = False
        self.loop = asyncio.get_running_loop()
        self.channel = self
        self.acked: list[Any] = []
        self.log = SimpleNamespace(exception=lambda *args: None)

    def __aiter__(self) -> _Stream:
        return self

    async def __anext__(self) -> Any:
        raise StopAsyncIteration

    def add_processor(self, processor: Any) -> None:
        self._processors.append(processor)

    def _enable_passive(self, channel: Any) -> None:
        self.feeder = asyncio.ensure_future(self._feed())

    async def _feed(self) -> None:
        for event in self.events:
            self.current_event = event
            for processor in list(self._processors):
                await processor(event)

    async def wait(self, event: asyncio.Event) -> None:
        await event.wait()

    async def wait_for_stopped(self, event: asyncio.Event, timeout: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(event.wait(), timeout)

    async def ack(self, event: Any) -> None:
        self.acked.append(event)

    async def crash(self, exc: BaseException) -> None:
        raise exc


def _run_event(first: int, size: int) -> Any:
    return SimpleNamespace(
        message=RunMessage(SOURCE, [_record(SOURCE, o) for o in range(first, first + size)], 0)
    )


def test_take_runs_counts_records_and_acknowledges_a_batch_only_after_it_was_handled() -> None:
    async def scenario() -> tuple[list[list[int]], list[list[int]], bool]:
        stream = _Stream([_run_event(0, 300), _run_event(300, 300), _run_event(600, 100)])
        batches: list[list[int]] = []
        acked_while_handling: list[list[int]] = []
        generator = take_runs(stream, 500, 0.05)
        async for events in generator:
            batches.append([len(e.message.records) for e in events])
            acked_while_handling.append([len(e.message.records) for e in stream.acked])
            if len(batches) == 2:
                break
        await generator.aclose()
        stream.feeder.cancel()
        return batches, acked_while_handling, stream.enable_acks

    batches, acked_while_handling, enable_acks = asyncio.run(scenario())
    assert batches == [[300, 300], [100]]  # closed at 600 >= 500 records; whole runs, never split
    assert acked_while_handling == [[], [300, 300]]  # a batch's runs only once the next is asked for
    assert enable_acks  # the stream's own acking is restored
