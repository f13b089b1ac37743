"""``python -m hubdev.localkafka start|stop|status``: ``jeugdhub kafka`` without the console script
(the same functions; ``hubdev.localkafka.commands`` registers them with ``jeugdhub``)."""

from __future__ import annotations

import argparse
import sys

from hubdev.localkafka.named import add_arguments, cli_start, cli_status, cli_stop

COMMANDS = {"start": cli_start, "stop": cli_stop, "status": cli_status}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m hubdev.localkafka", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    for name, func in COMMANDS.items():
        add_arguments(sub.add_parser(name, help=(func.__doc__ or "").split(".")[0]), name)
    args = parser.parse_args(argv)
    return COMMANDS[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
