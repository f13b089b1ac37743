"""The pure parts of ``jeugdhub figures``: the last value per key, the history's order and filters,
and the table's cells (what '-' and '*' mean, the measures total, the late mark, aligned columns)."""

from __future__ import annotations

from datetime import date
from typing import Any

from services.regulator import figures_table
from services.regulator.topic_reader import FigureRecord, daily_rows, latest_per_key


def record(key: str, row: dict[str, Any] | None, offset: int) -> FigureRecord:
    return FigureRecord(key, row, 0, offset, 0)


def row(region: str, as_of: str = "2026-06-30", **over: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "region": region,
        "as_of": as_of,
        "occupancy": 12,
        "occupancy_residential": 30,
        "placements_started_12m": 7,
        "youth_placed_12m": 6,
        "transfers_12m": 4,
        "transfers_between_providers_12m": 3,
        "perspective_in_time_rate": 0.8333,
        "overdue_without_perspective": 1,
        "episodes_ended_12m": 9,
        "median_length_of_stay_days_12m": 120.0,
        "restrictive_measures_12m": {
            "afzondering": 2,
            "separatie": 5,
            "fixatie": 0,
            "insluiting_eigen_kamer": 1,
        },
    }
    return {**base, **over}


def test_the_last_value_per_key_wins_and_a_tombstone_removes_the_key() -> None:
    records = [
        record("VB01", row("VB01", occupancy=1), 0),
        record("VB02", row("VB02"), 1),
        record("VB01", row("VB01", occupancy=2), 2),
        record("VB02", None, 3),
        record("NL", row("NL"), 4),
    ]
    latest = latest_per_key(records)
    assert sorted(latest) == ["NL", "VB01"]
    assert latest["VB01"]["occupancy"] == 2


def test_history_rows_by_day_then_region_with_nl_last_and_filtered() -> None:
    keys = [("NL", "2026-06-29"), ("VB02", "2026-06-28"), ("VB01", "2026-06-29"), ("NL", "2026-06-28")]
    latest = {f"{r}:{d}": row(r, d) for r, d in keys}
    assert [(x["as_of"], x["region"]) for x in daily_rows(latest)] == [
        ("2026-06-28", "VB02"),
        ("2026-06-28", "NL"),
        ("2026-06-29", "VB01"),
        ("2026-06-29", "NL"),
    ]
    only = daily_rows(latest, regions={"NL"}, since=date(2026, 6, 29))
    assert [(x["as_of"], x["region"]) for x in only] == [("2026-06-29", "NL")]
    assert daily_rows(latest, until=date(2026, 6, 27)) == []


def test_cells_of_an_exact_row() -> None:
    cols = figures_table.columns(history=False)
    cells = figures_table.line(row("VB01"), cols).split()
    assert cells == ["VB01", "2026-06-30", "12", "30", "7", "6", "4", "3", "83.3%", "1", "9", "120", "5", "8"]
    empty = figures_table.line(
        row("VB01", perspective_in_time_rate=None, median_length_of_stay_days_12m=None), cols
    )
    assert empty.split()[8] == figures_table.NONE and empty.split()[11] == figures_table.NONE


def test_suppressed_figures_are_starred_and_a_null_that_is_not_suppressed_is_a_dash() -> None:
    public = row(
        "VB01",
        occupancy=None,
        perspective_in_time_rate=None,
        restrictive_measures_12m={
            "afzondering": 0,
            "separatie": None,
            "fixatie": 0,
            "insluiting_eigen_kamer": 0,
        },
        suppressed=["occupancy", "restrictive_measures_12m.separatie"],
    )
    cells = figures_table.line(public, figures_table.columns(history=False)).split()
    assert cells[2] == "*"  # occupancy: suppressed
    assert cells[8] == "-"  # the rate is null but not listed: an empty cohort, not suppression
    assert cells[-2:] == ["*", "*"]  # separatie withheld, so the total cannot be shown either


def test_history_marks_records_written_late() -> None:
    cols = figures_table.columns(history=True)
    assert figures_table.line(row("VB01", written_late=True), cols).endswith("late")
    assert not figures_table.line(row("VB01", written_late=False), cols).endswith("late")


def test_every_line_lines_up_under_the_header() -> None:
    cols = figures_table.columns(history=True)
    groups, labels, *lines = figures_table.table([row("VB01"), row("NL", occupancy=1234)], cols)
    spans: dict[str, list[int]] = {}  # group -> [start of its first column, end of its last]
    position = 0
    for col in cols:
        if col.group:
            spans.setdefault(col.group, [position, 0])[1] = position + col.width
        position += col.width + len(figures_table.GAP)
    for group, (start, end) in spans.items():
        assert groups.index(group) == start and start + len(group) <= end, group
    # Right-aligned figures end where their label ends, whatever their width.
    assert labels.index("closed") + len("closed") == lines[1].index("1234") + len("1234")
    assert labels.index("in time") + len("in time") == lines[0].index("83.3%") + len("83.3%")
