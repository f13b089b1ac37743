"""The one-pass series equals ``region_figures`` date by date: on random facts (also facts no feed
could produce, so every test of ``contribution`` meets arbitrary dates), on the worked example
and on a simulated year read in shuffled order."""

from __future__ import annotations

import json
import random
from collections import defaultdict
from collections.abc import Sequence
from datetime import date, timedelta
from functools import cache
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hubdev.paths import SPEC_EXAMPLES
from hubdev.simulate.feed import Simulation, SimulationConfig
from services.aggregate.facts import (
    Episode,
    RestrictiveMeasure,
    Transfer,
    YouthFacts,
    build_youth_facts,
    derive_episodes,
    derive_transfers,
)
from services.aggregate.figures import NO_CONTRIBUTION, contribution, region_figures
from services.aggregate.timeline import Placement
from services.contracts.regions import RegionTable, load_region_table
from services.privacy.pseudonym import ephemeral_keyring
from services.regulator.series import (
    EVERY,
    Every,
    as_of_dates,
    change_dates,
    figure_series,
    segment_starts,
)
from services.replay.offline import judge_lines

TABLE = RegionTable(
    municipality_region={"0363": "R1", "0599": "R2", "0014": "R3"},
    region_names={"R1": "Een", "R2": "Twee", "R3": "Drie"},
)
BASE = date(2025, 1, 1)
REGIONS = ["R1", "R2", "R3", None, "R9"]  # None: no region; R9: not in the table (both: NL only)
KINDS = ["afzondering", "separatie", "fixatie", "insluiting_eigen_kamer"]
CARE_TYPES = ["gesloten", "gesloten", "open_residentieel", "pleegzorg"]
DESTINATIONS = [None, "thuis", "residentieel", "pleeggezin", "onbekend"]

PROPERTY_SETTINGS = settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)


# --- random facts ----------------------------------------------------------------------------------------


def _day(draw: st.DrawFn, low: int = 0, high: int = 900) -> date:
    return BASE + timedelta(days=draw(st.integers(low, high)))


@st.composite
def placements(draw: st.DrawFn) -> list[Placement]:
    result = []
    for i in range(draw(st.integers(0, 4))):
        start = _day(draw)
        end = None if draw(st.booleans()) else start + timedelta(days=draw(st.integers(0, 500)))
        result.append(
            Placement(
                draw(st.sampled_from(["10000001", "10000002"])),
                f"P{i}",
                start,
                draw(st.sampled_from(["L1", "L2"])),
                draw(st.sampled_from(CARE_TYPES)),
                "jw",
                draw(st.sampled_from(REGIONS)),
                end,
                None if end is None else "01",
                None if end is None else draw(st.sampled_from(DESTINATIONS)),
            )
        )
    return sorted(result, key=lambda p: (p.start_date, p.provider_agb, p.placement_id))


@st.composite
def derived_facts(draw: st.DrawFn, youth: str) -> YouthFacts:
    """Facts as a feed gives them: transfers and episodes derived from the placements."""
    stays = draw(placements())
    perspectives = sorted({_day(draw) for _ in range(draw(st.integers(0, 3)))})
    measures = [
        RestrictiveMeasure(draw(st.sampled_from(KINDS)), _day(draw), draw(st.sampled_from(REGIONS)))
        for _ in range(draw(st.integers(0, 3)))
    ]
    return YouthFacts(
        youth=youth,
        placements=tuple(stays),
        transfers=tuple(derive_transfers(stays)),
        episodes=tuple(derive_episodes(stays, perspectives)),
        perspective_dates=tuple(perspectives),
        restrictive_measures=tuple(measures),
    )


@st.composite
def arbitrary_facts(draw: st.DrawFn, youth: str) -> YouthFacts:
    """Facts whose transfers, episodes (deadlines, spans, ends) are drawn independently of the
    placements: the series must not rely on how the facts were derived, only on their dates."""
    stays = draw(placements())
    episodes = []
    for _ in range(draw(st.integers(0, 2))):
        spans = []
        for _ in range(draw(st.integers(1, 3))):
            start = _day(draw)
            spans.append(
                (start, None if draw(st.booleans()) else start + timedelta(days=draw(st.integers(0, 300))))
            )
        start = min(s for s, _ in spans)
        end = None if draw(st.booleans()) else _day(draw)
        episodes.append(
            Episode(
                start_date=start,
                end_date=end,
                deadline=start + timedelta(days=draw(st.integers(0, 400))),
                region=draw(st.sampled_from(REGIONS)),
                final_destination=draw(st.sampled_from(DESTINATIONS)),
                perspective_in_time=draw(st.booleans()),
                spans=tuple(spans),
            )
        )
    perspectives = sorted({_day(draw) for _ in range(draw(st.integers(0, 3)))})
    return YouthFacts(
        youth=youth,
        placements=tuple(stays),
        transfers=tuple(
            Transfer(_day(draw), draw(st.sampled_from(REGIONS)), draw(st.booleans()))
            for _ in range(draw(st.integers(0, 3)))
        ),
        episodes=tuple(episodes),
        perspective_dates=tuple(perspectives),
        restrictive_measures=tuple(
            RestrictiveMeasure(draw(st.sampled_from(KINDS)), _day(draw), draw(st.sampled_from(REGIONS)))
            for _ in range(draw(st.integers(0, 3)))
        ),
    )


@st.composite
def requested_dates(draw: st.DrawFn) -> list[date]:
    """Ascending distinct dates: a random sample, or a day/week/month range, around the facts."""
    every: Every | None = draw(st.sampled_from([None, *EVERY]))
    if every is None:
        days = draw(st.lists(st.integers(-400, 1700), min_size=1, max_size=40, unique=True))
        return sorted(BASE + timedelta(days=d) for d in days)
    first = BASE + timedelta(days=draw(st.integers(-400, 1200)))
    last = first + timedelta(days=draw(st.integers(0, 500 if every == "day" else 1500)))
    return as_of_dates(first, last, every) or [first]


def _assert_series_equals_figures(
    facts: Sequence[YouthFacts], dates: Sequence[date], table: RegionTable
) -> None:
    series = figure_series(facts, dates, table)
    assert [point.as_of for point in series] == list(dates)
    for point in series:
        assert point.rows == region_figures(facts, point.as_of, table), point.as_of


@PROPERTY_SETTINGS
@given(data=st.data(), dates=requested_dates())
def test_series_equals_region_figures_on_every_date_for_derived_facts(
    data: st.DataObject, dates: list[date]
) -> None:
    facts = [data.draw(derived_facts(f"y{i}")) for i in range(data.draw(st.integers(1, 6)))]
    _assert_series_equals_figures(facts, dates, TABLE)


@PROPERTY_SETTINGS
@given(data=st.data(), dates=requested_dates())
def test_series_equals_region_figures_on_every_date_for_arbitrary_facts(
    data: st.DataObject, dates: list[date]
) -> None:
    facts = [data.draw(arbitrary_facts(f"y{i}")) for i in range(data.draw(st.integers(1, 6)))]
    _assert_series_equals_figures(facts, dates, TABLE)


@PROPERTY_SETTINGS
@given(data=st.data())
def test_contribution_changes_only_on_a_change_date(data: st.DataObject) -> None:
    """The claim the series rests on, day by day: contribution(D) != contribution(D - 1) only
    when D is a change date (so between change dates it is constant)."""
    facts = data.draw(st.one_of(derived_facts("y"), arbitrary_facts("y")))
    changes = change_dates(facts)
    previous = contribution(facts, BASE - timedelta(days=400))
    for offset in range(-399, 1700):
        day = BASE + timedelta(days=offset)
        current = contribution(facts, day)
        if current != previous:
            assert day in changes, day
        previous = current


def test_segment_starts_are_the_first_requested_date_at_or_after_each_change() -> None:
    stay = Placement("10000001", "P1", date(2025, 3, 10), "L1", "gesloten", "jw", "R1", None, None, None)
    facts = YouthFacts("y", (stay,), (), tuple(derive_episodes([stay], [])), (), ())
    sundays = as_of_dates(date(2025, 3, 1), date(2026, 12, 31), "week")
    starts = [sundays[i] for i in segment_starts(facts, sundays)]
    # The facts' dates are the start (Monday 10 March 2025) and the deadline (Wednesday 10
    # September); each, the day after and 365 days later change it. Sundays: the first date, the
    # Sunday after the start, after the deadline, after start + 365 (Tuesday 10 March 2026) and
    # after deadline + 365 (Thursday 10 September 2026), when it leaves the cohort window.
    assert starts == [
        date(2025, 3, 2),
        date(2025, 3, 16),
        date(2025, 9, 14),
        date(2026, 3, 15),
        date(2026, 9, 13),
    ]


def test_an_empty_contribution_is_never_added() -> None:
    late = Placement("10000001", "P1", date(2030, 1, 1), "L1", "gesloten", "jw", "R1", None, None, None)
    facts = YouthFacts("y", (late,), (), (), (), ())
    assert contribution(facts, date(2029, 12, 31)) == NO_CONTRIBUTION
    series = figure_series([facts], [date(2029, 12, 30), date(2029, 12, 31), date(2030, 1, 1)], TABLE)
    assert [point.rows[-1]["occupancy"] for point in series] == [0, 0, 1]


def test_dates_must_be_ascending_and_distinct() -> None:
    with pytest.raises(ValueError, match="ascending and distinct"):
        figure_series([], [date(2025, 1, 2), date(2025, 1, 1)], TABLE)
    with pytest.raises(ValueError, match="ascending and distinct"):
        figure_series([], [date(2025, 1, 1), date(2025, 1, 1)], TABLE)
    assert figure_series([], [], TABLE) == []


def test_a_date_near_the_end_of_the_calendar_does_not_overflow() -> None:
    stay = Placement("10000001", "P1", date(9999, 12, 1), "L1", "gesloten", "jw", "R1", None, None, None)
    facts = YouthFacts("y", (stay,), (), (), (), ())
    assert date(9999, 12, 1) in change_dates(facts)
    series = figure_series([facts], [date(9999, 11, 30), date(9999, 12, 31)], TABLE)
    assert [point.rows[-1]["occupancy"] for point in series] == [0, 1]


def test_progress_reports_every_youth() -> None:
    calls: list[tuple[int, int]] = []
    stay = Placement("10000001", "P1", date(2025, 1, 1), "L1", "gesloten", "jw", "R1", None, None, None)
    facts = [YouthFacts(f"y{i}", (stay,), (), (), (), ()) for i in range(3)]
    figure_series(iter(facts), [date(2025, 1, 1)], TABLE, lambda done, total: calls.append((done, total)), 3)
    assert calls[-1] == (3, 3)


# --- the worked example ----------------------------------------------------------------------------------


@cache
def _example_facts() -> tuple[RegionTable, list[YouthFacts]]:
    table = load_region_table(SPEC_EXAMPLES / "regions.csv")
    lines = (SPEC_EXAMPLES / "feed.jsonl").read_bytes().splitlines()
    result = judge_lines(lines, ephemeral_keyring(), table)
    return table, [build_youth_facts(messages, table) for messages in result.by_youth.values()]


@pytest.mark.skipif(not SPEC_EXAMPLES.is_dir(), reason=f"worked example not found at {SPEC_EXAMPLES}")
def test_worked_example_every_day_of_three_years_equals_region_figures() -> None:
    table, facts = _example_facts()
    _assert_series_equals_figures(facts, as_of_dates(date(2024, 7, 1), date(2027, 6, 30), "day"), table)


@pytest.mark.skipif(not SPEC_EXAMPLES.is_dir(), reason=f"worked example not found at {SPEC_EXAMPLES}")
def test_worked_example_series_gives_the_expected_figures_on_its_as_of_date() -> None:
    table, facts = _example_facts()
    expected = json.loads((SPEC_EXAMPLES / "expected-figures.json").read_text())
    dates = as_of_dates(date(2026, 1, 1), date(2026, 6, 30), "day")
    (point,) = [p for p in figure_series(facts, dates, table) if p.as_of.isoformat() == expected["as_of"]]
    assert [row["region"] for row in point.rows] == [row["region"] for row in expected["regions"]]
    for got, want in zip(point.rows, expected["regions"], strict=True):
        assert {k: got[k] for k in want} == want


# --- a simulated year, shuffled --------------------------------------------------------------------------


@cache
def _simulated_year(invalid_share: float) -> tuple[bytes, ...]:
    config = SimulationConfig(
        start=date(2025, 1, 1),
        end=date(2025, 12, 31),
        seed=16,
        history_days=365,
        scale=0.3,
        other_care_scale=0.02,
        invalid_share=invalid_share,
    )
    return tuple(line.payload for line in Simulation(config, load_region_table()).lines())


def _shuffled(lines: Sequence[bytes], seed: int) -> list[bytes]:
    """The lines in a random order, except that the copies of one message id keep their file
    order: the first of conflicting re-sends counts (JH030), so only that order is meaningful."""
    order = list(range(len(lines)))
    random.Random(seed).shuffle(order)
    copies: dict[str, list[int]] = defaultdict(list)
    for index, line in enumerate(lines):
        try:
            message: Any = json.loads(line)
        except ValueError:
            continue
        if isinstance(message, dict) and isinstance(message.get("message_id"), str):
            copies[message["message_id"]].append(index)
    slot_of = {index: slot for slot, index in enumerate(order)}
    for indices in copies.values():
        for index, slot in zip(indices, sorted(slot_of[i] for i in indices), strict=True):
            order[slot] = index
    return [lines[i] for i in order]


def _facts_of(lines: Sequence[bytes], table: RegionTable) -> list[YouthFacts]:
    result = judge_lines(lines, ephemeral_keyring(), table)
    return [build_youth_facts(messages, table) for messages in result.by_youth.values()]


def test_simulated_year_shuffled_every_day_equals_region_figures() -> None:
    table = load_region_table()
    lines = _simulated_year(0.02)
    assert 2_000 <= len(lines) <= 8_000, len(lines)  # a few thousand messages: a fast unit test
    facts = _facts_of(_shuffled(lines, seed=1), table)
    dates = as_of_dates(date(2025, 1, 1), date(2025, 12, 31), "day")
    series = figure_series(facts, dates, table)
    assert len(series) == 365
    assert series[-1].rows[-1]["placements_started_12m"] > 0  # the year is not empty
    for point in series:
        assert point.rows == region_figures(facts, point.as_of, table), point.as_of


def test_simulated_year_without_conflicting_resends_gives_the_same_series_in_any_order() -> None:
    table = load_region_table()
    lines = _simulated_year(0.0)
    dates = as_of_dates(date(2025, 1, 1), date(2025, 12, 31), "week")
    in_file_order = figure_series(_facts_of(lines, table), dates, table)
    shuffled = list(lines)
    random.Random(2).shuffle(shuffled)  # no JH030 here: any order gives the same accepted set
    assert figure_series(_facts_of(shuffled, table), dates, table) == in_file_order
