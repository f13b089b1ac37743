"""The simulated feed as an iterator of lines in delivery order: pure generation, no I/O.

:class:`Simulation` plans the closed-care careers for the whole period (they are calibrated per
year), streams the other careers day by day, renders each career into messages and releases the
messages in order of delivery. A message is never delivered more than a day before the first day
of its career, so once careers have reached day *d*, every delivery before *d − 1* is final and
is written out; memory holds only messages still to be delivered.

The feed starts at the *origin*, ``--history-days`` before ``--start``: what happened before the
origin and still matters (stays running at the origin, their episodes and court measures) comes in
as an initial load at the origin, like a provider loading its open files when it connects.
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from operator import itemgetter
from typing import NamedTuple

from services.contracts.regions import RegionTable
from services.simulate.plan import (
    CLOSED_HISTORY_YEARS,
    OTHER_HISTORY_YEARS,
    Calendar,
    Career,
    Planner,
    YearCalibration,
    other_careers,
    plan_closed,
)
from services.simulate.render import DAY, FeedStats, Renderer
from services.simulate.world import DEFAULT_PROVIDERS, World, build_world

_delivery = itemgetter(0)
Delivered = tuple[int, bytes, Mapping[str, str]]
"""(delivery second, line, sender): how lines travel inside the generator."""


class Line(NamedTuple):
    """One output line and the sender it comes from (the bearer token to post it with)."""

    payload: bytes
    sender: Mapping[str, str]


@dataclass(frozen=True, slots=True)
class SimulationConfig:
    """Everything that determines a feed: the same config gives byte-identical output."""

    start: date
    end: date
    seed: int = 1
    history_days: int = 365
    scale: float = 1.0
    other_care_scale: float = 1.0
    invalid_share: float = 0.02
    duplicate_share: float = 0.015
    providers: int = DEFAULT_PROVIDERS

    @property
    def origin(self) -> date:
        return self.start - timedelta(days=self.history_days)

    def check(self) -> None:
        if self.end < self.start:
            raise ValueError("--end lies before --start")
        if self.history_days < 0:
            raise ValueError("--history-days must not be negative")
        if self.scale <= 0 or self.other_care_scale < 0:
            raise ValueError("--scale must be positive and --other-care-scale not negative")
        if not 0 <= self.invalid_share < 1 or not 0 <= self.duplicate_share < 1:
            raise ValueError("--invalid-share and --duplicate-share must lie in [0, 1)")
        if self.origin.year < 1950 or self.end.year > 2200:
            raise ValueError("the period must lie between 1950 and 2200")


class Simulation:
    """One feed: call :meth:`batches` (or :meth:`lines`) once; :attr:`stats` fills as it runs."""

    def __init__(self, config: SimulationConfig, regions: RegionTable) -> None:
        config.check()
        self.config = config
        self.regions = regions
        self.world: World = build_world(random.Random(f"{config.seed}/world"), config.providers, regions)
        history = max(CLOSED_HISTORY_YEARS, *OTHER_HISTORY_YEARS.values()) + 1
        self.calendar = Calendar(config.origin.year - history - 2, config.end.year + 6)
        self.origin = config.origin.toordinal()
        self.last_day = config.end.toordinal()
        self.calibration: list[YearCalibration] = []
        self._buckets: dict[int, list[Delivered]] = {}
        self._flushed_until = self.origin - 2
        self.renderer = Renderer(
            seed=config.seed,
            world=self.world,
            calendar=self.calendar,
            origin=self.origin,
            last_day=self.last_day,
            invalid_share=config.invalid_share,
            duplicate_share=config.duplicate_share,
            sink=self._collect,
        )

    @property
    def stats(self) -> FeedStats:
        return self.renderer.stats

    def _collect(self, delivery: int, line: bytes, sender: Mapping[str, str]) -> None:
        day = delivery // DAY
        if day <= self._flushed_until:  # cannot happen by construction; never lose a line
            day = self._flushed_until + 1
        bucket = self._buckets.get(day)
        if bucket is None:
            self._buckets[day] = bucket = []
        bucket.append((delivery, line, sender))

    def _release(self, day: int) -> list[Delivered]:
        bucket = self._buckets.pop(day, None)
        if not bucket:
            return []
        bucket.sort(key=_delivery)  # stable: equal times keep the order they were made in
        return bucket

    def careers(self) -> Iterator[Career]:
        """Every career of the feed, ordered by the first day it appears in the feed."""
        config = self.config
        planner = Planner(random.Random(f"{config.seed}/closed"), self.world, self.calendar)
        closed, self.calibration = plan_closed(planner, self.origin, config.end.year, config.scale)
        others = other_careers(
            Planner(random.Random(f"{config.seed}/other"), self.world, self.calendar),
            self.origin,
            self.last_day,
            config.scale * config.other_care_scale,
        )
        return heapq.merge(closed, others, key=lambda career: career.first_day)

    def batches(self) -> Iterator[list[Delivered]]:
        """The feed, a day of deliveries at a time, in delivery order: (second, line, sender)."""
        render = self.renderer.render
        for career in self.careers():
            while self._flushed_until < career.first_day - 2:
                self._flushed_until += 1
                lines = self._release(self._flushed_until)
                if lines:
                    yield lines
            render(career)
        for day in sorted(self._buckets):
            self._flushed_until = day
            lines = self._release(day)
            if lines:
                yield lines

    def lines(self) -> Iterator[Line]:
        for batch in self.batches():
            for _, payload, sender in batch:
                yield Line(payload, sender)
