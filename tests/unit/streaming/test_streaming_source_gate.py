"""The transport consumer's gate for source records around rebalances and seeks (SourceGate).

The consumer's own records come from a stand-in for faust's fetch (``_wait_next_records``); what is checked is which
records reach faust's drainer, when the positions are reset and what happens to the drainer's read
offset and gaps. The whole path runs against real brokers in tests/faults/test_cluster_faults.py
(scenarios b and c) and tests/integration/test_aggregate_two_workers.py.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from aiokafka.structs import ConsumerRecord
from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types import TP

from services.settings import WorkerSettings
from services.streaming.faust_app import new_faust_app
from services.streaming.transport import Consumer, SourceGate, read_again_from

SOURCE = TP("jeugdhub.validated.v1", 0)


def test_records_pass_outside_rebalances() -> None:
    gate = SourceGate()
    assert gate.admit(fetched_in=0, rebalancing=False)
    assert not gate.reseek_due(rebalancing=False)


def test_records_during_a_rebalance_are_held_and_reread_after_it() -> None:
    gate = SourceGate()
    assert not gate.admit(fetched_in=0, rebalancing=True)
    assert not gate.reseek_due(rebalancing=True)  # not while the tables may still be recovering
    # After the rebalance, a record must not pass before the held ones are read again: faust would
    # count the held offsets before it as a gap, i.e. as done (seen: gap 161-603, 200 messages lost).
    assert not gate.admit(fetched_in=0, rebalancing=False)
    assert gate.reseek_due(rebalancing=False)
    assert gate.reseeked() == 2
    assert not gate.reseek_due(rebalancing=False)
    assert gate.admit(fetched_in=0, rebalancing=False)


def test_records_fetched_before_a_seek_are_held() -> None:
    gate = SourceGate()
    fetched_in = gate.epoch
    gate.seek_started()
    assert not gate.admit(fetched_in=fetched_in, rebalancing=False)
    assert not gate.admit(fetched_in=gate.epoch, rebalancing=False)  # held ones first
    assert gate.reseek_due(rebalancing=False)
    gate.reseeked()
    assert gate.admit(fetched_in=gate.epoch, rebalancing=False)


@pytest.mark.parametrize(
    ("read_offset", "offset", "again"),
    [(None, 5, False), (5, 5, False), (5, 6, False), (5, 4, True), (371, 183, True)],
)
def test_read_again_only_below_the_read_offset(read_offset: int | None, offset: int, again: bool) -> None:
    assert read_again_from(read_offset, offset) is again


def _record(tp: TP, offset: int) -> ConsumerRecord[bytes, bytes]:
    return ConsumerRecord(
        tp.topic, tp.partition, offset, 1_700_000_000_000 + offset, 0, None, b"v", None, 0, 1, []
    )


def _consumer(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fetched: list[list[tuple[TP, int]]]) -> Any:
    """The app's transport consumer with its fetch (faust's ``_wait_next_records``) and
    perform_seek replaced by recorders; each item of *fetched* is one fetch's records."""
    app = new_faust_app(WorkerSettings(app_id="gatetest", data_dir=tmp_path), partitions=6)
    app.Table("dedup", key_type=str, partitions=6, use_partitioner=True)
    consumer = app.consumer
    assert isinstance(consumer, Consumer)
    batches = iter(fetched)

    async def wait_next_records(self: Any, timeout: float) -> tuple[dict[TP, list[Any]], None]:
        records: dict[TP, list[Any]] = {}
        for tp, offset in next(batches, []):
            records.setdefault(tp, []).append(_record(tp, offset))
        return records, None

    monkeypatch.setattr(faust_aiokafka.Consumer, "_wait_next_records", wait_next_records)
    monkeypatch.setattr(faust_aiokafka.Consumer, "highwater", lambda self, tp: 0)
    seeks: list[int] = []

    async def perform_seek(self: Any) -> None:
        seeks.append(len(seeks) + 1)

    monkeypatch.setattr(faust_aiokafka.Consumer, "perform_seek", perform_seek)
    setattr(consumer, "seeks", seeks)  # noqa: B010 - read back by the tests
    app.rebalancing = False
    return consumer


async def _drain(consumer: Any) -> list[tuple[str, int]]:
    return [(tp.topic, message.offset) async for tp, message in consumer.getmany(timeout=0.0)]


def test_source_records_fetched_while_rebalancing_are_read_again_after_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    changelog = TP("gatetest-dedup-changelog", 0)
    consumer = _consumer(
        tmp_path, monkeypatch, [[(SOURCE, 10), (changelog, 3), (SOURCE, 11)], [(SOURCE, 10)]]
    )
    assert changelog.topic in consumer.app.tables.changelog_topics

    async def scenario() -> tuple[list[tuple[str, int]], list[int], list[tuple[str, int]], list[int]]:
        consumer.app.rebalancing = True
        during = await _drain(consumer)
        seeks_during = list(consumer.seeks)
        consumer.app.rebalancing = False
        after = await _drain(consumer)
        return during, seeks_during, after, list(consumer.seeks)

    during, seeks_during, after, seeks_after = asyncio.run(scenario())
    assert during == [(changelog.topic, 3)]  # table recovery goes on; the source waits
    assert seeks_during == []
    assert seeks_after == [1]  # back to the committed offsets before fetching again
    assert after == [(SOURCE.topic, 10)]


def test_a_record_read_again_below_the_read_offset_is_not_dropped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    consumer = _consumer(tmp_path, monkeypatch, [[(SOURCE, 94), (SOURCE, 95)]])
    consumer._read_offset[SOURCE] = 762  # set by a record in flight during the seek
    consumer._gap[SOURCE].addi(300, 400)  # recorded from records before the seek
    consumer._gap[SOURCE].addi(10, 20)  # before the record read again: kept
    seen = asyncio.run(_drain(consumer))
    assert seen == [(SOURCE.topic, 94), (SOURCE.topic, 95)]
    assert consumer._read_offset[SOURCE] == 94  # the drainer now takes 94 instead of dropping it
    assert sorted((i.begin, i.end) for i in consumer._gap[SOURCE]) == [(10, 20)]


def test_source_partitions_without_a_commit_are_sought_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """aiokafka seeks only to commits above 0: held records there would never be read again (seen:
    2 of 4,498 messages missing after the first rebalance of a new group)."""
    consumer = _consumer(tmp_path, monkeypatch, [])
    fresh, zero, committed = (TP(SOURCE.topic, p) for p in (1, 2, 3))
    changelog = TP("gatetest-dedup-changelog", 1)
    sought: list[tuple[TP, int]] = []

    async def seek_to_committed(self: Any) -> dict[TP, int | None]:
        return {fresh: None, zero: 0, committed: 40, changelog: None}

    async def earliest_offsets(self: Any, *tps: TP) -> dict[TP, int]:
        return dict.fromkeys(tps, 7)

    async def _seek(self: Any, tp: TP, offset: int) -> None:
        sought.append((tp, offset))

    monkeypatch.setattr(faust_aiokafka.Consumer, "seek_to_committed", seek_to_committed)
    monkeypatch.setattr(faust_aiokafka.Consumer, "earliest_offsets", earliest_offsets)
    monkeypatch.setattr(faust_aiokafka.Consumer, "_seek", _seek)
    result = asyncio.run(consumer.seek_to_committed())
    assert sorted(sought) == sorted([(fresh, 7), (zero, 0)])  # the changelog is recovery's business
    assert result[committed] == 40
