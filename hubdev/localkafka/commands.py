"""``jeugdhub kafka start|stop|status``: the local broker or cluster (docs/kafka.md)."""

from __future__ import annotations

from typing import Any


def register(sub: Any) -> None:
    """Add ``kafka`` and its three actions to the ``jeugdhub`` subparsers."""
    from hubdev.localkafka import named

    kafka = sub.add_parser(
        "kafka", help="the local Kafka broker, or a cluster with start --brokers 3 (development, tests)"
    )
    actions = kafka.add_subparsers(dest="action", required=True)
    for action in ("start", "stop", "status"):
        handler = getattr(named, f"cli_{action}")
        parser = actions.add_parser(action, help=(handler.__doc__ or "").split(".")[0])
        named.add_arguments(parser, action)
        parser.set_defaults(func=handler)
