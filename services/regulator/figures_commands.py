"""``jeugdhub figures``: the regulator's reference consumer, printing the published figures.

Reads the aggregates topic (the latest RegionSnapshot per region), its public form
(``--public``) or the provisional history (``--history``, one DailyRegionFigures per region and
day) with :mod:`services.regulator.topic_reader`, and prints a table for people or JSON lines for
programs. ``--follow`` keeps printing each newly committed record until Ctrl-C or SIGTERM, which
end it normally (exit 0).
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from collections.abc import Callable, Iterable
from types import FrameType
from typing import TYPE_CHECKING, Any

from services.cli import KAFKA_ERROR, reads_settings

if TYPE_CHECKING:
    from services.contracts.topics import TopicSpec
    from services.regulator.figures_table import Column
    from services.regulator.topic_reader import FigureRecord


def register(sub: Any) -> None:
    figures = sub.add_parser(
        "figures",
        help="print the published figures (aggregates topic, --public form or --history)",
        description="Read the figures the hub publishes on Kafka, as a regulator's consumer does "
        "(read_committed, decoded with the .avsc contract), and print them: by default the latest "
        "snapshot per region from the aggregates topic; --public the public form; --history the "
        "provisional history (one record per region and day). docs/consumers.md says how to decode "
        "the topics without this tool.",
        epilog="table columns: occupancy closed/any = occupancy, occupancy_residential; closed 12m "
        "started/youth = placements_started_12m, youth_placed_12m; transfers 12m all/between = "
        "transfers_12m, transfers_between_providers_12m; perspective in time/overdue = "
        "perspective_in_time_rate, overdue_without_perspective; ended 12m episodes/median d = "
        "episodes_ended_12m, median_length_of_stay_days_12m; measures 12m separatie/all = "
        "restrictive_measures_12m.separatie and the sum of its four kinds. '-' no value, '*' "
        "suppressed in the public form. --format jsonl prints every field of each record.",
    )
    reads_settings(figures, "services.settings:HubSettings", ("kafka_bootstrap", "topic_prefix"))
    figures.add_argument(
        "--follow", action="store_true", help="keep printing each new record until Ctrl-C (exit 0)"
    )
    source = figures.add_mutually_exclusive_group()
    source.add_argument("--public", action="store_true", help="the public form (aggregates-public topic)")
    source.add_argument(
        "--history", action="store_true", help="the provisional history: one row per region and day"
    )
    figures.add_argument(
        "--region",
        action="append",
        metavar="R",
        help="only region R (a code such as VB01, or NL); repeat for several",
    )
    figures.add_argument(
        "--format",
        choices=("table", "jsonl"),
        default="table",
        help="table (default) or jsonl: one JSON object per record, every field",
    )
    figures.set_defaults(func=run)


def topic_of(args: argparse.Namespace) -> TopicSpec:
    from services.contracts.topics import AGGREGATES, AGGREGATES_PUBLIC, FIGURES_DAILY

    if args.history:
        return FIGURES_DAILY
    return AGGREGATES_PUBLIC if args.public else AGGREGATES


def run(args: argparse.Namespace) -> int:
    from services.regulator.topic_reader import TopicMissingError, TopicReader
    from services.settings import HubSettings

    settings = HubSettings()
    spec = topic_of(args)
    regions = set(args.region) if args.region else None
    printer = Printer(args.format, args.history, args.public)

    def skipped(text: str) -> None:
        print(f"{args.command_prog}: skipped a record that does not decode: {text}", file=sys.stderr)

    try:
        with (
            StopOnSignals(args.follow) as stop,
            TopicReader(settings.kafka_bootstrap, spec, settings.topic_prefix, on_error=skipped) as reader,
        ):
            records = reader.read_to_end(stopping=stop)
            rows = current_rows(records, args.history, regions)
            if not rows and not args.follow:
                wanted = f" for {', '.join(sorted(regions))}" if regions else ""
                print(f"{args.command_prog}: no figures{wanted} on {reader.topic}", file=sys.stderr)
            printer.start(rows)
            while args.follow and not stop():
                for record in reader.poll(500):
                    if record.row is not None and (regions is None or record.row["region"] in regions):
                        printer.update(record.row)
    except TopicMissingError as exc:
        print(f"{args.command_prog}: {exc}", file=sys.stderr)
        return KAFKA_ERROR
    except BrokenPipeError:
        # `jeugdhub figures | head`: the reader has gone; stop quietly, and keep Python's own
        # flush of stdout at exit from failing on the closed pipe as well.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    return 0


def current_rows(
    records: Iterable[FigureRecord], history: bool, regions: set[str] | None
) -> list[dict[str, Any]]:
    """The latest row per key, in the order people read them: regions by code with ``NL`` last;
    the history by day, then region (``jeugdhub history``'s order)."""
    from services.regulator.topic_reader import daily_rows, latest_per_key, region_order

    latest = latest_per_key(list(records))
    if history:
        return daily_rows(latest, regions)
    rows = [row for row in latest.values() if regions is None or row["region"] in regions]
    return sorted(rows, key=lambda row: region_order(row["region"]))


class Printer:
    """Writes the rows as a table (header once, then a line per row or update) or as JSON lines."""

    def __init__(self, output_format: str, history: bool, public: bool) -> None:
        from services.regulator import figures_table

        self._table = figures_table
        self._jsonl = output_format == "jsonl"
        self._public = public
        self._columns: tuple[Column, ...] = figures_table.columns(history)

    def start(self, rows: list[dict[str, Any]]) -> None:
        if self._jsonl:
            for row in rows:
                self.update(row)
            return
        lines = self._table.table(rows, self._columns)
        if self._public:
            lines.append(self._table.LEGEND)
        _write(lines)

    def update(self, row: dict[str, Any]) -> None:
        if self._jsonl:
            import orjson

            sys.stdout.buffer.write(orjson.dumps(row) + b"\n")
            sys.stdout.flush()
        else:
            _write([self._table.line(row, self._columns)])


def _write(lines: list[str]) -> None:
    sys.stdout.write("".join(f"{text}\n" for text in lines))
    sys.stdout.flush()


class StopOnSignals:
    """While following, SIGINT and SIGTERM set a flag, so the loop ends between two polls and closes
    its consumer, instead of a KeyboardInterrupt raised somewhere inside kafka-python."""

    def __init__(self, active: bool) -> None:
        self.stopped = False
        self._active = active
        self._previous: dict[int, Callable[[int, FrameType | None], Any] | int | None] = {}

    def __call__(self) -> bool:
        return self.stopped

    def __enter__(self) -> StopOnSignals:
        if self._active:
            for number in (signal.SIGINT, signal.SIGTERM):
                self._previous[number] = signal.signal(number, self._stop)
        return self

    def __exit__(self, *exc: object) -> None:
        for number, handler in self._previous.items():
            signal.signal(number, handler)

    def _stop(self, number: int, frame: FrameType | None) -> None:
        self.stopped = True
