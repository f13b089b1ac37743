"""The publish decision of the aggregate worker's timer (services/aggregate/publishing.py), with a
fake publisher and a hand-driven clock: caught up? elected? take over? retry later? changed?"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

from prometheus_client import generate_latest

from services.aggregate.figures import region_figures
from services.aggregate.history import DailyLedger, DailyRow
from services.aggregate.metrics import new_metrics
from services.aggregate.ordering import Position, may_follow
from services.aggregate.publishing import PublishRound
from services.aggregate.state import FiguresState
from services.regulator.targets import evaluate
from tests.unit.aggregate.aggregate_support import TABLE, Feed, facts_of

DAY = date(2026, 3, 31)
NOW = datetime(2026, 3, 31, 12, 0, tzinfo=UTC)


class FakePublisher:
    """Records what the round asked of it; fails the next take-overs/publishes on request."""

    def __init__(self) -> None:
        self.active = False
        self.pending = False
        self.calls: list[str] = []
        self.rounds: list[tuple[list[dict[str, Any]], Position, float]] = []
        self.fail_take_over = 0
        self.fail_publish = 0
        self.fail_daily = 0
        self.published: Position | None = None
        self.on_topic: dict[str, DailyRow] = {}
        """The daily topic: key -> the record committed under it (a second commit would fail the test)."""
        self.ledger: DailyLedger | None = None
        self.daily_rounds: list[list[DailyRow]] = []
        """What each write_daily call was given (``calls`` lists the snapshot side only)."""

    def may_publish(self, position: Position) -> bool:
        return may_follow(position, self.published)

    async def take_over(self, today: date) -> None:
        self.calls.append("take_over")
        if self.fail_take_over:
            self.fail_take_over -= 1
            raise ConnectionError("broker away")
        self.active = True
        self.ledger = DailyLedger(today - timedelta(days=31))  # read from the topic, as the real one does
        for row in self.on_topic.values():
            self.ledger.saw(row.row["region"], row.day)

    async def resign(self, reason: str) -> None:
        self.calls.append("resign")
        self.active = False
        self.ledger = None

    async def write_daily(self, rows: Sequence[DailyRow]) -> int:
        self.daily_rounds.append(list(rows))
        assert self.ledger is not None
        if self.fail_daily:
            self.fail_daily -= 1
            self.active, self.ledger = False, None
            raise ConnectionError("commit failed")
        new = [r for r in rows if not self.ledger.has(r.row["region"], r.day)]
        for r in new:
            assert r.key not in self.on_topic, f"{r.key} written twice"
            self.on_topic[r.key] = r
            self.ledger.saw(r.row["region"], r.day)
        return len(new)

    async def publish(
        self, rows: Sequence[dict[str, Any]], position: Position, computed_at: datetime, now: float
    ) -> int:
        self.calls.append("publish")
        if self.fail_publish:
            self.fail_publish -= 1
            self.active = False  # the real publisher gives up the role when a round fails
            raise ConnectionError("commit failed")
        self.rounds.append((list(rows), position, now))
        return len(rows)


class Setup:
    def __init__(self) -> None:
        self.state = FiguresState(TABLE, DAY)
        self.publisher = FakePublisher()
        self.metrics = new_metrics()
        self.now = 0.0
        self.day = DAY
        self.round = PublishRound(
            self.state, self.publisher, self.metrics, lambda: self.day, lambda: self.now
        )

    def add_youth(self, youth: str) -> None:
        [facts] = facts_of([Feed(youth).start("11111111", "P1", "2026-01-05")])
        self.state.upsert(youth, facts, 1)

    def tick(self, caught_up: bool = True, elected: bool = True) -> None:
        asyncio.run(self.round.tick(caught_up, lambda: elected))


def test_nothing_happens_before_the_state_has_caught_up() -> None:
    s = Setup()
    s.add_youth("y1")
    s.day = date(2026, 4, 1)
    s.tick(caught_up=False)
    assert s.publisher.calls == []
    assert s.state.as_of == DAY  # not even the date moves
    assert s.round.computed_version == -1


def test_a_worker_that_is_not_elected_computes_the_gauges_and_resigns() -> None:
    s = Setup()
    s.add_youth("y1")
    s.tick(elected=False)
    assert s.publisher.calls == ["resign"]
    assert s.round.computed_version == s.state.version
    assert b"jeugdhub_aggregate_youth_tracked 1.0" in generate_latest(s.metrics.registry)


def test_the_elected_worker_takes_over_then_publishes_only_what_changed() -> None:
    s = Setup()
    s.add_youth("y1")
    s.tick()
    assert s.publisher.calls == ["take_over", "publish"]
    rows, position, _ = s.publisher.rounds[0]
    assert rows == s.state.rows()
    assert position == s.state.position()

    s.tick()  # nothing changed
    assert s.publisher.calls == ["take_over", "publish"]

    s.add_youth("y2")
    s.tick()
    assert s.publisher.calls[-1] == "publish"
    assert s.publisher.rounds[-1][1].accepted == 2


def test_rows_held_back_by_the_interval_are_published_again_without_a_change() -> None:
    s = Setup()
    s.add_youth("y1")
    s.tick()
    s.publisher.pending = True
    s.now = 0.5
    s.tick()
    assert s.publisher.calls == ["take_over", "publish", "publish"]


def test_a_failed_take_over_is_retried_after_a_second_not_every_tick() -> None:
    s = Setup()
    s.publisher.fail_take_over = 1
    s.tick()
    s.now = 0.9
    s.tick()
    assert s.publisher.calls == ["take_over"]
    s.now = 1.0
    s.tick()
    assert s.publisher.calls == ["take_over", "take_over", "publish"]


def test_after_a_failed_publish_the_worker_takes_over_again_and_publishes_the_same_rows() -> None:
    s = Setup()
    s.add_youth("y1")
    s.publisher.fail_publish = 1
    s.tick()
    assert s.round.published_version == -1
    s.now = 0.5
    s.tick()
    assert s.publisher.calls == ["take_over", "publish"]
    s.now = 1.0
    s.tick()
    assert s.publisher.calls == ["take_over", "publish", "take_over", "publish"]
    assert s.publisher.rounds[-1][0] == s.state.rows()
    assert s.round.published_version == s.state.version


def test_a_new_day_recomputes_and_publishes_without_a_new_message() -> None:
    s = Setup()
    s.add_youth("y1")
    s.tick()
    s.day = date(2026, 4, 1)
    s.tick()
    assert s.state.as_of == date(2026, 4, 1)
    assert s.publisher.calls == ["take_over", "publish", "publish"]
    assert s.publisher.rounds[-1][1].as_of == date(2026, 4, 1)


# The provisional history: the day's rows captured when the date moves, written once per key.


def _written(s: Setup) -> dict[str, tuple[bool, dict[str, Any]]]:
    return {key: (r.written_late, r.row) for key, r in s.publisher.on_topic.items()}


def test_the_day_that_ends_is_written_from_the_rows_of_that_day_not_late() -> None:
    s = Setup()
    s.add_youth("y1")
    s.tick()  # empty daily topic: the history starts with yesterday, written late
    assert set(_written(s)) == {f"{r}:2026-03-30" for r in ("R1", "R2", "R3", "NL")}
    assert {late for late, _ in _written(s).values()} == {True}
    s.add_youth("y2")  # known before midnight
    rows_on_the_day = s.state.rows()
    s.day = DAY + timedelta(days=1)
    s.tick()
    day = {k: v for k, v in _written(s).items() if k.endswith(":2026-03-31")}
    assert day == {row["region"] + ":2026-03-31": (False, row) for row in rows_on_the_day}
    # The as-of moved on: what the state shows now is as of the new day, not what was written.
    assert s.state.as_of == DAY + timedelta(days=1)
    rounds = len(s.publisher.daily_rounds)
    s.tick()
    s.now = 5.0
    s.tick()
    assert len(s.publisher.daily_rounds) == rounds  # nothing due: written once


def test_a_worker_that_was_not_elected_at_midnight_still_writes_what_it_knew_then() -> None:
    s = Setup()
    s.add_youth("y1")
    s.tick(elected=False)
    rows_on_the_day = s.state.rows()
    s.day = DAY + timedelta(days=1)
    s.tick(elected=False)
    s.add_youth("y2")  # after midnight: not in the day's record
    s.tick()  # becomes the publisher
    day = {k: v for k, v in _written(s).items() if k.endswith(":2026-03-31")}
    assert day == {row["region"] + ":2026-03-31": (False, row) for row in rows_on_the_day}


def test_days_missed_while_down_are_written_late_from_the_state_one_per_round() -> None:
    s = Setup()
    for region in ("R1", "R2", "R3", "NL"):  # the previous publisher wrote up to 2026-03-27
        row = {**region_figures([], DAY, TABLE)[0], "region": region}
        s.publisher.on_topic[f"{region}:2026-03-27"] = DailyRow(
            date(2026, 3, 27), row, NOW, False, Position(DAY)
        )
    s.add_youth("y1")
    s.tick()
    assert sorted({k.split(":")[1] for k in _written(s)}) == ["2026-03-27", "2026-03-28"]
    for _ in range(3):
        s.tick()
    assert sorted({k.split(":")[1] for k in _written(s)}) == [
        "2026-03-27",
        "2026-03-28",
        "2026-03-29",
        "2026-03-30",
    ]
    for day in ("2026-03-28", "2026-03-29", "2026-03-30"):
        late = {k: v for k, v in _written(s).items() if k.endswith(day)}
        as_of = date.fromisoformat(day)
        assert late == {row["region"] + f":{day}": (True, row) for row in s.state.rows_as_of(as_of)}
    assert len(_written(s)) == 16


def test_no_late_day_is_written_while_the_state_is_behind_the_published_snapshots() -> None:
    s = Setup()
    s.add_youth("y1")
    s.publisher.published = Position(DAY, (100,), 100)  # the previous publisher was further
    s.tick()
    assert _written(s) == {}
    s.state.read_up_to(0, 100)
    s.tick()
    assert {k.split(":")[1] for k in _written(s)} == {"2026-03-30"}


def test_a_failed_daily_write_is_retried_after_a_take_over_and_written_once() -> None:
    s = Setup()
    s.add_youth("y1")
    s.publisher.fail_daily = 1
    s.tick()
    assert _written(s) == {} and s.publisher.calls == ["take_over"]  # no snapshots either
    s.now = 1.0
    s.tick()
    assert s.publisher.calls == ["take_over", "take_over", "publish"]
    assert len(_written(s)) == 4


# Targets: gauges per region and target, against baseline rows recomputed at most every 10 s.


def _gauges(s: Setup, name: str) -> dict[tuple[str, ...], float]:
    out = {}
    for family in s.metrics.registry.collect():
        for sample in family.samples:
            if sample.name == name:
                out[tuple(sorted(sample.labels.items()))] = sample.value
    return {tuple(v for _, v in k): value for k, value in out.items()}


def _with_baseline(baseline: date) -> Setup:
    s = Setup()
    s.round = PublishRound(
        s.state,
        s.publisher,
        s.metrics,
        lambda: s.day,
        lambda: s.now,
        baseline=baseline,
        baseline_interval_s=10,
    )
    return s


def test_target_gauges_evaluate_todays_rows_against_the_baseline_rows() -> None:
    baseline = date(2025, 12, 31)
    s = _with_baseline(baseline)
    for n, start in enumerate(["2025-06-01", "2025-07-01", "2026-01-05"]):  # two started before B
        [facts] = facts_of([Feed(f"y{n}").start("11111111", "P1", start)])
        s.state.upsert(f"y{n}", facts, 1)
    s.tick()
    values, met = _gauges(s, "jeugdhub_aggregate_target_value"), _gauges(s, "jeugdhub_aggregate_target_met")
    expected = {
        row_d["region"]: evaluate(row_d, row_b, DAY, baseline)
        for row_d, row_b in zip(s.state.rows(), s.state.rows_as_of(baseline), strict=True)
    }
    for region, results in expected.items():
        for result in results:
            value = values[(region, result.name)]
            assert value == result.value or (result.value is None and math.isnan(value)), (region, result)
            shown = met[(region, result.name)]
            assert shown == result.met or (result.met is None and math.isnan(shown)), (region, result)
    # NL: 3 closed placements started in the window as of D, 2 as of B; the path from 2 is below 3.
    assert values[("NL", "closed_placements")] == 3
    assert met[("NL", "closed_placements")] == 0
    assert _gauges(s, "jeugdhub_aggregate_target_baseline")[("NL", "closed_placements")] == 2
    assert math.isnan(values[("NL", "transfers_between_providers")])  # figure(B) = 0: null


def test_the_baseline_is_recomputed_after_a_change_but_at_most_every_interval() -> None:
    s = _with_baseline(date(2026, 1, 31))
    s.add_youth("y1")
    s.tick()
    first = s.round.baseline_version
    assert first == s.state.version
    s.add_youth("y2")
    s.now = 9.9
    s.tick()
    assert s.round.baseline_version == first  # too soon: today's rows move, the baseline waits
    assert _gauges(s, "jeugdhub_aggregate_target_value")[("NL", "closed_placements")] == 2
    s.now = 10.0
    s.tick()
    assert s.round.baseline_version == s.state.version
    assert s.round.baseline_rows == s.state.rows_as_of(date(2026, 1, 31))
    recomputations = _gauges(s, "jeugdhub_aggregate_full_recompute_seconds_count")
    s.now = 30.0
    s.tick()  # nothing changed: no recomputation
    assert _gauges(s, "jeugdhub_aggregate_full_recompute_seconds_count") == recomputations


def test_without_a_baseline_there_are_no_target_series() -> None:
    s = Setup()
    s.add_youth("y1")
    s.tick()
    assert _gauges(s, "jeugdhub_aggregate_target_value") == {}
    assert s.round.baseline_version == -1
