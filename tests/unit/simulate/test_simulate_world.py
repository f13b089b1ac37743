"""Senders and identifiers: synthetic, well-formed, unique; the overall volume of care."""

from __future__ import annotations

import random
from datetime import date

import pytest

from hubdev.simulate.calibration import (
    CLOSED,
    CLOSED_LOCATIONS_NATIONAL,
    CLOSED_PROVIDERS_NATIONAL,
    RESIDENTIAL_YOUTH_PER_YEAR,
    closed_targets,
)
from hubdev.simulate.feed import Simulation, SimulationConfig
from hubdev.simulate.world import BsnAllocator, WorldError, agb_code, build_world
from services.contracts.bsn import is_valid_bsn
from tests.unit.simulate.simulate_support import regions


def test_bsns_pass_the_11_proef_start_with_99_and_never_repeat() -> None:
    allocator = BsnAllocator(7)
    bsns = [allocator.allocate() for _ in range(100_000)]
    assert len(set(bsns)) == len(bsns)
    assert all(b.startswith("99") and is_valid_bsn(b) for b in bsns)


def test_agb_codes_are_eight_digits_unique_and_independent_of_the_seed() -> None:
    codes = [agb_code(i) for i in range(5_000)]
    assert len(set(codes)) == len(codes)
    assert all(len(c) == 8 and c.isdigit() for c in codes)
    a = build_world(random.Random("1"), 120, regions())
    b = build_world(random.Random("2"), 120, regions())
    assert [p.agb for p in a.providers] == [p.agb for p in b.providers]


def test_national_world_has_the_real_closed_care_structure() -> None:
    world = build_world(random.Random("x"), 120, regions())
    closed = world.by_care_type[CLOSED]
    assert len(closed) == CLOSED_PROVIDERS_NATIONAL
    assert sum(len(p.locations[CLOSED]) for p in closed) == CLOSED_LOCATIONS_NATIONAL
    assert world.unknown_municipality not in regions()
    assert set(world.municipalities) == set(regions().municipality_region)


@pytest.mark.parametrize("n", [3, 4, 10, 500])
def test_any_number_of_providers_from_three_offers_every_care_type(n: int) -> None:
    world = build_world(random.Random("n"), n, regions())
    assert len(world.providers) == n
    assert all(world.by_care_type[care] for care in world.by_care_type)


def test_too_few_providers_is_refused() -> None:
    with pytest.raises(WorldError):
        build_world(random.Random("n"), 2, regions())


def test_targets_after_2023_are_extrapolated_and_before_2017_held() -> None:
    assert closed_targets(2016) == closed_targets(2017) == (1924, 1537)
    assert closed_targets(2024) == (802, 688)
    assert closed_targets(2030)[0] < closed_targets(2029)[0]


def test_a_national_year_has_about_41000_youth_in_residential_care() -> None:
    """Plan only (no messages): youth with any stay overlapping 2023."""
    simulation = Simulation(
        SimulationConfig(start=date(2023, 1, 1), end=date(2023, 12, 31), seed=2), regions()
    )
    y0, y1 = date(2023, 1, 1).toordinal(), date(2024, 1, 1).toordinal()
    youth = sum(1 for c in simulation.careers() if any(s.start < y1 and s.end >= y0 for s in c.stays))
    assert abs(youth - RESIDENTIAL_YOUTH_PER_YEAR) < 0.1 * RESIDENTIAL_YOUTH_PER_YEAR
