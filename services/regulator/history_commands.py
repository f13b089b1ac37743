"""``jeugdhub history``: the restated history (metrics.md, History) as CSV or JSON, from a feed file
(judged like ``replay``) or from the hub's state on Kafka (read like ``rebuild``:
:mod:`services.aggregate.state_source`).

Imports nothing heavy at module level (``jeugdhub --help`` stays instant); the work is in
:mod:`services.regulator.history` and :mod:`services.regulator.series`.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from services.cli import COMMAND_ERROR, KAFKA_ERROR, reads_settings
from services.replay.feed_input import iso_date

if TYPE_CHECKING:
    from services.contracts.regions import RegionTable
    from services.regulator.history import HistorySource
    from services.regulator.series import Progress
    from services.settings import ReplaySettings

EVERY_CHOICES = ("day", "week", "month")
"""services.regulator.series.EVERY, spelt out so that ``jeugdhub --help`` does not import the
figures code (a test holds the two equal)."""
FORMATS = ("csv", "json")
BOOTSTRAP_TIMEOUT_MS = 10_000
PROGRESS_MIN_YOUTH = 20_000
"""Below this many youth the series takes about a second: no progress bar."""


def register(sub: Any) -> None:
    history = sub.add_parser(
        "history",
        help="the restated history: figures as of every day, Sunday or month end in a period",
        description="Write the figures as of every date of [--from, --to] (every day, every Sunday or "
        "every month's last day), per region and NL, from every accepted message known now: a feed "
        "file (validated like replay) or, with --from-topic, the hub's state on Kafka (like rebuild: "
        "the aggregate's youth-messages changelog plus the validated records it has not applied "
        "yet; run as the aggregate's user). The "
        "row for (D, R) equals `jeugdhub replay --as-of D`'s figures for R. CSV (the spec's columns) "
        "or JSON (a list of replay-shaped documents). docs/regulator.md.",
    )
    reads_settings(
        history,
        "services.settings:ReplaySettings",
        ("regions_file", "keyring_file", "keyring_json", "baseline_date", "kafka_bootstrap", "topic_prefix"),
        note="JEUGDHUB_KAFKA_BOOTSTRAP and JEUGDHUB_TOPIC_PREFIX (and JEUGDHUB_APP_ID, the aggregate's, "
        "default jeugdhub-aggregate) are read only with --from-topic, the keyring only for a feed file.",
    )
    history.add_argument("input", nargs="?", help="canonical-JSON messages, one per line (or --from-topic)")
    history.add_argument(
        "--from-topic",
        action="store_true",
        help="read the accepted messages from Kafka instead: the aggregate's youth-messages changelog "
        "(complete; the validated topic is bounded by retention) plus the validated records after "
        "the aggregate's committed offsets; the validated topic alone if the aggregate never ran",
    )
    history.add_argument(
        "--bootstrap", help="with --from-topic: broker host:port (default: JEUGDHUB_KAFKA_BOOTSTRAP)"
    )
    history.add_argument(
        "--prefix", help="with --from-topic: topic name prefix (default: JEUGDHUB_TOPIC_PREFIX)"
    )
    history.add_argument(
        "--from",
        dest="first",
        required=True,
        type=iso_date("--from"),
        metavar="D1",
        help="first date, YYYY-MM-DD",
    )
    history.add_argument(
        "--to", dest="last", required=True, type=iso_date("--to"), metavar="D2", help="last date, YYYY-MM-DD"
    )
    history.add_argument(
        "--every",
        required=True,
        choices=EVERY_CHOICES,
        help="every day, every Sunday (week) or every month's last day within [D1, D2]",
    )
    history.add_argument(
        "--regions",
        metavar="FILE",
        help="region reference table CSV (default: JEUGDHUB_REGIONS_FILE or the example)",
    )
    history.add_argument("--output", required=True, metavar="FILE", help="the file to write")
    history.add_argument(
        "--format", choices=FORMATS, default="csv", help="csv (default): one row per date and region; json"
    )
    history.add_argument(
        "--baseline",
        type=iso_date("--baseline"),
        metavar="B",
        help="baseline date B, YYYY-MM-DD (default: JEUGDHUB_BASELINE_DATE): add the national targets "
        "per row (CSV columns baseline, target.<name>.value/.met; JSON a 'targets' object per region)",
    )
    history.add_argument(
        "--public",
        action="store_true",
        help="the public form: counts 1-4 null, others rounded to 5, rates and medians null on small "
        "cohorts, a 'suppressed' list per row (docs/regulator.md)",
    )
    history.set_defaults(func=run)


def _fail(text: str, status: int = COMMAND_ERROR) -> int:
    print(f"jeugdhub history: {text}", file=sys.stderr)
    return status


def run(args: argparse.Namespace) -> int:
    from services.output import check_writable
    from services.regulator.series import as_of_dates
    from services.replay.feed_input import checked_baseline, load_regions, unreadable
    from services.settings import ReplaySettings

    if args.from_topic == bool(args.input):
        return _fail("give either an INPUT file or --from-topic (one of them)")
    if not args.from_topic and (args.bootstrap or args.prefix):
        return _fail("--bootstrap and --prefix go with --from-topic")
    if args.first > args.last:
        return _fail(f"--from {args.first} is after --to {args.last}")
    input_path = Path(args.input) if args.input else None
    if input_path is not None and (why := unreadable(input_path)):
        return _fail(why)
    check_writable(args.output)  # before the work, not after it
    dates = as_of_dates(args.first, args.last, args.every)
    if not dates:
        what = {"week": "Sunday", "month": "last day of a month"}.get(args.every, "date")
        return _fail(f"no {what} in [{args.first}, {args.last}] (--every {args.every})")
    settings = ReplaySettings()
    baseline = checked_baseline(args.baseline, settings)
    if isinstance(baseline, str):
        return _fail(baseline)
    regions = load_regions(args.regions, settings)
    if isinstance(regions, str):
        return _fail(regions)

    if input_path is not None:
        source = _from_file(input_path, regions, settings)
        if isinstance(source, str):
            return _fail(source)
    else:
        bootstrap = args.bootstrap or settings.kafka_bootstrap
        prefix = settings.topic_prefix if args.prefix is None else args.prefix
        source = _from_topic(bootstrap, prefix, _app_id())
        if isinstance(source, str):
            return _fail(source, KAFKA_ERROR)
    return _write(args, source, dates, regions, baseline)


def _from_file(path: Path, regions: RegionTable, settings: ReplaySettings) -> HistorySource | str:
    """The accepted messages of a feed file, judged exactly as ``replay`` judges them."""
    from services.regulator.history import HistorySource
    from services.replay.feed_input import judge_feed, load_feed_keyring, note_bad_lines

    keyring = load_feed_keyring(settings)
    if isinstance(keyring, str):
        return keyring
    result = judge_feed(path, keyring, regions)
    note_bad_lines("history", path, result)
    return HistorySource.from_replay(result)


def _app_id() -> str:
    """The aggregate's app id (``JEUGDHUB_APP_ID``, as the aggregate reads it): its changelog and group."""
    from services.aggregate.settings import AggregateSettings

    return os.environ.get("JEUGDHUB_APP_ID") or str(AggregateSettings.model_fields["app_id"].default)


def _from_topic(bootstrap: str, prefix: str, app_id: str) -> HistorySource | str:
    """The aggregate's state up to the validated topic's current end (``rebuild``'s reader); a
    missing validated topic is an error, not an empty history."""
    from kafka import KafkaConsumer

    from services.aggregate.commands import state_summary
    from services.aggregate.state_source import read_state
    from services.contracts.topics import VALIDATED
    from services.regulator.history import HistorySource

    topic = VALIDATED.full_name(prefix)
    # Raises a kafka.errors.KafkaError when nothing answers (cli.main: one line, exit 1).
    probe = KafkaConsumer(bootstrap_servers=bootstrap, bootstrap_timeout_ms=BOOTSTRAP_TIMEOUT_MS)
    try:
        if not probe.partitions_for_topic(topic):
            return f"topic {topic} does not exist on {bootstrap} (or this user may not read it)"
    finally:
        probe.close()
    interactive = sys.stderr.isatty()

    def progress(read: int) -> None:
        if interactive:
            print(f"\rhistory: {read:,} records read", end="", file=sys.stderr, flush=True)

    state = read_state(bootstrap, prefix, app_id, progress)
    if interactive:
        print(file=sys.stderr)
    print(f"jeugdhub history: {state_summary(state)}", file=sys.stderr)
    return HistorySource.from_topic(state.by_youth)


def _write(
    args: argparse.Namespace,
    source: HistorySource,
    dates: list[date],
    regions: RegionTable,
    baseline: date | None,
) -> int:
    from services.output import write_json_document
    from services.regulator.history import history_documents, write_csv

    with _series_progress(len(source.by_youth)) as progress:
        documents = history_documents(
            source, dates, regions, baseline=baseline, public=args.public, progress=progress
        )
    output = Path(args.output)
    partial = output.with_name(f".{output.name}.partial")
    try:
        if args.format == "json":
            write_json_document(documents, partial)
        else:
            with partial.open("w", encoding="utf-8", newline="") as handle:
                write_csv(documents, handle, public=args.public, baseline=baseline)
        os.replace(partial, output)  # a reader never sees half a file
    finally:
        partial.unlink(missing_ok=True)
    print(
        f"jeugdhub history: wrote {output} ({len(dates)} dates x {len(regions.region_codes) + 1} regions, "
        f"{args.format}, {'public' if args.public else 'exact'} form"
        f"{f', targets against {baseline}' if baseline else ''}; {source.accepted:,} accepted messages, "
        f"{len(source.by_youth):,} youth)",
        file=sys.stderr,
    )
    return 0


@contextmanager
def _series_progress(youth: int) -> Iterator[Progress | None]:
    """A progress bar over the youth on a terminal, for long runs; nothing otherwise."""
    if not sys.stderr.isatty() or youth < PROGRESS_MIN_YOUTH:
        yield None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeRemainingColumn
    from rich.progress import Progress as Bar

    columns = (
        TextColumn("history"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("youth"),
        TimeRemainingColumn(),
    )
    with Bar(*columns, transient=True) as bar:
        task = bar.add_task("history", total=youth)

        def update(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield update
