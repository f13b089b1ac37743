"""The numbers the simulator is calibrated on, and the assumptions that fill the gaps between them.

Everything quantitative lives here so ``docs/simulator.md`` and the code cannot drift: the published
JeugdzorgPlus figures (closed care, the one part that is pinned exactly), the overall volume of
residential youth care, and the distributions (stay lengths, destinations, reasons, measure rates)
that no source gives and are therefore plausible assumptions, named as such.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

CLOSED = "gesloten"
OPEN = "open_residentieel"
FAMILY_HOME = "gezinshuis"
FOSTER = "pleegzorg"
SMALL_SCALE = "kleinschalig"
CARE_TYPES = (CLOSED, OPEN, FAMILY_HOME, FOSTER, SMALL_SCALE)
OTHER_CARE_TYPES = (OPEN, FAMILY_HOME, FOSTER, SMALL_SCALE)

PUBLISHED_CLOSED: Mapping[int, tuple[int, int]] = {
    2017: (1924, 1537),
    2018: (1720, 1433),
    2019: (1701, 1382),
    2020: (1366, 1128),
    2021: (1175, 1029),
    2022: (989, 842),
    2023: (891, 765),
}
"""JeugdzorgPlus per calendar year: (placements, unique youth), national (NJI; 2017-2021 also in the
2023 uitvoeringsplan af- en ombouw gesloten jeugdhulp, seed 003)."""

FIRST_PUBLISHED, LAST_PUBLISHED = min(PUBLISHED_CLOSED), max(PUBLISHED_CLOSED)
DECLINE_AFTER_PUBLISHED = 0.90
"""Yearly factor after 2023: the 2022→2023 decline (891/989 = 0.90), continued geometrically. The
policy aim "as close to 0 closed placements as possible in 2030" is an ambition, not a trend, so
it is not extrapolated into the numbers."""

RESIDENTIAL_YOUTH_PER_YEAR = 41_000
"""Youth with a residential stay of any care type in a year (CBS jeugdhulp met verblijf, ~41,000).
The other care types' arrival rates below are tuned so a simulated year lands near this."""

CLOSED_PROVIDERS_NATIONAL = 11
CLOSED_LOCATIONS_NATIONAL = 24
"""'11 aanbieders met in totaal 24 accommodaties gesloten jeugdhulp' (seed 003)."""


def closed_targets(year: int) -> tuple[int, int]:
    """(gesloten placements started, distinct youth placed) in ``year`` at national scale.

    Before 2017 the 2017 figures are held flat (only needed for warm-up history); after 2023 both
    shrink by :data:`DECLINE_AFTER_PUBLISHED` a year, keeping 2023's placements-per-youth ratio.
    """
    if year in PUBLISHED_CLOSED:
        return PUBLISHED_CLOSED[year]
    if year < FIRST_PUBLISHED:
        return PUBLISHED_CLOSED[FIRST_PUBLISHED]
    placements, youth = PUBLISHED_CLOSED[LAST_PUBLISHED]
    factor = DECLINE_AFTER_PUBLISHED ** (year - LAST_PUBLISHED)
    return round(placements * factor), round(youth * factor)


def scaled(value: int, scale: float) -> int:
    return math.floor(value * scale + 0.5)


# -- closed-care careers (assumptions; the year totals are then pinned by plan.calibrate) -----------
FIRST_EPISODE_SHARE = 0.89
"""First episodes per year as a share of the unique-youth target; readmissions and carry-over
transfers make up the rest. Only sets the starting point: calibration then adds or removes youth."""

CLOSED_AGE_WEIGHTS: Sequence[tuple[int, int]] = ((12, 4), (13, 9), (14, 17), (15, 25), (16, 27), (17, 18))
CLOSED_STAY_MEDIAN_DAYS = 150.0
CLOSED_STAY_SIGMA = 0.6
CLOSED_STAY_BOUNDS = (10, 800)
CLOSED_STAY_SHORTENING = 0.03
"""Median stay shrinks 3 % a year from 2017 ('verkorten van de verblijfsduur', seeds 000/004)."""
CLOSED_MOVES: Sequence[tuple[int, int]] = ((0, 84), (1, 13), (2, 3))
"""Moves between closed groups inside one episode (the 'carrousel van overplaatsingen')."""
CLOSED_MOVE_BETWEEN_PROVIDERS = 0.55
PRE_STAY_SHARE = 0.5
"""Share of episodes that follow another residential stay (most youth come via other care)."""
PRE_STAY_TYPES: Sequence[tuple[str, int]] = ((OPEN, 60), (FAMILY_HOME, 15), (FOSTER, 15), (SMALL_SCALE, 10))
STEP_DOWN_SHARE = 0.4
STEP_DOWN_TYPES: Sequence[tuple[str, int]] = ((OPEN, 45), (SMALL_SCALE, 40), (FAMILY_HOME, 10), (FOSTER, 5))
READMISSION_SHARE = 0.12
CLOSED_LEGAL_BASIS: Sequence[tuple[str, int]] = (
    ("machtiging", 50),
    ("spoedmachtiging", 32),
    ("voorlopige_machtiging", 14),
    ("strafrechtelijk", 4),
)
CLOSED_DISCHARGE_DESTINATIONS: Sequence[tuple[str, int]] = (
    ("thuis", 38),
    ("kleinschalig_wonen", 12),
    ("onbekend", 12),
    ("zelfstandig", 9),
    ("residentieel", 9),
    ("jeugdinrichting", 8),
    ("gezinshuis", 7),
    ("pleeggezin", 5),
)
PERSPECTIVE_SHARE_CLOSED = 0.78
"""Episodes that ever get a perspective_determined; the rest never do."""
PERSPECTIVE_LATE_SHARE = 0.3
"""Of those, decided after the 6-month deadline."""

RESTRICTIVE_RATES_PER_MONTH: Mapping[str, float] = {
    "insluiting_eigen_kamer": 0.45,
    "afzondering": 0.30,
    "separatie": 0.20,
    "fixatie": 0.03,
}
"""Restrictive measures per youth-month in closed care in 2017 (illustrative, no source)."""

_SEPARATION_TREND: Mapping[int, float] = {2017: 1.0, 2018: 0.5, 2019: 0.35, 2020: 0.25, 2021: 0.2, 2022: 0.1}
_ISOLATION_TREND: Mapping[int, float] = {2017: 1.0, 2018: 0.9, 2019: 0.8, 2020: 0.72, 2021: 0.66, 2022: 0.62}


def restrictive_trend(kind: str, year: int) -> float:
    """Multiplier on the 2017 rate: separaties -50 % in the first year and -80 % by 2021 (seeds
    004 and 000), after that towards zero; afzondering declines more slowly; the rest are flat."""
    if kind == "separatie":
        table, tail = _SEPARATION_TREND, 0.05
    elif kind == "afzondering":
        table, tail = _ISOLATION_TREND, 0.6
    else:
        return 1.0
    if year <= 2017:
        return 1.0
    return table.get(year, tail)


# -- the other care types ------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class CareModel:
    """One care type's stays: arrivals of new careers, length, ages, what follows the stay."""

    arrivals_per_year: int
    median_days: float
    sigma: float
    max_days: int
    ages: tuple[int, int]
    legal_basis: Sequence[tuple[str, int]]
    next_stay: Sequence[tuple[str, int]]
    """Weights of the next care type after a stay; the rest of 100 is a discharge."""
    destinations: Sequence[tuple[str, int]]


_VOLUNTARY_HEAVY = (("vrijwillig", 62), ("machtiging", 33), ("spoedmachtiging", 4), ("strafrechtelijk", 1))
CARE_MODELS: Mapping[str, CareModel] = {
    FOSTER: CareModel(
        4_300,
        900.0,
        1.0,
        5_000,
        (0, 17),
        (("vrijwillig", 52), ("machtiging", 43), ("spoedmachtiging", 5)),
        ((FOSTER, 8), (FAMILY_HOME, 3), (OPEN, 3)),
        (
            ("thuis", 38),
            ("zelfstandig", 30),
            ("onbekend", 12),
            ("kleinschalig_wonen", 10),
            ("pleeggezin", 10),
        ),
    ),
    OPEN: CareModel(
        6_300,
        210.0,
        0.8,
        2_200,
        (6, 17),
        _VOLUNTARY_HEAVY,
        ((OPEN, 8), (SMALL_SCALE, 8), (FAMILY_HOME, 5), (FOSTER, 2)),
        (
            ("thuis", 45),
            ("zelfstandig", 15),
            ("kleinschalig_wonen", 12),
            ("onbekend", 12),
            ("pleeggezin", 4),
            ("gezinshuis", 4),
            ("residentieel", 5),
            ("jeugdinrichting", 3),
        ),
    ),
    FAMILY_HOME: CareModel(
        1_200,
        600.0,
        0.9,
        4_000,
        (3, 16),
        (("vrijwillig", 50), ("machtiging", 45), ("spoedmachtiging", 5)),
        ((FAMILY_HOME, 4), (OPEN, 6), (FOSTER, 4), (SMALL_SCALE, 4)),
        (("thuis", 35), ("zelfstandig", 30), ("onbekend", 15), ("kleinschalig_wonen", 15), ("pleeggezin", 5)),
    ),
    SMALL_SCALE: CareModel(
        1_900,
        330.0,
        0.8,
        2_500,
        (13, 17),
        (("vrijwillig", 75), ("machtiging", 24), ("spoedmachtiging", 1)),
        ((SMALL_SCALE, 5), (OPEN, 5)),
        (("zelfstandig", 45), ("thuis", 30), ("onbekend", 15), ("kleinschalig_wonen", 10)),
    ),
}
"""Arrival rates are tuned so a national year has ~41,000 youth in residential care (measured by
``tests/unit/simulate``); lengths and transitions are plausible assumptions, not published figures."""

EXTENDED_CARE_SHARE = 0.3
"""Share of youth whose care may run past 18 (verlengde jeugdhulp), always ending before 21."""

DISCHARGE_REASONS: Sequence[tuple[str, int]] = (
    ("31", 520),
    ("34", 150),
    ("32", 90),
    ("33", 55),
    ("35", 45),
    ("36", 30),
    ("39", 70),
    ("20", 30),
    ("02", 1),
)
"""JZ588 RedenBeeindiging for a discharge (37/38 are used for moves); '02' overlijden is rare."""

LINK_WEIGHTS: Sequence[tuple[str, int]] = (("transfer", 50), ("pair", 38), ("gap", 12))
"""How a stay follows the previous one: an explicit ``transfer`` message, an end+start pair within
7 days, or a discharge and a later new start (a gap of more than 7 days: not a transfer)."""

TRANSFER_REASONS_BY_STEP: Mapping[str, Sequence[tuple[str, int]]] = {
    "up": (("escalation", 70), ("breakdown", 20), ("other", 10)),
    "down": (("planned_step_down", 80), ("other", 12), ("capacity", 8)),
    "side": (("breakdown", 35), ("capacity", 30), ("other", 20), ("planned_step_down", 15)),
}
CARE_WEIGHT: Mapping[str, int] = {FOSTER: 0, FAMILY_HOME: 1, SMALL_SCALE: 1, OPEN: 2, CLOSED: 3}
"""Intensity order used to call a move a step up, down or sideways."""

DESTINATION_OF_CARE: Mapping[str, str] = {
    CLOSED: "residentieel",
    OPEN: "residentieel",
    SMALL_SCALE: "kleinschalig_wonen",
    FAMILY_HOME: "gezinshuis",
    FOSTER: "pleeggezin",
}
PERSPECTIVE_OF_DESTINATION: Mapping[str, str] = {
    "thuis": "thuis",
    "pleeggezin": "pleeggezin",
    "gezinshuis": "gezinshuis",
    "kleinschalig_wonen": "kleinschalig_wonen",
    "zelfstandig": "zelfstandig",
}
PERSPECTIVE_SHARE_OTHER = 0.35

# -- message-level behaviour ---------------------------------------------------------------------
MUNICIPALITY_SENDS_PERSPECTIVE = 0.6
MUNICIPALITY_SENDS_LEGAL = 0.35
OTS_SHARE_CLOSED = 0.45
VOOGDIJ_SHARE_FOSTER = 0.2
MEASURE_END_UPDATE_SHARE = 0.5
BOTH_WAYS_BETWEEN = 0.5
BOTH_WAYS_WITHIN = 0.15
CORRECTION_SHARE = 0.01
PHANTOM_SHARE = 0.003
RESEND_END_SHARE = 0.006
CANCEL_OF_CANCEL_SHARE = 0.02
"""Of the corrections, how many are followed by a (meaningless) cancel of the cancel."""
LATE_TARGET_SHARE = 0.1
"""Of the corrections, how many deliver the cancelled message after its cancel."""
BATCH_SENDER_SHARE = 0.25
"""Senders that send a nightly batch instead of one message at a time."""
