"""Care careers: who stays where, from when to when. No messages yet (see :mod:`render`).

A *career* is one youth's sequence of stays. Closed-care careers (JeugdzorgPlus) are planned for
the whole simulated period first, because their year totals are pinned to the published figures
by :func:`calibrate_closed`: the model draws episodes, then youth are added or removed and moves
between closed groups added or merged until every calendar year has exactly the target number of
``gesloten`` placements started and distinct youth placed. Careers in the other care types are
drawn day by day as the feed is written (:func:`other_careers`), so memory stays bounded.

Days are ``date.toordinal()`` integers throughout: cheap to add and compare.
"""

from __future__ import annotations

import math
import random
from bisect import bisect_right
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date
from functools import cache

from hubdev.simulate.calibration import (
    CARE_MODELS,
    CARE_WEIGHT,
    CLOSED,
    CLOSED_AGE_WEIGHTS,
    CLOSED_DISCHARGE_DESTINATIONS,
    CLOSED_LEGAL_BASIS,
    CLOSED_MOVE_BETWEEN_PROVIDERS,
    CLOSED_MOVES,
    CLOSED_STAY_BOUNDS,
    CLOSED_STAY_MEDIAN_DAYS,
    CLOSED_STAY_SHORTENING,
    CLOSED_STAY_SIGMA,
    DISCHARGE_REASONS,
    EXTENDED_CARE_SHARE,
    FAMILY_HOME,
    FIRST_EPISODE_SHARE,
    FOSTER,
    LINK_WEIGHTS,
    OPEN,
    OTHER_CARE_TYPES,
    PRE_STAY_SHARE,
    PRE_STAY_TYPES,
    READMISSION_SHARE,
    SMALL_SCALE,
    STEP_DOWN_SHARE,
    STEP_DOWN_TYPES,
    TRANSFER_REASONS_BY_STEP,
    closed_targets,
    scaled,
)
from hubdev.simulate.world import Numbering, Provider, Table, World, between

YEAR_DAYS = 365.25
CLOSED_HISTORY_YEARS = 3
"""Closed careers are drawn from this many years before the feed's origin (stays, step-downs)."""
OTHER_HISTORY_YEARS: dict[str, int] = {FOSTER: 10, FAMILY_HOME: 8, OPEN: 5, SMALL_SCALE: 4}
"""Other careers likewise, as far back as their stays (and chains of stays) can reach the origin."""


def years_days(years: float) -> int:
    return int(years * YEAR_DAYS)


_EIGHTEEN = years_days(18)
_THREE_YEARS = years_days(3)


class Calendar:
    """Year boundaries, ``YYYY-MM-DD`` and timestamp strings for the days a feed uses, precomputed.

    ``day_strings[o - base]`` is the date string of ordinal ``o`` for every day from 1 January of
    ``first_year`` to 31 December of ``last_year``; outside that range the methods compute it.
    """

    def __init__(self, first_year: int, last_year: int) -> None:
        self.first_year = first_year
        self.last_year = last_year
        self._year_starts = [date(y, 1, 1).toordinal() for y in range(first_year, last_year + 2)]
        self.base = self._year_starts[0]
        self.day_strings = [date.fromordinal(o).isoformat() for o in range(self.base, self._year_starts[-1])]
        self._prefixes = [f"{text}T" for text in self.day_strings]
        self._suffixes = _time_suffixes()

    def year_start(self, year: int) -> int:
        return date(year, 1, 1).toordinal()

    def year_of(self, day: int) -> int:
        index = bisect_right(self._year_starts, day) - 1
        if 0 <= index < len(self._year_starts) - 1:
            return self.first_year + index
        return date.fromordinal(day).year

    def day(self, day: int) -> str:
        index = day - self.base
        if 0 <= index < len(self.day_strings):
            return self.day_strings[index]
        return date.fromordinal(day).isoformat()

    def timestamp_tables(self) -> tuple[list[str], list[str]]:
        """(``"YYYY-MM-DDT"`` per day from :attr:`base`, ``"HH:MM:SSZ"`` per second of a day)."""
        return self._prefixes, self._suffixes

    def timestamp(self, second: int) -> str:
        """``YYYY-MM-DDTHH:MM:SSZ`` of a second counted from day 1 of the proleptic calendar."""
        day, rest = divmod(second, DAY_SECONDS)
        index = day - self.base
        if 0 <= index < len(self._prefixes):
            return self._prefixes[index] + self._suffixes[rest]
        return f"{date.fromordinal(day)}T{self._suffixes[rest]}"


DAY_SECONDS = 86_400


@cache
def _time_suffixes() -> list[str]:
    """``HH:MM:SSZ`` for every second of a day, built once (about 25 ms)."""
    two = [str(n + 100)[1:] for n in range(60)]  # "00".."59": no format spec, so no str.format
    return [f"{h}:{m}:{s}Z" for h in two[:24] for m in two for s in two]


class Stay:
    """One placement as it really happened; the messages about it are made by the renderer.

    ``link`` says how the stay follows the previous one: ``first``, ``transfer`` (an explicit
    transfer message from the previous provider), ``pair`` (an end and a start within 7 days) or
    ``gap`` (a discharge and, more than 7 days later, a new start). ``discharge_*`` is used when
    the stay is not followed by a ``transfer`` or ``pair``.

    A plain class, not a dataclass: compiled, a dataclass's ``__init__`` stays interpreted Python
    (the dataclasses module writes it at import), and a feed makes a few hundred thousand stays.
    """

    __slots__ = ("care_type", "discharge_destination", "discharge_reason", "end", "legal_basis", "link",
                 "location", "provider", "start", "transfer_reason")  # fmt: skip

    def __init__(
        self,
        care_type: str,
        provider: Provider,
        location: str,
        legal_basis: str,
        start: int,
        end: int,
        link: str,
        transfer_reason: str,
        discharge_reason: str,
        discharge_destination: str,
    ) -> None:
        self.care_type = care_type
        self.provider = provider
        self.location = location
        self.legal_basis = legal_basis
        self.start = start
        self.end = end
        self.link = link
        self.transfer_reason = transfer_reason
        self.discharge_reason = discharge_reason
        self.discharge_destination = discharge_destination

    def __repr__(self) -> str:
        return (f"Stay({self.care_type}, {self.provider.agb}/{self.location}, {self.legal_basis}, "
                f"{self.start}..{self.end}, {self.link})")  # fmt: skip


class Career:
    """One youth's stays, in time order, with the attributes every message about them carries.

    A plain class for the same reason as :class:`Stay`.
    """

    __slots__ = ("birth", "closed", "first_day", "municipality", "removed", "seq", "stays")

    def __init__(
        self, birth: int, municipality: str, stays: list[Stay], closed: bool, seq: int, first_day: int = 0
    ) -> None:
        self.birth = birth
        self.municipality = municipality
        self.stays = stays
        self.closed = closed
        self.seq = seq
        self.first_day = first_day
        self.removed = False

    @property
    def last_end(self) -> int:
        return self.stays[-1].end

    def __repr__(self) -> str:
        return f"Career(seq {self.seq}, born {self.birth}, {len(self.stays)} stays, closed {self.closed})"


@dataclass(frozen=True, slots=True)
class YearCalibration:
    """How one year's closed-care totals were pinned: model draw, then after calibration."""

    year: int
    target_placements: int
    target_youth: int
    drawn_placements: int
    drawn_youth: int
    placements: int
    youth: int


def _table(items: Iterable[tuple[str, int]]) -> Table[str]:
    return Table(items)


def _with_discharge(next_stay: Iterable[tuple[str, int]]) -> Table[str]:
    """The next care type after a stay, or ``""`` (discharge) for the rest of 100."""
    pairs = list(next_stay)
    return Table([*pairs, ("", 100 - sum(w for _, w in pairs))])


CLOSED_AGES: Table[int] = Table(CLOSED_AGE_WEIGHTS)
CLOSED_MOVE_COUNTS: Table[int] = Table(CLOSED_MOVES)
CLOSED_LEGAL = _table(CLOSED_LEGAL_BASIS)
PRE_STAY = _table(PRE_STAY_TYPES)
PRE_STAY_LINK = _table((("transfer", 45), ("pair", 40), ("gap", 15)))
STEP_DOWN = _table(STEP_DOWN_TYPES)
LINKS = _table(LINK_WEIGHTS)
REASONS = _table(DISCHARGE_REASONS)
GAP_DESTINATIONS = _table((("thuis", 70), ("onbekend", 30)))
DESTINATIONS: dict[str, Table[str]] = {CLOSED: _table(CLOSED_DISCHARGE_DESTINATIONS)} | {
    care: _table(model.destinations) for care, model in CARE_MODELS.items()
}
LEGAL: dict[str, Table[str]] = {care: _table(model.legal_basis) for care, model in CARE_MODELS.items()}
NEXT_STAY: dict[str, Table[str]] = {
    care: _with_discharge(model.next_stay) for care, model in CARE_MODELS.items()
}
TRANSFER_REASONS: dict[str, Table[str]] = {step: _table(t) for step, t in TRANSFER_REASONS_BY_STEP.items()}


class Planner:
    """Draws careers; one instance per feed, consuming its own random stream in a fixed order."""

    def __init__(self, rng: random.Random, world: World, calendar: Calendar, numbering: Numbering) -> None:
        self.rng = rng
        self.random = rng.random
        self.world = world
        self.calendar = calendar
        self.numbering = numbering
        self._seq = 0
        self._spare_normal = 0.0
        self._has_spare_normal = False

    # -- shared pieces -------------------------------------------------------------------------
    def _next_seq(self) -> int:
        self._seq += 1
        return self._seq

    def _normal(self) -> float:
        """``self.rng.gauss(0.0, 1.0)``, draw for draw the same numbers, without calling into the
        interpreted ``random.gauss``; the spare is kept here, so nothing else may call that on ``rng``."""
        if self._has_spare_normal:
            self._has_spare_normal = False
            return self._spare_normal
        random = self.random
        x2pi = random() * math.tau
        g2rad = math.sqrt(-2.0 * math.log(1.0 - random()))
        self._spare_normal = math.sin(x2pi) * g2rad
        self._has_spare_normal = True
        return math.cos(x2pi) * g2rad

    def _lognormal(self, median: float, sigma: float, low: int, high: int) -> int:
        value = int(median * math.exp(sigma * self._normal()))
        return low if value < low else high if value > high else value

    def _birth(self, start: int, age: int) -> int:
        return start - years_days(age) - between(self.random, 1, 364)

    def _care_limit(self, birth: int) -> int:
        """The last day of care: the 18th birthday, or up to 21 for extended care."""
        if self.random() < EXTENDED_CARE_SHARE:
            return birth + _EIGHTEEN + between(self.random, 0, _THREE_YEARS - 30)
        return birth + _EIGHTEEN - 1

    def _discharge(self, destinations: Table[str]) -> tuple[str, str]:
        destination = destinations.pick(self.random)
        if destination == "jeugdinrichting":
            return ("39" if self.random() < 0.6 else "35"), destination
        reason = REASONS.pick(self.random)
        if reason == "02":
            destination = "onbekend"
        return reason, destination

    def _transfer_reason(self, from_care: str, to_care: str) -> str:
        step = CARE_WEIGHT[to_care] - CARE_WEIGHT[from_care]
        return TRANSFER_REASONS["up" if step > 0 else "down" if step < 0 else "side"].pick(self.random)

    def _location(self, provider: Provider, care_type: str, avoid: str | None = None) -> str:
        if care_type == FOSTER:
            return self.numbering.foster_family(provider)
        options = provider.locations[care_type]
        location = options[int(self.random() * len(options))]
        while location == avoid and len(options) > 1:
            location = options[int(self.random() * len(options))]
        return location

    def _stay(
        self,
        care_type: str,
        provider: Provider,
        start: int,
        end: int,
        link: str,
        previous: Stay | None,
        legal_basis: str,
        location: str | None = None,
    ) -> Stay:
        reason, destination = self._discharge(DESTINATIONS[care_type])
        transfer_reason = (
            self._transfer_reason(previous.care_type, care_type)
            if previous is not None and link == "transfer"
            else ""
        )
        return Stay(
            care_type,
            provider,
            location if location is not None else self._location(provider, care_type),
            legal_basis,
            start,
            end,
            link,
            transfer_reason,
            reason,
            destination,
        )

    def _next_provider(self, previous: Stay, care_type: str, same_share: float) -> Provider:
        if previous.provider.offers(care_type) and self.random() < same_share:
            return previous.provider
        return self.world.pick_provider(self.rng, care_type, avoid=previous.provider)

    def _link_gap(self, link: str) -> int:
        if link == "transfer":
            return 0
        if link == "pair":
            return 0 if self.random() < 0.6 else between(self.random, 1, 7)
        return between(self.random, 8, 90)

    # -- closed care ---------------------------------------------------------------------------
    def closed_career(self, start: int, *, moves: bool = True, readmission: bool = True) -> Career:
        """A JeugdzorgPlus career: maybe a stay before, one or more closed episodes, maybe a step down."""
        random = self.random
        birth = self._birth(start, CLOSED_AGES.pick(random))
        limit = self._care_limit(birth)
        closed_limit = birth + _EIGHTEEN + 180
        stays: list[Stay] = []
        link = self._pre_stay(stays, start, birth) if random() < PRE_STAY_SHARE else "first"
        episode_start = start
        for _ in range(3):
            self._closed_episode(stays, episode_start, closed_limit, moves, link)
            self._after_episode(stays, limit)
            if not readmission or random() >= READMISSION_SHARE:
                break
            episode_start = stays[-1].end + between(random, 21, 365)
            if episode_start > birth + years_days(17.5):
                break
            link = "gap"
        return Career(birth, self._municipality(), stays, True, self._next_seq())

    def _municipality(self) -> str:
        municipalities = self.world.municipalities
        return municipalities[int(self.random() * len(municipalities))]

    def _pre_stay(self, stays: list[Stay], closed_start: int, birth: int) -> str:
        """Another stay the youth comes from; returns how the closed stay will follow it."""
        random = self.random
        care_type = PRE_STAY.pick(random)
        link = PRE_STAY_LINK.pick(random)
        end = closed_start - self._link_gap(link)
        start = end - self._lognormal(180.0, 0.7, 10, 900)
        if start < birth + years_days(4):
            return "first"
        provider = self.world.pick_provider(self.rng, CLOSED) if random() < 0.3 else None
        if provider is None or not provider.offers(care_type):
            provider = self.world.pick_provider(self.rng, care_type)
        stay = self._stay(care_type, provider, start, end, "first", None, LEGAL[care_type].pick(random))
        if link == "gap":
            stay.discharge_reason, stay.discharge_destination = self._discharge(GAP_DESTINATIONS)
        stays.append(stay)
        return link

    def _closed_episode(
        self, stays: list[Stay], start: int, closed_limit: int, moves: bool, link: str
    ) -> None:
        random = self.random
        year = self.calendar.year_of(start)
        median = CLOSED_STAY_MEDIAN_DAYS * (1 - CLOSED_STAY_SHORTENING) ** max(0, year - 2017)
        low, high = CLOSED_STAY_BOUNDS
        end = min(
            start + self._lognormal(median, CLOSED_STAY_SIGMA, low, high), max(closed_limit, start + 14)
        )
        previous = stays[-1] if stays else None
        provider = self.world.pick_provider(self.rng, CLOSED)
        stays.append(self._stay(CLOSED, provider, start, end, link, previous, CLOSED_LEGAL.pick(random)))
        n_moves = CLOSED_MOVE_COUNTS.pick(random) if moves else 0
        if n_moves and end - start > 30:
            points = sorted(self.rng.sample(range(start + 10, end - 10), min(n_moves, end - start - 20)))
            index = len(stays) - 1
            for point in points:
                if self.split_closed(stays, index, point):
                    index += 1

    def split_closed(self, stays: list[Stay], index: int, point: int) -> bool:
        """Move the youth to another closed group on ``point``: the stay's tail becomes a new stay.

        Within the provider (another location) or to another closed provider; reported as an explicit
        transfer or as an end+start pair. Returns False when the stay is too short to split there.
        """
        random = self.random
        stay = stays[index]
        link = "transfer" if random() < 0.6 else "pair"
        gap = 0 if link == "transfer" or random() < 0.7 else between(random, 1, 2)
        if not stay.start + 1 <= point - gap <= point < stay.end:
            return False
        provider = stay.provider
        location: str | None = None
        if random() >= CLOSED_MOVE_BETWEEN_PROVIDERS and len(provider.locations[CLOSED]) > 1:
            location = self._location(provider, CLOSED, avoid=stay.location)
        else:
            provider = self.world.pick_provider(self.rng, CLOSED, avoid=stay.provider)
        legal = "machtiging" if stay.legal_basis != "strafrechtelijk" and random() < 0.9 else stay.legal_basis
        tail = self._stay(CLOSED, provider, point, stay.end, link, stay, legal, location)
        tail.discharge_reason, tail.discharge_destination = stay.discharge_reason, stay.discharge_destination
        stay.end = point - gap
        stays.insert(index + 1, tail)
        return True

    def _after_episode(self, stays: list[Stay], limit: int) -> None:
        """A step down into open or small-scale care, or nothing (the closed stay's discharge)."""
        random = self.random
        last = stays[-1]
        if random() >= STEP_DOWN_SHARE or last.end > limit - 40:
            return
        care_type = STEP_DOWN.pick(random)
        link = "transfer" if random() < 0.5 else "pair"
        start = last.end + self._link_gap(link)
        end = min(start + self._lognormal(200.0, 0.7, 14, 1200), limit)
        if end <= start:
            return
        provider = self._next_provider(last, care_type, 0.35)
        stays.append(self._stay(care_type, provider, start, end, link, last, LEGAL[care_type].pick(random)))

    # -- the other care types -------------------------------------------------------------------
    def other_career(self, care_type: str, start: int, origin: int) -> Career | None:
        """A career starting in ``care_type``; None when it ends before ``origin`` (history only)."""
        random = self.random
        model = CARE_MODELS[care_type]
        length = self._lognormal(model.median_days, model.sigma, 3, model.max_days)
        next_type = NEXT_STAY[care_type].pick(random)
        if start + length < origin - 100 and not next_type:
            return None  # the common case for history: decided before drawing anything else
        birth = self._birth(start, between(random, *model.ages))
        limit = max(self._care_limit(birth), start + 30)
        end = min(start + length, limit)
        provider = self.world.pick_provider(self.rng, care_type)
        stays = [self._stay(care_type, provider, start, end, "first", None, LEGAL[care_type].pick(random))]
        for _ in range(4):
            if not next_type:
                break
            previous = stays[-1]
            link = LINKS.pick(random)
            next_start = previous.end + self._link_gap(link)
            if next_start >= limit - 14:
                break
            model = CARE_MODELS[next_type]
            same = 0.8 if next_type == FOSTER and previous.care_type == FOSTER else 0.4
            provider = self._next_provider(previous, next_type, same)
            location = None
            if provider is previous.provider and next_type == previous.care_type and next_type != FOSTER:
                location = self._location(provider, next_type, avoid=previous.location)
            length = self._lognormal(model.median_days, model.sigma, 3, model.max_days)
            legal = previous.legal_basis if random() < 0.7 else LEGAL[next_type].pick(random)
            stays.append(
                self._stay(
                    next_type,
                    provider,
                    next_start,
                    min(next_start + length, limit),
                    link,
                    previous,
                    legal,
                    location,
                )
            )
            next_type = NEXT_STAY[next_type].pick(random)
        if stays[-1].end < origin:
            return None
        return Career(birth, self._municipality(), stays, False, self._next_seq())


# -- the closed-care plan and its calibration ------------------------------------------------------
def plan_closed(
    planner: Planner, origin: int, last_year: int, scale: float
) -> tuple[list[Career], list[YearCalibration]]:
    """Every closed-care career touching [origin, end of ``last_year``], calibrated per year."""
    rng = planner.rng
    calendar = planner.calendar
    first_year = calendar.year_of(origin) - CLOSED_HISTORY_YEARS
    careers: list[Career] = []
    for year in range(first_year, last_year + 1):
        _, youth = closed_targets(year)
        expected = youth * scale * FIRST_EPISODE_SHARE
        count = int(expected) + (1 if rng.random() < expected - int(expected) else 0)
        y0, y1 = calendar.year_start(year), calendar.year_start(year + 1)
        for day in sorted(rng.randrange(y0, y1) for _ in range(count)):
            careers.append(planner.closed_career(day))
    report = [
        calibrate_year(planner, careers, year, scale)
        for year in range(calendar.year_of(origin), last_year + 1)
    ]
    kept = [c for c in careers if not c.removed and c.last_end >= origin]
    for career in kept:
        career.first_day = max(origin, career.stays[0].start)
    kept.sort(key=lambda c: (c.first_day, c.seq))
    return kept, report


def _count(careers: list[Career], y0: int, y1: int) -> tuple[int, int]:
    placements = youth = 0
    for career in careers:
        if career.removed:
            continue
        n = sum(1 for s in career.stays if s.care_type == CLOSED and y0 <= s.start < y1)
        placements += n
        youth += 1 if n else 0
    return placements, youth


def calibrate_year(planner: Planner, careers: list[Career], year: int, scale: float) -> YearCalibration:
    """Pin ``year``'s gesloten placements started and distinct youth placed to the targets.

    Only stays starting in ``year`` are touched, so years calibrated earlier stay exact: youth are
    added (a new one-placement career) or removed (careers whose one closed placement starts in
    the year) to fix the youth count, then closed stays starting in the year are split (a move to
    another group) or merged with their predecessor to fix the placement count.
    """
    rng = planner.rng
    calendar = planner.calendar
    y0, y1 = calendar.year_start(year), calendar.year_start(year + 1)
    target_p, target_u = (scaled(v, scale) for v in closed_targets(year))
    drawn_p, drawn_u = _count(careers, y0, y1)

    missing_youth = target_u - drawn_u
    if missing_youth > 0:
        for day in sorted(rng.randrange(y0, y1) for _ in range(missing_youth)):
            careers.append(planner.closed_career(day, moves=False, readmission=False))
    elif missing_youth < 0:
        single = [
            c
            for c in careers
            if not c.removed
            and sum(1 for s in c.stays if s.care_type == CLOSED) == 1
            and any(s.care_type == CLOSED and y0 <= s.start < y1 for s in c.stays)
        ]
        for career in rng.sample(single, min(len(single), -missing_youth)):
            career.removed = True

    placements, youth = _count(careers, y0, y1)
    missing = target_p - placements
    if missing > 0:
        _add_moves(planner, careers, y0, y1, missing)
    elif missing < 0:
        _merge_moves(careers, y0, y1, -missing, rng)
    placements, youth = _count(careers, y0, y1)
    return YearCalibration(year, target_p, target_u, drawn_p, drawn_u, placements, youth)


def _add_moves(planner: Planner, careers: list[Career], y0: int, y1: int, wanted: int) -> None:
    rng = planner.rng
    candidates = [
        c
        for c in careers
        if not c.removed and any(s.care_type == CLOSED and y0 <= s.start < y1 for s in c.stays)
    ]
    attempts = 0
    while wanted and candidates and attempts < 50 * (wanted + 10):
        attempts += 1
        career = rng.choice(candidates)
        options = [
            i
            for i, s in enumerate(career.stays)
            if s.care_type == CLOSED and y0 <= s.start < y1 and min(s.end, y1) - s.start > 24
        ]
        if not options:
            candidates.remove(career)
            continue
        index = rng.choice(options)
        stay = career.stays[index]
        point = between(rng.random, stay.start + 10, min(stay.end, y1) - 10)
        if planner.split_closed(career.stays, index, point):
            wanted -= 1


def _merge_moves(careers: list[Career], y0: int, y1: int, wanted: int, rng: random.Random) -> None:
    candidates = [
        (career, i)
        for career in careers
        if not career.removed
        for i in range(1, len(career.stays))
        if career.stays[i].care_type == CLOSED
        and career.stays[i - 1].care_type == CLOSED
        and career.stays[i].link in ("transfer", "pair")
        and y0 <= career.stays[i - 1].start
        and career.stays[i].start < y1
    ]
    chosen = rng.sample(candidates, min(len(candidates), wanted))
    # Merge from the end of each career so earlier indexes stay valid.
    for career, index in sorted(chosen, key=lambda ci: (ci[0].seq, -ci[1])):
        stays = career.stays
        previous, current = stays[index - 1], stays[index]
        previous.end = current.end
        previous.discharge_reason = current.discharge_reason
        previous.discharge_destination = current.discharge_destination
        del stays[index]


# -- the other care types, streamed --------------------------------------------------------------
def other_careers(planner: Planner, origin: int, last_day: int, scale: float) -> Iterator[Career]:
    """Careers in the other care types, in order of their first day in the feed (``first_day``).

    Careers from the history before ``origin`` that are still running at ``origin`` come first
    (their ``first_day`` is ``origin``); then new careers day by day until ``last_day``.
    """
    rng = planner.rng
    random = rng.random
    calendar = planner.calendar
    history: list[Career] = []
    origin_year = calendar.year_of(origin)
    first_year = origin_year - max(OTHER_HISTORY_YEARS.values())
    last_year = calendar.year_of(last_day)
    started = False
    for year in range(first_year, last_year + 1):
        y0, y1 = calendar.year_start(year), min(calendar.year_start(year + 1), last_day + 1)
        if y1 <= y0:
            break
        fraction = (y1 - y0) / (calendar.year_start(year + 1) - y0)
        arrivals: list[tuple[int, int]] = []
        for order, care_type in enumerate(OTHER_CARE_TYPES):
            if year < origin_year - OTHER_HISTORY_YEARS[care_type]:
                continue
            expected = CARE_MODELS[care_type].arrivals_per_year * scale * fraction
            count = int(expected) + (1 if rng.random() < expected - int(expected) else 0)
            span = y1 - y0
            arrivals.extend((y0 + int(random() * span), order) for _ in range(count))
        arrivals.sort()
        for day, order in arrivals:
            career = planner.other_career(OTHER_CARE_TYPES[order], day, origin)
            if day < origin:
                if career is not None:
                    career.first_day = origin
                    history.append(career)
                continue
            if not started:
                started = True
                yield from history
                history = []
            if career is not None:
                career.first_day = day
                yield career
    yield from history
