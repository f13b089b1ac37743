"""The live view says what the feed is doing and whose counts it shows (issue 13, items 3 and 4):
which part of the feed is being posted and how far, that everything is a duplicate (a feed posted
before), and a worker's changelog recovery progress."""

from __future__ import annotations

from typing import Any

from rich.console import Console

from hubdev.processes import recovery_text
from hubdev.run.view import Rates, feed_phase, render
from hubdev.simulate.position import FeedPosition, phase

FEED = {"seed": 1, "origin": "2024-12-07", "start": "2025-12-07", "end": "2026-12-06", "tag": "c/"}


def _at(day: str | None, complete: bool = False, lines: int = 1000) -> FeedPosition:
    return FeedPosition(FEED, lines, day, complete, 0.0)


def test_phase_names_the_part_of_the_feed_and_how_far() -> None:
    assert "initial load" in str(phase(_at("2024-12-07")))
    history = phase(_at("2025-05-22"))
    assert history == "posting history 2024-12…2025-12, 45% (12-month figures count from 2025-12-07)"
    assert phase(_at("2026-06-07")) == "posting 2025-12…2026-12: at 2026-06-07, 50%"
    assert "posted in full (1,000 lines)" in str(phase(_at("2026-12-06", complete=True)))
    assert phase(None) is None


def _rates(validated: float, duplicates: float) -> Rates:
    rates = Rates()
    rates.rates.update({"validate_in": validated, "duplicates": duplicates})
    return rates


def test_all_duplicates_says_the_feed_was_posted_before_and_what_to_do() -> None:
    text = feed_phase(_at("2025-05-22"), _rates(200, 199), simulator_running=True)
    assert text is not None and text.startswith("all duplicates: this feed was posted")
    assert "--seed" in text
    normal = feed_phase(_at("2025-05-22"), _rates(200, 3), simulator_running=True)
    assert normal is not None and normal.startswith("posting history")
    stopped = feed_phase(_at("2025-05-22"), _rates(0, 0), simulator_running=False)
    assert stopped is not None and stopped.startswith("simulator stopped")
    assert feed_phase(None, _rates(0, 0), simulator_running=False, note="nothing new") == "nothing new"


def test_recovery_progress_from_the_readyz_body() -> None:
    text = recovery_text({"status": "recovering", "restored": 12345, "total": 50000})
    assert text == "restoring state from its changelogs: 12,345 / 50,000 records (25%)"
    assert recovery_text({"status": "not ready"}) is None
    assert recovery_text({"status": "recovering"}) is None


def _text(group: Any) -> str:
    console = Console(width=200, record=True)
    console.print(group)
    return console.export_text()


def test_the_view_labels_this_runs_counts_and_the_topic_totals_and_shows_phase_and_recovery() -> None:
    services = [("validate", True, None, "restoring state from its changelogs: 5 / 10 records (50%)")]
    out = _text(render({}, Rates(), {}, services, None, 3.0, phase="posting history 2024-12…2025-12, 38%"))
    assert "this run: received 0 (0/s) · validated 0 (0/s)" in out and "totals on the topics" in out
    assert "feed: posting history 2024-12…2025-12, 38%" in out
    assert "validate (restoring state from its changelogs: 5 / 10 records (50%))" in out
