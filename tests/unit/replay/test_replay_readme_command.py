"""The README's replay command, as written, prints exactly the worked example's expected figures
(issue 13, item 8: that holds only with the example's own region table, so the README gives it)."""

from __future__ import annotations

import json
import os
import shlex
from pathlib import Path

import pytest

from services.cli import main

REPO = Path(__file__).resolve().parents[3]
EXAMPLES = REPO.parent / "shared" / "spec" / "examples"
pytestmark = pytest.mark.skipif(not EXAMPLES.is_dir(), reason=f"worked example not found at {EXAMPLES}")


def test_readme_replay_command_prints_exactly_the_expected_figures(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    commands = [
        line
        for line in readme.splitlines()
        if line.startswith(".venv/bin/jeugdhub replay ../shared/spec/examples/feed.jsonl")
    ]
    assert len(commands) == 1, "README.md lost its worked-example replay command"
    argv = shlex.split(commands[0])[1:]
    monkeypatch.chdir(REPO)
    for name in [n for n in os.environ if n.startswith("JEUGDHUB_")]:
        monkeypatch.delenv(name)
    assert main(argv) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed == json.loads((EXAMPLES / "expected-figures.json").read_text(encoding="utf-8"))
