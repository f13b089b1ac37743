"""Which region snapshots to publish: only changed rows, each region at most once per interval; and
which public forms go with them (``services/regulator/public.py``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from services.contracts.canonical import format_timestamp
from services.regulator.public import public_row

Latest = dict[str, tuple[str, dict[str, Any]]]
"""region -> (as_of, row) of the last record per region on a topic."""


def snapshot(row: dict[str, Any], as_of: date, computed_at: datetime) -> dict[str, Any]:
    """A RegionSnapshot (JSON form) from a figures row."""
    return {**row, "as_of": as_of.isoformat(), "computed_at": format_timestamp(computed_at)}


@dataclass
class SnapshotThrottle:
    """Remembers what was published per region, and when."""

    min_interval_s: float = 1.0
    _last_row: dict[str, tuple[str, dict[str, Any]]] = field(default_factory=dict)
    _last_time: dict[str, float] = field(default_factory=dict)
    pending: bool = False
    """Set by the caller when a changed row was held back by the interval and must be sent later."""

    def due(self, rows: Sequence[dict[str, Any]], as_of: date, now: float) -> list[dict[str, Any]]:
        """Rows whose figures (or as-of date) changed and whose region was not published too recently."""
        out = []
        for row in rows:
            region = row["region"]
            previous = self._last_row.get(region)
            if previous == (as_of.isoformat(), row):
                continue
            if now - self._last_time.get(region, float("-inf")) < self.min_interval_s:
                continue
            out.append(row)
        return out

    def is_published(self, row: dict[str, Any], as_of: date) -> bool:
        """``row`` as of ``as_of`` is the last one published for its region."""
        return self._last_row.get(row["region"]) == (as_of.isoformat(), row)

    def has_unpublished(self, rows: Sequence[dict[str, Any]], as_of: date) -> bool:
        return any(self._last_row.get(row["region"]) != (as_of.isoformat(), row) for row in rows)

    def seed(self, latest: Mapping[str, tuple[str, dict[str, Any]]]) -> None:
        """Start from what is on the topic (region -> (as_of, row)), as read by a new publisher: an
        unchanged row is not sent again, a changed one goes out at once."""
        self._last_row.update(latest)

    def published(self, row: dict[str, Any], as_of: date, now: float) -> None:
        self._last_row[row["region"]] = (as_of.isoformat(), row)
        self._last_time[row["region"]] = now


def public_due(
    rows: Sequence[dict[str, Any]],
    due: Sequence[dict[str, Any]],
    as_of: date,
    throttle: SnapshotThrottle,
    latest_public: Latest,
) -> list[dict[str, Any]]:
    """The public forms to write in the round that writes ``due``: for each region whose exact row
    goes out now or is already the last one on the exact topic (so every public record is the
    public form of the exact record its region has then), when its public form or as-of date
    differs from the last public record. An exact change that leaves the public form as it was
    writes no public record: the public topic does not tell when a suppressed count moved."""
    going = {row["region"] for row in due}
    out = []
    for row in rows:
        if row["region"] not in going and not throttle.is_published(row, as_of):
            continue
        public = public_row(row)
        if latest_public.get(row["region"]) != (as_of.isoformat(), public):
            out.append(public)
    return out
