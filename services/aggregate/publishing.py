"""The publish decision of the aggregate worker, without faust: every timer tick, recompute the
figures when the state changed and decide whether this worker publishes them now.

In order: nothing before the figures state has read the youth-facts topic up to where it stood at
start (no partial figures after a restart); the as-of date moves with the clock, and when it moves
forward every worker first captures its rows as of the day that ended (the provisional history,
``history.py``); the rows and gauges are recomputed when the state's version changed; a worker that
is not elected (does not own validated partition 0) resigns the role; an elected worker that is not
the publisher yet takes over (fencing the previous one), at most once a second after a failure; it
writes the days missing on the daily topic (captured ones as captured, at most one late day per
round); and it publishes when the rows changed since it last published or rows were held back by
the per-region interval.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime
from typing import Any, Protocol

from services.aggregate.clock import Today
from services.aggregate.history import (
    DEFAULT_MAX_LATE_DAYS,
    DailyLedger,
    DailyRow,
    DayCaptures,
    EndOfDay,
    due_days,
    rows_to_write,
)
from services.aggregate.metrics import AggregateMetrics
from services.aggregate.ordering import Position
from services.aggregate.state import FiguresState

log = logging.getLogger("jeugdhub.aggregate")

RETRY_AFTER_S = 1.0
"""After a failed take-over or publish round, wait this long before taking over again."""
BASELINE_INTERVAL_S = 10.0
"""The targets' baseline rows (a full recomputation as of the baseline date) are recomputed after a
change of the state, but at most this often."""


class Publisher(Protocol):
    """What the decision needs of :class:`services.aggregate.publisher.SnapshotPublisher`."""

    @property
    def active(self) -> bool: ...

    @property
    def pending(self) -> bool: ...

    @property
    def ledger(self) -> DailyLedger | None: ...

    def may_publish(self, position: Position) -> bool: ...

    async def take_over(self, today: date) -> None: ...

    async def resign(self, reason: str) -> None: ...

    async def publish(
        self, rows: Sequence[dict[str, Any]], position: Position, computed_at: datetime, now: float
    ) -> int: ...

    async def write_daily(self, rows: Sequence[DailyRow]) -> int: ...


class PublishRound:
    """The timer's state between ticks: the rows of the last computed version, the version last
    published, and when a failed round may be retried."""

    def __init__(
        self,
        state: FiguresState,
        publisher: Publisher,
        metrics: AggregateMetrics,
        as_of: Today,
        clock: Callable[[], float] = time.monotonic,
        history_late_days: int = DEFAULT_MAX_LATE_DAYS,
        baseline: date | None = None,
        baseline_interval_s: float = BASELINE_INTERVAL_S,
    ) -> None:
        self._state = state
        self._publisher = publisher
        self._metrics = metrics
        self._as_of = as_of
        self._clock = clock
        self._history_late_days = history_late_days
        self.captures = DayCaptures(history_late_days)
        self._baseline = baseline
        self._baseline_interval_s = baseline_interval_s
        self._baseline_due = float("-inf")
        self.baseline_rows: list[dict[str, Any]] = []
        self.baseline_version = -1
        """The state's version the baseline rows were computed from (-1: not yet)."""
        self.rows: list[dict[str, Any]] = []
        self.computed_version = -1
        self.published_version = -1
        self.retry_at = 0.0

    def recompute(self) -> None:
        """Rows and gauges for the state's current version (synchronous: no upsert in between);
        the targets' gauges too, with baseline rows at most :data:`BASELINE_INTERVAL_S` old."""
        state = self._state
        changed = state.version != self.computed_version
        if changed:
            started = time.perf_counter()
            version = state.version
            self.rows = state.rows()
            self._metrics.recompute_seconds.observe(time.perf_counter() - started)
            self._metrics.set_figures(self.rows)
            self._metrics.youth_tracked.set(state.youth_count)
            self.computed_version = version
        if self._baseline is None:
            return
        now = self._clock()
        if self.baseline_version != state.version and now >= self._baseline_due:
            started = time.perf_counter()
            self.baseline_rows = state.rows_as_of(self._baseline)
            self._metrics.full_recompute_seconds.observe(time.perf_counter() - started)
            self.baseline_version = state.version
            self._baseline_due = now + self._baseline_interval_s
            changed = True
        if changed:
            self._metrics.set_targets(self.rows, self.baseline_rows, state.as_of, self._baseline)

    def move_day(self, today: date) -> None:
        """Set the state's as-of date; when it moves forward, first capture the rows as of the day
        that ended (what this worker knew then: the provisional history's on-time records)."""
        state = self._state
        if today > state.as_of:
            end = EndOfDay(state.as_of, tuple(state.rows()), state.position(), _now())
            self.captures.capture(end, today)
        state.set_as_of(today)

    async def write_history(self) -> int:
        """Write the days missing on the daily topic (the publisher only): captured days as
        captured, then at most one day recomputed from the current state and marked late, and that
        only while the state covers what is published (not behind the previous publisher)."""
        publisher, state = self._publisher, self._state
        ledger = publisher.ledger
        if ledger is None:
            return 0
        regions = [row["region"] for row in self.rows]
        due = due_days(ledger, self.captures.all(), state.as_of, regions, self._history_late_days)
        if not due:
            return 0
        position = state.position()

        def late_rows(day: date) -> list[dict[str, Any]]:
            started = time.perf_counter()
            rows = state.rows_as_of(day)
            self._metrics.full_recompute_seconds.observe(time.perf_counter() - started)
            return rows

        rows = rows_to_write(due, late_rows, _now(), position, publisher.may_publish(position))
        return await publisher.write_daily(rows) if rows else 0

    async def tick(self, caught_up: bool, elected: Callable[[], bool]) -> None:
        """One timer round; never raises for a Kafka failure (the next round retries)."""
        if not caught_up:
            return
        self.move_day(self._as_of())
        self.recompute()
        publisher = self._publisher
        if not elected():
            await publisher.resign("validated partition 0 is not assigned to this worker")
            return
        now = self._clock()
        if not publisher.active:
            if now < self.retry_at:
                return
            try:
                await publisher.take_over(self._state.as_of)
            except Exception as exc:
                self.retry_at = self._clock() + RETRY_AFTER_S
                log.warning("taking over snapshot publishing failed", extra={"error": repr(exc)})
                return
            self.published_version = -1
            self.recompute()  # the state moved on during the take-over's awaits
        try:
            await self.write_history()
        except Exception as exc:
            self.retry_at = self._clock() + RETRY_AFTER_S
            log.warning("writing daily figures failed; will take over again", extra={"error": repr(exc)})
            return
        if self.computed_version == self.published_version and not publisher.pending:
            return
        # Rows depend only on the state's version, so the position read now (same version, no await
        # in between) is the position these rows reflect.
        version, position = self.computed_version, self._state.position()
        try:
            await publisher.publish(self.rows, position, _now(), now)
        except Exception as exc:
            self.retry_at = self._clock() + RETRY_AFTER_S
            log.warning(
                "publishing region snapshots failed; will take over again", extra={"error": repr(exc)}
            )
            return
        self.published_version = version


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)
