"""The short soak: ``python -m bench.soak`` for 60 s at 100 messages/s on its own broker must level off.

The long run (30 minutes at 1,000 messages/s) is the same script with other arguments
(docs/reliability.md); this one keeps the mode working and catches a leak or a pipeline that
falls further and further behind within a minute.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.faults, pytest.mark.timeout(420)]

REPO = Path(__file__).resolve().parents[2]


def test_short_soak_memory_lag_and_staleness_level_off(tmp_path: Path) -> None:
    output = tmp_path / "soak.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith("JEUGDHUB_")}
    # Within one minute a worker's RSS still grows a little with its tables; 25 % over the middle
    # third is far below what a leak of every message's bytes would add.
    command = [
        sys.executable,
        "-m",
        "bench.soak",
        "--seconds",
        "60",
        "--rate",
        "100",
        "--interval",
        "3",
        "--max-growth",
        "0.25",
        "--output",
        str(output),
    ]
    run = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=400, check=False)
    assert output.exists(), run.stderr[-4000:]
    document = json.loads(output.read_text())
    samples = document["samples"]
    assert len(samples) >= 15, run.stderr[-4000:]
    assert document["posted"]["acknowledged"] >= 0.8 * 60 * 100, document["posted"]
    assert all(s["rss_mib"]["validate-1"] for s in samples)
    checks = document["verdict"]["checks"]
    assert set(checks) >= {"rss:ingest", "rss:validate-1", "rss:aggregate-1", "lag:validate", "staleness_s"}
    failing = {name: check for name, check in checks.items() if not check["ok"]}
    assert not failing, f"does not level off: {failing} (docs/reliability.md, 'The soak')"
    assert document["verdict"]["levelled_off"] and run.returncode == 0, run.stderr[-4000:]
