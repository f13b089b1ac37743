"""Makes the simulator's compiled build: ``python -m hubdev.simulate.compiler``.

About 40 s on two cores, a no-op when the build of the current sources exists; ``scripts/
bootstrap.sh`` runs it, so ``make run`` and ``make test`` use (and test) the build. Needs a C
compiler and the test extra (mypy, setuptools); without them the simulator runs from its source.
See :mod:`hubdev.simulate.build` for where builds live and how one is chosen.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from hubdev.simulate.build import COMPILED_MODULES, COMPLETE, GROUP, REPO, BuildChoice, build_path
from services.compiled.mypyc_build import compile_group


def build(choice: BuildChoice | None = None, *, quiet: bool = False) -> Path:
    """Make the build of the current sources unless it exists; returns its directory.

    Compiles in a scratch directory and renames it into place, so a build directory is complete
    or absent; older builds are removed.
    """
    choice = choice or BuildChoice.from_environ()
    target = build_path(choice)
    if (target / COMPLETE).is_file():
        return target
    choice.build_dir.mkdir(parents=True, exist_ok=True)
    scratch = choice.build_dir / f".scratch-{target.name}-{os.getpid()}"
    shutil.rmtree(scratch, ignore_errors=True)
    started = time.monotonic()
    if not quiet:
        print(f"simulator build: compiling {', '.join(COMPILED_MODULES)} with mypyc (about a minute)",
              file=sys.stderr, flush=True)  # fmt: skip
    env = {**os.environ, "JEUGDHUB_SIMULATOR_BUILD": "pure"}
    command = [sys.executable, "-m", "hubdev.simulate.compiler", "--compile-into", str(scratch)]
    result = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        shutil.rmtree(scratch, ignore_errors=True)
        tail = "\n".join((result.stdout + result.stderr).strip().splitlines()[-15:])
        raise RuntimeError(f"simulator build failed (exit {result.returncode}):\n{tail}")
    lib = scratch / "lib"
    (lib / COMPLETE).write_text(f"{target.name}\n{sys.version}\n")
    for old in choice.build_dir.iterdir():  # builds of other sources are of no use any more
        if old.is_dir() and old != target and not old.name.startswith("."):
            shutil.rmtree(old, ignore_errors=True)
    try:
        lib.rename(target)
    except OSError:
        if not (target / COMPLETE).is_file():  # not merely another process finishing first
            raise
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    if not quiet:
        print(f"simulator build: {target} ({time.monotonic() - started:.0f} s)", file=sys.stderr, flush=True)
    return target


def _compile_into(scratch: Path) -> None:
    """The compiler run itself (in a child process: mypy and setuptools stay out of the caller)."""
    paths = [f"hubdev/simulate/{m}.py" for m in COMPILED_MODULES]
    compile_group(paths, GROUP, "jeugdhub-simulator-build", scratch)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--compile-into", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--check", action="store_true", help="only say whether the current build exists")
    args = parser.parse_args(argv)
    if args.compile_into is not None:
        _compile_into(args.compile_into)
        return 0
    if args.check:
        target = build_path()
        present = (target / COMPLETE).is_file()
        print(f"simulator build {'present' if present else 'missing'}: {target}")
        return 0 if present else 1
    try:
        build()
    except (RuntimeError, OSError) as exc:
        print(f"simulator build: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
