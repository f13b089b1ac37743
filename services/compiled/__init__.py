"""The hub's compiled core: its pure modules compiled to C extensions with mypyc.

    python -m services.compiled build     # make the build of the current sources (a no-op if it exists)
    python -m services.compiled check     # say whether it exists (exit 1 when missing)

The same design as the simulator's build (``hubdev/simulate/build.py``, docs/simulator.md), in
``services/`` because production code never imports ``hubdev``: the modules of
:data:`COMPILED_MODULES` are plain, fully typed Python (``mypy --strict``); mypyc (part of mypy)
compiles them unchanged. A build lives in ``<build dir>/<digest>/``, where the digest covers the
bytes of every compiled module and the Python it was compiled for, so a build can never run code
other than what is in the tree: edit one of those modules and the whole core runs from its source
until the build is made again.

``services/__init__.py`` calls :func:`activate` before any service module is imported: when a
matching build exists it installs an import hook that loads exactly those modules from the build
(everything else, and every module when there is no build, is imported from source).
``JEUGDHUB_CORE_BUILD`` picks ``auto`` (default: the build when it matches, else the source),
``pure`` (always the source) or ``compiled`` (the build or an ImportError saying how to make it);
``JEUGDHUB_CORE_BUILD_DIR`` moves the build directory (default ``.build/core`` next to
``services/``). Without a C compiler, or without mypy and setuptools (the test extra), ``build``
fails with a message and everything runs from source: slower, same results.

Nothing here imports mypy or setuptools unless a build is being made (in a child process).
"""

from __future__ import annotations

import hashlib
import importlib.abc
import importlib.machinery
import importlib.util
import os
import shutil
import subprocess
import sys
import sysconfig
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

from services.compiled.mypyc_build import compile_group, group_libraries, load_group_library

ROOT = Path(__file__).resolve().parents[2]
"""The directory holding ``services/``: the sources' root and, by default, ``.build/core``."""
COMPILED_MODULES = (
    "services.contracts.bsn",
    "services.validate.rules",
    "services.validate.dedup",
    "services.validate.pipeline",
    "services.privacy.masking",
    "services.privacy.pseudonym",
    "services.aggregate.dates",
    "services.aggregate.timeline",
    "services.aggregate.facts",
    "services.aggregate.figures",
    "services.replay.offline",
)
"""Pure code on the per-message path of validate, aggregate and replay: no I/O, no monkeypatching
by tests, no ``__file__``. The generated fast paths of ``services.contracts.canonical_compiled``
are built at run time with ``compile()`` and stay interpreted (docs/performance.md)."""
GROUP = "jeugdhub_core"
LIBRARY = f"{GROUP}__mypyc"
"""The group's shared library, a top-level module the per-module shims import by name."""
COMPLETE = "BUILD-COMPLETE"
MODES = ("auto", "pure", "compiled")
STATE: dict[str, str] = {"build": "pure (not activated)"}
"""What :func:`activate` chose: ``"compiled"`` or ``"pure (<why>)"`` (for summaries, benchmarks)."""
_ACTIVE: dict[str, str] = {}
"""The digest of the build :func:`activate` loaded (``digest``), for :func:`build_labels`."""


def _mode(environ: Mapping[str, str]) -> str:
    mode = environ.get("JEUGDHUB_CORE_BUILD", "").strip().lower() or "auto"
    if mode not in MODES:
        raise ValueError(f"JEUGDHUB_CORE_BUILD must be one of {', '.join(MODES)}; got {mode!r}")
    return mode


def build_dir(environ: Mapping[str, str] = os.environ) -> Path:
    directory = environ.get("JEUGDHUB_CORE_BUILD_DIR", "").strip()
    return Path(directory) if directory else ROOT / ".build" / "core"


def source_path(module: str) -> Path:
    return ROOT.joinpath(*module.split(".")).with_suffix(".py")


def source_digest() -> str:
    """What a build is made from: the compiled modules' bytes and the Python ABI."""
    digest = hashlib.sha256()
    digest.update(f"{sys.version}|{sysconfig.get_config_var('EXT_SUFFIX')}|{GROUP}".encode())
    for module in COMPILED_MODULES:
        digest.update(module.encode() + b"\0" + source_path(module).read_bytes() + b"\0")
    return digest.hexdigest()[:20]


def imported_sources() -> list[str]:
    """The compiled modules and every ``services`` module they import, transitively (read from
    their source with :mod:`ast`, nothing imported): what mypyc reads besides the digest's files."""
    import ast  # only the test of what the digest must cover needs it

    seen: set[str] = set()
    todo = list(COMPILED_MODULES)
    while todo:
        module = todo.pop()
        path = source_path(module)
        if module in seen or not path.is_file():
            continue
        seen.add(module)
        for node in ast.walk(ast.parse(path.read_bytes())):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("services."):
                todo += [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)]
            elif isinstance(node, ast.Import):
                todo += [alias.name for alias in node.names if alias.name.startswith("services.")]
    return sorted(seen)


def build_path(environ: Mapping[str, str] = os.environ) -> Path:
    return build_dir(environ) / source_digest()


class _BuildFinder(importlib.abc.MetaPathFinder):
    """Finds exactly the compiled modules, in one build directory."""

    def __init__(self, target: Path) -> None:
        self.target = target
        self.suffix = importlib.machinery.EXTENSION_SUFFIXES[0]

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname not in COMPILED_MODULES:
            return None
        location = self.target.joinpath(*fullname.split(".")).with_name(
            fullname.rsplit(".", 1)[1] + self.suffix
        )
        loader = importlib.machinery.ExtensionFileLoader(fullname, str(location))
        return importlib.util.spec_from_file_location(fullname, location, loader=loader)


def activate(environ: Mapping[str, str] = os.environ) -> str:
    """Load the matching build's library and install the import hook; returns what will run.

    Must run before any compiled module is imported (``services/__init__.py``).
    """
    mode = _mode(environ)
    if mode == "pure":
        STATE["build"] = "pure (JEUGDHUB_CORE_BUILD=pure)"
        return STATE["build"]
    try:
        target = build_path(environ)
    except OSError as exc:  # a source unreadable: no build can match
        STATE["build"] = f"pure ({exc})"
        return STATE["build"]
    if not (target / COMPLETE).is_file():
        reason = "no build of the current sources: python -m services.compiled build"
        if mode == "compiled":
            raise ImportError(f"JEUGDHUB_CORE_BUILD=compiled, but there is {reason} ({target})")
        STATE["build"] = f"pure ({reason})"
        return STATE["build"]
    libraries = group_libraries(target, LIBRARY)
    if len(libraries) != 1:
        raise ImportError(f"the core build {target} has {len(libraries)} group libraries, expected 1")
    load_group_library(LIBRARY, libraries[0], "core build")
    if not any(isinstance(f, _BuildFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, _BuildFinder(target))
    STATE["build"] = "compiled"
    _ACTIVE["digest"] = target.name
    return STATE["build"]


def compiler_present() -> bool:
    """Whether the C compiler Python's extensions are built with (sysconfig ``CC``) is on PATH."""
    compiler = (sysconfig.get_config_var("CC") or "cc").split()[0]
    return shutil.which(compiler) is not None or shutil.which("cc") is not None


def expected_build(environ: Mapping[str, str] = os.environ) -> str:
    """What a process started with *environ* must run where bootstrap has made the build:
    ``pure`` with ``JEUGDHUB_CORE_BUILD=pure`` or without a C compiler, else ``compiled``. The
    tests compare :data:`services.BUILD` (and the workers' ``jeugdhub_core_build_info``) with it,
    so a build that failed, or went stale, fails the tests instead of running slower unnoticed."""
    return "pure" if _mode(environ) == "pure" or not compiler_present() else "compiled"


def build_labels() -> dict[str, str]:
    """Which build runs, as metric labels: ``build`` is ``compiled`` or ``pure``, ``digest`` the
    build's (empty when pure), ``reason`` why pure (empty when compiled)."""
    running = STATE["build"]
    if running == "compiled":
        return {"build": "compiled", "digest": _ACTIVE.get("digest", ""), "reason": ""}
    reason = running.removeprefix("pure (").removesuffix(")")
    return {"build": "pure", "digest": "", "reason": reason.split(":", 1)[0][:80]}


def register_build_info(registry: Any) -> None:
    """``jeugdhub_core_build_info{build, digest, reason} 1`` on a service's registry: an operator
    (and the integration tests) can see that a worker runs the compiled core, not its fallback."""
    from prometheus_client import Gauge  # only the services that export metrics need it

    labels = build_labels()
    gauge = Gauge(
        "jeugdhub_core_build_info",
        "Which build of the pure core this process runs (compiled: the mypyc build; pure: its source)",
        list(labels),
        registry=registry,
    )
    gauge.labels(**labels).set(1)


def is_compiled(module: ModuleType) -> bool:
    """Whether a module was loaded from the build (a C extension) rather than its source."""
    return isinstance(getattr(module, "__loader__", None), importlib.machinery.ExtensionFileLoader)


def cache_dir(environ: Mapping[str, str] = os.environ) -> Path | None:
    """The machine's cache of builds shared by every clone (``JEUGDHUB_CORE_BUILD_CACHE``; ``off``
    for none): CI's fresh clone of the same sources then copies a build instead of compiling."""
    setting = environ.get("JEUGDHUB_CORE_BUILD_CACHE", "").strip()
    if setting.lower() == "off":
        return None
    if setting:
        return Path(setting)
    home = environ.get("XDG_CACHE_HOME", "").strip() or str(Path.home() / ".cache")
    return Path(home) / "jeugdhub" / "core-build"


CACHE_KEEP = 6
"""Builds kept in the machine's cache (the newest used): a few branches' worth."""


def _cache_key(target: Path) -> str | None:
    """The digest and the compiler's version: a cached build is only reused from the same mypyc."""
    try:
        from importlib.metadata import PackageNotFoundError, version

        return f"{target.name}-mypy{version('mypy')}"
    except PackageNotFoundError:
        return None


def _copy_complete(source: Path, destination: Path) -> bool:
    """Copy a complete build next to *destination* and rename it into place (complete or absent)."""
    scratch = destination.with_name(f".copy-{destination.name}-{os.getpid()}")
    shutil.rmtree(scratch, ignore_errors=True)
    try:
        shutil.copytree(source, scratch)
        if not (scratch / COMPLETE).is_file():
            return False
        scratch.rename(destination)
    except OSError:
        return (destination / COMPLETE).is_file()  # another process may have finished first
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return True


def _remove_other_builds(base: Path, keep: Path) -> None:
    for old in base.iterdir():  # builds of other sources are of no use any more
        if old.is_dir() and old != keep and not old.name.startswith("."):
            shutil.rmtree(old, ignore_errors=True)


def _store_in_cache(target: Path, cache: Path, key: str) -> None:
    """Copy a fresh build into the machine's cache and keep its :data:`CACHE_KEEP` newest entries."""
    try:
        cache.mkdir(parents=True, exist_ok=True)
        _copy_complete(target, cache / key)
        entries = sorted((e for e in cache.iterdir() if e.is_dir() and not e.name.startswith(".")),
                         key=lambda e: e.stat().st_mtime, reverse=True)  # fmt: skip
        for stale in entries[CACHE_KEEP:]:
            shutil.rmtree(stale, ignore_errors=True)
    except OSError as exc:  # a cache that cannot be written only costs the next clone a compile
        print(f"core build: not cached ({exc})", file=sys.stderr, flush=True)


def build(environ: Mapping[str, str] = os.environ, *, quiet: bool = False) -> Path:
    """Make the build of the current sources unless it exists; returns its directory.

    Takes it from the machine's cache (:func:`cache_dir`) when the same sources were built there
    with the same mypyc, else compiles in a scratch directory (in a child process: mypy and
    setuptools stay out of the caller, with a mypy cache of its own so that a ``mypy`` run at the
    same time is not disturbed) and renames it into place, so a build directory is complete or
    absent; older builds are removed.
    """
    target = build_path(environ)
    if (target / COMPLETE).is_file():
        return target
    base = build_dir(environ)
    base.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    cache = cache_dir(environ)
    key = _cache_key(target) if cache is not None else None
    cached = cache / key if cache is not None and key is not None else None
    if cached is not None and (cached / COMPLETE).is_file() and _copy_complete(cached, target):
        os.utime(cached)  # recently used: kept by the pruning
        _remove_other_builds(base, target)
        if not quiet:
            print(f"core build: {target} (from the machine's cache {cached})", file=sys.stderr, flush=True)
        return target
    scratch = base / f".scratch-{target.name}-{os.getpid()}"
    shutil.rmtree(scratch, ignore_errors=True)
    if not quiet:
        print(f"core build: compiling {len(COMPILED_MODULES)} modules with mypyc (about a minute)",
              file=sys.stderr, flush=True)  # fmt: skip
    env = {**environ, "JEUGDHUB_CORE_BUILD": "pure", "MYPY_CACHE_DIR": str(scratch / "mypy-cache")}
    command = [sys.executable, "-m", "services.compiled", "compile-into", str(scratch)]
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        shutil.rmtree(scratch, ignore_errors=True)
        tail = "\n".join((result.stdout + result.stderr).strip().splitlines()[-25:])
        raise RuntimeError(f"core build failed (exit {result.returncode}):\n{tail}")
    lib = scratch / "lib"
    (lib / COMPLETE).write_text(f"{target.name}\n{sys.version}\n")
    _remove_other_builds(base, target)
    try:
        lib.rename(target)
    except OSError:
        if not (target / COMPLETE).is_file():  # not merely another process finishing first
            raise
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    if cache is not None and key is not None:
        _store_in_cache(target, cache, key)  # after the rename: the cache never holds a partial build
    if not quiet:
        print(f"core build: {target} ({time.monotonic() - started:.0f} s)", file=sys.stderr, flush=True)
    return target


def _compile_into(scratch: Path) -> None:
    """The compiler run itself (in the child process)."""
    paths = [str(source_path(m).relative_to(ROOT)) for m in COMPILED_MODULES]
    compile_group(paths, GROUP, "jeugdhub-core-build", scratch)


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) == 2 and args[0] == "compile-into":
        _compile_into(Path(args[1]))
        return 0
    if args == ["check"]:
        target = build_path()
        present = (target / COMPLETE).is_file()
        print(f"core build {'present' if present else 'missing'}: {target}")
        return 0 if present else 1
    if args == ["build"]:
        try:
            build()
        except (RuntimeError, OSError) as exc:
            print(f"core build: {exc}", file=sys.stderr)
            return 1
        return 0
    print(__doc__.split("\n\n")[1], file=sys.stderr)
    return 2
