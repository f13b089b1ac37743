"""``jeugdhub aggregate`` (the worker) and ``jeugdhub rebuild`` (from the aggregate's complete state)."""

from __future__ import annotations

import argparse
import sys
from datetime import date
from typing import TYPE_CHECKING, Any

from services.cli import reads_settings

if TYPE_CHECKING:
    import faust

    from services.aggregate.state_source import StateRead


def register(sub: Any) -> None:
    worker = sub.add_parser(
        "aggregate",
        help="run the aggregate worker: validated -> youth facts -> snapshots",
        description="Run the aggregate worker (faust): validated messages become per-youth facts and "
        "per-region figure snapshots on the aggregates topic and as Prometheus gauges. Configured "
        "only by the environment variables below (docs/aggregate.md).",
    )
    reads_settings(worker, "services.aggregate.settings:AggregateSettings")
    worker.set_defaults(func=run)
    rebuild = sub.add_parser(
        "rebuild",
        help="recompute all youth facts and the figures from the aggregate's state",
        description="Read every accepted message the hub holds — the aggregate's youth-messages "
        "changelog (complete, unlike the retention-bounded validated topic) plus the validated "
        "records after the aggregate's committed offsets — recompute every youth's facts and print "
        "the figures as of --as-of (with --publish also republish the facts). Without a changelog "
        "(the aggregate never ran) the validated topic alone is read. Runs as the aggregate's user.",
    )
    reads_settings(
        rebuild,
        "services.aggregate.settings:AggregateSettings",
        ("kafka_bootstrap", "topic_prefix", "app_id", "regions_file", "as_of", "timezone"),
    )
    rebuild.add_argument("--as-of", type=date.fromisoformat, default=None, help="YYYY-MM-DD (default: today)")
    rebuild.add_argument("--publish", action="store_true", help="republish every youth's facts (upserts)")
    rebuild.add_argument("--output", help="write the figures JSON here instead of stdout")
    rebuild.set_defaults(func=run_rebuild)


def run(args: argparse.Namespace) -> int:
    from services.aggregate.clock import AsOfFileError
    from services.aggregate.service import create_app
    from services.aggregate.settings import AggregateSettings
    from services.contracts.regions import RegionTableError, load_region_table
    from services.streaming.worker import create_topics_if_asked, start_worker

    settings = AggregateSettings()

    def build_app() -> faust.App:
        regions = load_region_table(settings.regions_file)
        create_topics_if_asked(settings)
        return create_app(settings, regions).app

    return start_worker(settings, build_app, "aggregate", (RegionTableError, AsOfFileError))


def state_summary(state: StateRead) -> str:
    """Where the messages came from, in one line (also ``history --from-topic``'s)."""
    if not state.changelog_found:
        return (
            f"no youth-messages changelog (the aggregate has not run): {state.tail_messages} validated "
            "records read, complete only within the validated topic's retention"
        )
    return (
        f"{state.from_changelog} youth from the youth-messages changelog, "
        f"{state.tail_messages} validated records not yet applied by the aggregate"
    )


def run_rebuild(args: argparse.Namespace) -> int:
    from services.aggregate.clock import today_in
    from services.aggregate.rebuild import rebuild
    from services.aggregate.settings import AggregateSettings
    from services.contracts.regions import RegionTableError, load_region_table
    from services.output import check_writable, write_json_document

    if args.output:
        check_writable(args.output)  # before reading the whole topic, not after
    settings = AggregateSettings()
    as_of = args.as_of or settings.as_of or today_in(settings.timezone)()
    try:
        regions = load_region_table(settings.regions_file)
    except RegionTableError as exc:
        print(f"jeugdhub rebuild: {exc}", file=sys.stderr)
        return 2

    def progress(read: int) -> None:
        print(f"rebuild: {read} records read", file=sys.stderr, flush=True)

    document, state = rebuild(
        settings.kafka_bootstrap,
        settings.topic_prefix,
        settings.app_id,
        regions,
        as_of,
        args.publish,
        progress,
    )
    print(f"rebuild: {state_summary(state)}", file=sys.stderr, flush=True)
    write_json_document(document, args.output)
    return 0
