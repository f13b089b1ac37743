"""The ``jeugdhub`` command. Subcommands import their modules lazily so ``--help`` stays instant.

Failures a user can fix (a missing or unwritable file, a bad setting, Kafka not reachable) end in
one line on stderr, ``jeugdhub <command>: <what>: <why>``, and a non-zero exit (2: fix the
command line, files or settings; 1: Kafka failed), never a traceback (:func:`main`).
"""

from __future__ import annotations

import argparse
import importlib
import shutil
import sys
import textwrap
from collections.abc import Sequence
from typing import Any

from services.output import OutputPathError

COMMAND_ERROR = 2
"""Exit status when the command line, a file or a setting is wrong (argparse's own as well)."""
KAFKA_ERROR = 1
"""Exit status when Kafka could not be reached or refused the command."""


class HubParser(argparse.ArgumentParser):
    """An argument parser whose ``--help`` also lists the environment variables the command reads.

    They come from the command's pydantic-settings class when help is asked for, so the list
    cannot drift from the code, and a normal start does not import pydantic to build the parser.
    """

    settings: tuple[str, tuple[str, ...] | None] | None = None
    """("module:Class", the fields the command reads or None for all), set by :func:`reads_settings`."""
    settings_note: str = ""

    def format_help(self) -> str:
        text = super().format_help()
        if self.settings is not None:
            text += "\n" + settings_help(*self.settings)
        if self.settings_note:
            text += "\n" + _wrap(self.settings_note, "")
        return text

    def parse_known_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> tuple[argparse.Namespace, list[str]]:
        parsed, rest = super().parse_known_args(args, namespace)
        if not hasattr(
            parsed, "command_prog"
        ):  # the innermost subcommand finishes first: "jeugdhub tokens add"
            parsed.command_prog = self.prog
        return parsed, rest


def reads_settings(
    parser: argparse.ArgumentParser, source: str, fields: Sequence[str] | None = None, note: str = ""
) -> None:
    """Let *parser*'s ``--help`` list the variables of *source* ("module:Class"), or only *fields*."""
    if isinstance(parser, HubParser):
        parser.settings = (source, tuple(fields) if fields is not None else None)
        parser.settings_note = note


def settings_help(source: str, fields: Sequence[str] | None = None) -> str:
    """The environment variables of a pydantic-settings class: name, what it does, its default."""
    module_name, _, class_name = source.partition(":")
    cls: Any = getattr(importlib.import_module(module_name), class_name)
    prefix = str(cls.model_config.get("env_prefix", ""))
    lines = [f"environment variables (read when the command starts; {module_name.replace('.', '/')}.py):"]
    for name, info in cls.model_fields.items():
        if fields is not None and name not in fields:
            continue
        variable = f"{prefix}{name}".upper()
        description = (info.description or "").strip()
        if description.startswith(variable):
            description = description[len(variable) :].lstrip(" :").strip()
        lines.append(f"  {variable}")
        lines.append(_wrap(f"{description} [default: {_default_text(info)}]".lstrip(), " " * 6))
    return "\n".join(lines) + "\n"


def _default_text(info: Any) -> str:
    if info.is_required():
        return "required"
    value = info.get_default(call_default_factory=True)
    if value is None:
        return "unset"
    if isinstance(value, bool):
        return str(value).lower()
    return str(value) if str(value) != "" else '""'


def _wrap(text: str, indent: str) -> str:
    width = max(40, shutil.get_terminal_size().columns - 2)
    return textwrap.fill(text, width, initial_indent=indent, subsequent_indent=indent, break_on_hyphens=False)


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("jeugdhub")
    except PackageNotFoundError:  # run from a checkout that was never installed
        return "unknown (not installed)"


COMMAND_MODULES = (
    "services.validate.commands",
    "services.ingest.commands",
    "services.aggregate.commands",
    "services.replay.commands",
    "services.privacy.erase_commands",
    "services.deploy.commands",
    "services.regulator.figures_commands",
    "services.regulator.report_commands",
    "services.regulator.history_commands",
    "services.privacy.keys_commands",
)


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
            f"{spec.full_name(args.prefix):28} {spec.partitions:>2} {_plural(spec.partitions, 'partition'):10}  "
            f"{spec.cleanup_policy:7} "
            f"{retention:>8}  key: {spec.key}"
        )
    return 0


def _plural(count: int, noun: str) -> str:
    return noun if count == 1 else f"{noun}s"


def build_parser() -> argparse.ArgumentParser:
    parser = HubParser(prog="jeugdhub", description="Jeugdhub: youth-care data-exchange hub.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = parser.add_subparsers(dest="command", required=True)

    topics = sub.add_parser("topics", help="list the hub's topics as declared in services.contracts.topics")
    reads_settings(
        topics,
        "services.settings:HubSettings",
        ("kafka_bootstrap", "topic_prefix", "replication_factor", "min_insync_replicas"),
        note="The variables are read only with --create; --prefix and --bootstrap take precedence.",
    )
    topics.add_argument("--prefix", default="", help="topic name prefix (default: JEUGDHUB_TOPIC_PREFIX)")
    topics.add_argument("--create", action="store_true", help="create missing topics on the broker")
    topics.add_argument("--bootstrap", help="broker host:port (default: JEUGDHUB_KAFKA_BOOTSTRAP)")
    topics.set_defaults(func=cmd_topics)

    # Service commands live next to their service; each module's register() adds its subparsers
    # and must import nothing heavy at module level (``jeugdhub --help`` stays instant).
    # A command module that fails to import is a broken command: the error propagates.
    for module_name in COMMAND_MODULES:
        importlib.import_module(module_name).register(sub)
    register_development_commands(sub)
    return parser


def register_development_commands(sub: Any) -> None:
    """``kafka``, ``run`` and ``simulate`` from the ``hubdev`` package, when it is installed.

    A checkout has it (``pip install -e .``), the image does not (.dockerignore): only a missing
    ``hubdev`` itself is skipped; anything failing inside it raises like any other broken command.
    """
    try:
        commands = importlib.import_module("hubdev.commands")
    except ModuleNotFoundError as exc:
        if exc.name != "hubdev":
            raise
        return
    commands.register(sub)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        code: int = args.func(args)
    except KeyboardInterrupt:
        print(f"{args.command_prog}: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        explained = explain(exc)
        if explained is None:
            raise  # a bug: the traceback is what the report needs
        status, text = explained
        print(f"{args.command_prog}: {text}", file=sys.stderr)
        return status
    return code


def explain(exc: BaseException) -> tuple[int, str] | None:
    """(exit status, one line) for a failure the user can act on; None for anything else (a bug)."""
    if isinstance(exc, OutputPathError):
        return COMMAND_ERROR, str(exc)
    if isinstance(exc, OSError) and exc.filename is not None:
        also = f" -> {exc.filename2}" if exc.filename2 is not None else ""
        return COMMAND_ERROR, f"{exc.filename}{also}: {exc.strerror or exc}"
    pydantic_core = sys.modules.get("pydantic_core")
    if pydantic_core is not None and isinstance(exc, pydantic_core.ValidationError):
        return COMMAND_ERROR, settings_error_text(exc)
    for module_name in ("kafka.errors", "aiokafka.errors"):
        module = sys.modules.get(module_name)
        if module is not None and isinstance(exc, module.KafkaError):
            return KAFKA_ERROR, f"Kafka: {exc} (is it running? `jeugdhub kafka status`)"
    return None


def settings_error_text(exc: Any) -> str:
    """A pydantic-settings ValidationError as one line naming each bad variable (never its value,
    which may be a secret)."""
    problems = []
    for error in exc.errors():
        location = ".".join(str(part) for part in error.get("loc", ()))
        name = f"JEUGDHUB_{location.upper()}" if location else "settings"
        problems.append(f"{name}: {error.get('msg', 'invalid')}")
    return "bad setting " + "; ".join(problems)


if __name__ == "__main__":
    raise SystemExit(main())
