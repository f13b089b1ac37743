"""``jeugdhub report`` on the worked example: the page's latest figures are the published expected
figures, its targets are ``replay --baseline``'s, its provenance counts are replay's; and the command's
refusals (one line on stderr, exit 2) come before any work."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from hubdev.paths import SPEC_EXAMPLES
from services.cli import main
from services.regulator.public import public_row
from services.regulator.report_commands import EVERY_CHOICES
from services.regulator.series import EVERY
from services.regulator.targets import figure
from tests.unit.regulator.report_support import (
    figure_cells,
    parse,
    region_sections,
    shown_number,
    target_statuses,
)

EXAMPLES = SPEC_EXAMPLES
pytestmark = pytest.mark.skipif(not EXAMPLES.is_dir(), reason=f"worked example not found at {EXAMPLES}")
FEED, REGIONS = str(EXAMPLES / "feed.jsonl"), str(EXAMPLES / "regions.csv")
BASELINE = "2025-06-30"
# The expected figures are as of 2026-03-31, the last month-end of this period.
PERIOD = ["--from", "2025-10-01", "--to", "2026-03-31", "--every", "month", "--regions", REGIONS]


def expected() -> dict[str, Any]:
    document: dict[str, Any] = json.loads((EXAMPLES / "expected-figures.json").read_text())
    return document


def replay(tmp_path: Path, *extra: str) -> dict[str, Any]:
    out = tmp_path / "replay.json"
    assert (
        main(["replay", FEED, "--as-of", "2026-03-31", "--regions", REGIONS, "--output", str(out), *extra])
        == 0
    )
    document: dict[str, Any] = json.loads(out.read_text())
    return document


@pytest.fixture(scope="module")
def pages(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    folder = tmp_path_factory.mktemp("report")
    out = {}
    for form in ("exact", "public"):
        path = folder / f"{form}.html"
        extra = ["--public"] if form == "public" else []
        assert main(["report", FEED, *PERIOD, "--baseline", BASELINE, "--output", str(path), *extra]) == 0
        out[form] = path.read_text()
    return out


def test_the_latest_figures_are_the_expected_figures(pages: dict[str, str]) -> None:
    sections = region_sections(parse(pages["exact"]))
    want = {row["region"]: row for row in expected()["regions"]}
    assert list(sections) == list(want)
    for region, section in sections.items():
        cells = figure_cells(section)
        assert cells, region
        for key, (latest, _baseline) in cells.items():
            assert shown_number(latest) == figure(want[region], key), (region, key, latest)


def test_the_public_page_shows_the_public_form_of_the_expected_figures(pages: dict[str, str]) -> None:
    sections = region_sections(parse(pages["public"]))
    for row in expected()["regions"]:
        public = public_row(row)
        for key, (latest, _baseline) in figure_cells(sections[row["region"]]).items():
            assert shown_number(latest) == figure(public, key), (row["region"], key, latest)
            assert (latest == "suppressed") == (key in public["suppressed"]), (row["region"], key)


@pytest.mark.parametrize("form", ["exact", "public"])
def test_the_targets_are_those_of_replay_with_a_baseline(
    form: str, pages: dict[str, str], tmp_path: Path
) -> None:
    extra = ["--public"] if form == "public" else []
    replayed = replay(tmp_path, "--baseline", BASELINE, *extra)
    sections = region_sections(parse(pages[form]))
    word = {True: "met", False: "not-met", None: "unknown"}
    for row in replayed["regions"]:
        targets = {name: word[t["met"]] for name, t in row["targets"].items() if name != "baseline"}
        assert target_statuses(sections[row["region"]]) == targets, row["region"]


def test_the_provenance_counts_are_replays(pages: dict[str, str]) -> None:
    tree = parse(pages["exact"])
    counts = " ".join(tree.root.find("dd", data_counts="")[0].all_text().split())
    want = expected()
    assert (
        counts == f"{want['accepted']} accepted, {want['rejected']} rejected, {want['duplicates']} duplicates"
    )
    source = tree.root.find("dd", data_source="")[0].all_text()
    assert "feed.jsonl" in source
    assert "sha256" in tree.root.all_text()


def test_the_dates_are_the_historys(pages: dict[str, str]) -> None:
    text = " ".join(parse(pages["exact"]).root.all_text().split())
    assert "2025-10-31 to 2026-03-31, 6 dates (every month)" in text
    assert EVERY_CHOICES == EVERY


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["report", *PERIOD, "--output", "{out}"], "give either an INPUT file or --from-topic"),
        (
            ["report", FEED, "--from-topic", *PERIOD, "--output", "{out}"],
            "give either an INPUT file or --from-topic",
        ),
        (
            ["report", FEED, "--from", "2026-03-31", "--to", "2026-01-01", "--output", "{out}"],
            "is after --to",
        ),
        (["report", "{missing}", *PERIOD, "--output", "{out}"], "no such file"),
        (
            ["report", FEED, *PERIOD, "--baseline", "2031-01-01", "--output", "{out}"],
            "must lie before 2030-12-31",
        ),
        (
            ["report", FEED, "--from", "2026-03-02", "--to", "2026-03-07", "--output", "{out}"],
            "no week date falls",
        ),
        (["report", FEED, *PERIOD, "--output", "{nodir}"], "does not exist"),
    ],
)
def test_refusals_are_one_line_and_exit_2(
    argv: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "report.html"
    paths = {
        "out": str(out),
        "missing": str(tmp_path / "nope.jsonl"),
        "nodir": str(tmp_path / "no" / "r.html"),
    }
    assert main([arg.format(**paths) for arg in argv]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1, err
    assert not out.exists()


def test_a_bad_date_is_refused_by_the_parser(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["report", FEED, "--from", "31-03-2026", "--to", "2026-03-31", "--output", "x.html"])
    assert caught.value.code == 2
    assert "--from must be YYYY-MM-DD" in capsys.readouterr().err
