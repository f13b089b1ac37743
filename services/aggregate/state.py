"""The figures' state: the latest facts per youth and their contributions as of the current date.

Upsert semantics only: a youth's new facts *replace* its old contribution (taken back, then the new
one added), so applying the same facts twice, or a replayed message, cannot change a figure. When
the as-of date moves every contribution is recomputed. Pure: the streaming service and
``jeugdhub rebuild`` drive it; it does no I/O.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from services.aggregate.facts import YouthFacts
from services.aggregate.figures import Contribution, FigureAccumulator, contribution
from services.contracts.regions import RegionTable


class FiguresState:
    def __init__(self, regions: RegionTable, as_of: date) -> None:
        self._regions = regions
        self._as_of = as_of
        self._facts: dict[str, YouthFacts] = {}
        self._contributions: dict[str, Contribution] = {}
        self._accumulator = FigureAccumulator(regions)
        self.version = 0
        """Bumped on every change of a figure's inputs; publishers compare it to what they sent."""

    @property
    def as_of(self) -> date:
        return self._as_of

    @property
    def youth_count(self) -> int:
        return len(self._facts)

    def upsert(self, youth: str, facts: YouthFacts) -> None:
        if self._facts.get(youth) == facts:
            return
        new = contribution(facts, self._as_of)
        old = self._contributions.get(youth)
        if old is not None:
            self._accumulator.add(old, sign=-1)
        self._accumulator.add(new)
        self._facts[youth] = facts
        self._contributions[youth] = new
        self.version += 1

    def remove(self, youth: str) -> None:
        """A tombstone on the facts topic: the youth no longer has accepted messages."""
        old = self._contributions.pop(youth, None)
        self._facts.pop(youth, None)
        if old is not None:
            self._accumulator.add(old, sign=-1)
            self.version += 1

    def set_as_of(self, as_of: date) -> None:
        """Move the as-of date (daily): every contribution depends on it."""
        if as_of == self._as_of:
            return
        self._as_of = as_of
        self._accumulator = FigureAccumulator(self._regions)
        self._contributions = {}
        for youth, facts in self._facts.items():
            c = contribution(facts, as_of)
            self._contributions[youth] = c
            self._accumulator.add(c)
        self.version += 1

    def rows(self) -> list[dict[str, Any]]:
        """The figures of metrics.md: every region of the table sorted by code, then ``NL``."""
        return self._accumulator.rows()
