"""The four targets of metrics.md ("Targets (v1.1)") on hand-computed examples."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from services.aggregate.figures import FIGURE_KEYS
from services.contracts.vocabulary import RESTRICTIVE_MEASURE_KINDS
from services.regulator.public import public_row
from services.regulator.targets import (
    PATH_END,
    TARGET_NAMES,
    TARGETS,
    TargetResult,
    check_baseline,
    evaluate,
    path_value,
    target_column_names,
    target_columns,
    target_level,
)

B = date(2019, 12, 31)
D = date(2026, 3, 31)


def row(
    transfers: int = 0,
    cohort: int = 0,
    in_time: int = 0,
    separations: int = 0,
    placements: int = 0,
    region: str = "R01",
) -> dict[str, Any]:
    out: dict[str, Any] = dict.fromkeys(FIGURE_KEYS, 0)
    out.update(
        region=region,
        transfers_between_providers_12m=transfers,
        transfers_12m=transfers,
        perspective_cohort_12m=cohort,
        perspective_in_time_12m=in_time,
        perspective_in_time_rate=round(in_time / cohort, 4) if cohort else None,
        median_length_of_stay_days_12m=None,
        placements_started_12m=placements,
    )
    out["restrictive_measures_12m"] = {kind: 0 for kind in RESTRICTIVE_MEASURE_KINDS} | {
        "separatie": separations
    }
    return out


def by_name(results: list[TargetResult]) -> dict[str, TargetResult]:
    return {r.name: r for r in results}


def test_targets_in_the_spec_order() -> None:
    assert TARGET_NAMES == (
        "transfers_between_providers",
        "perspective_in_time",
        "separations",
        "closed_placements",
    )
    assert [t.figure for t in TARGETS] == [
        "transfers_between_providers_12m",
        "perspective_in_time_rate",
        "restrictive_measures_12m.separatie",
        "placements_started_12m",
    ]


@pytest.mark.parametrize(
    ("now", "then", "value", "met"),
    [
        (4, 100, 0.04, True),
        (5, 100, 0.05, False),  # < 0.05, not ≤
        (1, 3, 0.3333, False),
        (0, 7, 0.0, True),
        (1000, 20001, 0.05, True),  # 0.049997: met on the exact ratio though shown as 0.05
        (3, 0, None, None),  # null when figure(B) = 0
        (0, 0, None, None),
    ],
)
def test_transfers_ratio_below_five_percent(
    now: int, then: int, value: float | None, met: bool | None
) -> None:
    result = by_name(evaluate(row(transfers=now), row(transfers=then), D, B))["transfers_between_providers"]
    assert (result.value, result.met, result.baseline_value) == (value, met, then)
    assert result.path is None


@pytest.mark.parametrize(
    ("now", "then", "value", "met"),
    [
        (20, 100, 0.2, True),
        (21, 100, 0.21, False),
        (1, 5, 0.2, True),
        (2, 9, 0.2222, False),
        (2, 0, None, None),
    ],
)
def test_separations_ratio_at_most_twenty_percent(
    now: int, then: int, value: float | None, met: bool | None
) -> None:
    result = by_name(evaluate(row(separations=now), row(separations=then), D, B))["separations"]
    assert (result.value, result.met, result.baseline_value) == (value, met, then)


@pytest.mark.parametrize(
    ("cohort", "in_time", "value", "met"),
    [(12, 12, 1.0, True), (12, 11, 0.9167, False), (0, 0, None, None), (30000, 29999, 1.0, False)],
)
def test_perspective_met_only_when_every_episode_was_in_time(
    cohort: int, in_time: int, value: float | None, met: bool | None
) -> None:
    result = by_name(evaluate(row(cohort=cohort, in_time=in_time), row(cohort=4, in_time=2), D, B))[
        "perspective_in_time"
    ]
    assert (result.value, result.met, result.baseline_value) == (value, met, 0.5)


def test_closed_placements_path_from_the_baseline_to_zero_at_the_end_of_2030() -> None:
    # 4018 days from 2019-12-31 to 2030-12-31; 2101 days from 2025-03-31 to the end (2028 is a leap year)
    assert (PATH_END - B).days == 4018
    on_b = by_name(evaluate(row(placements=900), row(placements=900), B, B))["closed_placements"]
    assert on_b.path == 900 and on_b.met is True and on_b.value == 900
    at_end = by_name(evaluate(row(placements=1), row(placements=900), PATH_END, B))["closed_placements"]
    assert at_end.path == 0 and at_end.met is False
    zero_at_end = by_name(evaluate(row(placements=0), row(placements=900), PATH_END, B))["closed_placements"]
    assert zero_at_end.met is True
    d = date(2025, 3, 31)
    assert (PATH_END - d).days == 2101
    expected = round(900 * 2101 / 4018, 4)
    assert expected == 470.6073  # 900 × 2101 / 4018
    mid = by_name(evaluate(row(placements=470), row(placements=900), d, B))["closed_placements"]
    assert (mid.value, mid.path, mid.met, mid.baseline_value) == (470, expected, True, 900)
    above = by_name(evaluate(row(placements=471), row(placements=900), d, B))["closed_placements"]
    assert above.met is False
    after = by_name(evaluate(row(placements=0), row(placements=900), date(2031, 6, 30), B))[
        "closed_placements"
    ]
    assert after.path == 0 and after.met is True


def test_path_is_exact_on_its_ends() -> None:
    assert path_value(1234, B, B) == 1234
    assert path_value(1234, B, PATH_END) == 0
    assert path_value(1234, date(2030, 12, 30), PATH_END) == 0


@pytest.mark.parametrize("baseline", [PATH_END, date(2031, 1, 1)])
def test_a_baseline_must_lie_before_the_end_of_the_path(baseline: date) -> None:
    with pytest.raises(ValueError, match="2030-12-31"):
        check_baseline(baseline)
    with pytest.raises(ValueError, match="must lie before"):
        evaluate(row(), row(), D, baseline)


def test_rows_of_different_regions_are_refused() -> None:
    with pytest.raises(ValueError, match="different regions"):
        evaluate(row(region="R01"), row(region="NL"), D, B)


def test_targets_on_public_rows_use_public_figures_only() -> None:
    exact_d = row(transfers=3, cohort=12, in_time=11, separations=7, placements=3)
    exact_b = row(transfers=100, cohort=20, in_time=10, separations=12, placements=2)
    results = by_name(evaluate(public_row(exact_d), public_row(exact_b), D, B))
    # figure(D) 3 is suppressed: no ratio that would reveal it
    assert (results["transfers_between_providers"].value, results["transfers_between_providers"].met) == (
        None,
        None,
    )
    assert results["transfers_between_providers"].baseline_value == 100
    # 7 and 12 show as 5 and 10
    assert (results["separations"].value, results["separations"].met) == (0.5, False)
    # the rate is shown (exact cohort 12); in-time 11 and cohort 12 both round to 10, but the rate is not 1
    assert (results["perspective_in_time"].value, results["perspective_in_time"].met) == (0.9167, False)
    # the baseline figure 2 is suppressed: no path
    closed = results["closed_placements"]
    assert (closed.value, closed.path, closed.met, closed.baseline_value) == (None, None, None, None)


def test_target_columns_are_flat_and_in_order() -> None:
    results = evaluate(
        row(transfers=4, cohort=2, in_time=2, placements=5), row(transfers=100, placements=10), D, B
    )
    columns = target_columns(results, B)
    assert list(columns) == target_column_names()
    assert columns == {
        "baseline": "2019-12-31",
        "target.transfers_between_providers.value": 0.04,
        "target.transfers_between_providers.met": True,
        "target.perspective_in_time.value": 1.0,
        "target.perspective_in_time.met": True,
        "target.separations.value": None,
        "target.separations.met": None,
        "target.closed_placements.value": 5,
        "target.closed_placements.met": False,
        "target.closed_placements.path": round(10 * (PATH_END - D).days / 4018, 4),
    }


def test_target_level_in_figure_units() -> None:
    transfers, perspective, separations, closed = TARGETS
    assert target_level(transfers, 200, B, D) == 10.0
    assert target_level(separations, 45, B, D) == 9.0
    assert target_level(perspective, None, B, D) == 1.0
    assert target_level(closed, 900, B, B) == 900.0
    assert target_level(closed, 900, B, PATH_END) == 0.0
    assert target_level(transfers, None, B, D) is None
