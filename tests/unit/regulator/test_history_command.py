"""``jeugdhub history`` on the worked example: its rows are ``jeugdhub replay --as-of D``'s figures
(CSV in the spec's columns, JSON as replay's documents, also with --public and --baseline), and
the command line errors end in one line on stderr with exit 2, before any work."""

from __future__ import annotations

import csv
import json
import os
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from hubdev.paths import SPEC_EXAMPLES
from services.cli import COMMAND_ERROR, main
from services.regulator import history_commands
from services.regulator.history import csv_header
from services.regulator.series import EVERY

FEED = SPEC_EXAMPLES / "feed.jsonl"
REGIONS = SPEC_EXAMPLES / "regions.csv"
pytestmark = pytest.mark.skipif(
    not SPEC_EXAMPLES.is_dir(), reason=f"worked example not found at {SPEC_EXAMPLES}"
)

SPEC_COLUMNS = (
    "as_of,region,occupancy,occupancy_residential,placements_started_12m,youth_placed_12m,transfers_12m,"
    "transfers_between_providers_12m,transfers_within_provider_12m,perspective_cohort_12m,"
    "perspective_in_time_12m,perspective_in_time_rate,overdue_without_perspective,episodes_ended_12m,"
    "median_length_of_stay_days_12m,restrictive_measures_12m.afzondering,restrictive_measures_12m.separatie,"
    "restrictive_measures_12m.fixatie,restrictive_measures_12m.insluiting_eigen_kamer"
)
"""metrics.md, History: `as_of,region,` then the figures of the table in order, the restrictive kinds
as four columns (written out here, not derived from the code under test)."""


@pytest.fixture(autouse=True)
def _no_hub_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [n for n in os.environ if n.startswith("JEUGDHUB_")]:
        monkeypatch.delenv(name)


def history(tmp_path: Path, *options: str, name: str = "history.out") -> Path:
    out = tmp_path / name
    assert main(["history", str(FEED), "--regions", str(REGIONS), "--output", str(out), *options]) == 0
    return out


def replay(tmp_path: Path, as_of: str, *options: str) -> dict[str, Any]:
    out = tmp_path / f"replay-{as_of}.json"
    argv = ["replay", str(FEED), "--as-of", as_of, "--regions", str(REGIONS), "--output", str(out), *options]
    assert main(argv) == 0
    document: dict[str, Any] = json.loads(out.read_text())
    return document


def _flat(row: dict[str, Any]) -> dict[str, str]:
    """A replay row as the spec's CSV cells: the restrictive kinds as columns, null as empty."""
    cells: dict[str, str] = {}
    for key, value in row.items():
        if isinstance(value, dict):
            cells.update({f"{key}.{kind}": "" if n is None else str(n) for kind, n in value.items()})
        else:
            cells[key] = "" if value is None else str(value)
    return cells


def test_csv_header_is_the_specs() -> None:
    assert ",".join(csv_header()) == SPEC_COLUMNS


def test_csv_rows_are_replays_figures_for_every_sunday(tmp_path: Path) -> None:
    out = history(tmp_path, "--from", "2026-02-26", "--to", "2026-04-01", "--every", "week")
    lines = out.read_text().splitlines()
    assert lines[0] == SPEC_COLUMNS
    rows = list(csv.DictReader(lines))
    sundays = ["2026-03-01", "2026-03-08", "2026-03-15", "2026-03-22", "2026-03-29"]
    assert sorted({row["as_of"] for row in rows}) == sundays
    assert [row["as_of"] for row in rows] == sorted(row["as_of"] for row in rows)  # ascending
    for sunday in sundays:
        expected = [{"as_of": sunday, **_flat(r)} for r in replay(tmp_path, sunday)["regions"]]
        assert [row for row in rows if row["as_of"] == sunday] == expected
    assert [row["region"] for row in rows[:6]] == ["T01", "T02", "T03", "T04", "T05", "NL"]


def test_null_is_an_empty_cell(tmp_path: Path) -> None:
    # Long before the feed: no episode ended and no cohort, so the rate and the median are null.
    out = history(tmp_path, "--from", "2010-01-31", "--to", "2010-01-31", "--every", "month")
    (row, *_) = list(csv.DictReader(out.read_text().splitlines()))
    assert row["perspective_in_time_rate"] == "" and row["median_length_of_stay_days_12m"] == ""
    assert row["occupancy"] == "0"


def test_json_is_a_list_of_replays_documents(tmp_path: Path) -> None:
    out = history(
        tmp_path, "--from", "2025-11-15", "--to", "2026-03-31", "--every", "month", "--format", "json"
    )
    documents = json.loads(out.read_text())
    month_ends = ["2025-11-30", "2025-12-31", "2026-01-31", "2026-02-28", "2026-03-31"]
    assert documents == [replay(tmp_path, day) for day in month_ends]
    expected = json.loads((SPEC_EXAMPLES / "expected-figures.json").read_text())
    assert documents[-1] == expected


def test_public_and_baseline_json_is_replays_with_the_same_options(tmp_path: Path) -> None:
    options = ("--public", "--baseline", "2025-06-30")
    out = history(
        tmp_path, "--from", "2026-03-30", "--to", "2026-03-31", "--every", "day", "--format", "json", *options
    )
    documents = json.loads(out.read_text())
    assert documents == [replay(tmp_path, day, *options) for day in ("2026-03-30", "2026-03-31")]
    assert all("suppressed" in row and "targets" in row for row in documents[0]["regions"])


def test_public_and_baseline_csv_flattens_the_json(tmp_path: Path) -> None:
    period = (
        "--from",
        "2026-01-31",
        "--to",
        "2026-03-31",
        "--every",
        "month",
        "--public",
        "--baseline",
        "2025-06-30",
    )
    documents = json.loads(history(tmp_path, *period, "--format", "json", name="h.json").read_text())
    lines = history(tmp_path, *period, name="h.csv").read_text().splitlines()
    header = lines[0].split(",")
    assert header[: len(SPEC_COLUMNS.split(","))] == SPEC_COLUMNS.split(",")
    assert header[len(SPEC_COLUMNS.split(",")) :] == [
        "suppressed",
        "baseline",
        "target.transfers_between_providers.value",
        "target.transfers_between_providers.met",
        "target.perspective_in_time.value",
        "target.perspective_in_time.met",
        "target.separations.value",
        "target.separations.met",
        "target.closed_placements.value",
        "target.closed_placements.met",
        "target.closed_placements.path",
    ]
    rows = list(csv.DictReader(lines))
    json_rows = [(d["as_of"], r) for d in documents for r in d["regions"]]
    assert len(rows) == len(json_rows) == 3 * 6
    for row, (as_of, expected) in zip(rows, json_rows, strict=True):
        targets = expected["targets"]
        assert row["as_of"] == as_of and row["region"] == expected["region"]
        assert row["suppressed"] == ";".join(expected["suppressed"])
        assert row["baseline"] == targets["baseline"] == "2025-06-30"
        for name in (
            "transfers_between_providers",
            "perspective_in_time",
            "separations",
            "closed_placements",
        ):
            value, met = targets[name]["value"], targets[name]["met"]
            assert row[f"target.{name}.value"] == ("" if value is None else str(value))
            assert row[f"target.{name}.met"] == {None: "", True: "true", False: "false"}[met]
        path = targets["closed_placements"]["path"]
        assert row["target.closed_placements.path"] == ("" if path is None else str(path))


def test_baseline_from_the_setting(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JEUGDHUB_BASELINE_DATE", "2025-06-30")
    out = history(tmp_path, "--from", "2026-03-31", "--to", "2026-03-31", "--every", "day")
    assert "target.separations.met" in out.read_text().splitlines()[0]


def test_the_command_offers_the_series_periods() -> None:
    assert history_commands.EVERY_CHOICES == EVERY


# --- errors -------------------------------------------------------------------------------------------------


def _fails(capsys: pytest.CaptureFixture[str], argv: list[str], status: int = COMMAND_ERROR) -> str:
    assert main(argv) == status
    err = capsys.readouterr().err
    assert err.startswith("jeugdhub history: ") and err.count("\n") == 1, err
    return err


def test_from_after_to(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "h.csv"
    argv = [
        "history",
        str(FEED),
        "--from",
        "2026-02-01",
        "--to",
        "2026-01-31",
        "--every",
        "day",
        "--output",
        str(out),
    ]
    assert "--from 2026-02-01 is after --to 2026-01-31" in _fails(capsys, argv)
    assert not out.exists()


def test_a_bad_date_is_argparses_usage_error(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["history", str(FEED), "--from", "2026-02-30", "--to", "2026-03-31", "--every", "day",
              "--output", str(tmp_path / "h.csv")])  # fmt: skip
    assert exited.value.code == COMMAND_ERROR
    assert "--from must be YYYY-MM-DD, got '2026-02-30'" in capsys.readouterr().err


def test_an_unwritable_output_fails_before_reading_the_input(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["history", str(FEED), "--from", "2026-01-01", "--to", "2026-01-31", "--every", "day",
            "--output", str(tmp_path / "missing" / "h.csv")]  # fmt: skip
    err = _fails(capsys, argv)
    assert "cannot write" in err and "does not exist" in err
    assert "not a JSON message" not in err  # the feed was not read


def test_no_sunday_in_the_period(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["history", str(FEED), "--from", "2026-03-02", "--to", "2026-03-07", "--every", "week",
            "--output", str(tmp_path / "h.csv")]  # fmt: skip
    assert "no Sunday in [2026-03-02, 2026-03-07]" in _fails(capsys, argv)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "give either an INPUT file or --from-topic"),
        ([str(FEED), "--from-topic"], "give either an INPUT file or --from-topic"),
        (["no-such-feed.jsonl"], "cannot read no-such-feed.jsonl: no such file"),
        ([str(FEED), "--bootstrap", "127.0.0.1:1"], "--bootstrap and --prefix go with --from-topic"),
        ([str(FEED), "--baseline", "2030-12-31"], "--baseline: the baseline date 2030-12-31 must lie before"),
    ],
    ids=["no input", "both inputs", "missing input", "bootstrap without topic", "baseline too late"],
)
def test_command_line_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    argv = ["history", *args, "--from", "2026-01-01", "--to", "2026-01-31", "--every", "day",
            "--output", str(tmp_path / "h.csv")]  # fmt: skip
    assert message in _fails(capsys, argv)
    assert not (tmp_path / "h.csv").exists()


def test_a_failed_write_leaves_no_partial_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from services.regulator import history

    def broken(*args: Any, **kwargs: Any) -> int:
        raise OSError(28, "No space left on device", str(tmp_path / ".h.csv.partial"))

    monkeypatch.setattr(history, "write_csv", broken)
    out = tmp_path / "h.csv"
    out.write_text("the previous history\n")
    argv = ["history", str(FEED), "--regions", str(REGIONS), "--from", "2026-01-01", "--to", "2026-01-02",
            "--every", "day", "--output", str(out)]  # fmt: skip
    assert main(argv) == COMMAND_ERROR
    assert out.read_text() == "the previous history\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["h.csv"]


def test_dates_are_written_as_given(tmp_path: Path) -> None:
    out = history(tmp_path, "--from", "2024-02-28", "--to", "2024-03-01", "--every", "day")
    days = sorted({row["as_of"] for row in csv.DictReader(out.read_text().splitlines())})
    assert days == [date(2024, 2, 28).isoformat(), "2024-02-29", "2024-03-01"]
