"""Calendar rules of the figures, in one place so the streaming service and replay cannot drift.

Dates inside messages are ``YYYY-MM-DD`` strings (validated upstream, so ``date.fromisoformat``
reads them); the figures compare them as :class:`datetime.date`. The month arithmetic is
``dateutil.relativedelta`` because the spec defines the perspective deadline by what it computes
(31 August + 6 months = end of February).
"""

from __future__ import annotations

from datetime import date, timedelta
from functools import lru_cache

from dateutil.relativedelta import relativedelta

WINDOW_DAYS = 364
"""'In the last 12 months' as of D means D − 364 days ≤ x ≤ D (365 dates in all)."""

GAP_DAYS = 7
"""A stay that starts at most this many days after the previous one ended continues it."""

PERSPECTIVE_MONTHS = 6

WINDOW_EXIT = timedelta(days=WINDOW_DAYS + 1)
"""An item dated x is in the 12-month window up to D = x + 364 and leaves it at D = x + 365."""

_SIX_MONTHS = relativedelta(months=PERSPECTIVE_MONTHS)
_WINDOW = timedelta(days=WINDOW_DAYS)


def format_optional_date(value: date | None) -> str | None:
    return None if value is None else value.isoformat()


def window_start(as_of: date) -> date:
    """First date of the 12-month window that ends on (and includes) ``as_of``."""
    return as_of - _WINDOW


@lru_cache(maxsize=8192)
def perspective_deadline(episode_start: date) -> date:
    """Episode start plus 6 calendar months, clamped to month end like ``relativedelta`` does.

    Cached: ``relativedelta`` arithmetic costs ~10 µs and start dates repeat across youth.
    """
    result: date = episode_start + _SIX_MONTHS
    return result
