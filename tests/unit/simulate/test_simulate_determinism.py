"""Same seed and options, byte-identical output; rule breaks never change the valid lines."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import replace
from datetime import date
from pathlib import Path

from hubdev.simulate.feed import SimulationConfig
from tests.unit.simulate.simulate_support import simulate

SMALL = SimulationConfig(
    start=date(2023, 1, 1), end=date(2023, 6, 30), seed=42, history_days=180, scale=0.3, other_care_scale=0.1
)


def test_same_config_gives_identical_lines() -> None:
    assert simulate(SMALL).lines == simulate(SMALL).lines


def test_another_seed_gives_another_feed() -> None:
    a, b = simulate(SMALL), simulate(replace(SMALL, seed=43))
    assert a.lines != b.lines
    assert not set(a.lines[:1000]) & set(b.lines[:1000])


def test_rule_breaks_are_added_around_unchanged_valid_lines() -> None:
    clean = simulate(replace(SMALL, invalid_share=0.0)).lines
    noisy = simulate(replace(SMALL, invalid_share=0.1)).lines
    assert len(noisy) > len(clean)
    kept = set(clean)
    assert [line for line in noisy if line in kept] == clean


def test_output_is_byte_identical_across_processes(tmp_path: Path) -> None:
    """Hash randomisation differs per process; the feed must not depend on it."""
    outputs = []
    for i, hash_seed in enumerate(("1", "2")):
        out = tmp_path / f"feed{i}.jsonl"
        subprocess.run(
            [sys.executable, "-m", "hubdev.simulate", "--start", "2023-01-01", "--end", "2023-02-28",
             "--history-days", "60", "--scale", "0.2", "--other-care-scale", "0.2", "--seed", "9", "-q",
             "-o", str(out)],
            check=True,
            env={"PYTHONHASHSEED": hash_seed, "PATH": "/usr/bin:/bin"},
        )  # fmt: skip
        outputs.append(out.read_bytes())
    assert outputs[0] == outputs[1]
    assert outputs[0].count(b"\n") > 1000
