"""The history's as-of dates (metrics.md, History): every day, every Sunday, the last day of every
month, each within [D1, D2] (both ends included), ascending."""

from __future__ import annotations

import calendar
from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.regulator.series import as_of_dates


def test_day_is_every_date_of_the_range_both_ends_included() -> None:
    assert as_of_dates(date(2024, 2, 27), date(2024, 3, 2), "day") == [
        date(2024, 2, 27),
        date(2024, 2, 28),
        date(2024, 2, 29),
        date(2024, 3, 1),
        date(2024, 3, 2),
    ]
    assert len(as_of_dates(date(2023, 1, 1), date(2023, 12, 31), "day")) == 365


def test_week_is_every_sunday_including_sundays_at_either_end() -> None:
    # 2026-03-01 and 2026-03-29 are Sundays
    assert as_of_dates(date(2026, 3, 1), date(2026, 3, 29), "week") == [
        date(2026, 3, 1),
        date(2026, 3, 8),
        date(2026, 3, 15),
        date(2026, 3, 22),
        date(2026, 3, 29),
    ]
    assert as_of_dates(date(2026, 3, 2), date(2026, 3, 28), "week") == [
        date(2026, 3, 8),
        date(2026, 3, 15),
        date(2026, 3, 22),
    ]
    assert as_of_dates(date(2026, 3, 2), date(2026, 3, 7), "week") == []  # Monday to Saturday


def test_month_is_the_last_day_of_each_month_inside_the_range() -> None:
    assert as_of_dates(date(2023, 12, 31), date(2024, 4, 29), "month") == [
        date(2023, 12, 31),
        date(2024, 1, 31),
        date(2024, 2, 29),  # leap year
        date(2024, 3, 31),
    ]
    assert as_of_dates(date(2025, 1, 2), date(2025, 3, 31), "month") == [
        date(2025, 1, 31),
        date(2025, 2, 28),
        date(2025, 3, 31),
    ]
    assert as_of_dates(date(2025, 2, 1), date(2025, 2, 27), "month") == []


def test_a_reversed_range_has_no_dates() -> None:
    for every in ("day", "week", "month"):
        assert as_of_dates(date(2025, 2, 1), date(2025, 1, 1), every) == []


def test_an_unknown_period_is_refused() -> None:
    with pytest.raises(ValueError, match="every must be one of"):
        as_of_dates(date(2025, 1, 1), date(2025, 2, 1), "year")  # type: ignore[arg-type]


@given(
    first=st.dates(date(1990, 1, 1), date(2100, 1, 1)),
    length=st.integers(0, 800),
    every=st.sampled_from(["day", "week", "month"]),
)
def test_dates_are_exactly_the_matching_days_of_the_range(first: date, length: int, every: str) -> None:
    last = first + timedelta(days=length)
    days = [first + timedelta(days=i) for i in range(length + 1)]
    if every == "day":
        expected = days
    elif every == "week":
        expected = [d for d in days if d.weekday() == calendar.SUNDAY]
    else:
        expected = [d for d in days if d.day == calendar.monthrange(d.year, d.month)[1]]
    assert as_of_dates(first, last, every) == expected  # type: ignore[arg-type]
