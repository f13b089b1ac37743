"""The terminal table of ``jeugdhub figures``: one line per region (or region and day), key figures.

Pure: rows in, text out. Fixed column widths, so that ``--follow`` can print each update as one more
line under the header it printed first. Every figure of the record is in ``--format jsonl``; the
table keeps what a reader compares across regions, including the figure of each national target
(metrics.md, Targets): transfers between providers, the perspective rate, separations and closed
placements started.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

RESTRICTIVE = "restrictive_measures_12m"
RESTRICTIVE_KINDS = ("afzondering", "separatie", "fixatie", "insluiting_eigen_kamer")
SUPPRESSED = "*"
"""A figure the public form withholds (a count of 1 to 4, or a rate or median on a small cohort)."""
NONE = "-"
"""A figure that has no value (a rate over an empty cohort, a median of no episodes)."""
LEGEND = f"{SUPPRESSED} suppressed in the public form (a count of 1-4, or a rate or median of a small cohort)"


@dataclass(frozen=True)
class Column:
    group: str
    label: str
    cell: Callable[[dict[str, Any]], str]
    width: int
    left: bool = False


def _suppressed(row: dict[str, Any], field: str) -> bool:
    return field in (row.get("suppressed") or ())


def _count(field: str) -> Callable[[dict[str, Any]], str]:
    def cell(row: dict[str, Any]) -> str:
        value = row.get(field)
        if value is None:
            return SUPPRESSED if _suppressed(row, field) else NONE
        return str(value)

    return cell


def _measure(kind: str) -> Callable[[dict[str, Any]], str]:
    field = f"{RESTRICTIVE}.{kind}"

    def cell(row: dict[str, Any]) -> str:
        value = (row.get(RESTRICTIVE) or {}).get(kind)
        if value is None:
            return SUPPRESSED if _suppressed(row, field) else NONE
        return str(value)

    return cell


def _measures_total(row: dict[str, Any]) -> str:
    """All kinds together; unknown when the public form withholds any of them."""
    counts = row.get(RESTRICTIVE) or {}
    values = [counts.get(kind) for kind in RESTRICTIVE_KINDS]
    if any(value is None for value in values):
        return SUPPRESSED
    return str(sum(int(value) for value in values if value is not None))


def _rate(row: dict[str, Any]) -> str:
    field = "perspective_in_time_rate"
    value = row.get(field)
    if value is None:
        return SUPPRESSED if _suppressed(row, field) else NONE
    return f"{float(value) * 100:.1f}%"


def _median(row: dict[str, Any]) -> str:
    field = "median_length_of_stay_days_12m"
    value = row.get(field)
    if value is None:
        return SUPPRESSED if _suppressed(row, field) else NONE
    return f"{float(value):g}"


def _late(row: dict[str, Any]) -> str:
    return "late" if row.get("written_late") else ""


FIGURE_COLUMNS: tuple[Column, ...] = (
    Column("", "region", lambda row: str(row["region"]), 6, left=True),
    Column("", "as of", lambda row: str(row["as_of"]), 10, left=True),
    Column("occupancy", "closed", _count("occupancy"), 6),
    Column("occupancy", "any", _count("occupancy_residential"), 6),
    Column("closed 12m", "started", _count("placements_started_12m"), 7),
    Column("closed 12m", "youth", _count("youth_placed_12m"), 6),
    Column("transfers 12m", "all", _count("transfers_12m"), 6),
    Column("transfers 12m", "between", _count("transfers_between_providers_12m"), 7),
    Column("perspective", "in time", _rate, 7),
    Column("perspective", "overdue", _count("overdue_without_perspective"), 7),
    Column("ended 12m", "episodes", _count("episodes_ended_12m"), 8),
    Column("ended 12m", "median d", _median, 8),
    Column("measures 12m", "separatie", _measure("separatie"), 9),
    Column("measures 12m", "all", _measures_total, 6),
)
HISTORY_COLUMNS: tuple[Column, ...] = (*FIGURE_COLUMNS, Column("", "written", _late, 7, left=True))
"""The daily topic's rows also say whether they were written after their day (``written_late``)."""

GAP = "  "


def columns(history: bool) -> tuple[Column, ...]:
    return HISTORY_COLUMNS if history else FIGURE_COLUMNS


def header(cols: Sequence[Column]) -> list[str]:
    """Two lines: the group names over their columns, then each column's label."""
    groups: list[str] = []
    position = 0
    line = ""
    for index, col in enumerate(cols):
        starts_group = col.group and (index == 0 or cols[index - 1].group != col.group)
        if starts_group:
            line = line.ljust(position) + col.group
        position += col.width + len(GAP)
    groups.append(line.rstrip())
    return [*groups, GAP.join(_align(col.label, col) for col in cols).rstrip()]


def line(row: dict[str, Any], cols: Sequence[Column]) -> str:
    return GAP.join(_align(col.cell(row), col) for col in cols).rstrip()


def table(rows: Iterable[dict[str, Any]], cols: Sequence[Column]) -> list[str]:
    return [*header(cols), *(line(row, cols) for row in rows)]


def _align(text: str, col: Column) -> str:
    return text.ljust(col.width) if col.left else text.rjust(col.width)
