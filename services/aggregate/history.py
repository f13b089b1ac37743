"""The provisional history (metrics.md, "History"): which days the publisher writes to the daily
topic, with which figures. Pure: no Kafka, no clock; ``publishing.py`` drives it, ``publisher.py``
reads and writes the topic.

Every day, when the as-of date moves from D to a later date, every worker *captures* its rows as of
D (:class:`EndOfDay`, taken from the figures state before it moves: what the hub knew when D
ended). The publisher writes, for every region of the table and ``NL``, one record per
``<region>:<D>`` key, once (:class:`DailyLedger` holds the keys already on the topic; the
exactly-once argument is in ``docs/aggregate.md``, "Provisional history"):

- a captured day is written as captured, ``written_late`` false (also by a worker that becomes the
  publisher only after midnight, as long as it was running when the day ended);
- a day nobody captured (the publisher was down over midnight) is written from the current state,
  recomputed as of that day (:meth:`FiguresState.rows_as_of`), ``written_late`` true: figures as of
  the day, from what the hub knows when it writes them. At most ``max_late_days`` back: older days
  stay missing (``jeugdhub history`` restates any day).

Which days: every day before today, from the first day on the topic (an empty topic: yesterday, so
history starts the day before the first publisher ran) but not more than ``max_late_days`` back,
that lacks a key of a region of the table.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from services.aggregate.ordering import Position
from services.aggregate.snapshots import snapshot
from services.contracts.canonical import record_from_json

DEFAULT_MAX_LATE_DAYS = 31


def daily_key(region: str, day: date) -> str:
    """The daily topic's key: ``<region>:<YYYY-MM-DD>``."""
    return f"{region}:{day.isoformat()}"


def parse_daily_key(key: bytes | str | None) -> tuple[str, date] | None:
    """(region, day) of a daily key; None for anything else."""
    if key is None:
        return None
    try:
        text = key.decode() if isinstance(key, bytes) else key
        region, _, day = text.rpartition(":")
        return (region, date.fromisoformat(day)) if region else None
    except (UnicodeDecodeError, ValueError):
        return None


def daily_value(row: dict[str, Any], day: date, computed_at: datetime, written_late: bool) -> dict[str, Any]:
    """A ``DailyRegionFigures`` record (Avro form) from a figures row: the ``RegionSnapshot``
    fields plus ``written_late``."""
    return {
        **record_from_json("RegionSnapshot", snapshot(row, day, computed_at)),
        "written_late": written_late,
    }


@dataclass(frozen=True)
class EndOfDay:
    """A worker's rows as of ``day``, captured when its as-of date moved past ``day``."""

    day: date
    rows: tuple[dict[str, Any], ...]
    position: Position
    computed_at: datetime


@dataclass(frozen=True)
class DailyRow:
    """One record to write: ``row`` (a figures row) as of ``day``."""

    day: date
    row: dict[str, Any]
    computed_at: datetime
    written_late: bool
    position: Position

    @property
    def key(self) -> str:
        return daily_key(self.row["region"], self.day)


class DailyLedger:
    """The keys on the daily topic a publisher may still write: those of days from ``since`` on.

    Built by a new publisher from a complete read of the topic (after fencing), then kept current
    with its own commits. Days before ``since`` are never due (:func:`due_days`), since the ledger
    does not know them.
    """

    def __init__(self, since: date) -> None:
        self.since = since
        self.first: date | None = None
        """The earliest day on the topic (any key); None while the topic is empty."""
        self.last: date | None = None
        self._keys: set[tuple[str, date]] = set()

    def saw(self, region: str, day: date) -> None:
        """A key found on the topic, or committed by this publisher."""
        self.first = day if self.first is None else min(self.first, day)
        self.last = day if self.last is None else max(self.last, day)
        if day >= self.since:
            self._keys.add((region, day))

    def has(self, region: str, day: date) -> bool:
        return (region, day) in self._keys

    def __len__(self) -> int:
        return len(self._keys)


@dataclass(frozen=True)
class DayDue:
    """A day with keys missing on the topic: the regions (row order) and this worker's capture."""

    day: date
    regions: tuple[str, ...]
    captured: EndOfDay | None


def candidate_days(ledger: DailyLedger, today: date, max_late_days: int) -> list[date]:
    """The ended days a publisher considers, oldest first (see the module's docstring)."""
    low = today - timedelta(days=max(max_late_days, 1))
    start = ledger.first if ledger.first is not None else today - timedelta(days=1)
    low = max(low, start, ledger.since)
    return [low + timedelta(days=n) for n in range((today - low).days)]


def due_days(
    ledger: DailyLedger,
    captures: Sequence[EndOfDay],
    today: date,
    regions: Sequence[str],
    max_late_days: int,
) -> list[DayDue]:
    """Days before ``today`` that lack a key of one of ``regions``, oldest first."""
    by_day = {capture.day: capture for capture in captures}
    out = []
    for day in candidate_days(ledger, today, max_late_days):
        missing = tuple(region for region in regions if not ledger.has(region, day))
        if missing:
            out.append(DayDue(day, missing, by_day.get(day)))
    return out


def rows_to_write(
    due: Sequence[DayDue],
    late_rows: Callable[[date], list[dict[str, Any]]],
    now: datetime,
    position: Position,
    may_compute_late: bool,
) -> list[DailyRow]:
    """The records of one round: every due day in order, captured days as captured, until the first
    day without a capture, which is computed (``late_rows(day)``: the state's rows as of that day)
    and written late, at most one per round since each costs a full recomputation. Nothing late
    while ``may_compute_late`` is false (the state is behind what is already published)."""
    out: list[DailyRow] = []
    for day_due in due:
        wanted = set(day_due.regions)
        if day_due.captured is not None:
            capture = day_due.captured
            out += [
                DailyRow(capture.day, row, capture.computed_at, False, capture.position)
                for row in capture.rows
                if row["region"] in wanted
            ]
            continue
        if may_compute_late:
            late_position = Position(day_due.day, position.facts, position.accepted)
            out += [
                DailyRow(day_due.day, row, now, True, late_position)
                for row in late_rows(day_due.day)
                if row["region"] in wanted
            ]
        break
    return out


@dataclass
class DayCaptures:
    """The end-of-day rows this worker captured, kept while they may still be written."""

    keep_days: int = DEFAULT_MAX_LATE_DAYS
    _by_day: dict[date, EndOfDay] = field(default_factory=dict)

    def capture(self, end: EndOfDay, today: date) -> None:
        """Keep ``end`` (the first capture of a day wins), drop what is too old to be written."""
        self._by_day.setdefault(end.day, end)
        oldest = today - timedelta(days=max(self.keep_days, 1))
        for day in [d for d in self._by_day if d < oldest]:
            del self._by_day[day]

    def all(self) -> list[EndOfDay]:
        return [self._by_day[day] for day in sorted(self._by_day)]
