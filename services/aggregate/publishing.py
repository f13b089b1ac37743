"""The publish decision of the aggregate worker, without faust: every timer tick, recompute the
figures when the state changed and decide whether this worker publishes them now.

In order: nothing before the figures state has read the youth-facts topic up to where it stood at
start (no partial figures after a restart); the as-of date moves with the clock; the rows and
gauges are recomputed when the state's version changed; a worker that is not elected (does not own
validated partition 0) resigns the role; an elected worker that is not the publisher yet takes
over (fencing the previous one), at most once a second after a failure; and it publishes when the
rows changed since it last published or rows were held back by the per-region interval.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, Protocol

from services.aggregate.clock import Today
from services.aggregate.metrics import AggregateMetrics
from services.aggregate.ordering import Position
from services.aggregate.state import FiguresState

log = logging.getLogger("jeugdhub.aggregate")

RETRY_AFTER_S = 1.0
"""After a failed take-over or publish round, wait this long before taking over again."""


class Publisher(Protocol):
    """What the decision needs of :class:`services.aggregate.publisher.SnapshotPublisher`."""

    @property
    def active(self) -> bool: ...

    @property
    def pending(self) -> bool: ...

    async def take_over(self) -> None: ...

    async def resign(self, reason: str) -> None: ...

    async def publish(
        self, rows: Sequence[dict[str, Any]], position: Position, computed_at: datetime, now: float
    ) -> int: ...


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
    ) -> None:
        self._state = state
        self._publisher = publisher
        self._metrics = metrics
        self._as_of = as_of
        self._clock = clock
        self.rows: list[dict[str, Any]] = []
        self.computed_version = -1
        self.published_version = -1
        self.retry_at = 0.0

    def recompute(self) -> None:
        """Rows and gauges for the state's current version (synchronous: no upsert in between)."""
        state = self._state
        if state.version == self.computed_version:
            return
        started = time.perf_counter()
        version = state.version
        self.rows = state.rows()
        self._metrics.recompute_seconds.observe(time.perf_counter() - started)
        self._metrics.set_figures(self.rows)
        self._metrics.youth_tracked.set(state.youth_count)
        self.computed_version = version

    async def tick(self, caught_up: bool, elected: Callable[[], bool]) -> None:
        """One timer round; never raises for a Kafka failure (the next round retries)."""
        if not caught_up:
            return
        self._state.set_as_of(self._as_of())
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
                await publisher.take_over()
            except Exception as exc:
                self.retry_at = self._clock() + RETRY_AFTER_S
                log.warning("taking over snapshot publishing failed", extra={"error": repr(exc)})
                return
            self.published_version = -1
            self.recompute()  # the state moved on during the take-over's awaits
        if self.computed_version == self.published_version and not publisher.pending:
            return
        # Rows depend only on the state's version, so the position read now (same version, no await
        # in between) is the position these rows reflect.
        version, position = self.computed_version, self._state.position()
        try:
            await publisher.publish(self.rows, position, datetime.now(UTC).replace(microsecond=0), now)
        except Exception as exc:
            self.retry_at = self._clock() + RETRY_AFTER_S
            log.warning(
                "publishing region snapshots failed; will take over again", extra={"error": repr(exc)}
            )
            return
        self.published_version = version
