"""The compiled core (services/compiled, docs/performance.md "Issue 18"): used only when its digest
matches the sources, and ``jeugdhub replay`` writes the same bytes from the build as from source."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import services
from hubdev.paths import SPEC_EXAMPLES
from services import compiled
from services.validate import pipeline

EXAMPLE = SPEC_EXAMPLES / "feed.jsonl"


def _replay(tmp_path: Path, mode: str) -> bytes:
    out = tmp_path / f"{mode}.json"
    env = {**os.environ, "JEUGDHUB_CORE_BUILD": mode}
    code = "import sys, services; from services.cli import main; print(services.BUILD, file=sys.stderr); raise SystemExit(main())"
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            code,
            "replay",
            str(EXAMPLE),
            "--as-of",
            "2026-03-31",
            "--output",
            str(out),
            "--rejections",
            str(tmp_path / f"{mode}.rejections.jsonl"),
        ],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stderr.splitlines()[0] == (
        "compiled" if mode == "compiled" else "pure (JEUGDHUB_CORE_BUILD=pure)"
    )
    return out.read_bytes() + (tmp_path / f"{mode}.rejections.jsonl").read_bytes()


def test_the_build_is_used_exactly_when_it_matches() -> None:
    present = (compiled.build_path() / compiled.COMPLETE).is_file()
    if os.environ.get("JEUGDHUB_CORE_BUILD", "auto") == "pure" or not present:
        assert services.BUILD.startswith("pure") and not compiled.is_compiled(pipeline)
    else:
        assert services.BUILD == "compiled" and compiled.is_compiled(pipeline)


def test_compiled_mode_without_a_build_refuses(tmp_path: Path) -> None:
    env = {"JEUGDHUB_CORE_BUILD": "compiled", "JEUGDHUB_CORE_BUILD_DIR": str(tmp_path)}
    with pytest.raises(ImportError, match=r"python -m services\.compiled build"):
        compiled.activate(env)


def test_replay_writes_the_same_bytes_compiled_and_from_source(tmp_path: Path) -> None:
    if not (compiled.build_path() / compiled.COMPLETE).is_file():
        pytest.skip("no core build of the current sources (python -m services.compiled build)")
    assert _replay(tmp_path, "compiled") == _replay(tmp_path, "pure")
