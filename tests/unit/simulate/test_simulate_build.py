"""The simulator's compiled build (mypyc): same bytes as the source, used only when it matches."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from hubdev.simulate import build as build_module
from hubdev.simulate.build import COMPILED_MODULES, COMPLETE, BuildChoice, source_digest
from hubdev.simulate.compiler import build
from tests.unit.simulate.build_support import compiled_build, env_for

REPO = Path(__file__).resolve().parents[3]
FEED = ["--start", "2023-01-01", "--end", "2023-06-30", "--history-days", "60", "--scale", "0.5",
        "--other-care-scale", "0.2", "--invalid-share", "0.05", "--seed", "7"]  # fmt: skip


def _simulate(tmp_path: Path, build_mode: str, workers: int) -> tuple[bytes, dict[str, object]]:
    out, summary = tmp_path / f"{build_mode}-{workers}.jsonl", tmp_path / f"{build_mode}-{workers}.json"
    subprocess.run(
        [sys.executable, "-m", "hubdev.simulate", *FEED, "--workers", str(workers), "-o", str(out),
         "--summary", str(summary), "-q"],
        cwd=REPO, env=env_for(build_mode), check=True, timeout=300,
    )  # fmt: skip
    document: dict[str, object] = orjson.loads(summary.read_bytes())
    return out.read_bytes(), document


def test_the_compiled_build_makes_the_same_feed_as_the_source(tmp_path: Path) -> None:
    compiled_build()
    source_lines, source = _simulate(tmp_path, "pure", 2)
    compiled_lines, compiled = _simulate(tmp_path, "compiled", 2)
    single_lines, single = _simulate(tmp_path, "compiled", 1)
    assert source_lines.count(b"\n") > 10_000
    assert compiled_lines == source_lines
    assert single_lines == source_lines
    assert compiled["generator"] == {"build": "compiled", "workers": 2}
    assert str(source["generator"]["build"]).startswith("pure")  # type: ignore[index]
    for document in (compiled, single):
        for key in ("feed", "closed_care_calibration", "config"):
            assert document[key] == source[key], key


def _loaded(build_dir: Path, build_mode: str) -> subprocess.CompletedProcess[str]:
    probe = "import hubdev.simulate as s, hubdev.simulate.render as r; print(s.BUILD); print(r.__file__)"
    env = {**env_for(build_mode), "JEUGDHUB_SIMULATOR_BUILD_DIR": str(build_dir)}
    return subprocess.run(
        [sys.executable, "-c", probe], cwd=REPO, env=env, capture_output=True, text=True, timeout=60
    )


def test_the_package_runs_a_build_only_when_it_matches_the_sources(tmp_path: Path) -> None:
    real = compiled_build()
    empty = _loaded(tmp_path / "none", "auto")
    assert empty.returncode == 0, empty.stderr
    build_state, module_file = empty.stdout.split()[0], empty.stdout.splitlines()[1]
    assert build_state == "pure" and module_file.endswith("render.py")
    assert "no build of the current sources" in empty.stdout

    refused = _loaded(tmp_path / "none", "compiled")
    assert refused.returncode != 0
    assert "JEUGDHUB_SIMULATOR_BUILD=compiled, but there is no build" in refused.stderr

    stale = tmp_path / "stale"
    shutil.copytree(real, stale / "0123456789abcdef0123")  # a build of other sources
    assert _loaded(stale, "auto").stdout.startswith("pure (no build of the current sources")

    current = tmp_path / "current"
    shutil.copytree(real, current / real.name)
    used = _loaded(current, "auto")
    assert used.returncode == 0, used.stderr
    assert used.stdout.splitlines()[0] == "compiled"
    assert used.stdout.splitlines()[1].startswith(str(current / real.name))
    assert used.stdout.splitlines()[1].endswith(".so")

    forced = _loaded(current, "pure")
    assert forced.stdout.splitlines()[1].endswith("render.py")


def test_the_digest_changes_with_any_compiled_source(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real = source_digest()
    package = tmp_path / "simulate"
    package.mkdir()
    for module in COMPILED_MODULES:
        shutil.copy(build_module.PACKAGE_DIR / f"{module}.py", package)
    types = tmp_path / "regions.py"
    shutil.copy(build_module.TYPE_SOURCES[0], types)
    monkeypatch.setattr(build_module, "PACKAGE_DIR", package)
    monkeypatch.setattr(build_module, "TYPE_SOURCES", (types,))
    original = source_digest()
    assert original == real  # the same bytes under the same names
    render = package / "render.py"
    text = render.read_bytes()
    render.write_bytes(text + b"\n")
    assert source_digest() != original
    render.write_bytes(text)
    assert source_digest() == original
    types.write_bytes(types.read_bytes() + b"# changed\n")
    assert source_digest() != original


def test_making_the_build_again_keeps_the_current_one() -> None:
    first = compiled_build()
    stamp = (first / COMPLETE).stat().st_mtime_ns
    assert build(quiet=True) == first
    assert (first / COMPLETE).stat().st_mtime_ns == stamp
    assert (first / COMPLETE).read_text().split()[0] == first.name == source_digest()


def test_the_choice_comes_from_the_environment_and_a_wrong_one_is_named() -> None:
    default = BuildChoice.from_environ({})
    assert default.mode == "auto"
    assert default.build_dir == REPO / ".build" / "simulator"
    chosen = BuildChoice.from_environ(
        {"JEUGDHUB_SIMULATOR_BUILD": " Compiled ", "JEUGDHUB_SIMULATOR_BUILD_DIR": "/tmp/builds"}
    )
    assert chosen == BuildChoice("compiled", Path("/tmp/builds"))
    with pytest.raises(
        ValueError, match=r"JEUGDHUB_SIMULATOR_BUILD must be one of auto, pure, compiled; got 'fast'"
    ):
        BuildChoice.from_environ({"JEUGDHUB_SIMULATOR_BUILD": "fast"})


def test_choosing_the_build_keeps_the_cli_light() -> None:
    """``jeugdhub --help`` imports every command module, this package too: no pydantic for that."""
    probe = (
        "import contextlib, io, sys, services.cli\n"
        "with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):\n"
        "    services.cli.main(['--help'])\n"
        "print('hubdev.simulate' in sys.modules, 'pydantic_settings' in sys.modules)"
    )
    shown = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=REPO,
        env=env_for("auto"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.split() == ["True", "False"]
