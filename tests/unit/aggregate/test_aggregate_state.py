"""FiguresState (latest facts per youth, upserts) and SnapshotThrottle (changed rows, rate limit)."""

from __future__ import annotations

from datetime import date

from services.aggregate.facts import YouthFacts
from services.aggregate.figures import region_figures
from services.aggregate.snapshots import SnapshotThrottle, snapshot
from services.aggregate.state import FiguresState
from tests.unit.aggregate.aggregate_support import TABLE, Feed, facts_of

D = date(2026, 3, 31)


def _facts(youth: str, start: str, end: str | None = None, municipality: str = "0363") -> YouthFacts:
    feed = Feed(youth, municipality)
    messages = [feed.start("10000001", "P1", start, care_type="gesloten")]
    if end is not None:
        messages.append(feed.end("10000001", "P1", end))
    return facts_of(messages)[0]


def _nl(rows: list[dict[str, object]]) -> dict[str, object]:
    return next(r for r in rows if r["region"] == "NL")


def test_upsert_replaces_and_repeats_change_nothing() -> None:
    state = FiguresState(TABLE, D)
    open_stay = _facts("y1", "2026-01-10")
    state.upsert("y1", open_stay)
    state.upsert("y1", open_stay)  # a replayed upsert
    assert _nl(state.rows())["occupancy"] == 1
    version = state.version
    state.upsert("y1", open_stay)
    assert state.version == version
    state.upsert("y1", _facts("y1", "2026-01-10", "2026-02-01"))  # the stay ended: replaced, not added
    assert _nl(state.rows())["occupancy"] == 0
    assert _nl(state.rows())["placements_started_12m"] == 1


def test_state_equals_batch_computation_and_follows_the_date() -> None:
    facts = {
        "y1": _facts("y1", "2025-04-01"),
        "y2": _facts("y2", "2025-03-30", "2025-12-01", municipality="0599"),
        "y3": _facts("y3", "2026-03-31", municipality="0014"),
    }
    state = FiguresState(TABLE, D)
    for youth, f in facts.items():
        state.upsert(youth, f)
    assert state.rows() == region_figures(facts.values(), D, TABLE)
    later = date(2026, 10, 1)
    state.set_as_of(later)
    assert state.rows() == region_figures(facts.values(), later, TABLE)
    state.remove("y2")
    assert state.rows() == region_figures([facts["y1"], facts["y3"]], later, TABLE)
    assert state.youth_count == 2


def test_throttle_sends_only_changed_rows_at_most_once_per_interval() -> None:
    state = FiguresState(TABLE, D)
    state.upsert("y1", _facts("y1", "2026-01-10"))
    throttle = SnapshotThrottle(min_interval_s=1.0)
    rows = state.rows()
    due = throttle.due(rows, D, now=100.0)
    assert [r["region"] for r in due] == [r["region"] for r in rows]  # first time: everything
    for row in due:
        throttle.published(row, D, 100.0)
    assert throttle.due(rows, D, now=100.5) == []  # nothing changed
    state.upsert("y2", _facts("y2", "2026-02-01", municipality="0599"))
    changed = state.rows()
    assert throttle.due(changed, D, now=100.5) == []  # changed, but too soon
    assert throttle.has_unpublished(changed, D)
    later = throttle.due(changed, D, now=101.0)
    assert {r["region"] for r in later} == {"R2", "NL"}
    for row in later:
        throttle.published(row, D, 101.0)
    assert not throttle.has_unpublished(changed, D)
    assert {r["region"] for r in throttle.due(changed, date(2026, 4, 1), now=102.5)} == {
        "R1",
        "R2",
        "R3",
        "NL",
    }


def test_snapshot_carries_as_of_and_computed_at() -> None:
    from datetime import UTC, datetime

    row = FiguresState(TABLE, D).rows()[0]
    snap = snapshot(row, D, datetime(2026, 3, 31, 12, 0, tzinfo=UTC))
    assert snap["as_of"] == "2026-03-31"
    assert snap["computed_at"] == "2026-03-31T12:00:00Z"
    assert snap["region"] == row["region"]
