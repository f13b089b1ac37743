"""When a youth's state may be dropped: the retention horizon, pure (no Kafka, no I/O).

A youth's messages are personal data (pseudonymised); the hub keeps them only while they can still
change a figure the hub serves (AVG art. 5(1)(e), docs/privacy.md "Retention"). Every test in
:func:`services.aggregate.figures.contribution` compares the as-of date D with a date x of the
youth's facts (``x <= D``, ``x > D``, ``D - 364 <= x``), so once every placement and every
episode has ended, the contribution is empty for every D from :func:`quiet_from` on: the day after
the last end, and 365 days after the latest date a 12-month window looks at (a closed placement's
start, a transfer, a perspective deadline, an episode's end, a measure's start).

The hub serves figures as of today (snapshots, gauges), as of the last
``JEUGDHUB_HISTORY_LATE_DAYS`` days (late daily rows) and as of the targets' baseline B. A youth
**expires** when its quiet date lies at least the horizon (``JEUGDHUB_RETENTION_HORIZON_DAYS``)
before today and it contributes nothing as of B: dropping it then changes no figure as of any date
on or after ``today - horizon`` nor as of B (tests/unit/aggregate/test_retention.py).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from services.aggregate.dates import WINDOW_EXIT
from services.aggregate.facts import YouthFacts, build_youth_facts
from services.aggregate.figures import NO_CONTRIBUTION, contribution
from services.contracts.regions import RegionTable
from services.contracts.vocabulary import CLOSED_CARE
from services.privacy.rotation import as_one_youth

_ONE_DAY = timedelta(days=1)


def quiet_from(facts: YouthFacts) -> date | None:
    """The first date from which the youth is in no figure as of that date or any later one;
    None while a placement or an episode has not ended (it can stay in ``occupancy`` forever).

    Conservative: it also waits for dates no figure looks at today (a non-closed placement's start),
    so a future rule about them does not silently lose data."""
    latest: date | None = None

    def later(day: date) -> None:
        nonlocal latest
        if latest is None or day > latest:
            latest = day

    for p in facts.placements:
        if p.end_date is None:
            return None
        later(p.end_date + _ONE_DAY)
        later(p.start_date + (WINDOW_EXIT if p.care_type == CLOSED_CARE else _ONE_DAY))
    for e in facts.episodes:
        if e.end_date is None or any(end is None for _, end in e.spans):
            return None
        later(e.end_date + WINDOW_EXIT)
        later(e.deadline + WINDOW_EXIT)
        later(e.start_date + _ONE_DAY)
        for start, end in e.spans:
            later(start + _ONE_DAY)
            if end is not None:
                later(end + _ONE_DAY)
    for t in facts.transfers:
        later(t.date + WINDOW_EXIT)
    for m in facts.restrictive_measures:
        later(m.start_date + WINDOW_EXIT)
    for day in facts.perspective_dates:  # only read for open episodes (overdue); kept for safety
        later(day + _ONE_DAY)
    return latest


def cutoff(today: date, horizon_days: int) -> date:
    """The earliest as-of date whose figures the retention keeps exact: ``today - horizon``."""
    return today - timedelta(days=horizon_days)


def expired(facts: YouthFacts, today: date, horizon_days: int, baseline: date | None = None) -> bool:
    """True when the youth's state may be dropped: quiet since at least ``horizon_days`` before
    ``today`` and, with a targets baseline B, in no figure as of B (the baseline row is recomputed
    from the state, so a youth it counts is kept)."""
    quiet = quiet_from(facts)
    if quiet is None or quiet > cutoff(today, horizon_days):
        return False
    return baseline is None or contribution(facts, baseline) == NO_CONTRIBUTION


def expired_youth(
    facts_by_youth: Iterable[tuple[str, YouthFacts]],
    today: date,
    horizon_days: int,
    baseline: date | None = None,
) -> Iterator[str]:
    """The youth among ``facts_by_youth`` whose state may be dropped as of ``today``."""
    for youth, facts in facts_by_youth:
        if expired(facts, today, horizon_days, baseline):
            yield youth


@dataclass(frozen=True)
class SweepPlan:
    """What one worker's retention sweep drops, among the youth of the partitions it owns."""

    held: list[str] = field(default_factory=list)
    """Expired youth in this worker's table: forget them (table entry, changelog and facts tombstones)."""
    orphans: list[str] = field(default_factory=list)
    """Expired youth in the figures but not in the table (facts republished by a ``rebuild --publish``
    from messages the table had already dropped): only their facts get a tombstone."""


def plan_sweep(
    facts_by_youth: Iterable[tuple[str, YouthFacts]],
    messages_of: Callable[[str], Mapping[str, Any] | None],
    owns: Callable[[str], bool],
    regions: RegionTable,
    today: date,
    horizon_days: int,
    baseline: date | None = None,
) -> SweepPlan:
    """The youth to drop: expired by the figures state's facts, in a partition this worker owns
    (``owns``), and expired again by the facts of the messages in its table (``messages_of``): the
    state may not yet have read the facts of a message the table already holds, and the table is
    what the youth's next facts will be built from (under its state key, as the apply stage does)."""
    plan = SweepPlan()
    for youth in expired_youth(facts_by_youth, today, horizon_days, baseline):
        if not owns(youth):
            continue
        messages = messages_of(youth)
        if messages is None:
            plan.orphans.append(youth)
        else:
            try:
                facts = build_youth_facts(as_one_youth(youth, messages.values()), regions)
            except Exception:  # a bug, logged where the facts are built: keep the youth
                continue
            if expired(facts, today, horizon_days, baseline):
                plan.held.append(youth)
    return plan
