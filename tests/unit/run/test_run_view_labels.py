"""The live view's figures say what they count and show every rate the same way (issue 13, item 8)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from hubdev.localkafka import jars
from hubdev.run import orchestrate
from hubdev.run.view import figures_table, status_lines_note


def _row(rate: float | None) -> dict[str, Any]:
    return {
        "region": "R01",
        "occupancy": 3,
        "occupancy_residential": 9,
        "placements_started_12m": 4,
        "youth_placed_12m": 4,
        "transfers_between_providers_12m": 2,
        "transfers_within_provider_12m": 1,
        "perspective_in_time_rate": rate,
        "overdue_without_perspective": 0,
        "median_length_of_stay_days_12m": 41.5,
        "restrictive_measures_12m": {"separatie": 1},
    }


def _text(rate: float | None) -> str:
    console = Console(width=240, record=True, color_system=None)
    console.print(figures_table({"R01": _row(rate)}))
    return console.export_text()


@pytest.mark.parametrize(("rate", "shown"), [(0.0, "0.0%"), (0.25, "25.0%"), (1.0, "100.0%"), (None, "–")])
def test_perspective_rate_is_always_a_percentage(rate: float | None, shown: str) -> None:
    cells = _text(rate).split("R01", 1)[1].split()
    assert shown in cells
    assert "0.0" not in cells  # the old view showed a rate of 0 as a bare "0.0"


def test_columns_say_which_care_types_they_count() -> None:
    text = _text(0.5)
    for header in ("closed plac. 12m", "closed youth 12m", "transf. betw. (all)", "transf. within (all)"):
        assert header in text
    assert "closed care (gesloten) only, except the columns marked (all)" in text


def test_restrictive_measures_column_lists_the_kinds_in_vocabulary_order() -> None:
    text = _text(0.5)
    assert "afz./sep./fix./insl." in text
    assert "0/1/0/0" in text.split("R01", 1)[1]  # separatie is the second restrictive kind


def test_status_lines_say_why_there_is_no_live_view() -> None:
    assert "not a terminal" in status_lines_note(no_view=False)
    assert "--no-view" in status_lines_note(no_view=True)


def test_jars_note_only_when_the_jars_are_missing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(jars, "jar_dir", lambda version, cache_root=tmp_path: cache_root / f"jars-{version}")
    assert "Maven" in orchestrate._jars_note()
    complete = tmp_path / f"jars-{jars.kafka_version()}"
    complete.mkdir()
    (complete / "kafka.jar").write_bytes(b"")
    (complete / jars.MANIFEST_NAME).write_text("kafka.jar\n")
    assert orchestrate._jars_note() == ""
