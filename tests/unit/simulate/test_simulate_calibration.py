"""A simulated year, replayed through the real validation and figures, gives the published
JeugdzorgPlus numbers: ``gesloten`` placements started and distinct youth placed within 5 %.

The 12-month window as of 31 December is D-364..D (all of a common year; a leap year loses 1
January). The feed starts a year earlier (``--history-days 365``), so stays, transfers and
episodes running into the year are there.
"""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from hubdev.simulate.__main__ import main as simulate_main
from hubdev.simulate.calibration import PUBLISHED_CLOSED, closed_targets
from services.cli import main as jeugdhub
from tests.unit.simulate.simulate_support import judged_year


def _within(value: int, target: int, tolerance: float = 0.05) -> bool:
    return abs(value - target) <= tolerance * target


@pytest.mark.parametrize("year", [2019, 2022])
def test_replayed_year_matches_published_closed_care(year: int) -> None:
    judged = judged_year(year)
    national = judged.national
    placements, youth = PUBLISHED_CLOSED[year]
    assert _within(national["placements_started_12m"], placements), (national, placements)
    assert _within(national["youth_placed_12m"], youth), (national, youth)


def test_plan_is_pinned_exactly_and_the_model_alone_is_close() -> None:
    """Calibration pins each year's plan; the model's own draw was already near the target."""
    feed = judged_year(2022).feed
    by_year = {c.year: c for c in feed.calibration}
    for year in (2021, 2022):
        row = by_year[year]
        assert (row.placements, row.youth) == PUBLISHED_CLOSED[year]
        assert _within(row.drawn_youth, row.target_youth, 0.1)
        assert _within(row.drawn_placements, row.target_placements, 0.15)


def test_extrapolated_year_through_the_replay_command(tmp_path: Path) -> None:
    """After 2023 the targets decline 10 % a year; checked end to end with both commands."""
    feed, figures = tmp_path / "feed.jsonl", tmp_path / "figures.json"
    code = simulate_main(
        ["--year", "2025", "--seed", "5", "--other-care-scale", "0.02", "-o", str(feed), "--quiet"]
    )
    assert code == 0
    assert jeugdhub(["replay", str(feed), "--as-of", "2025-12-31", "--output", str(figures)]) == 0
    national = orjson.loads(figures.read_bytes())["regions"][-1]
    placements, youth = closed_targets(2025)
    assert (placements, youth) == (722, 620)
    assert _within(national["placements_started_12m"], placements)
    assert _within(national["youth_placed_12m"], youth)


def test_closed_care_looks_like_care() -> None:
    """Not calibrated, but should be plausible: stays of months, transfers, perspectives, measures."""
    national = judged_year(2022).national
    assert 90 <= national["median_length_of_stay_days_12m"] <= 200
    assert 250 <= national["occupancy"] <= 500
    assert national["transfers_between_providers_12m"] > 0
    assert national["transfers_within_provider_12m"] > 0
    assert 0.4 <= national["perspective_in_time_rate"] < 0.95
    assert national["overdue_without_perspective"] > 0
    measures = national["restrictive_measures_12m"]
    assert all(count > 0 for count in measures.values())
    assert measures["separatie"] < measures["afzondering"]
