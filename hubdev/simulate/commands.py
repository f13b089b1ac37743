"""``jeugdhub simulate``: a seeded, realistic national feed (see docs/simulator.md).

Imports nothing heavy at module level: the generator is only loaded when the command runs.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hubdev.simulate.feed import Line

from services.cli import reads_settings

DEFAULT_YEAR = 2023
"""The last year with published JeugdzorgPlus figures; a fixed default keeps runs reproducible."""


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"expected YYYY-MM-DD, got {text!r}") from exc


def _share(text: str) -> float:
    value = float(text)
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError(f"a share must lie in [0, 1), got {text}")
    return value


def _positive(text: str) -> float:
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {text}")
    return value


def _cpus() -> int:
    """CPUs this process may run on (a container's limit, not the host's count)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def register(sub: Any) -> None:
    """Add ``simulate`` to the ``jeugdhub`` subparsers."""
    parser = sub.add_parser(
        "simulate",
        help="generate a realistic, seeded national feed of canonical-JSON messages",
        description="Generate a seeded national feed (JSON lines) calibrated on the published "
        "JeugdzorgPlus figures; write it to stdout or --output, or post it to the ingest API.",
    )
    period = parser.add_argument_group("period")
    period.add_argument("--year", type=int, help=f"simulate this calendar year (default {DEFAULT_YEAR})")
    period.add_argument("--start", type=_date, help="first day, YYYY-MM-DD (instead of --year)")
    period.add_argument("--end", type=_date, help="last day, YYYY-MM-DD (default: start + 1 year - 1 day)")
    period.add_argument(
        "--history-days",
        type=int,
        default=365,
        help="the feed starts this many days before --start, so 12-month figures from --start on see "
        "complete histories (default 365; 0: start with an initial load)",
    )
    model = parser.add_argument_group("model")
    model.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    model.add_argument("--scale", type=_positive, default=1.0, help="fraction of national volume (default 1)")
    model.add_argument(
        "--other-care-scale",
        type=float,
        default=1.0,
        help="extra factor on the care types other than gesloten (default 1; e.g. 0.05 for small test feeds)",
    )
    model.add_argument("--providers", type=int, default=None, help="number of providers (default 120)")
    model.add_argument(
        "--regions", help="region reference table CSV (default: JEUGDHUB_REGIONS_FILE or the example)"
    )
    model.add_argument(
        "--invalid-share", type=_share, default=0.02, help="share of lines that break a rule (0.02)"
    )
    model.add_argument(
        "--duplicate-share", type=_share, default=0.015, help="exact re-sends per message (0.015)"
    )
    out = parser.add_argument_group("output")
    out.add_argument("--output", "-o", help="write JSON lines here instead of stdout")
    out.add_argument(
        "--post", metavar="URL", help="post to the ingest API at URL instead (e.g. http://127.0.0.1:8080)"
    )
    out.add_argument(
        "--tokens",
        metavar="FILE",
        help='plain API tokens per sender, JSON {"kind:code": token} (read, or written)',
    )
    out.add_argument(
        "--register-tokens",
        "--issue-tokens",
        dest="register_tokens",
        metavar="INGEST_TOKENS_FILE",
        help="first create a token for every simulated sender: the hashes go into the ingest's tokens file "
        "(JEUGDHUB_INGEST_TOKENS_FILE), the tokens into --tokens if given, else they live only in this run",
    )
    out.add_argument(
        "--resume",
        metavar="FILE",
        help="when posting: continue this feed after the position recorded in FILE (if FILE holds "
        "the same feed: seed, period, settings and --resume-tag), and record the position there "
        "after every posted window (jeugdhub run: var/run/simulator.json)",
    )
    out.add_argument(
        "--resume-tag",
        default="",
        help="where the feed goes, part of its identity in --resume (jeugdhub run: Kafka cluster id "
        "and topic prefix), so a feed posted to another Kafka starts at its first line",
    )
    out.add_argument(
        "--rate", type=_positive, help="messages per second when posting (default: as fast as possible)"
    )
    out.add_argument("--batch-size", type=int, default=500, help="messages per request when posting (500)")
    out.add_argument("--concurrency", type=int, default=8, help="requests in flight when posting (8)")
    out.add_argument(
        "--workers",
        type=int,
        default=None,
        help="processes making the feed when writing it (default: one per CPU, at most 8; posting "
        "always uses one); the output does not depend on it",
    )
    out.add_argument("--summary", metavar="FILE", help="write counts and the calibration as JSON here")
    out.add_argument("--quiet", "-q", action="store_true", help="no summary on stderr")
    reads_settings(parser, "services.settings:HubSettings", ("regions_file",))
    parser.set_defaults(func=cmd_simulate)


def period_of(args: argparse.Namespace) -> tuple[date, date]:
    """--year, or --start/--end (either may be left out: then the period is one year)."""
    if args.year is not None and (args.start or args.end):
        raise ValueError("give --year or --start/--end, not both")
    if args.start is None and args.end is None:
        year = args.year if args.year is not None else DEFAULT_YEAR
        return date(year, 1, 1), date(year, 12, 31)
    start = args.start if args.start is not None else args.end - timedelta(days=364)
    end = args.end if args.end is not None else start + timedelta(days=364)
    return start, end


def cmd_simulate(args: argparse.Namespace) -> int:
    import orjson

    from hubdev.simulate.feed import Simulation, SimulationConfig
    from hubdev.simulate.output import issue_tokens, read_token_map, write_lines
    from hubdev.simulate.world import DEFAULT_PROVIDERS, WorldError
    from services.contracts.regions import RegionTableError, load_region_table
    from services.output import check_writable
    from services.settings import HubSettings

    try:
        # output files first: a feed of minutes must not fail at its end on a typo in a path
        if args.output:
            check_writable(args.output)
        if args.summary:
            check_writable(args.summary)
        if args.register_tokens:
            check_writable(args.register_tokens, create_parents=True)
            if args.tokens:
                check_writable(args.tokens, create_parents=True)
        start, end = period_of(args)
        regions_source = args.regions or HubSettings().regions_file
        regions = load_region_table(regions_source)
        config = SimulationConfig(
            start=start,
            end=end,
            seed=args.seed,
            history_days=args.history_days,
            scale=args.scale,
            other_care_scale=args.other_care_scale,
            invalid_share=args.invalid_share,
            duplicate_share=args.duplicate_share,
            providers=args.providers if args.providers is not None else DEFAULT_PROVIDERS,
        )
        workers = 1 if args.post else (args.workers if args.workers is not None else _cpus())
        simulation = Simulation(config, regions, workers=workers)
    except (ValueError, RegionTableError, WorldError, OSError) as exc:
        print(f"jeugdhub simulate: {exc}", file=sys.stderr)
        return 2

    tokens: dict[str, str] | None = None
    if args.register_tokens:
        if not (args.post or args.output) and not args.tokens:
            print("jeugdhub simulate: --register-tokens without --post needs --tokens FILE", file=sys.stderr)
            return 2
        senders = [p.sender for p in simulation.world.providers]
        senders += list(simulation.world.municipality_senders.values())
        try:
            tokens = issue_tokens(
                senders, Path(args.register_tokens), Path(args.tokens) if args.tokens else None
            )
        except (ValueError, OSError) as exc:
            print(f"jeugdhub simulate: tokens not registered: {exc}", file=sys.stderr)
            return 2
        if not args.quiet:
            where = f", tokens in {args.tokens}" if args.tokens else ""
            print(
                f"registered {len(tokens)} senders: hashes in {args.register_tokens}{where}", file=sys.stderr
            )
        if not args.post and not args.output:
            return 0

    post_report: dict[str, Any] | None = None
    try:
        if args.post:
            from hubdev.simulate.post import PostError, post_feed

            if tokens is None and not args.tokens:
                print("jeugdhub simulate: --post needs --tokens FILE or --register-tokens", file=sys.stderr)
                return 2
            try:
                if tokens is None:
                    tokens = read_token_map(Path(args.tokens))
                cursor = FeedCursor(simulation, args, str(regions_source or "the example table"))
                report = post_feed(
                    cursor.lines(),
                    args.post,
                    tokens,
                    rate=args.rate,
                    batch_size=args.batch_size,
                    concurrency=args.concurrency,
                    wait_for_tokens_s=60.0 if args.register_tokens else 0.0,
                    on_window=cursor.record,
                )
                cursor.record(complete=True)
            except (PostError, ValueError, OSError) as exc:
                print(f"jeugdhub simulate: posting stopped: {exc}", file=sys.stderr)
                return 1
            post_report = report.to_dict()
        elif args.output:
            with open(args.output, "wb") as handle:
                write_lines(simulation.batches(), handle)
        else:
            write_lines(simulation.batches(), sys.stdout.buffer)
            sys.stdout.buffer.flush()
    except BrokenPipeError:
        return 0
    except KeyboardInterrupt:
        print("jeugdhub simulate: interrupted; the output is incomplete", file=sys.stderr)
        return 130
    except WorldError as exc:
        print(f"jeugdhub simulate: {exc}", file=sys.stderr)
        return 2

    summary = summary_document(simulation, post_report)
    if args.summary:
        Path(args.summary).write_bytes(orjson.dumps(summary, option=orjson.OPT_INDENT_2) + b"\n")
    if not args.quiet:
        print(summary_text(summary), file=sys.stderr)
    return 0


class FeedCursor:
    """The feed's lines from where ``--resume`` says the last post stopped, and the position record."""

    def __init__(self, simulation: Any, args: argparse.Namespace, regions: str) -> None:
        from hubdev.simulate.position import feed_identity, resume_from

        self.simulation = simulation
        self.path = Path(args.resume) if args.resume else None
        self.identity = feed_identity(simulation.config, regions, args.resume_tag)
        self.skip = resume_from(self.path, self.identity)
        self.taken = 0
        self.second: int | None = None
        if self.skip and not args.quiet:
            print(f"continuing the feed after line {self.skip:,} (position in {self.path})", file=sys.stderr)

    def lines(self) -> Iterator[Line]:
        from hubdev.simulate.feed import Line

        for batch in self.simulation.batches():
            for second, payload, sender in batch:
                self.taken += 1
                if self.taken <= self.skip:
                    continue
                self.second = second
                yield Line(payload[:-1], sender)

    def record(self, complete: bool = False) -> None:
        """Write the position after a posted window (and once more when the feed is done)."""
        if self.path is None:
            return
        import time

        from hubdev.simulate.position import FeedPosition, day_of, write_position

        day = day_of(self.second) if self.second is not None else None
        if day is None and self.skip:  # nothing new posted this time: keep the recorded day
            from hubdev.simulate.position import read_position

            previous = read_position(self.path)
            day = previous.day if previous is not None else None
        lines = max(self.taken, self.skip)
        write_position(self.path, FeedPosition(self.identity, lines, day, complete, time.time()))


def summary_document(simulation: Any, post_report: dict[str, Any] | None) -> dict[str, Any]:
    from hubdev.simulate import BUILD

    config = simulation.config
    return {
        "generator": {"build": BUILD, "workers": simulation.workers},
        "config": {
            "start": config.start.isoformat(),
            "end": config.end.isoformat(),
            "origin": config.origin.isoformat(),
            "seed": config.seed,
            "scale": config.scale,
            "other_care_scale": config.other_care_scale,
            "invalid_share": config.invalid_share,
            "duplicate_share": config.duplicate_share,
            "providers": config.providers,
        },
        "feed": simulation.stats.to_dict(),
        "closed_care_calibration": [
            {
                "year": c.year,
                "target_placements": c.target_placements,
                "target_youth": c.target_youth,
                "model_placements": c.drawn_placements,
                "model_youth": c.drawn_youth,
                "placements": c.placements,
                "youth": c.youth,
            }
            for c in simulation.calibration
        ],
        "post": post_report,
    }


def summary_text(summary: dict[str, Any]) -> str:
    feed = summary["feed"]
    lines = [
        f"simulated {feed['lines']} lines from {summary['config']['origin']} to {summary['config']['end']}: "
        f"{feed['valid']} valid ({feed['cancels']} cancels, {feed['initial_load']} initial load), "
        f"{feed['duplicates']} exact re-sends, {feed['invalid']} invalid "
        f"({', '.join(f'{k} {v}' for k, v in feed['invalid_by_code'].items()) or 'none'})",
        f"  made by {summary['generator']['workers']} process(es), generator {summary['generator']['build']}",
    ]
    for row in summary["closed_care_calibration"]:
        lines.append(
            f"  gesloten {row['year']}: {row['placements']} placements, {row['youth']} youth "
            f"(target {row['target_placements']}/{row['target_youth']}, model drew "
            f"{row['model_placements']}/{row['model_youth']})"
        )
    if summary["post"] is not None:
        post = summary["post"]
        lines.append(
            f"posted: {post['messages']} messages taken in {post['requests']} requests, "
            f"refused {post['refused'] or 'none'}, {post['retries']} retries, {post['seconds']} s"
        )
    return "\n".join(lines)
