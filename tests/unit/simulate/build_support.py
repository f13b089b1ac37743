"""The simulator's compiled build for tests that run it (made once per machine, about a minute)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from hubdev.simulate.compiler import build


def compiled_build() -> Path:
    """The build of the current sources, made if missing; skips only where no C compiler exists."""
    if not (shutil.which("cc") or shutil.which("gcc")):
        pytest.skip("no C compiler here: the simulator runs from its Python source")
    return build(quiet=True)


def env_for(build_mode: str) -> dict[str, str]:
    """The environment of a simulator process running ``build_mode`` (``pure`` or ``compiled``)."""
    return {**os.environ, "JEUGDHUB_SIMULATOR_BUILD": build_mode}
