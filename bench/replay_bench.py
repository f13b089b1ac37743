"""``jeugdhub replay`` throughput on one core, and its peak memory per 100,000 tracked youth.

    .venv/bin/python -m bench.replay_bench                  # 300k+ lines, then a py-spy profile
    .venv/bin/python -m bench.replay_bench --lines 100000 --no-profile

Method:

1. Expand the worked example ``shared/spec/examples/feed.jsonl`` into at least ``--lines`` lines
   (``bench/feedgen.py``: disjoint shuffled copies, every quirk kept) and write them to a file.
2. Run ``jeugdhub replay FILE --as-of 2026-03-31 --regions regions.csv`` as a child process
   pinned to one CPU (``sched_setaffinity``), ``--repeat`` times. Throughput is lines divided by
   the child's wall time (start-up and imports included) and by its CPU time (user + system,
   which is what the machine's other load cannot inflate much); the best run is reported.
3. Memory: the child's peak RSS (``ru_maxrss``). The same command on a one-copy feed gives the
   baseline (interpreter, imports); ``(peak - baseline) / tracked youth * 100,000`` is the figure.
   Tracked youth = youth with at least one accepted message: copies x the example's own count.
4. With py-spy installed, one more run is sampled and its top functions are printed.

The output's counts are checked against the example's expected figures times the copies. The
result goes to ``bench/results/replay.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from datetime import date
from pathlib import Path
from typing import Any

from bench import feedgen, harness
from hubdev.localkafka.broker import set_parent_death_signal
from hubdev.paths import SPEC_EXAMPLES
from hubdev.processes import JEUGDHUB
from services.contracts.regions import load_region_table
from services.privacy.pseudonym import ephemeral_keyring
from services.replay.offline import judge_lines

TARGET = 50_000
AS_OF = date(2026, 3, 31)


def _pin_to_one_cpu() -> None:  # pragma: no cover - runs in the forked child
    set_parent_death_signal()
    cpus = sorted(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {cpus[-1]})


def run_replay(feed: Path, out: Path, prefix: list[str] | None = None) -> dict[str, float]:
    """One ``jeugdhub replay`` child: wall s, cpu s, peak RSS MiB (see ``harness.run_measured``)."""
    command = [*(prefix or []), JEUGDHUB, "replay", str(feed), "--as-of", AS_OF.isoformat(),
               "--regions", str(feedgen.REGIONS), "--output", str(out)]  # fmt: skip
    run = harness.run_measured(command, _pin_to_one_cpu)
    return {"wall_s": run.wall_s, "cpu_s": run.cpu_s, "maxrss_mib": run.peak_rss_mib}


def write_feeds(work: Path, one_copy: list[bytes], copies: int, seed: int) -> tuple[Path, Path, int]:
    """The measured feed (*copies* disjoint copies of the example, shuffled) and the one-copy
    baseline feed, written under *work*: (feed, small feed, lines in the feed)."""
    lines = feedgen.expand_feed(one_copy, copies, seed)
    feed = work / "feed.jsonl"
    feed.write_bytes(b"\n".join(lines) + b"\n")
    small = work / "small.jsonl"
    small.write_bytes(b"\n".join(one_copy) + b"\n")
    return feed, small, len(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--lines", type=int, default=300_000, help="at least this many input lines")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--repeat", type=int, default=2, help="timed runs (the best counts)")
    parser.add_argument("--no-profile", action="store_true", help="skip the py-spy run")
    parser.add_argument("--profile-lines", type=int, default=100_000, help="input size of the profiled run")
    parser.add_argument("--result", default="replay", help="name of the JSON file in bench/results")
    args = parser.parse_args(argv)

    load_before = harness.loadavg()
    copies = -(-args.lines // feedgen.FEED_LINES)
    one_copy = feedgen.feed_lines()
    regions = load_region_table(feedgen.REGIONS)
    youth_per_copy = len(judge_lines(one_copy, ephemeral_keyring(), regions).by_youth)
    expected = json.loads((SPEC_EXAMPLES / "expected-figures.json").read_text())

    with (
        harness.cleanup_on_exit() as cleanup,
        tempfile.TemporaryDirectory(prefix="jeugdhub-replay-bench-") as tmp,
    ):
        del cleanup  # nothing long-lived: each child is waited for (and dies with us)
        work = Path(tmp)
        harness.log(f"generating {copies} copies of the example feed (>= {args.lines} lines)")
        feed, small, n = write_feeds(work, one_copy, copies, args.seed)

        baseline = run_replay(small, work / "small.json")
        runs = []
        for i in range(args.repeat):
            harness.log(f"replay run {i + 1}/{args.repeat} on {n} lines (one CPU)")
            runs.append(run_replay(feed, work / "out.json"))
        document = json.loads((work / "out.json").read_text())
        for key in ("accepted", "rejected", "duplicates"):
            if document[key] != expected[key] * copies:
                print(f"unexpected {key}: {document[key]} != {expected[key]} x {copies}", file=sys.stderr)
                return 1

        profile = None
        if not args.no_profile and harness.py_spy() is not None:
            profile_copies = -(-args.profile_lines // feedgen.FEED_LINES)
            profiled = work / "profiled.jsonl"
            profiled.write_bytes(b"\n".join(feedgen.expand_feed(one_copy, profile_copies, args.seed)) + b"\n")
            raw = work / "replay.pyspy.txt"
            harness.log(f"profiling replay on {profile_copies * feedgen.FEED_LINES} lines with py-spy")
            spy = str(harness.py_spy())
            run_replay(
                profiled,
                work / "p.json",
                [spy, "record", "--format", "raw", "--rate", "250", "--output", str(raw), "--"],
            )
            profile = harness.summarise_collapsed(raw, top=25)

    best = min(runs, key=lambda r: r["wall_s"])
    best_cpu = min(r["cpu_s"] for r in runs)
    youth = youth_per_copy * copies
    peak = max(r["maxrss_mib"] for r in runs)
    per_100k = (peak - baseline["maxrss_mib"]) / youth * 100_000
    result: dict[str, Any] = {
        "lines": n,
        "copies_of_example": copies,
        "tracked_youth": youth,
        "messages_per_s_wall": round(n / best["wall_s"], 1),
        "messages_per_s_cpu": round(n / best_cpu, 1),
        "runs": [{k: round(v, 2) for k, v in r.items()} for r in runs],
        "peak_rss_mib": round(peak, 1),
        "baseline_rss_mib": round(baseline["maxrss_mib"], 1),
        "rss_mib_per_100k_youth": round(per_100k, 1),
        "target_messages_per_s": TARGET,
        "counts": {k: document[k] for k in ("accepted", "rejected", "duplicates")},
        "machine": {**harness.machine(), "loadavg_before": load_before},
        "profile": profile,
    }
    path = harness.write_result(args.result, result)
    print(f"replay: {n} lines, {youth} tracked youth, one CPU")
    print(f"replay: {n / best['wall_s']:,.0f} messages/s wall ({best['wall_s']:.1f} s incl. start-up), "
          f"{n / best_cpu:,.0f} messages/s per CPU-second (target {TARGET:,})")  # fmt: skip
    print(f"replay: peak RSS {peak:.0f} MiB (baseline {baseline['maxrss_mib']:.0f} MiB): "
          f"{per_100k:.0f} MiB per 100,000 tracked youth")  # fmt: skip
    print(f"load average now {harness.loadavg()}, before {load_before}; result in {path}")
    if profile is not None:
        harness.print_profile("replay profile (py-spy)", profile)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
