"""The two steps every mypyc build of this repository shares: compiling a group of modules, and
loading a group's shared library by path.

Used by the hub's core build (:mod:`services.compiled`) and the simulator's
(``hubdev/simulate/build.py``, ``compiler.py``), so both compile with the same options and load
the same way. Imports nothing of mypy or setuptools until :func:`compile_group` runs (in a child
process: the compiler stays out of the workers).
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any


def compile_group(paths: Sequence[str], group: str, name: str, scratch: Path) -> None:
    """Compile *paths* (relative to the working directory) as one mypyc group into
    ``scratch/lib``; ``scratch/c`` and ``scratch/obj`` hold the C sources and objects."""
    from mypyc.build import mypycify  # the test extra; imported only when compiling
    from setuptools import setup

    # mypyc types its result as setuptools' or distutils' Extension, setuptools' setup() wants the
    # former; they are the same class when setuptools is installed.
    extensions: list[Any] = mypycify(
        list(paths), opt_level="3", group_name=group, target_dir=str(scratch / "c")
    )
    setup(
        name=name,
        ext_modules=extensions,
        script_args=[
            "--quiet",
            "build_ext",
            "--build-lib",
            str(scratch / "lib"),
            "--build-temp",
            str(scratch / "obj"),
        ],
    )


def group_libraries(target: Path, library: str) -> list[Path]:
    """The files of a build directory that can be the group's shared library."""
    return list(target.glob(f"{library}*{importlib.machinery.EXTENSION_SUFFIXES[0]}"))


def load_group_library(library: str, path: Path, what: str) -> None:
    """Import the group's shared library from *path* under its top-level name *library* (once):
    the per-module shims import it by that name, and the build directory needs no sys.path entry."""
    if library in sys.modules:
        return
    spec = importlib.util.spec_from_file_location(library, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load the {what}'s library {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[library] = module
    spec.loader.exec_module(module)
