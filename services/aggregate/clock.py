"""The as-of date the figures are computed for: today in the hub's time zone, a pinned date, or the
date in a file.

The file (``JEUGDHUB_AS_OF_FILE``) is a test and operations knob: it is read again at every call
(the worker's timer, four times a second), so a test moves the worker's day by writing the next
date into it, which is how the integration tests cross midnight without waiting for one. In
production neither the pinned date nor the file is set.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

Today = Callable[[], date]

log = logging.getLogger("jeugdhub.aggregate")


class AsOfFileError(ValueError):
    """``JEUGDHUB_AS_OF_FILE`` does not hold a ``YYYY-MM-DD`` date at start (the worker refuses)."""


def pinned(day: date) -> Today:
    """Always *day* (``JEUGDHUB_AS_OF``; tests)."""
    return lambda: day


def today_in(timezone: str) -> Today:
    """The calendar date now in *timezone* (``JEUGDHUB_TIMEZONE``, ``Europe/Amsterdam``)."""
    zone = ZoneInfo(timezone)
    return lambda: datetime.now(zone).date()


def read_as_of_file(path: Path) -> date:
    """The date in *path* (``YYYY-MM-DD``, surrounding white space ignored); ``OSError`` when it
    cannot be read, :class:`AsOfFileError` when it holds no such date."""
    text = path.read_text(encoding="utf-8").strip()
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise AsOfFileError(f"JEUGDHUB_AS_OF_FILE {path} does not hold a YYYY-MM-DD date") from None


def from_file(path: Path) -> Today:
    """The date in *path*, read at every call (``JEUGDHUB_AS_OF_FILE``).

    Read once at once, so a missing or bad file stops the worker at start. Later, a file that cannot
    be read or parsed (a writer caught half-way) keeps the last date read, with a warning.
    """
    last = read_as_of_file(path)

    def today() -> date:
        nonlocal last
        try:
            last = read_as_of_file(path)
        except (OSError, AsOfFileError) as exc:
            log.warning("as-of file not readable; keeping the last date", extra={"error": str(exc)})
        return last

    return today
