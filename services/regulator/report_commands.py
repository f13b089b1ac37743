"""``jeugdhub report``: the regulator's report as one self-contained HTML file.

From a feed file (the restated history, computed like ``jeugdhub history``) or from the daily
topic (``--from-topic``: the provisional history the aggregate service wrote). The figures and
targets come from the regulator's functions; this module only gathers the input and writes the page
(:mod:`services.regulator.report` renders it).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from services.cli import COMMAND_ERROR, KAFKA_ERROR, reads_settings
from services.replay.feed_input import iso_date

if TYPE_CHECKING:
    from services.regulator.series import Every

EVERY_CHOICES = ("day", "week", "month")
"""services.regulator.series.EVERY, spelt out so that ``jeugdhub --help`` does not import the
figures code (a test holds the two equal)."""


def register(sub: Any) -> None:
    report = sub.add_parser(
        "report",
        help="write the regulator's report: one self-contained HTML file",
        description="Write one HTML file (no network needed to open it) with, per region and NL, a chart "
        "per figure over time with the national targets and the baseline drawn in, the latest figures, "
        "met / not met per target, and where the figures come from. From a feed file (the restated "
        "history) or, with --from-topic, from the daily topic (the provisional history). docs/report.md.",
    )
    reads_settings(
        report,
        "services.settings:ReplaySettings",
        ("regions_file", "keyring_file", "keyring_json", "baseline_date", "kafka_bootstrap", "topic_prefix"),
        note="JEUGDHUB_KAFKA_BOOTSTRAP and JEUGDHUB_TOPIC_PREFIX are read only with --from-topic, the "
        "keyring only for a feed file.",
    )
    report.add_argument("input", nargs="?", help="canonical-JSON messages, one per line (or --from-topic)")
    report.add_argument(
        "--from-topic",
        action="store_true",
        help="read the provisional history from the daily topic (jeugdhub.figures-daily.v1) instead",
    )
    report.add_argument(
        "--from",
        dest="first",
        required=True,
        type=iso_date("--from"),
        metavar="D1",
        help="first date, YYYY-MM-DD",
    )
    report.add_argument(
        "--to", dest="last", required=True, type=iso_date("--to"), metavar="D2", help="last date, YYYY-MM-DD"
    )
    report.add_argument(
        "--every",
        choices=EVERY_CHOICES,
        default="week",
        help="the dates charted: every day, every Sunday (week) or every month's last day [default: week]",
    )
    report.add_argument(
        "--regions",
        metavar="FILE",
        help="region reference table CSV (default: JEUGDHUB_REGIONS_FILE or the example)",
    )
    report.add_argument(
        "--baseline",
        type=iso_date("--baseline"),
        metavar="B",
        help="baseline date B of the national targets, YYYY-MM-DD (default: JEUGDHUB_BASELINE_DATE; "
        "without one the targets are not evaluated)",
    )
    report.add_argument(
        "--public",
        action="store_true",
        help="the public form: counts 1-4 suppressed, others rounded to 5, rates and medians hidden on "
        "small cohorts (the page says so)",
    )
    report.add_argument("--output", required=True, metavar="FILE", help="the HTML file to write")
    report.set_defaults(func=run)


def _fail(text: str) -> int:
    print(f"jeugdhub report: {text}", file=sys.stderr)
    return COMMAND_ERROR


def run(args: argparse.Namespace) -> int:
    from services.output import check_writable
    from services.replay.feed_input import checked_baseline, load_regions, unreadable
    from services.settings import ReplaySettings

    if args.from_topic == bool(args.input):
        return _fail("give either an INPUT file or --from-topic (one of them)")
    if args.first > args.last:
        return _fail(f"--from {args.first} is after --to {args.last}")
    input_path = Path(args.input) if args.input else None
    if input_path is not None and (why := unreadable(input_path)):
        return _fail(why)
    check_writable(args.output)  # before the work, not after it
    settings = ReplaySettings()
    baseline = checked_baseline(args.baseline, settings)
    if isinstance(baseline, str):
        return _fail(baseline)
    dates = _as_of_dates(args.first, args.last, args.every)
    if not dates:
        return _fail(f"no {args.every} date falls in [{args.first}, {args.last}]")
    regions = load_regions(args.regions, settings)
    if isinstance(regions, str):
        return _fail(regions)
    if input_path is not None:
        gathered = _from_feed(input_path, dates, baseline, regions, settings)
        if isinstance(gathered, str):
            return _fail(gathered)
    else:
        from services.regulator.topic_reader import TopicMissingError

        try:
            gathered = _from_topic(
                settings.kafka_bootstrap, settings.topic_prefix, dates, baseline, regions.region_codes
            )
        except TopicMissingError as exc:  # Kafka not reachable is a KafkaError, which cli.main explains
            print(f"jeugdhub report: {exc}", file=sys.stderr)
            return KAFKA_ERROR
        if not gathered.documents:
            return _fail(
                f"the daily topic holds no figures for the {args.every} dates in [{args.first}, {args.last}]"
            )
    return _write(args, gathered, dict(regions.region_names), baseline)


@dataclass(frozen=True)
class Gathered:
    """What a source gives the page: documents, the baseline's, and the provenance it knows."""

    documents: list[dict[str, Any]]
    baseline_document: dict[str, Any] | None
    source: str
    counts: tuple[int | None, int | None, int | None]
    """Accepted, rejected and duplicate messages (None where the source does not know)."""
    notes: Sequence[str]


def _write(args: argparse.Namespace, gathered: Gathered, names: dict[str, str], baseline: date | None) -> int:
    from services.regulator.report import Provenance, ReportInput, render_report

    accepted, rejected, duplicates = gathered.counts
    provenance = Provenance(
        source=gathered.source,
        generated_at=datetime.now(UTC),
        hub_version=hub_version(),
        accepted=accepted,
        rejected=rejected,
        duplicates=duplicates,
        notes=tuple(gathered.notes),
    )
    page = render_report(
        ReportInput(
            documents=gathered.documents,
            region_names=names,
            provenance=provenance,
            baseline=baseline,
            baseline_document=gathered.baseline_document,
            public=args.public,
            every=args.every,
        )
    )
    output = Path(args.output)
    partial = output.with_name(f".{output.name}.partial")
    try:
        partial.write_text(page, encoding="utf-8")
        os.replace(partial, output)  # a reader never sees half a report
    finally:
        partial.unlink(missing_ok=True)
    print(
        f"jeugdhub report: wrote {output} ({len(gathered.documents)} dates, "
        f"{len(gathered.documents[0]['regions'])} regions, {'public' if args.public else 'exact'} form, "
        f"{len(page.encode()) / 1e6:.1f} MB)",
        file=sys.stderr,
    )
    return 0


def hub_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("jeugdhub")
    except PackageNotFoundError:  # a checkout that was never installed
        return "unknown (not installed)"


def _as_of_dates(first: date, last: date, every: Every) -> list[date]:
    from services.regulator.series import as_of_dates

    return as_of_dates(first, last, every)


def _from_feed(
    path: Path, dates: list[date], baseline: date | None, regions: Any, settings: Any
) -> Gathered | str:
    """The restated figures of every date (and the baseline) from a feed file: replay's judging,
    then the history's documents (one pass over each youth's facts for all of them)."""
    from services.regulator.history import HistorySource, series_documents
    from services.replay.feed_input import judge_feed, load_feed_keyring

    keyring = load_feed_keyring(settings)
    if isinstance(keyring, str):
        return keyring
    digest = hashlib.sha256()
    result = judge_feed(path, keyring, regions, digest=digest)
    wanted = [*dates, *([baseline] if baseline is not None else [])]
    by_date = {
        doc["as_of"]: doc for doc in series_documents(HistorySource.from_replay(result), wanted, regions)
    }
    notes = [f"{path.name}: {path.stat().st_size:,} bytes, sha256 {digest.hexdigest()}".replace(",", " ")]
    if result.bad_lines:
        bad = len(result.bad_lines)
        notes.append(
            f"{bad} input {'line is' if bad == 1 else 'lines are'} not a JSON message (counted as rejected)"
        )
    return Gathered(
        [by_date[on.isoformat()] for on in dates],
        by_date[baseline.isoformat()] if baseline is not None else None,
        f"feed file {path.name} (restated history)",
        (result.accepted, result.rejected, result.duplicates),
        notes,
    )


def _from_topic(
    bootstrap: str, prefix: str, dates: list[date], baseline: date | None, region_codes: Sequence[str]
) -> Gathered:
    """The provisional history: the daily topic's records of the requested dates and the baseline."""
    from services.aggregate.figures import FIGURE_KEYS
    from services.contracts.regions import NATIONAL
    from services.contracts.topics import FIGURES_DAILY
    from services.regulator.topic_reader import read_daily

    wanted = set(dates) | ({baseline} if baseline is not None else set())
    rows = read_daily(
        bootstrap,
        prefix,
        regions={*region_codes, NATIONAL},
        since=min(wanted),
        until=max(wanted),
    )
    by_date: dict[str, list[Mapping[str, Any]]] = {}
    late = 0
    for row in rows:
        if date.fromisoformat(row["as_of"]) in wanted:
            by_date.setdefault(row["as_of"], []).append(row)
            late += bool(row.get("written_late")) and date.fromisoformat(row["as_of"]) in dates

    def document(day: date) -> dict[str, Any] | None:
        day_rows = by_date.get(day.isoformat())
        if not day_rows:
            return None
        figures = [{key: row[key] for key in FIGURE_KEYS} for row in day_rows]
        return {
            "as_of": day.isoformat(),
            "accepted": None,
            "rejected": None,
            "duplicates": None,
            "regions": figures,
        }

    documents = [doc for doc in (document(day) for day in dates) if doc is not None]
    baseline_document = document(baseline) if baseline is not None else None
    topic = FIGURES_DAILY.full_name(prefix)
    notes = [
        f"{sum(len(doc['regions']) for doc in documents)} daily records of {len(documents)} dates read from "
        f"{topic}; {late} of them written late (after their day, by a worker that was down over midnight)"
    ]
    if len(documents) < len(dates):
        missing = [day.isoformat() for day in dates if day.isoformat() not in by_date]
        notes.append(
            f"{len(missing)} requested {'date has' if len(missing) == 1 else 'dates have'} no records on the "
            f"topic: {_few(missing)}"
        )
    if baseline is not None and baseline_document is None:
        notes.append(f"the topic holds no figures as of the baseline {baseline}: targets not evaluated")
    return Gathered(
        documents,
        baseline_document,
        f"topic {topic} on {bootstrap} (provisional history, as published at the end of each day)",
        (None, None, None),
        notes,
    )


def _few(items: Sequence[str], limit: int = 6) -> str:
    return ", ".join(items[:limit]) + (f" and {len(items) - limit} more" if len(items) > limit else "")
