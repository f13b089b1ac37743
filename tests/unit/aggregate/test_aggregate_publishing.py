"""The publish decision of the aggregate worker's timer (services/aggregate/publishing.py), with a
fake publisher and a hand-driven clock: caught up? elected? take over? retry later? changed?"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from prometheus_client import generate_latest

from services.aggregate.metrics import new_metrics
from services.aggregate.ordering import Position
from services.aggregate.publishing import PublishRound
from services.aggregate.state import FiguresState
from tests.unit.aggregate.aggregate_support import TABLE, Feed, facts_of

DAY = date(2026, 3, 31)


class FakePublisher:
    """Records what the round asked of it; fails the next take-overs/publishes on request."""

    def __init__(self) -> None:
        self.active = False
        self.pending = False
        self.calls: list[str] = []
        self.rounds: list[tuple[list[dict[str, Any]], Position, float]] = []
        self.fail_take_over = 0
        self.fail_publish = 0

    async def take_over(self) -> None:
        self.calls.append("take_over")
        if self.fail_take_over:
            self.fail_take_over -= 1
            raise ConnectionError("broker away")
        self.active = True

    async def resign(self, reason: str) -> None:
        self.calls.append("resign")
        self.active = False

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
