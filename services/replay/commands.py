"""``jeugdhub replay``: validate and aggregate a JSONL file offline (no Kafka)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

from services.cli import COMMAND_ERROR, reads_settings
from services.contracts.records import RejectionJSON
from services.output import check_writable


def register(sub: Any) -> None:
    replay = sub.add_parser(
        "replay",
        help="validate and aggregate a JSONL file offline (no Kafka)",
        description="Validate, pseudonymise and aggregate a file of canonical-JSON messages offline, "
        "with the same functions as the services, and print the figures as of --as-of.",
    )
    reads_settings(
        replay,
        "services.settings:ReplaySettings",
        ("regions_file", "keyring_file", "keyring_json", "baseline_date"),
    )
    replay.add_argument("input", help="canonical-JSON messages, one per line")
    replay.add_argument("--as-of", required=True, type=_date("--as-of"), help="as-of date D, YYYY-MM-DD")
    replay.add_argument(
        "--regions", help="region reference table CSV (default: JEUGDHUB_REGIONS_FILE or the example)"
    )
    replay.add_argument("--output", help="write the figures JSON here instead of stdout")
    replay.add_argument("--rejections", help="write one rejection record per rejected message (JSON lines)")
    replay.add_argument(
        "--public",
        action="store_true",
        help="print the public form (counts 1-4 null, others rounded to 5, rates and medians null on "
        "small cohorts, 'suppressed' per region; docs/regulator.md)",
    )
    replay.add_argument(
        "--baseline",
        type=_date("--baseline"),
        help="baseline date B, YYYY-MM-DD (default: JEUGDHUB_BASELINE_DATE): add a 'targets' object "
        "per region (the national targets as of --as-of against B)",
    )
    replay.set_defaults(func=run)


def _date(option: str) -> Callable[[str], date]:
    def parse(text: str) -> date:
        try:
            return date.fromisoformat(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(f"{option} must be YYYY-MM-DD, got {text!r}") from exc

    return parse


def run(args: argparse.Namespace) -> int:
    import orjson

    from services.contracts.regions import RegionTableError, load_region_table
    from services.output import write_json_document
    from services.privacy.pseudonym import KeyringError, ephemeral_keyring, load_keyring
    from services.regulator.targets import check_baseline
    from services.replay.offline import judge_lines, read_lines, regulator_document
    from services.settings import ReplaySettings

    input_path = Path(args.input)
    if not input_path.is_file():
        why = "is not a file" if input_path.exists() else "no such file"
        print(f"jeugdhub replay: cannot read {input_path}: {why}", file=sys.stderr)
        return COMMAND_ERROR
    for output in (args.output, args.rejections):  # before the work, not after it
        if output:
            check_writable(output)
    settings = ReplaySettings()
    baseline = args.baseline or settings.baseline_date
    if baseline is not None:
        try:
            check_baseline(baseline)
        except ValueError as exc:
            print(f"jeugdhub replay: --baseline: {exc}", file=sys.stderr)
            return COMMAND_ERROR
    try:
        regions = load_region_table(args.regions or settings.regions_file)
        keyring = load_keyring(settings.keyring_file, settings.keyring_json_value()) or ephemeral_keyring()
    except (RegionTableError, KeyringError, OSError) as exc:
        print(f"jeugdhub replay: {exc}", file=sys.stderr)
        return COMMAND_ERROR
    rejections = open(args.rejections, "wb") if args.rejections else None  # noqa: SIM115
    try:

        def record(rejection: RejectionJSON) -> None:
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
    document = regulator_document(result, args.as_of, regions, public=args.public, baseline=baseline)
    write_json_document(document, args.output)
    return 0
