"""The README's offline regulator block (replay --public, history, report), run by bash as written
from a directory laid out like a checkout (``.venv`` linked, ``../shared`` beside it).

Its outputs must be what the commands promise: the public form of the worked example's expected
figures, a history whose last month equals replay's figures, and a self-contained report.
"""

from __future__ import annotations

import csv
import json
import os
import re
import subprocess
from pathlib import Path

import pytest

from services.regulator.public import public_document

REPO = Path(__file__).resolve().parents[3]
EXAMPLES = REPO.parent / "shared" / "spec" / "examples"
pytestmark = pytest.mark.skipif(not EXAMPLES.is_dir(), reason=f"worked example not found at {EXAMPLES}")


def regulator_block() -> str:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    blocks: list[str] = re.findall(r"```sh\n(.*?)```", text, re.S)
    matching = [b for b in blocks if "jeugdhub history ../shared/spec/examples/feed.jsonl" in b]
    assert len(matching) == 1, "the README's offline regulator example is gone or doubled"
    return matching[0]


def test_readme_regulator_block_runs_as_written(tmp_path: Path) -> None:
    checkout = tmp_path / "main"
    checkout.mkdir()
    (checkout / ".venv").symlink_to(REPO / ".venv")
    (tmp_path / "shared").symlink_to(REPO.parent / "shared")
    env = {k: v for k, v in os.environ.items() if not k.startswith("JEUGDHUB_")}
    done = subprocess.run(
        ["bash", "-e", "-c", regulator_block()],
        cwd=checkout,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    expected = json.loads((EXAMPLES / "expected-figures.json").read_text(encoding="utf-8"))

    # replay --public prints the public form of exactly the expected figures.
    assert json.loads(done.stdout) == public_document(expected)

    # history: 15 month ends x (5 regions + NL), the spec's columns first, and the last month's
    # rows equal replay's figures as of 2026-03-31.
    with (checkout / "history.csv").open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 15 * 6
    assert {r["as_of"] for r in rows} >= {"2025-01-31", "2026-03-31"}
    last = {r["region"]: r for r in rows if r["as_of"] == "2026-03-31"}
    for region in expected["regions"]:
        row = last[region["region"]]
        assert int(row["occupancy"]) == region["occupancy"]
        assert int(row["transfers_between_providers_12m"]) == region["transfers_between_providers_12m"]
        assert (
            int(row["restrictive_measures_12m.separatie"]) == region["restrictive_measures_12m"]["separatie"]
        )
        assert row["baseline"] == "2024-12-31"
        assert row["target.transfers_between_providers.met"] in {"true", "false", ""}

    # report: one self-contained page with charts for every region and NL.
    page = (checkout / "report.html").read_text(encoding="utf-8")
    assert page.count("<svg") >= 6 * 14
    assert "http://" not in page and "https://" not in page
    assert "<script" not in page
