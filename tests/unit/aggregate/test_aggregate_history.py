"""The provisional history's pure parts (services/aggregate/history.py) and the state's figures as
of another date (FiguresState.rows_as_of): which days are due, with which rows, and that a day
written once is never due again."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hubdev.paths import SPEC_EXAMPLES
from services.aggregate.facts import YouthFacts, build_youth_facts
from services.aggregate.figures import region_figures
from services.aggregate.history import (
    DailyLedger,
    DayCaptures,
    DayDue,
    EndOfDay,
    candidate_days,
    daily_key,
    daily_value,
    due_days,
    parse_daily_key,
    rows_to_write,
)
from services.aggregate.ordering import Position
from services.aggregate.state import FiguresState
from services.contracts.canonical import record_to_json
from services.contracts.codec import decode, encode
from services.contracts.regions import RegionTable, load_region_table
from tests.unit.aggregate.aggregate_support import EXAMPLE_AS_OF, TABLE, example_accepted_by_youth

D = date(2026, 3, 31)
REGIONS = ("R1", "R2", "R3", "NL")
NOW = datetime(2026, 4, 1, 8, 0, tzinfo=UTC)


def _example() -> tuple[RegionTable, dict[str, YouthFacts]]:
    regions = load_region_table(SPEC_EXAMPLES / "regions.csv")
    facts = {
        youth: build_youth_facts(messages, regions) for youth, messages in example_accepted_by_youth().items()
    }
    return regions, facts


needs_example = pytest.mark.skipif(
    not (SPEC_EXAMPLES / "regions.csv").is_file(), reason=f"worked example not found at {SPEC_EXAMPLES}"
)


@needs_example
@settings(max_examples=40, deadline=None)
@given(st.dates(min_value=date(2024, 1, 1), max_value=date(2027, 12, 31)))
def test_rows_as_of_another_date_equal_region_figures_and_leave_the_state_alone(day: date) -> None:
    regions, facts = _example()
    state = FiguresState(regions, EXAMPLE_AS_OF)
    for youth, youth_facts in facts.items():
        state.upsert(youth, youth_facts, 1)
    version, rows, position = state.version, state.rows(), state.position()

    assert state.rows_as_of(day) == region_figures(facts.values(), day, regions)
    assert (state.version, state.rows(), state.position(), state.as_of) == (
        version,
        rows,
        position,
        EXAMPLE_AS_OF,
    )
    state.set_as_of(day)  # the same figures as the state computes incrementally for that date
    assert state.rows() == region_figures(facts.values(), day, regions)


def test_rows_as_of_the_current_date_are_the_rows() -> None:
    state = FiguresState(TABLE, D)
    assert state.rows_as_of(D) == state.rows()


def test_daily_keys_name_the_region_and_the_day() -> None:
    assert daily_key("NL", D) == "NL:2026-03-31"
    assert parse_daily_key(b"VB01:2026-03-31") == ("VB01", D)
    assert parse_daily_key("A:B:2026-03-31") == ("A:B", D)  # the date is after the last colon
    for bad in (None, b"NL", b":2026-03-31", b"NL:2026-02-30", b"\xff:2026-03-31"):
        assert parse_daily_key(bad) is None


def test_a_daily_value_is_the_snapshot_plus_written_late() -> None:
    row = region_figures([], D, TABLE)[0]
    value = record_to_json(
        "DailyRegionFigures",
        decode("DailyRegionFigures", encode("DailyRegionFigures", daily_value(row, D, NOW, True))),
    )
    assert value == {
        **row,
        "as_of": "2026-03-31",
        "computed_at": "2026-04-01T08:00:00Z",
        "written_late": True,
    }


def _ledger(since: date, days: dict[date, tuple[str, ...]]) -> DailyLedger:
    ledger = DailyLedger(since)
    for day, regions in days.items():
        for region in regions:
            ledger.saw(region, day)
    return ledger


def test_an_empty_topic_starts_with_yesterday() -> None:
    assert candidate_days(DailyLedger(D - timedelta(days=31)), D, 31) == [D - timedelta(days=1)]


def test_days_since_the_first_on_the_topic_but_at_most_the_late_bound() -> None:
    first = D - timedelta(days=3)
    ledger = _ledger(D - timedelta(days=31), {first: REGIONS})
    assert candidate_days(ledger, D, 31) == [first + timedelta(days=n) for n in range(3)]
    old = _ledger(D - timedelta(days=400), {D - timedelta(days=300): REGIONS})
    assert candidate_days(old, D, 7) == [D - timedelta(days=n) for n in range(7, 0, -1)]


def test_days_before_the_ledgers_horizon_are_never_due() -> None:
    """A ledger knows nothing of days before ``since``; an as-of date moved back must not make
    them look missing (they would be written twice)."""
    ledger = _ledger(D, {D: REGIONS})
    assert candidate_days(ledger, D - timedelta(days=2), 31) == []
    assert due_days(ledger, [], D + timedelta(days=1), REGIONS, 31) == []


def test_due_days_lists_only_missing_keys_with_this_workers_capture() -> None:
    ledger = _ledger(
        D - timedelta(days=31), {D - timedelta(days=2): REGIONS, D - timedelta(days=1): ("R1", "NL")}
    )
    capture = EndOfDay(D, tuple(region_figures([], D, TABLE)), Position(D, (5,), 3), NOW)
    due = due_days(ledger, [capture], D + timedelta(days=1), REGIONS, 31)
    assert due == [DayDue(D - timedelta(days=1), ("R2", "R3"), None), DayDue(D, REGIONS, capture)]


def _late_rows(calls: list[date]) -> Any:
    def rows(day: date) -> list[dict[str, Any]]:
        calls.append(day)
        return region_figures([], day, TABLE)

    return rows


def test_captured_days_go_out_as_captured_and_one_late_day_per_round() -> None:
    yesterday = D - timedelta(days=1)
    capture = EndOfDay(
        yesterday, tuple(region_figures([], yesterday, TABLE)), Position(yesterday, (4,), 2), NOW
    )
    due = [
        DayDue(D - timedelta(days=3), ("R2",), None),
        DayDue(D - timedelta(days=2), REGIONS, None),
        DayDue(yesterday, REGIONS, capture),
    ]
    calls: list[date] = []
    position = Position(D, (9, 1), 7)
    rows = rows_to_write(due, _late_rows(calls), NOW, position, may_compute_late=True)
    assert calls == [D - timedelta(days=3)]  # one recomputation, then the round ends
    assert [(r.key, r.written_late) for r in rows] == [("R2:2026-03-28", True)]
    assert rows[0].position == Position(D - timedelta(days=3), (9, 1), 7)

    captured_first = rows_to_write(due[2:], _late_rows(calls), NOW, position, may_compute_late=True)
    assert [r.key for r in captured_first] == [f"{r}:2026-03-30" for r in REGIONS]
    assert {(r.written_late, r.computed_at, r.position) for r in captured_first} == {
        (False, NOW, capture.position)
    }
    assert [r.row for r in captured_first] == list(capture.rows)


def test_no_late_day_while_the_state_is_behind_what_is_published() -> None:
    calls: list[date] = []
    due = [DayDue(D - timedelta(days=1), REGIONS, None)]
    assert rows_to_write(due, _late_rows(calls), NOW, Position(D), may_compute_late=False) == []
    assert calls == []


def test_captures_keep_the_first_of_a_day_and_drop_old_ones() -> None:
    captures = DayCaptures(keep_days=2)

    def end(day: date, accepted: int) -> EndOfDay:
        return EndOfDay(day, (), Position(day, (), accepted), NOW)

    captures.capture(end(D, 1), D + timedelta(days=1))
    captures.capture(end(D, 2), D + timedelta(days=1))
    assert [c.position.accepted for c in captures.all()] == [1]
    captures.capture(end(D + timedelta(days=2), 3), D + timedelta(days=3))
    assert [c.day for c in captures.all()] == [D + timedelta(days=2)]
