"""The simulated senders and identifiers: providers with AGB codes and locations, municipalities
from the region table, synthetic BSNs.

Everything here is synthetic on purpose: AGB codes are ``99`` followed by six digits and BSNs start
with ``99`` (the worked example's convention), so no simulated message can name a real provider or
person. AGB codes depend only on the provider's index, not on the seed, so API tokens issued once
(``--issue-tokens``) keep working for any seed with the same or fewer providers.
"""

from __future__ import annotations

import random
from bisect import bisect_right
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, ClassVar, Generic, TypeVar

from hubdev.simulate.calibration import (
    CLOSED,
    CLOSED_LOCATIONS_NATIONAL,
    CLOSED_PROVIDERS_NATIONAL,
    FAMILY_HOME,
    FOSTER,
    OPEN,
    SMALL_SCALE,
)
from services.contracts.regions import RegionTable

T = TypeVar("T")
DEFAULT_PROVIDERS = 120
_AGB_STRIDE = 7_919
"""A prime: index -> six digits is a bijection modulo 10^6, so codes are unique and look random."""
_PLACEMENT_MULTIPLIER = 2_654_435_761
"""Odd, so ``counter * multiplier mod 2**32`` is a bijection: hex placement ids never collide."""


def zero_pad(n: int, width: int) -> str:
    """``f"{n:0{width}d}"`` for ``n >= 0``; compiled, a format spec costs a call into ``str.format``."""
    text = str(n)
    return "0" * (width - len(text)) + text if len(text) < width else text


def _hex8(n: int) -> str:
    """The low 32 bits of ``n`` as eight lower-case hex digits (``f"{n & 0xFFFFFFFF:08x}"``)."""
    return hex((n & 0xFFFFFFFF) | 0x100000000)[3:]


class WorldError(ValueError):
    """The options cannot make a world (too few providers, no municipalities, BSNs exhausted)."""


def agb_code(index: int) -> str:
    """The synthetic AGB code of provider ``index`` (``99`` + six digits, unique below 10^6)."""
    return f"99{(index * _AGB_STRIDE + 104_729) % 1_000_000:06d}"


@dataclass(slots=True)
class Provider:
    """A care provider: which care types it offers at which locations, and how it numbers stays."""

    index: int
    agb: str
    profile: str
    weight: float
    locations: dict[str, list[str]]
    id_style: int
    batch_sender: bool
    sender: dict[str, str] = field(init=False)

    def __post_init__(self) -> None:
        self.sender = {"kind": "provider", "code": self.agb}

    def offers(self, care_type: str) -> bool:
        return care_type in self.locations

    def placement_id(self, n: int, start: str) -> str:
        """The provider's own reference for its ``n``-th stay, starting on ``start`` (YYYY-MM-DD):
        each provider has its own style (some put the year in it); unique per ``n``."""
        if self.id_style == 0:
            return "P" + _hex8(n * _PLACEMENT_MULTIPLIER)
        if self.id_style == 1:
            return f"{start[:4]}-{zero_pad(n, 6)}"
        return f"PL{zero_pad(self.index, 3)}{zero_pad(n, 7)}"

    def measure_id(self, n: int) -> str:
        return "M" + _hex8(n * _PLACEMENT_MULTIPLIER)

    def foster_family(self, n: int) -> str:
        """Every foster placement is with a family; each family is a location of its own."""
        return "PG" + zero_pad(n, 5)


class Numbering:
    """The serial numbers behind placement, measure and foster-family ids, for one *lane*.

    The feed is made by independent shards (possibly in other processes, in any order); lane ``k``
    of ``lanes`` hands out ``k + 1``, ``k + 1 + lanes``, ``k + 1 + 2·lanes``, ... per provider (or
    municipality), so no two shards ever make the same id and each shard's ids depend only on the
    shard itself.
    """

    __slots__ = ("_families", "_lane", "_lanes", "_measures", "_municipal", "_placements")

    def __init__(self, lane: int, lanes: int) -> None:
        if not 0 <= lane < lanes:
            raise ValueError(f"lane {lane} is not one of {lanes} lanes")
        self._lane, self._lanes = lane, lanes
        self._placements: dict[int, int] = {}
        self._measures: dict[int, int] = {}
        self._families: dict[int, int] = {}
        self._municipal: dict[str, int] = {}

    def _next(self, counts: dict[Any, int], owner: Any) -> int:
        count = counts.get(owner, 0)
        counts[owner] = count + 1
        return count * self._lanes + self._lane + 1

    def placement_id(self, provider: Provider, start: str) -> str:
        return provider.placement_id(self._next(self._placements, provider.index), start)

    def measure_id(self, provider: Provider) -> str:
        return provider.measure_id(self._next(self._measures, provider.index))

    def foster_family(self, provider: Provider) -> str:
        return provider.foster_family(self._next(self._families, provider.index))

    def municipal_measure_id(self, code: str) -> str:
        return f"G{code}-{zero_pad(self._next(self._municipal, code), 7)}"


@dataclass(frozen=True, slots=True)
class World:
    providers: tuple[Provider, ...]
    by_care_type: dict[str, tuple[Provider, ...]]
    provider_tables: dict[str, Table[Provider]]
    municipalities: tuple[str, ...]
    municipality_senders: dict[str, dict[str, str]]
    unknown_municipality: str
    """A well-formed gemeentecode that is not in the region table (for S300 breaks)."""

    def pick_provider(self, rng: random.Random, care_type: str, avoid: Provider | None = None) -> Provider:
        """A provider of ``care_type``, larger ones more often; another than ``avoid`` if one exists."""
        table = self.provider_tables[care_type]
        for _ in range(8):
            provider = table.pick(rng.random)
            if provider is not avoid:
                return provider
        others = [p for p in self.by_care_type[care_type] if p is not avoid]
        return rng.choice(others) if others else table.values[0]


def _profile_counts(n: int) -> tuple[int, int, int]:
    """(closed-care providers, foster-care providers, residential providers) for ``n`` providers."""
    if n < 3:
        raise WorldError("--providers must be at least 3 (closed, foster and residential care)")
    closed = max(1, min(CLOSED_PROVIDERS_NATIONAL, round(n * CLOSED_PROVIDERS_NATIONAL / DEFAULT_PROVIDERS)))
    if n >= 6:
        closed = max(closed, 2)
    foster = max(1, round(n * 0.2))
    residential = n - closed - foster
    if residential < 1:
        foster -= 1 - residential
        residential = 1
    return closed, foster, residential


def build_world(rng: random.Random, n_providers: int, regions: RegionTable) -> World:
    """Providers of three profiles (JeugdzorgPlus, foster care, other residential care).

    The closed-care providers hold the national 24 accommodations between them (11 providers in
    reality); they also run open and small-scale groups, as the real ones do.
    """
    closed, foster, residential = _profile_counts(n_providers)
    profiles = ["closed"] * closed + ["foster"] * foster + ["residential"] * residential
    providers: list[Provider] = []
    closed_locations = (
        _spread(CLOSED_LOCATIONS_NATIONAL, closed) if closed <= CLOSED_PROVIDERS_NATIONAL else []
    )
    rank = {"closed": 0, "foster": 0, "residential": 0}
    for index, profile in enumerate(profiles):
        rank[profile] += 1
        weight = 1.0 / rank[profile] ** 0.7
        locations: dict[str, list[str]] = {}
        if profile == "closed":
            n_closed = closed_locations[index] if closed_locations else 2
            locations[CLOSED] = [f"G{i}" for i in range(1, n_closed + 1)]
            locations[OPEN] = [f"O{i}" for i in range(1, rng.randint(1, 3) + 1)]
            locations[SMALL_SCALE] = [f"K{i}" for i in range(1, rng.randint(1, 2) + 1)]
        elif profile == "foster":
            locations[FOSTER] = []  # a new family (location) per placement
            locations[FAMILY_HOME] = [f"H{i:02d}" for i in range(1, rng.randint(4, 30) + 1)]
        else:
            locations[OPEN] = [f"O{i}" for i in range(1, rng.randint(2, 8) + 1)]
            if rng.random() < 0.7:
                locations[SMALL_SCALE] = [f"K{i}" for i in range(1, rng.randint(1, 5) + 1)]
            if rng.random() < 0.3:
                locations[FAMILY_HOME] = [f"H{i:02d}" for i in range(1, rng.randint(2, 10) + 1)]
        providers.append(
            Provider(
                index=index,
                agb=agb_code(index),
                profile=profile,
                weight=weight,
                locations=locations,
                id_style=rng.randrange(3),
                batch_sender=rng.random() < 0.25,
            )
        )
    by_care_type: dict[str, tuple[Provider, ...]] = {}
    tables: dict[str, Table[Provider]] = {}
    for care_type in (CLOSED, OPEN, FAMILY_HOME, FOSTER, SMALL_SCALE):
        offering = tuple(p for p in providers if p.offers(care_type))
        if not offering:
            raise WorldError(f"no provider offers {care_type}: use more --providers")
        by_care_type[care_type] = offering
        tables[care_type] = Table((p, p.weight) for p in offering)
    municipalities = tuple(sorted(regions.municipality_region))
    if not municipalities:
        raise WorldError("the region table has no municipalities")
    unknown = next(f"{n:04d}" for n in range(9999, -1, -1) if f"{n:04d}" not in regions)
    return World(
        providers=tuple(providers),
        by_care_type=by_care_type,
        provider_tables=tables,
        municipalities=municipalities,
        municipality_senders={code: {"kind": "municipality", "code": code} for code in municipalities},
        unknown_municipality=unknown,
    )


def _spread(total: int, parts: int) -> list[int]:
    """``total`` split over ``parts`` as evenly as possible, larger shares first."""
    base, extra = divmod(total, parts)
    return [base + (1 if i < extra else 0) for i in range(parts)]


class BsnAllocator:
    """Unique synthetic BSNs ``99`` + six digits + check digit, passing the 11-proef, in a scrambled
    but fixed order.

    The six free digits run through an affine bijection of 0..10^6-1 and the check digit follows
    from the 11-proef; a body whose check digit would be 10 is skipped (1 in 11). So at most
    ~909,000 youth per feed. Shard ``lane`` of ``lanes`` takes every ``lanes``-th position of that
    order, so shards never hand out the same BSN.
    """

    _SPACE = 1_000_000
    _MULTIPLIER = 387_433  # odd and not a multiple of 5: a bijection modulo 10^6
    _PREFIX_SUM = 9 * 9 + 8 * 9
    # Weighted digit sums of the body's upper and lower three digits (weights 7 6 5 and 4 3 2).
    _HIGH: ClassVar[list[int]] = [7 * (n // 100) + 6 * (n // 10 % 10) + 5 * (n % 10) for n in range(1000)]
    _LOW: ClassVar[list[int]] = [4 * (n // 100) + 3 * (n // 10 % 10) + 2 * (n % 10) for n in range(1000)]

    def __init__(self, seed: int, lane: int = 0, lanes: int = 1) -> None:
        if not 0 <= lane < lanes:
            raise ValueError(f"lane {lane} is not one of {lanes} lanes")
        self._offset = (seed * 2_654_435_761 + 12_345) % self._SPACE
        self._next = lane
        self._step = lanes
        self._ready: list[str] = []

    def allocate(self) -> str:
        if not self._ready:
            self._refill()
        return self._ready.pop()

    def _refill(self, count: int = 2_048) -> None:
        """The next ``count`` positions of this lane at once (in reverse, for ``pop``)."""
        if self._next >= self._SPACE:
            raise WorldError("synthetic BSNs (starting with 99) are exhausted: lower --scale or the period")
        high, low, prefix = self._HIGH, self._LOW, self._PREFIX_SUM
        multiplier, offset, space = self._MULTIPLIER, self._offset, self._SPACE
        stop = min(self._next + count * self._step, space)
        bodies = [(n * multiplier + offset) % space for n in range(self._next, stop, self._step)]
        self._next = stop
        checked = [(body, (prefix + high[body // 1000] + low[body % 1000]) % 11) for body in bodies]
        self._ready = [f"99{str(body + space)[1:]}{check}" for body, check in reversed(checked) if check < 10]
        if not self._ready:
            self._refill(count)


class Table(Generic[T]):
    """A weighted choice, precomputed: one ``random()`` and a bisection per draw."""

    __slots__ = ("_cumulative", "_total", "values")

    def __init__(self, items: Iterable[tuple[T, float]]) -> None:
        pairs = list(items)
        if not pairs:
            raise ValueError("a table needs at least one value")
        self.values: tuple[T, ...] = tuple(value for value, _ in pairs)
        cumulative: list[float] = []
        total = 0.0
        for _, weight in pairs:
            total += weight
            cumulative.append(total)
        self._cumulative = cumulative
        self._total = total

    def pick(self, random: Callable[[], float]) -> T:
        return self.values[bisect_right(self._cumulative, random() * self._total)]


def between(random: Callable[[], float], low: int, high: int) -> int:
    """A uniform integer in [low, high]; several times cheaper than ``Random.randint``."""
    return low + int(random() * (high - low + 1))


_VARIANT = {c: "89ab"[int(c, 16) & 3] for c in "0123456789abcdef"}


def uuid_from(random_bytes: bytes) -> str:
    """A version-4 UUID string (lower case) from 16 random bytes; faster than ``uuid.UUID``."""
    return _uuid_text(random_bytes.hex())


def _uuid_text(h: str) -> str:
    """The UUID of 32 random hex digits: the version digit set to 4, the variant to 8, 9, a or b."""
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{_VARIANT[h[16]]}{h[17:20]}-{h[20:]}"


class UuidSource:
    """Version-4 UUID strings from ``rng``, drawn ``chunk`` at a time: one draw, many ids.

    A class rather than a generator: compiled, taking an id is a native call, not a resumption.
    """

    __slots__ = ("_chunk", "_index", "_ready", "_rng")

    def __init__(self, rng: random.Random, chunk: int = 4_096) -> None:
        self._rng = rng
        self._chunk = chunk
        self._ready: list[str] = []
        self._index = 0

    def take(self) -> str:
        if self._index == len(self._ready):
            self._refill()
        value = self._ready[self._index]
        self._index += 1
        return value

    def _refill(self) -> None:
        text = self._rng.randbytes(16 * self._chunk).hex()
        self._ready = [_uuid_text(text[i : i + 32]) for i in range(0, 32 * self._chunk, 32)]
        self._index = 0
