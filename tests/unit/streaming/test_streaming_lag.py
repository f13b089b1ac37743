"""partition_lag: the rule behind the workers' lag gauges (the real-broker case is in
tests/integration/test_validate_lag_gauge.py)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from prometheus_client import CollectorRegistry, Gauge

from services.streaming.lag import partition_lag, source_caught_up, update_lag


def test_a_commit_marker_after_the_last_record_is_no_lag() -> None:
    # records 0..9, commit marker at 10, high water 11; the fetch position skipped the marker
    assert partition_lag(highwater=11, position=11, read_offset=9, processed=9) == 0


def test_records_not_yet_fetched_count() -> None:
    assert partition_lag(highwater=111, position=11, read_offset=9, processed=9) == 100


def test_records_fetched_but_not_processed_count() -> None:
    assert partition_lag(highwater=11, position=11, read_offset=9, processed=4) == 5


def test_without_a_position_the_old_rule_applies() -> None:
    assert partition_lag(highwater=11, position=None, read_offset=None, processed=9) == 1
    assert partition_lag(highwater=11, position=None, read_offset=10, processed=9) == 1


def test_a_stale_high_water_never_gives_negative_lag() -> None:
    assert partition_lag(highwater=5, position=11, read_offset=None, processed=9) == 0


def _app(states: dict[Any, Any], read: dict[Any, int]) -> Any:
    assignment = SimpleNamespace(state_value=lambda tp: states[tp])
    aiokafka_consumer = SimpleNamespace(
        _subscription=SimpleNamespace(subscription=SimpleNamespace(assignment=assignment))
    )
    thread = SimpleNamespace(_ensure_consumer=lambda: aiokafka_consumer)
    return SimpleNamespace(consumer=SimpleNamespace(_thread=thread, _read_offset=read))


def test_update_lag_sets_the_gauge_and_skips_partitions_it_cannot_read() -> None:
    from faust.types import TP

    registry = CollectorRegistry()
    gauge = Gauge("lag", "lag", ["partition"], registry=registry)
    states = {TP("raw", 0): SimpleNamespace(position=11, has_valid_position=True, highwater=11)}
    app = _app(states, {TP("raw", 0): 9})
    update_lag(app, gauge, "raw", {0: 9, 1: 3})  # partition 1 is no longer assigned: KeyError
    assert registry.get_sample_value("lag", {"partition": "0"}) == 0
    assert registry.get_sample_value("lag", {"partition": "1"}) is None


def test_caught_up_only_when_every_record_up_to_the_high_water_is_fetched_and_processed() -> None:
    """The retention sweep waits for this: a restarted worker must first apply the records after
    its last commit (services/aggregate/service.py, RetentionSweep)."""
    assert source_caught_up(highwater=10, position=10, read_offset=9, processed=9)
    assert source_caught_up(highwater=0, position=0, read_offset=None, processed=None)  # empty
    # faust's seek to the commit sets the read offset to it: nothing handed, nothing to wait for
    assert source_caught_up(highwater=10, position=10, read_offset=10, processed=None)
    assert source_caught_up(
        highwater=10, position=10, read_offset=10, processed=6
    )  # re-seek after a rebalance
    assert not source_caught_up(highwater=10, position=7, read_offset=6, processed=6)  # not fetched yet
    assert not source_caught_up(highwater=10, position=10, read_offset=9, processed=8)  # buffered
    assert not source_caught_up(
        highwater=10, position=10, read_offset=9, processed=None
    )  # read again, not applied
    assert not source_caught_up(
        highwater=None, position=0, read_offset=None, processed=None
    )  # no fetch answered
    assert not source_caught_up(highwater=10, position=None, read_offset=None, processed=None)  # rebalancing
