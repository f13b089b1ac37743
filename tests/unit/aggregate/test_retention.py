"""The retention horizon: dropping an expired youth changes no figure the hub still serves.

Random facts (as a feed derives them, and arbitrary ones whose dates are drawn independently), the
figures with and without the expired youth on every date from the cut-off on and as of the
baseline; the quiet date itself against ``contribution`` day by day; and a simulated feed whose
expired youth are dropped, compared with replay of the whole feed."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from services.aggregate.facts import YouthFacts, derive_episodes, derive_transfers
from services.aggregate.figures import NO_CONTRIBUTION, contribution, region_figures
from services.aggregate.retention import cutoff, expired, expired_youth, plan_sweep, quiet_from
from services.aggregate.state import FiguresState
from services.aggregate.timeline import Placement
from services.contracts.regions import load_region_table
from tests.unit.regulator.test_history_series import (
    BASE,
    PROPERTY_SETTINGS,
    TABLE,
    _facts_of,
    _simulated_year,
    arbitrary_facts,
    derived_facts,
)

CLOSED = "gesloten"


def _placement(start: date, end: date | None, care_type: str = CLOSED) -> Placement:
    return Placement("10000001", "P1", start, "L1", care_type, "jw", "R1", end, "01", "thuis")


def _facts(*placements: Placement) -> YouthFacts:
    stays = sorted(placements, key=lambda p: (p.start_date, p.provider_agb, p.placement_id))
    return YouthFacts(
        "y", tuple(stays), tuple(derive_transfers(stays)), tuple(derive_episodes(stays, [])), (), ()
    )


# --- the quiet date --------------------------------------------------------------------------------


def test_an_open_placement_never_expires() -> None:
    facts = _facts(_placement(date(2015, 1, 1), None))
    assert quiet_from(facts) is None
    assert not expired(facts, date(2040, 1, 1), 30)


def test_a_closed_stay_is_quiet_a_window_after_its_deadline() -> None:
    # Start 2020-01-10, deadline 2020-07-10, end 2020-03-01: the deadline is the latest date a window
    # looks at, so the youth leaves every figure on 2020-07-10 + 365 days.
    facts = _facts(_placement(date(2020, 1, 10), date(2020, 3, 1)))
    assert quiet_from(facts) == date(2021, 7, 10)
    assert contribution(facts, date(2021, 7, 9)) != NO_CONTRIBUTION
    assert contribution(facts, date(2021, 7, 10)) == NO_CONTRIBUTION


def test_expiry_waits_the_horizon_after_the_quiet_date() -> None:
    facts = _facts(_placement(date(2020, 1, 10), date(2020, 3, 1)))
    horizon = 1096
    last_kept = date(2021, 7, 10) + timedelta(days=horizon - 1)
    assert cutoff(last_kept, horizon) == date(2021, 7, 9)
    assert not expired(facts, last_kept, horizon)
    assert expired(facts, last_kept + timedelta(days=1), horizon)


def test_a_youth_in_the_baseline_row_is_kept() -> None:
    facts = _facts(_placement(date(2019, 6, 1), date(2019, 9, 1)))
    today = date(2030, 1, 1)
    assert expired(facts, today, 365)
    assert not expired(facts, today, 365, baseline=date(2019, 12, 31))
    assert expired(facts, today, 365, baseline=date(2018, 12, 31))  # not yet placed on that baseline
    pairs = [("a", facts), ("b", _facts(_placement(date(2029, 1, 1), None)))]
    assert list(expired_youth(pairs, today, 365)) == ["a"]


def test_a_non_closed_stay_counts_only_while_open() -> None:
    facts = _facts(_placement(date(2020, 1, 1), date(2020, 5, 1), care_type="open_residentieel"))
    assert quiet_from(facts) == date(2020, 5, 2)
    assert contribution(facts, date(2020, 4, 30)) != NO_CONTRIBUTION
    assert contribution(facts, date(2020, 5, 1)) == NO_CONTRIBUTION


@PROPERTY_SETTINGS
@given(data=st.data())
def test_no_contribution_from_the_quiet_date_on(data: st.DataObject) -> None:
    """Day by day: from quiet_from on the youth is in no figure (and it is not later than needed
    for facts a feed gives: the day before it the youth is in some figure or quiet_from is a
    conservative bound by a date no figure reads)."""
    facts = data.draw(st.one_of(derived_facts("y"), arbitrary_facts("y")))
    quiet = quiet_from(facts)
    if quiet is None:
        return
    for offset in range(0, 800):
        assert contribution(facts, quiet + timedelta(days=offset)) == NO_CONTRIBUTION, offset


# --- dropping expired youth changes no served figure ------------------------------------------------


def _assert_dropping_changes_nothing(
    facts: Sequence[YouthFacts], today: date, horizon: int, baseline: date | None
) -> int:
    gone = set(expired_youth(((f.youth, f) for f in facts), today, horizon, baseline))
    kept = [f for f in facts if f.youth not in gone]
    first = cutoff(today, horizon)
    dates = [first + timedelta(days=d) for d in (0, 1, 2, 30, 200, 364, 365, 366, 800)]
    dates += [today, today + timedelta(days=1), today + timedelta(days=900)]
    if baseline is not None:
        dates.append(baseline)
    for day in dates:
        assert region_figures(kept, day, TABLE) == region_figures(facts, day, TABLE), day
    return len(gone)


@PROPERTY_SETTINGS
@given(
    data=st.data(),
    today_offset=st.integers(0, 3500),
    horizon=st.integers(0, 800),
    baseline_offset=st.one_of(st.none(), st.integers(-100, 1200)),
)
def test_dropping_expired_youth_changes_no_figure_from_the_cutoff_on(
    data: st.DataObject, today_offset: int, horizon: int, baseline_offset: int | None
) -> None:
    facts = [
        data.draw(st.one_of(derived_facts(f"y{i}"), arbitrary_facts(f"y{i}")))
        for i in range(data.draw(st.integers(1, 6)))
    ]
    today = BASE + timedelta(days=today_offset)
    baseline = None if baseline_offset is None else BASE + timedelta(days=baseline_offset)
    _assert_dropping_changes_nothing(facts, today, horizon, baseline)


def test_the_state_dropping_expired_youth_keeps_replays_figures_on_a_simulated_feed() -> None:
    """A simulated year (2025, with a year of history) judged like replay; later the expired youth
    are removed from a ``FiguresState`` as their tombstones do, and its figures equal those of the
    whole feed (replay's) on the cut-off, today, later dates and the baseline."""
    table = load_region_table()
    facts = _facts_of(_simulated_year(0.02), table)
    horizon = 200
    today = date(2026, 9, 1)
    baseline = date(2024, 12, 31)
    state = FiguresState(table, today)
    for f in facts:
        state.upsert(f.youth, f, 1)
    gone = list(expired_youth(((f.youth, f) for f in facts), today, horizon, baseline))
    assert 0 < len(gone) < len(facts)  # some expire, some are kept (open stays, the baseline's)
    for youth in gone:
        state.remove(youth)
    assert state.youth_count == len(facts) - len(gone)
    for day in (cutoff(today, horizon), date(2026, 6, 30), today, date(2027, 3, 31), baseline):
        assert state.rows_as_of(day) == region_figures(facts, day, table), day


# --- the sweep's plan ------------------------------------------------------------------------------


def _message(youth: str, number: int, message_type: str, **body: object) -> dict[str, object]:
    return {
        "message_id": f"00000000-0000-4000-8000-{number:012d}",
        "message_type": message_type,
        "status": "new",
        "cancels_message_id": None,
        "sender": {"kind": "provider", "code": "10000001"},
        "created_at": "2029-12-01T00:00:00Z",
        "received_at": "2029-12-01T00:00:00Z",
        "youth_pseudonym": youth,
        "pseudonym_key_id": "k1",
        "birth_year": 2014,
        "municipality_code": "0363",
        **body,
    }


def _stay(youth: str, number: int, start: str, end: str | None) -> dict[str, dict[str, object]]:
    started = _message(
        youth,
        number,
        "placement_started",
        placement_id=f"P{number}",
        provider_agb="10000001",
        location_code="L1",
        care_type="gesloten",
        legal_basis="machtiging",
        start_date=start,
    )
    stored = {f"s:{number}": started}
    if end is not None:
        stored[f"s:{number + 1}"] = _message(
            youth,
            number + 1,
            "placement_ended",
            placement_id=f"P{number}",
            end_date=end,
            reason="31",
            destination="thuis",
        )
    return stored


def test_the_plan_keeps_other_partitions_and_youth_whose_table_has_newer_messages() -> None:
    old = _facts(_placement(date(2020, 1, 10), date(2020, 3, 1)))
    today = date(2030, 1, 1)
    table: dict[str, dict[str, Any]] = {
        "expired": _stay("expired", 1, "2020-01-10", "2020-03-01"),
        "fresh": _stay("fresh", 3, "2029-12-01", None),  # the state has not read its new facts yet
        "elsewhere": _stay("elsewhere", 5, "2020-01-10", "2020-03-01"),
        "broken": {"s:7": {}},  # facts that cannot be derived: kept, never dropped on a guess
    }
    facts = [(youth, old) for youth in ("expired", "fresh", "elsewhere", "broken", "orphan")]
    plan = plan_sweep(facts, table.get, lambda youth: youth != "elsewhere", TABLE, today, 365)
    assert plan.held == ["expired"]
    assert plan.orphans == ["orphan"]
