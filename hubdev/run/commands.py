"""``jeugdhub run``: the whole hub on this machine — Kafka, the three services, a simulated feed
and a live view. Ctrl-C, SIGTERM or SIGHUP stop everything and say where the data and logs are; if
``run`` is killed, its children die with it (parent-death signal)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "run",
        help="run Kafka, ingest, validate, aggregate and a simulated feed, with a live view",
        description="The whole hub on this machine: start a local Kafka (or use --kafka-bootstrap), "
        "the ingest, validate and aggregate services as separate processes, and a simulator posting a "
        "realistic feed, and show the figures live (status lines when the output is not a terminal). "
        "Ctrl-C, SIGTERM or SIGHUP stop everything.",
        epilog="environment variables: JEUGDHUB_INGEST_TOKENS_FILE only (the tokens file, default "
        "var/ingest-tokens.json, shared with `jeugdhub tokens add`). The services started here get "
        "their other settings from these options (keyring, logs and the simulator's state under "
        "--state-dir); other JEUGDHUB_* variables in your environment are not passed on. To "
        "configure a service yourself, run it on its own: "
        "`jeugdhub ingest --help` (and validate, aggregate) lists its variables.",
    )
    parser.add_argument(
        "--rate", type=float, default=200.0, help="simulated messages per second (default 200)"
    )
    parser.add_argument(
        "--duration", type=float, default=None, help="stop after this many seconds (default: Ctrl-C)"
    )
    parser.add_argument("--no-simulator", action="store_true", help="only run the hub")
    parser.add_argument("--regions", type=Path, default=None, help="region reference table CSV")
    parser.add_argument(
        "--seed",
        type=int,
        default=None,
        help="simulator seed (default: the last run's feed continues where it stopped; a new one: 1)",
    )
    parser.add_argument(
        "--from-start",
        action="store_true",
        help="post the feed from its first line again instead of continuing the last run's "
        "(what these topics already hold is then acknowledged as duplicates)",
    )
    parser.add_argument(
        "--state-dir",
        type=Path,
        default=Path("var/run"),
        help="keyring, the simulator's position and tokens, and logs (default var/run)",
    )
    parser.add_argument("--no-view", action="store_true", help="print a status line every 5 s instead")
    parser.add_argument(
        "--kafka-bootstrap",
        default=None,
        help="use this Kafka (host:port) instead of starting the local one; it is left running",
    )
    parser.add_argument(
        "--topic-prefix", default="", help="prefix of every topic and consumer group (default: none)"
    )
    parser.add_argument(
        "--free-ports",
        action="store_true",
        help="give the services free ports instead of 8080/6066/6067, and a Kafka started here free "
        "ports instead of 9092/9093 (several hubs side by side)",
    )
    parser.add_argument(
        "--port",
        action="append",
        metavar="NAME=PORT",
        help="another port than the default for ingest (8080), validate "
        "(6066), aggregate (6067), kafka (9092) or kafka-controller (9093); repeatable",
    )
    parser.add_argument(
        "--kafka-state-dir",
        type=Path,
        default=None,
        help="state file, data and logs of the local Kafka (default: var/localkafka, as `jeugdhub kafka`)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from hubdev.run.orchestrate import Hub

    return Hub(args).run()
