"""The compiled core (services/compiled, docs/performance.md "Issue 18"): used only when its digest
matches the sources, and ``jeugdhub replay`` writes the same bytes from the build as from source."""

from __future__ import annotations

import importlib
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

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


def test_the_build_runs_wherever_a_c_compiler_is_present() -> None:
    """No silent fallback: with a C compiler (bootstrap then makes the build) the tests, and so
    CI, must run the compiled core; a failed or stale build fails here with the command to run."""
    expected = compiled.expected_build()
    assert services.BUILD.split(" ")[0] == expected, (
        f"the core runs {services.BUILD}, expected {expected}: python -m services.compiled build"
    )
    assert all(compiled.is_compiled(importlib.import_module(m)) == (expected == "compiled")
               for m in compiled.COMPILED_MODULES)  # fmt: skip


def test_build_info_metric_names_the_running_build() -> None:
    registry = CollectorRegistry()
    compiled.register_build_info(registry)
    labels = compiled.build_labels()
    assert registry.get_sample_value("jeugdhub_core_build_info", labels) == 1.0
    assert labels["build"] == services.BUILD.split(" ")[0]
    if labels["build"] == "compiled":
        assert labels["digest"] == compiled.build_path().name and labels["reason"] == ""
    else:
        assert labels["digest"] == "" and labels["reason"]


def test_compiled_modules_inline_no_final_constant_from_outside_the_digest() -> None:
    """mypyc inlines the literal value of a ``Final`` name from *any* module it reads, compiled or
    not (mypyc/irbuild/builder.py ``emit_load_final``), but the digest covers only the compiled
    modules: a ``Final`` in a module they import would go stale in the build when edited."""
    closure = compiled.imported_sources()
    assert set(compiled.COMPILED_MODULES) <= set(closure)
    outside = [m for m in closure if m not in compiled.COMPILED_MODULES]
    assert "services.contracts.canonical" in outside
    offenders = [m for m in outside if re.search(r"\bFinal\b", compiled.source_path(m).read_text())]
    assert offenders == [], "add these modules to the digest, or drop Final from them"


def test_compiled_mode_without_a_build_refuses(tmp_path: Path) -> None:
    env = {"JEUGDHUB_CORE_BUILD": "compiled", "JEUGDHUB_CORE_BUILD_DIR": str(tmp_path)}
    with pytest.raises(ImportError, match=r"python -m services\.compiled build"):
        compiled.activate(env)


def test_replay_writes_the_same_bytes_compiled_and_from_source(tmp_path: Path) -> None:
    if not (compiled.build_path() / compiled.COMPLETE).is_file():
        pytest.skip("no core build of the current sources (python -m services.compiled build)")
    assert _replay(tmp_path, "compiled") == _replay(tmp_path, "pure")


def test_a_build_in_the_machines_cache_is_copied_not_compiled(tmp_path: Path) -> None:
    """CI's fresh clone of sources built before on the machine copies the build (under a second)."""
    env = {
        "JEUGDHUB_CORE_BUILD_DIR": str(tmp_path / "tree"),
        "JEUGDHUB_CORE_BUILD_CACHE": str(tmp_path / "cache"),
    }
    target = compiled.build_path(env)
    key = compiled._cache_key(target)
    assert key is not None and key.startswith(target.name + "-mypy")
    cached = tmp_path / "cache" / key
    (cached / "services").mkdir(parents=True)
    (cached / "services" / "marker").write_text("from the cache")
    (tmp_path / "tree" / "0ld").mkdir(parents=True)  # another source's build: removed
    (cached / compiled.COMPLETE).write_text(target.name)
    assert compiled.build(env, quiet=True) == target
    assert (target / "services" / "marker").read_text() == "from the cache"
    assert sorted(p.name for p in (tmp_path / "tree").iterdir()) == [target.name]
    assert compiled.build(env, quiet=True) == target  # present: nothing to do


def test_the_cache_is_off_or_per_user(tmp_path: Path) -> None:
    assert compiled.cache_dir({"JEUGDHUB_CORE_BUILD_CACHE": "off"}) is None
    assert compiled.cache_dir({"XDG_CACHE_HOME": str(tmp_path)}) == tmp_path / "jeugdhub" / "core-build"
    assert compiled.cache_dir({"JEUGDHUB_CORE_BUILD_CACHE": str(tmp_path / "c")}) == tmp_path / "c"


def test_the_cache_keeps_the_newest_builds(tmp_path: Path) -> None:
    fresh = tmp_path / "tree" / "abc"
    fresh.mkdir(parents=True)
    (fresh / compiled.COMPLETE).write_text("abc")
    cache = tmp_path / "cache"
    for i in range(compiled.CACHE_KEEP + 2):
        old = cache / f"old{i}"
        old.mkdir(parents=True)
        os.utime(old, (1_000_000 + i, 1_000_000 + i))
    compiled._store_in_cache(fresh, cache, "abc-mypyX")
    kept = {p.name for p in cache.iterdir()}
    assert "abc-mypyX" in kept and len(kept) == compiled.CACHE_KEEP
    assert {"old0", "old1", "old2"}.isdisjoint(kept)
