"""The rules' date arithmetic equals dateutil's relativedelta, which the contract names."""

from __future__ import annotations

import random
from datetime import date, timedelta

from dateutil.relativedelta import relativedelta

from services.validate.rules import _age_at_least, _years_later


def _dates(rng: random.Random, count: int) -> list[date]:
    special = [date(2024, 2, 29), date(2000, 2, 29), date(1900, 2, 28), date(2023, 2, 28), date(2023, 3, 1),
               date(2024, 12, 31), date(1, 1, 1), date(121, 1, 1), date(9999, 12, 31), date(9976, 6, 1)]  # fmt: skip
    start = date(1880, 1, 1).toordinal()
    return special + [date.fromordinal(start + rng.randrange(60_000)) for _ in range(count)]


def _shifted(day: date, days: int) -> date | None:
    try:
        return day + timedelta(days=days)
    except OverflowError:
        return None


def test_years_later_equals_relativedelta() -> None:
    rng = random.Random(1)
    for day in _dates(rng, 5000):
        for years in (-120, -23, 23, 120, -1, 1):
            try:
                want: date | str = day + relativedelta(years=years)
            except ValueError:
                want = "ValueError"
            try:
                got: date | str = _years_later(day, years)
            except ValueError:
                got = "ValueError"
            assert got == want, (day, years)


def test_age_at_least_equals_relativedelta_years() -> None:
    rng = random.Random(2)
    births = _dates(rng, 3000)
    for birth in births:
        anniversary = birth + relativedelta(years=23) if birth.year <= 9976 else None
        shifts = [rng.randrange(-400, 12_000) for _ in range(4)]
        events = [_shifted(birth, days) for days in shifts]
        if anniversary is not None:
            events += [_shifted(anniversary, -1), anniversary, _shifted(anniversary, 1)]
        for event in events:
            if event is None:
                continue
            assert _age_at_least(birth, event, 23) == (relativedelta(event, birth).years >= 23), (
                birth,
                event,
            )
