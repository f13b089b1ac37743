"""The ``jeugdhub`` command. Subcommands import their modules lazily so ``--help`` stays instant."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from datetime import date
from pathlib import Path

COMMAND_MODULES = (
    "services.validate.commands",
    "services.ingest.commands",
    "services.aggregate.commands",
    "services.run.commands",
    "services.simulate.commands",
    "services.deploy.commands",
)


def _as_of(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"--as-of must be YYYY-MM-DD, got {text!r}") from exc


def cmd_replay(args: argparse.Namespace) -> int:
    import orjson

    from services.aggregate.replay import figures_document, judge_lines, read_lines
    from services.contracts.regions import RegionTableError, load_region_table
    from services.output import write_json_document
    from services.privacy.pseudonym import KeyringError, ephemeral_keyring, load_keyring
    from services.settings import ReplaySettings

    settings = ReplaySettings()
    try:
        regions = load_region_table(args.regions or settings.regions_file)
        keyring = load_keyring(settings.keyring_file, settings.keyring_json_value()) or ephemeral_keyring()
    except (RegionTableError, KeyringError, OSError) as exc:
        print(f"jeugdhub replay: {exc}", file=sys.stderr)
        return 2
    input_path = Path(args.input)
    rejections = open(args.rejections, "wb") if args.rejections else None  # noqa: SIM115
    try:

        def record(rejection: dict[str, object]) -> None:
            if rejections is not None:
                rejections.write(orjson.dumps(rejection) + b"\n")

        with input_path.open("rb") as handle:
            total = input_path.stat().st_size
            lines = read_lines(handle, total, sys.stderr.isatty())
            result = judge_lines(lines, keyring, regions, record)
    finally:
        if rejections is not None:
            rejections.close()
    for line_no in result.bad_lines:
        print(
            f"jeugdhub replay: {input_path}:{line_no}: not a JSON message, recorded as a SCHEMA rejection",
            file=sys.stderr,
        )
    write_json_document(figures_document(result, args.as_of, regions), args.output)
    return 0


def cmd_topics(args: argparse.Namespace) -> int:
    from services.contracts.topics import ALL_TOPICS

    if args.create:
        from services.settings import HubSettings
        from services.streaming.topic_admin import create_hub_topics

        settings = HubSettings()
        bootstrap = args.bootstrap or settings.kafka_bootstrap
        created = create_hub_topics(bootstrap, args.prefix or settings.topic_prefix)
        print(f"topics present on {bootstrap}: {', '.join(created)}")

    for spec in ALL_TOPICS:
        retention = "forever" if spec.retention_ms < 0 else f"{spec.retention_ms // 86_400_000} d"
        print(
            f"{spec.full_name(args.prefix):28} {spec.partitions:>2} partitions  {spec.cleanup_policy:7} "
            f"{retention:>8}  key: {spec.key}"
        )
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="jeugdhub", description="Jeugdhub: youth-care data-exchange hub.")
    sub = parser.add_subparsers(dest="command", required=True)

    replay = sub.add_parser("replay", help="validate and aggregate a JSONL file offline (no Kafka)")
    replay.add_argument("input", help="canonical-JSON messages, one per line")
    replay.add_argument("--as-of", required=True, type=_as_of, help="as-of date D, YYYY-MM-DD")
    replay.add_argument(
        "--regions", help="region reference table CSV (default: JEUGDHUB_REGIONS_FILE or the example)"
    )
    replay.add_argument("--output", help="write the figures JSON here instead of stdout")
    replay.add_argument("--rejections", help="write one rejection record per rejected message (JSON lines)")
    replay.set_defaults(func=cmd_replay)

    kafka = sub.add_parser(
        "kafka", help="the local Kafka broker, or a cluster with start --brokers 3 (development, tests)"
    )
    kafka_sub = kafka.add_subparsers(dest="action", required=True)
    from services.localkafka import named

    for action in ("start", "stop", "status"):
        handler = getattr(named, f"cli_{action}")
        parser_ = kafka_sub.add_parser(action, help=(handler.__doc__ or "").split(".")[0])
        named.add_arguments(parser_, action)
        parser_.set_defaults(func=handler)

    topics = sub.add_parser("topics", help="list the hub's topics as declared in services.contracts.topics")
    topics.add_argument("--prefix", default="", help="topic name prefix (default: JEUGDHUB_TOPIC_PREFIX)")
    topics.add_argument("--create", action="store_true", help="create missing topics on the broker")
    topics.add_argument("--bootstrap", help="broker host:port (default: JEUGDHUB_KAFKA_BOOTSTRAP)")
    topics.set_defaults(func=cmd_topics)

    # Service commands live next to their service; each module's register() adds its subparsers
    # and must import nothing heavy at module level (``jeugdhub --help`` stays instant).
    for module_name in COMMAND_MODULES:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name is None or not module_name.startswith(exc.name):
                raise
            continue
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    code: int = args.func(args)
    return code


if __name__ == "__main__":
    raise SystemExit(main())
