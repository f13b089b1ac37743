"""The figures' state: the latest facts per youth and their contributions as of the current date.

Upsert semantics only: a youth's new facts *replace* its old contribution (taken back, then the new
one added), so applying the same facts twice, or a replayed message, cannot change a figure. When
the as-of date moves every contribution is recomputed. Pure: the streaming service and
``jeugdhub rebuild`` drive it; it does no I/O.

A youth's set of accepted messages only grows, so facts derived from fewer messages than the ones
held are a stale view (the apply stage re-deriving after a crash or a rebalance, or a
``jeugdhub rebuild --publish`` that read the validated topic before the worker applied more): they
are ignored, so the figures never take back a message they already reflect. The state also records
how far it has read the youth-facts topic (:attr:`position`), which orders the published snapshots
(:mod:`services.aggregate.ordering`).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from services.aggregate.facts import YouthFacts
from services.aggregate.figures import Contribution, FigureAccumulator, contribution, region_figures
from services.aggregate.ordering import Position
from services.contracts.regions import RegionTable


class FiguresState:
    def __init__(self, regions: RegionTable, as_of: date) -> None:
        self._regions = regions
        self._as_of = as_of
        self._facts: dict[str, YouthFacts] = {}
        self._contributions: dict[str, Contribution] = {}
        self._messages: dict[str, int] = {}
        self._accepted = 0
        self._read: dict[int, int] = {}
        self._accumulator = FigureAccumulator(regions)
        self.version = 0
        """Bumped on every change of a figure's inputs; publishers compare it to what they sent."""

    @property
    def as_of(self) -> date:
        return self._as_of

    @property
    def youth_count(self) -> int:
        return len(self._facts)

    @property
    def accepted(self) -> int:
        """Accepted messages behind the facts held (each youth's ``messages_applied``, summed)."""
        return self._accepted

    def read_up_to(self, partition: int, offset: int) -> None:
        """The youth-facts record at ``offset`` of ``partition`` has been applied (or skipped)."""
        if offset >= self._read.get(partition, 0):
            self._read[partition] = offset + 1

    def position(self) -> Position:
        """What the figures reflect now: the as-of date, the next offset per youth-facts partition
        and the accepted messages."""
        facts = tuple(self._read.get(p, 0) for p in range(max(self._read, default=-1) + 1))
        return Position(self._as_of, facts, self._accepted)

    def upsert(self, youth: str, facts: YouthFacts, messages: int | None = None) -> bool:
        """Replace the youth's facts; ``messages`` is how many accepted messages they come from.

        Returns False (and changes nothing) for facts from fewer messages than those held.
        """
        held = self._messages.get(youth)
        if messages is not None and held is not None and messages < held:
            return False
        if messages is not None:
            self._accepted += messages - (held or 0)
            self._messages[youth] = messages
        if self._facts.get(youth) == facts:
            return True
        new = contribution(facts, self._as_of)
        old = self._contributions.get(youth)
        if old is not None:
            self._accumulator.add(old, sign=-1)
        self._accumulator.add(new)
        self._facts[youth] = facts
        self._contributions[youth] = new
        self.version += 1
        return True

    def facts_items(self) -> list[tuple[str, YouthFacts]]:
        """(youth, facts) of every youth held: what the retention sweep looks through."""
        return list(self._facts.items())

    def remove(self, youth: str) -> None:
        """A tombstone on the facts topic: the youth was erased or expired (services/aggregate/retention.py)."""
        old = self._contributions.pop(youth, None)
        self._facts.pop(youth, None)
        self._accepted -= self._messages.pop(youth, 0)
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

    def rows_as_of(self, day: date) -> list[dict[str, Any]]:
        """The figures as of another date from the facts held now, leaving the state as it is (the
        daily history's late days, the targets' baseline): a fresh accumulator over every youth's
        contribution as of ``day``, so it costs a full recomputation. ``day`` equal to the state's
        as-of date gives :meth:`rows`."""
        if day == self._as_of:
            return self.rows()
        return region_figures(self._facts.values(), day, self._regions)
