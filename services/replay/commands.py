"""``jeugdhub replay``: validate and aggregate a JSONL file offline (no Kafka)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from services.cli import COMMAND_ERROR, reads_settings
from services.contracts.records import RejectionJSON
from services.output import check_writable
from services.replay.feed_input import iso_date


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
    replay.add_argument("--as-of", required=True, type=iso_date("--as-of"), help="as-of date D, YYYY-MM-DD")
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
        type=iso_date("--baseline"),
        help="baseline date B, YYYY-MM-DD (default: JEUGDHUB_BASELINE_DATE): add a 'targets' object "
        "per region (the national targets as of --as-of against B)",
    )
    replay.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import orjson

    from services.output import write_json_document
    from services.replay.feed_input import (
        checked_baseline,
        judge_feed,
        load_feed_keyring,
        load_regions,
        note_bad_lines,
        unreadable,
    )
    from services.replay.offline import regulator_document
    from services.settings import ReplaySettings

    input_path = Path(args.input)
    if why := unreadable(input_path):
        return _fail(why)
    for output in (args.output, args.rejections):  # before the work, not after it
        if output:
            check_writable(output)
    settings = ReplaySettings()
    baseline = checked_baseline(args.baseline, settings)
    if isinstance(baseline, str):
        return _fail(baseline)
    regions = load_regions(args.regions, settings)
    if isinstance(regions, str):
        return _fail(regions)
    keyring = load_feed_keyring(settings)
    if isinstance(keyring, str):
        return _fail(keyring)
    rejections = open(args.rejections, "wb") if args.rejections else None  # noqa: SIM115
    try:

        def record(rejection: RejectionJSON) -> None:
            if rejections is not None:
                rejections.write(orjson.dumps(rejection) + b"\n")

        result = judge_feed(input_path, keyring, regions, record)
    finally:
        if rejections is not None:
            rejections.close()
    note_bad_lines("replay", input_path, result)
    document = regulator_document(result, args.as_of, regions, public=args.public, baseline=baseline)
    write_json_document(document, args.output)
    return 0


def _fail(text: str) -> int:
    print(f"jeugdhub replay: {text}", file=sys.stderr)
    return COMMAND_ERROR
