"""The as-of date the figures are computed for: today in the hub's time zone, or a pinned date."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from zoneinfo import ZoneInfo

Today = Callable[[], date]


def pinned(day: date) -> Today:
    """Always *day* (``JEUGDHUB_AS_OF``; tests)."""
    return lambda: day


def today_in(timezone: str) -> Today:
    """The calendar date now in *timezone* (``JEUGDHUB_TIMEZONE``, ``Europe/Amsterdam``)."""
    zone = ZoneInfo(timezone)
    return lambda: datetime.now(zone).date()
