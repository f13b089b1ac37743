"""Regional figures as of a date, from date-independent :class:`YouthFacts`.

Two steps so that distinct-youth counts come out right and the streaming service can keep a running
total: :func:`contribution` says what one youth adds to which region as of D, and
:class:`FigureAccumulator` sums contributions (and can take one back, ``sign=-1``, when a youth's
facts change). Each youth counts once per youth-figure per region, and once nationally in ``NL``:
a youth placed in two regions counts in both regions' ``youth_placed_12m`` but once in ``NL``.
Items whose region is ``None`` or not in the table count in ``NL`` only.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import Any, NamedTuple

from services.aggregate.dates import window_start
from services.aggregate.facts import YouthFacts
from services.contracts.regions import NATIONAL, RegionTable
from services.contracts.vocabulary import CLOSED_CARE, RESTRICTIVE_MEASURE_KINDS

Region = str | None

FIGURE_KEYS = (
    "region",
    "occupancy",
    "occupancy_residential",
    "placements_started_12m",
    "youth_placed_12m",
    "transfers_12m",
    "transfers_between_providers_12m",
    "transfers_within_provider_12m",
    "perspective_cohort_12m",
    "perspective_in_time_12m",
    "perspective_in_time_rate",
    "overdue_without_perspective",
    "episodes_ended_12m",
    "median_length_of_stay_days_12m",
    "restrictive_measures_12m",
)


class Contribution(NamedTuple):
    """What one youth adds to the figures as of one date (empty tuples when nothing)."""

    occupied: bool
    occupancy_region: Region
    resident: bool
    residential_region: Region
    placements_started: tuple[Region, ...]
    """One region per ``gesloten`` placement started in the window."""
    transfers: tuple[tuple[Region, bool], ...]
    """(region, between providers) per transfer in the window."""
    cohort: tuple[tuple[Region, bool], ...]
    """(region, in time) per episode whose deadline is in the window."""
    overdue: tuple[Region, ...]
    ended_stays: tuple[tuple[Region, int], ...]
    """(region, length in days) per episode that ended in the window."""
    measures: tuple[tuple[Region, str], ...]
    """(region, kind) per restrictive measure started in the window."""


NO_CONTRIBUTION = Contribution(
    occupied=False,
    occupancy_region=None,
    resident=False,
    residential_region=None,
    placements_started=(),
    transfers=(),
    cohort=(),
    overdue=(),
    ended_stays=(),
    measures=(),
)
"""What a youth in no figure contributes: adding it changes nothing (the history skips it; the
retention sweep drops a youth only when this is its contribution as of the baseline)."""


def contribution(facts: YouthFacts, as_of: date) -> Contribution:
    """One youth's share of the figures as of ``as_of`` (see metrics.md for every rule)."""
    first = window_start(as_of)

    # Placements are in (start_date, provider_agb, placement_id) order, so the last open one is the
    # one with the latest start_date, ties to the greatest (provider_agb, placement_id).
    occupied = resident = False
    occupancy_region: Region = None
    residential_region: Region = None
    started: list[Region] = []
    for p in facts.placements:
        start = p.start_date
        if start > as_of:
            break
        closed = p.care_type == CLOSED_CARE
        end = p.end_date
        if end is None or end > as_of:
            resident, residential_region = True, p.region
            if closed:
                occupied, occupancy_region = True, p.region
        if closed and start >= first:
            started.append(p.region)

    transfers = tuple((t.region, t.between_providers) for t in facts.transfers if first <= t.date <= as_of)

    cohort: list[tuple[Region, bool]] = []
    overdue: list[Region] = []
    ended: list[tuple[Region, int]] = []
    for e in facts.episodes:
        deadline = e.deadline
        if first <= deadline <= as_of:
            cohort.append((e.region, e.perspective_in_time))
        if (
            deadline < as_of
            and e.is_open_on(as_of)
            and not facts.has_perspective_between(e.start_date, as_of)
        ):
            overdue.append(e.region)
        end = e.end_date
        if end is not None and first <= end <= as_of:
            ended.append((e.region, (end - e.start_date).days))

    measures = tuple((m.region, m.kind) for m in facts.restrictive_measures if first <= m.start_date <= as_of)
    return Contribution(
        occupied=occupied,
        occupancy_region=occupancy_region,
        resident=resident,
        residential_region=residential_region,
        placements_started=tuple(started),
        transfers=transfers,
        cohort=tuple(cohort),
        overdue=tuple(overdue),
        ended_stays=tuple(ended),
        measures=measures,
    )


@dataclass(slots=True)
class _Tally:
    occupancy: int = 0
    occupancy_residential: int = 0
    placements_started: int = 0
    youth_placed: int = 0
    transfers_between: int = 0
    transfers_within: int = 0
    cohort: int = 0
    in_time: int = 0
    overdue: int = 0
    stay_lengths: Counter[int] = field(default_factory=Counter)
    measures: Counter[str] = field(default_factory=Counter)

    def row(self, region: str) -> dict[str, Any]:
        return {
            "region": region,
            "occupancy": self.occupancy,
            "occupancy_residential": self.occupancy_residential,
            "placements_started_12m": self.placements_started,
            "youth_placed_12m": self.youth_placed,
            "transfers_12m": self.transfers_between + self.transfers_within,
            "transfers_between_providers_12m": self.transfers_between,
            "transfers_within_provider_12m": self.transfers_within,
            "perspective_cohort_12m": self.cohort,
            "perspective_in_time_12m": self.in_time,
            "perspective_in_time_rate": round(self.in_time / self.cohort, 4) if self.cohort else None,
            "overdue_without_perspective": self.overdue,
            "episodes_ended_12m": self.stay_lengths.total(),
            "median_length_of_stay_days_12m": _median(self.stay_lengths),
            "restrictive_measures_12m": {kind: self.measures[kind] for kind in RESTRICTIVE_MEASURE_KINDS},
        }


def _median(lengths: Counter[int]) -> float | None:
    """Median of a multiset of day counts; the mean of the middle two for an even count."""
    count = lengths.total()
    if count <= 0:
        return None
    low_rank, high_rank = (count - 1) // 2, count // 2
    low = high = None
    seen = 0
    for value in sorted(k for k, n in lengths.items() if n > 0):
        seen += lengths[value]
        if low is None and seen > low_rank:
            low = value
        if seen > high_rank:
            high = value
            break
    assert low is not None and high is not None
    return (low + high) / 2


class FigureAccumulator:
    """Running regional totals; one row per region of the table plus ``NL``."""

    def __init__(self, regions: RegionTable) -> None:
        self._codes = regions.region_codes
        self._national = _Tally()
        self._tallies: dict[Region, _Tally] = {code: _Tally() for code in self._codes}
        # Every item counts nationally and, when its region is in the table, in that region too.
        self._targets: dict[Region, tuple[_Tally, ...]] = {
            code: (self._national, tally) for code, tally in self._tallies.items()
        }
        self._national_only = (self._national,)

    def add(self, c: Contribution, sign: int = 1) -> None:
        """Add one youth's contribution (``sign=-1`` takes a previously added one back)."""
        national = self._national
        targets = self._targets.get
        national_only = self._national_only
        if c.occupied:
            for tally in targets(c.occupancy_region, national_only):
                tally.occupancy += sign
        if c.resident:
            for tally in targets(c.residential_region, national_only):
                tally.occupancy_residential += sign
        if c.placements_started:
            for region in c.placements_started:
                for tally in targets(region, national_only):
                    tally.placements_started += sign
            # Distinct youth: once per region it was placed in, once nationally.
            national.youth_placed += sign
            for region in set(c.placements_started):
                for tally in targets(region, national_only)[1:]:
                    tally.youth_placed += sign
        for region, between in c.transfers:
            for tally in targets(region, national_only):
                if between:
                    tally.transfers_between += sign
                else:
                    tally.transfers_within += sign
        for region, in_time in c.cohort:
            for tally in targets(region, national_only):
                tally.cohort += sign
                if in_time:
                    tally.in_time += sign
        for region in c.overdue:
            for tally in targets(region, national_only):
                tally.overdue += sign
        for region, days in c.ended_stays:
            for tally in targets(region, national_only):
                tally.stay_lengths[days] += sign
        for region, kind in c.measures:
            for tally in targets(region, national_only):
                tally.measures[kind] += sign

    def rows(self) -> list[dict[str, Any]]:
        """Every region of the table sorted by code (zeros included), then ``NL``."""
        rows = [self._tallies[code].row(code) for code in self._codes]
        rows.append(self._national.row(NATIONAL))
        return rows


def region_figures(facts: Iterable[YouthFacts], as_of: date, regions: RegionTable) -> list[dict[str, Any]]:
    """The figures of metrics.md as of ``as_of``: one dict per region (sorted), then ``NL``."""
    accumulator = FigureAccumulator(regions)
    for youth_facts in facts:
        accumulator.add(contribution(youth_facts, as_of))
    return accumulator.rows()
