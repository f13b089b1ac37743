"""``python -m hubdev.simulate [options]``: ``jeugdhub simulate`` without the console script (the
same ``register``; the tests call :func:`main` to run the command in-process)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from hubdev.simulate.commands import register


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m hubdev.simulate")
    sub = parser.add_subparsers(dest="command", required=True)
    register(sub)
    args = parser.parse_args(["simulate", *(sys.argv[1:] if argv is None else argv)])
    code: int = args.func(args)
    return code


if __name__ == "__main__":
    raise SystemExit(main())
