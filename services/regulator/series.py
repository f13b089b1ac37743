"""Figures for many as-of dates in one pass over each youth's facts (restated history, metrics.md
"History (v1.1)"). Pure: no I/O, no Kafka.

Calling :func:`~services.aggregate.figures.region_figures` once per date costs one
:func:`~services.aggregate.figures.contribution` per youth *per date*: 365 times a replay's
aggregate part for a year by day. But a youth's contribution as of D is piecewise constant in D.
Every test in :func:`contribution` compares D with a date ``x`` found in the youth's facts, in one
of these forms (``first`` is D − 364 days):

=================================  ==========================================  ====================
test in ``contribution``           for ``x`` among                             flips between D−1, D at
=================================  ==========================================  ====================
``x > D`` (placement loop break)   placement start                             D = x
``x > D`` (end after D)            placement end, span ends                    D = x
``x <= D``                         span starts                                 D = x
``x >= first``                     placement start                             D = x + 365
``first <= x <= D``                transfer date, deadline, episode end,       D = x, D = x + 365
                                   measure start
``deadline < D``                   deadline                                    D = x + 1
a perspective in [start, D]        perspective dates                           D = x
=================================  ==========================================  ====================

Everything else the contribution holds (regions, between providers, in time, stay lengths, kinds)
does not depend on D. So :func:`change_dates` returns, conservatively, ``x``, ``x + 1`` and
``x + 365`` for *every* date ``x`` in the facts (a superset of the table): if no change date lies
in (d, d'], the contribution as of d' is the one as of d.

:func:`figure_series` therefore evaluates each youth only at the requested dates where a segment
starts (the first requested date at or after a change date, and the first date), records
(date index, old contribution, new contribution) where it changed, and then sweeps the dates once
with one :class:`~services.aggregate.figures.FigureAccumulator`, adding the new contribution and
taking the old one back (``sign=-1``) before emitting the rows of each date. The rows are those of
``region_figures(facts, D, regions)`` for every D, medians and rates included (the accumulator is
exact, it keeps integer counts and the multiset of stay lengths); the unit tests compare them per
date on random facts, the worked example and a simulated year.
"""

from __future__ import annotations

import calendar
from bisect import bisect_left
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import date, timedelta
from itertools import pairwise
from typing import Any, Literal, NamedTuple

from services.aggregate.dates import WINDOW_EXIT
from services.aggregate.facts import YouthFacts
from services.aggregate.figures import NO_CONTRIBUTION, Contribution, FigureAccumulator, contribution
from services.contracts.regions import RegionTable

Every = Literal["day", "week", "month"]
EVERY: tuple[Every, ...] = ("day", "week", "month")

_ONE_DAY = timedelta(days=1)
_SUNDAY = 6  # date.weekday()

Progress = Callable[[int, int], None]
"""``progress(youth done, youth in all)``, called every few thousand youth and at the end."""
_PROGRESS_EVERY = 2048


class SeriesPoint(NamedTuple):
    as_of: date
    rows: list[dict[str, Any]]
    """As ``region_figures`` gives them: every region of the table sorted by code, then ``NL``."""


def as_of_dates(first: date, last: date, every: Every) -> list[date]:
    """The history's as-of dates in [first, last], ascending: every day, every Sunday, or the last
    day of every month (metrics.md, History). Empty when ``first > last`` or none falls inside."""
    if every == "day":
        return [first + timedelta(days=i) for i in range((last - first).days + 1)]
    if every == "week":
        sunday = first + timedelta(days=(_SUNDAY - first.weekday()) % 7)
        return [sunday + timedelta(weeks=i) for i in range(max(0, (last - sunday).days // 7 + 1))]
    if every == "month":
        dates: list[date] = []
        year, month = first.year, first.month
        while True:
            end = date(year, month, calendar.monthrange(year, month)[1])
            if end > last:
                return dates
            dates.append(end)  # end >= first: it is the end of first's month or later
            year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    raise ValueError(f"every must be one of {', '.join(EVERY)}, got {every!r}")


def fact_dates(facts: YouthFacts) -> set[date]:
    """Every date the facts hold (each placement's start and end, each episode's start, end,
    deadline and spans, transfers, perspectives, measure starts)."""
    dates: set[date] = set(facts.perspective_dates)
    add = dates.add
    for p in facts.placements:
        add(p.start_date)
        if p.end_date is not None:
            add(p.end_date)
    for t in facts.transfers:
        add(t.date)
    for e in facts.episodes:
        add(e.start_date)
        add(e.deadline)
        if e.end_date is not None:
            add(e.end_date)
        for start, end in e.spans:
            add(start)
            if end is not None:
                add(end)
    for m in facts.restrictive_measures:
        add(m.start_date)
    return dates


def change_dates(facts: YouthFacts) -> set[date]:
    """Dates D where ``contribution(facts, D)`` may differ from ``contribution(facts, D - 1 day)``:
    x, x + 1 day and x + 365 days for every date x of the facts (see the module docstring)."""
    changes: set[date] = set()
    for x in fact_dates(facts):
        changes.add(x)
        try:
            changes.add(x + _ONE_DAY)
            changes.add(x + WINDOW_EXIT)
        except OverflowError:  # past date.max: no as-of date can lie there
            pass
    return changes


def segment_starts(facts: YouthFacts, dates: Sequence[date]) -> list[int]:
    """Indices into ``dates`` (ascending, distinct) where the youth's contribution must be
    evaluated: 0, and for each change date in (dates[0], dates[-1]] the first date at or after it.
    Between two consecutive indices the contribution cannot change."""
    first, last = dates[0], dates[-1]
    indices = {0}
    for change in change_dates(facts):
        if first < change <= last:
            indices.add(bisect_left(dates, change))
    return sorted(indices)


def youth_deltas(
    facts: YouthFacts, dates: Sequence[date]
) -> Iterator[tuple[int, Contribution, Contribution]]:
    """(date index, contribution before, contribution from that date on) wherever it changes; the
    first is (0, :data:`~services.aggregate.figures.NO_CONTRIBUTION`, contribution as of ``dates[0]``) unless that is empty."""
    previous = NO_CONTRIBUTION
    for index in segment_starts(facts, dates):
        current = contribution(facts, dates[index])
        if current != previous:
            yield index, previous, current
            previous = current


def figure_series(
    facts: Iterable[YouthFacts],
    dates: Sequence[date],
    regions: RegionTable,
    progress: Progress | None = None,
    youth_count: int | None = None,
) -> list[SeriesPoint]:
    """``region_figures(facts, D, regions)`` for every D of ``dates``, in one pass over each youth.

    ``dates`` must be ascending and distinct (:func:`as_of_dates` gives such lists; add any other
    date, such as a baseline, with ``sorted(set(...))``). ``facts`` is read once, so a generator
    will do; ``youth_count`` is only what ``progress`` reports as the total.
    """
    if any(a >= b for a, b in pairwise(dates)):
        raise ValueError("the as-of dates must be ascending and distinct")
    if not dates:
        return []
    added: list[list[Contribution]] = [[] for _ in dates]
    removed: list[list[Contribution]] = [[] for _ in dates]
    total = youth_count or 0
    done = 0
    for youth_facts in facts:
        for index, old, new in youth_deltas(youth_facts, dates):
            if new != NO_CONTRIBUTION:
                added[index].append(new)
            if old != NO_CONTRIBUTION:
                removed[index].append(old)
        done += 1
        if progress is not None and done % _PROGRESS_EVERY == 0:
            progress(done, max(total, done))
    if progress is not None:
        progress(done, max(total, done))

    accumulator = FigureAccumulator(regions)
    series: list[SeriesPoint] = []
    for as_of, new_ones, old_ones in zip(dates, added, removed, strict=True):
        for c in new_ones:
            accumulator.add(c)
        for c in old_ones:
            accumulator.add(c, sign=-1)
        series.append(SeriesPoint(as_of, accumulator.rows()))
    return series
