"""The simulator's compiled build: its pure modules compiled to C extensions with mypyc.

The generator modules (:data:`COMPILED_MODULES`) are plain, fully typed Python; mypyc (part of
mypy, already a test dependency) compiles them unchanged to C extensions that make the same
feed, byte for byte, with about 40 % of the CPU per message (docs/simulator.md). A build lives
in ``.build/simulator/<digest>/``, where the digest covers the sources it was compiled from and
the Python it was compiled for, so a build can never run code other than what is in the tree: edit
a module and the package falls back to the Python source until the build is made again.

``hubdev/simulate/__init__.py`` calls :func:`activate` before any of those modules is imported;
it puts a matching build first on the package's search path. ``JEUGDHUB_SIMULATOR_BUILD`` picks
``auto`` (the build when it matches, else the source), ``pure`` (always the source: tests that
patch the generator's classes use it) or ``compiled`` (the build or an ImportError).

:mod:`hubdev.simulate.compiler` makes the build.
"""

from __future__ import annotations

import hashlib
import os
import sys
import sysconfig
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from services.compiled.mypyc_build import group_libraries, load_group_library

PACKAGE_DIR = Path(__file__).resolve().parent
REPO = PACKAGE_DIR.parents[1]
COMPILED_MODULES = ("calibration", "world", "plan", "render", "invalid", "feed")
"""The generator: pure code, no I/O. ``commands``, ``output`` and ``post`` stay Python."""
TYPE_SOURCES = (REPO / "services" / "contracts" / "regions.py",)
"""Modules outside the package whose types the compiled code relies on (part of the digest)."""
GROUP = "jeugdhub_simulator"
"""mypyc's name for the build's group of modules."""
LIBRARY = f"{GROUP}__mypyc"
"""The group's shared library, a top-level module the per-module extensions import by name."""
COMPLETE = "BUILD-COMPLETE"
MODES = ("auto", "pure", "compiled")


@dataclass(frozen=True)
class BuildChoice:
    """``JEUGDHUB_SIMULATOR_BUILD`` (``mode``) and ``JEUGDHUB_SIMULATOR_BUILD_DIR`` (``build_dir``)."""

    mode: str
    build_dir: Path

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] = os.environ) -> BuildChoice:
        """Read directly, not with pydantic-settings as the services' settings are: this runs when
        the package is imported, so every ``jeugdhub`` command (``--help`` too) would load pydantic."""
        mode = environ.get("JEUGDHUB_SIMULATOR_BUILD", "").strip().lower() or "auto"
        if mode not in MODES:
            raise ValueError(f"JEUGDHUB_SIMULATOR_BUILD must be one of {', '.join(MODES)}; got {mode!r}")
        directory = environ.get("JEUGDHUB_SIMULATOR_BUILD_DIR", "").strip()
        return cls(mode, Path(directory) if directory else REPO / ".build" / "simulator")


def source_digest() -> str:
    """What a build is made from: the compiled modules' bytes, their type sources, the Python ABI."""
    digest = hashlib.sha256()
    digest.update(f"{sys.version}|{sysconfig.get_config_var('EXT_SUFFIX')}|{GROUP}|{__package__}".encode())
    for path in (*(PACKAGE_DIR / f"{m}.py" for m in COMPILED_MODULES), *TYPE_SOURCES):
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:20]


def build_path(choice: BuildChoice | None = None) -> Path:
    """Where the build of the current sources is (or would be)."""
    return (choice or BuildChoice.from_environ()).build_dir / source_digest()


def activate(package_path: list[str]) -> str:
    """Put the matching build first on ``package_path``; returns what the package will run.

    Must run before any compiled module is imported. Returns ``"compiled"`` or ``"pure (...)"``
    with the reason, for the CLI's summary and the benchmark's record.
    """
    choice = BuildChoice.from_environ()
    if choice.mode == "pure":
        return "pure (JEUGDHUB_SIMULATOR_BUILD=pure)"
    target = build_path(choice)
    if not (target / COMPLETE).is_file():
        reason = "no build of the current sources: python -m hubdev.simulate.compiler"
        if choice.mode == "compiled":
            raise ImportError(f"JEUGDHUB_SIMULATOR_BUILD=compiled, but there is {reason} ({target})")
        return f"pure ({reason})"
    libraries = group_libraries(target, LIBRARY)
    if len(libraries) == 1:
        load_group_library(LIBRARY, libraries[0], "simulator build")
    package_path.insert(0, str(target / "hubdev" / "simulate"))
    return "compiled"
