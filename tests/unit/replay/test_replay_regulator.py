"""``replay --public`` and ``replay --baseline`` on the worked example: the public form of exactly
the figures replay prints, and targets that agree with two separate replays (as of D and as of B)."""

from __future__ import annotations

import json
import os
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from services.cli import COMMAND_ERROR, main
from services.regulator.public import public_document, public_row
from services.regulator.targets import PATH_END

EXAMPLES = Path(__file__).resolve().parents[3].parent / "shared" / "spec" / "examples"
pytestmark = pytest.mark.skipif(not EXAMPLES.is_dir(), reason=f"worked example not found at {EXAMPLES}")
D, B = "2026-03-31", "2025-12-31"


@pytest.fixture(autouse=True)
def _no_hub_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [n for n in os.environ if n.startswith("JEUGDHUB_")]:
        monkeypatch.delenv(name)


def replay(capsys: pytest.CaptureFixture[str], *options: str, as_of: str = D) -> dict[str, Any]:
    argv = [
        "replay",
        str(EXAMPLES / "feed.jsonl"),
        "--as-of",
        as_of,
        "--regions",
        str(EXAMPLES / "regions.csv"),
    ]
    assert main([*argv, *options]) == 0
    document: dict[str, Any] = json.loads(capsys.readouterr().out)
    return document


def test_public_is_the_public_form_of_the_exact_figures(capsys: pytest.CaptureFixture[str]) -> None:
    exact = replay(capsys)
    public = replay(capsys, "--public")
    assert public == public_document(exact)
    assert exact == json.loads((EXAMPLES / "expected-figures.json").read_text(encoding="utf-8"))
    national = public["regions"][-1]
    assert national["region"] == "NL" and "suppressed" in national
    assert all(
        value is None or value == 0 or value % 5 == 0
        for row in public["regions"]
        for key, value in row.items()
        if key not in ("region", "suppressed", "perspective_in_time_rate", "median_length_of_stay_days_12m")
        and not isinstance(value, dict)
    )


def _ratio(now: int, then: int) -> float | None:
    return round(now / then, 4) if then else None


def test_baseline_adds_targets_that_agree_with_a_replay_as_of_the_baseline(
    capsys: pytest.CaptureFixture[str],
) -> None:
    exact_d, exact_b = replay(capsys), replay(capsys, as_of=B)
    with_targets = replay(capsys, "--baseline", B)
    remaining, total = (PATH_END - date.fromisoformat(D)).days, (PATH_END - date.fromisoformat(B)).days
    national = with_targets["regions"][-1]["targets"]
    for row, now, then in zip(with_targets["regions"], exact_d["regions"], exact_b["regions"], strict=True):
        targets = row.pop("targets")
        assert row == now  # the figures are replay's, untouched
        assert targets["baseline"] == B
        transfers = targets["transfers_between_providers"]
        assert transfers["baseline_value"] == then["transfers_between_providers_12m"]
        assert transfers["value"] == _ratio(
            now["transfers_between_providers_12m"], then["transfers_between_providers_12m"]
        )
        separations = targets["separations"]
        sep_d, sep_b = (
            now["restrictive_measures_12m"]["separatie"],
            then["restrictive_measures_12m"]["separatie"],
        )
        assert separations["value"] == _ratio(sep_d, sep_b)
        assert separations["met"] == (None if not sep_b else 5 * sep_d <= sep_b)
        perspective = targets["perspective_in_time"]
        assert perspective["value"] == now["perspective_in_time_rate"]
        assert perspective["baseline_value"] == then["perspective_in_time_rate"]
        closed = targets["closed_placements"]
        assert closed["value"] == now["placements_started_12m"]
        assert closed["path"] == round(then["placements_started_12m"] * remaining / total, 4)
        assert closed["met"] == (
            now["placements_started_12m"] * total <= then["placements_started_12m"] * remaining
        )
    assert national["closed_placements"] == {  # 59 × 1736 / 1826 = 56.092
        "figure": "placements_started_12m", "value": 44, "met": True, "baseline_value": 59, "path": 56.092
    }  # fmt: skip


def test_public_targets_come_from_public_figures(capsys: pytest.CaptureFixture[str]) -> None:
    public_b = [public_row(row) for row in replay(capsys, as_of=B)["regions"]]
    both = replay(capsys, "--public", "--baseline", B)
    assert [{k: v for k, v in row.items() if k != "targets"} for row in both["regions"]] == replay(
        capsys, "--public"
    )["regions"]
    for row, then in zip(both["regions"], public_b, strict=True):
        transfers = row["targets"]["transfers_between_providers"]
        assert transfers["baseline_value"] == then["transfers_between_providers_12m"]
        if row["transfers_between_providers_12m"] is None or not then["transfers_between_providers_12m"]:
            assert transfers["value"] is None and transfers["met"] is None
        else:
            assert transfers["value"] == _ratio(
                row["transfers_between_providers_12m"], then["transfers_between_providers_12m"]
            )


def test_baseline_from_the_setting(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("JEUGDHUB_BASELINE_DATE", B)
    from_setting = replay(capsys)
    monkeypatch.delenv("JEUGDHUB_BASELINE_DATE")
    assert from_setting == replay(capsys, "--baseline", B)
    assert replay(capsys, "--baseline", "2025-06-30")["regions"][0]["targets"]["baseline"] == "2025-06-30"


def test_a_baseline_at_or_after_the_end_of_2030_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["replay", str(EXAMPLES / "feed.jsonl"), "--as-of", D, "--baseline", "2030-12-31"]
    assert main(argv) == COMMAND_ERROR
    err = capsys.readouterr().err.strip()
    assert err == "jeugdhub replay: --baseline: the baseline date 2030-12-31 must lie before 2030-12-31"


def test_a_malformed_baseline_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["replay", str(EXAMPLES / "feed.jsonl"), "--as-of", D, "--baseline", "31-12-2019"])
    assert exit_info.value.code == COMMAND_ERROR
    assert "--baseline must be YYYY-MM-DD, got '31-12-2019'" in capsys.readouterr().err


def test_a_bad_baseline_setting_is_one_line(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("JEUGDHUB_BASELINE_DATE", "2031-01-01")
    argv = ["replay", str(EXAMPLES / "feed.jsonl"), "--as-of", D]
    assert main(argv) == COMMAND_ERROR
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "JEUGDHUB_BASELINE_DATE" in err
