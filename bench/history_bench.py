"""``jeugdhub history --every day`` over a national year against one ``jeugdhub replay`` of it.

    .venv/bin/python -m bench.history_bench                    # national 2023, best of 2
    .venv/bin/python -m bench.history_bench --scale 0.2 --repeat 1 --profile

Target (issue 16): 365 daily rows per region for a national feed of one year within 3x the time
of one replay of it.

Method:

1. ``jeugdhub simulate --year Y --seed S --scale F`` writes the national feed of year Y with its
   year of history (messages created from Y-1-01-01 to Y-12-31, so every 12-month figure of Y is
   complete; invalid lines, duplicates and conflicting re-sends included) and the example region
   table.
2. ``jeugdhub replay FEED --as-of Y-12-31`` and ``jeugdhub history FEED --from Y-01-01 --to
   Y-12-31 --every day --output out.csv`` run as child processes pinned to one CPU
   (``replay_bench``'s pinning), alternating, ``--repeat`` times each. Wall time (start-up and
   imports included) and CPU time (user + system) per run; the best of each is reported.
3. The ratio history ÷ replay, by wall time and by CPU time (the steadier one on a shared machine).
4. Checked: the CSV has 365 × (regions + 1) rows, and its rows for Y-12-31 are replay's figures.
5. With ``--profile``, or when the CPU ratio is above the target, one more history run is sampled
   with py-spy and its top functions are printed.

The result goes to ``bench/results/history.json``; ``bench/suite.py`` runs :func:`measure` too.
"""

from __future__ import annotations

import argparse
import csv
import json
import tempfile
from datetime import date
from pathlib import Path
from typing import Any

from bench import harness
from bench.replay_bench import _pin_to_one_cpu
from hubdev.processes import JEUGDHUB
from services.contracts.regions import DEFAULT_REGIONS_FILE, load_region_table

TARGET_RATIO = 3.0
YEAR = 2023


def _run(command: list[str], prefix: list[str] | None = None) -> dict[str, float]:
    run = harness.run_measured([*(prefix or []), *command], _pin_to_one_cpu)
    return {"wall_s": run.wall_s, "cpu_s": run.cpu_s, "maxrss_mib": run.peak_rss_mib}


def _flat(row: dict[str, Any]) -> dict[str, str]:
    cells: dict[str, str] = {}
    for key, value in row.items():
        if isinstance(value, dict):
            cells.update({f"{key}.{kind}": str(n) for kind, n in value.items()})
        else:
            cells[key] = "" if value is None else str(value)
    return cells


def measure(
    work: Path, year: int = YEAR, seed: int = 1, scale: float = 1.0, repeat: int = 2, profile: bool = False
) -> dict[str, Any]:
    """Generate the feed under ``work``, time replay and history, check and (maybe) profile."""
    work.mkdir(parents=True, exist_ok=True)
    feed, regions_file = work / "feed.jsonl", DEFAULT_REGIONS_FILE
    first, last = date(year, 1, 1), date(year, 12, 31)
    harness.log(f"history: simulating national {year} (scale {scale}, seed {seed})")
    simulate = [JEUGDHUB, "simulate", "--year", str(year), "--seed", str(seed), "--scale", str(scale),
                "--regions", str(regions_file), "--output", str(feed), "--quiet"]  # fmt: skip
    harness.run_measured(simulate)
    lines = sum(1 for _ in feed.open("rb"))
    replay = [JEUGDHUB, "replay", str(feed), "--as-of", last.isoformat(), "--regions", str(regions_file),
              "--output", str(work / "replay.json")]  # fmt: skip
    history = [JEUGDHUB, "history", str(feed), "--from", first.isoformat(), "--to", last.isoformat(),
               "--every", "day", "--regions", str(regions_file), "--output", str(work / "history.csv")]  # fmt: skip
    replays, histories = [], []
    for i in range(repeat):
        harness.log(f"history: run {i + 1}/{repeat} on {lines:,} lines (one CPU): replay, then history")
        replays.append(_run(replay))
        histories.append(_run(history))

    document = json.loads((work / "replay.json").read_text())
    rows = list(csv.DictReader((work / "history.csv").read_text().splitlines()))
    regions = len(load_region_table(regions_file).region_codes) + 1
    days = (last - first).days + 1
    if len(rows) != days * regions:
        raise RuntimeError(f"history wrote {len(rows)} rows, expected {days} x {regions}")
    last_rows = [row for row in rows if row["as_of"] == last.isoformat()]
    if last_rows != [{"as_of": last.isoformat(), **_flat(r)} for r in document["regions"]]:
        raise RuntimeError(f"history's rows of {last} differ from replay's figures")

    best_replay = min(r["wall_s"] for r in replays), min(r["cpu_s"] for r in replays)
    best_history = min(r["wall_s"] for r in histories), min(r["cpu_s"] for r in histories)
    ratio_wall, ratio_cpu = best_history[0] / best_replay[0], best_history[1] / best_replay[1]
    profiled = None
    if (profile or ratio_cpu > TARGET_RATIO) and harness.py_spy() is not None:
        raw = work / "history.pyspy.txt"
        harness.log("history: profiling one history run with py-spy")
        spy = [
            str(harness.py_spy()),
            "record",
            "--format",
            "raw",
            "--rate",
            "250",
            "--output",
            str(raw),
            "--",
        ]
        _run(history, spy)
        profiled = harness.summarise_collapsed(raw, top=25)
    return {
        "year": year,
        "seed": seed,
        "scale": scale,
        "lines": lines,
        "counts": {k: document[k] for k in ("accepted", "rejected", "duplicates")},
        "rows": len(rows),
        "dates": days,
        "regions_with_nl": regions,
        "replay": {"wall_s": round(best_replay[0], 2), "cpu_s": round(best_replay[1], 2)},
        "history": {"wall_s": round(best_history[0], 2), "cpu_s": round(best_history[1], 2)},
        "ratio_wall": round(ratio_wall, 2),
        "ratio_cpu": round(ratio_cpu, 2),
        "target_ratio": TARGET_RATIO,
        "runs": {
            "replay": [{k: round(v, 2) for k, v in r.items()} for r in replays],
            "history": [{k: round(v, 2) for k, v in r.items()} for r in histories],
        },
        "profile": profiled,
    }


def summary_lines(result: dict[str, Any]) -> list[str]:
    r, h = result["replay"], result["history"]
    return [
        f"history: national {result['year']} x{result['scale']}: {result['lines']:,} lines, "
        f"{result['counts']['accepted']:,} accepted; {result['rows']:,} rows ({result['dates']} days x "
        f"{result['regions_with_nl']} regions incl. NL); one CPU, best of {len(result['runs']['replay'])}",
        f"history: replay --as-of {result['year']}-12-31  {r['wall_s']:.1f} s wall, {r['cpu_s']:.1f} s CPU",
        f"history: history --every day       {h['wall_s']:.1f} s wall, {h['cpu_s']:.1f} s CPU",
        f"history: ratio history / replay {result['ratio_wall']:.2f} (wall), {result['ratio_cpu']:.2f} (CPU); "
        f"target <= {result['target_ratio']:g}: {'met' if result['ratio_cpu'] <= result['target_ratio'] else 'NOT met'}",
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--year", type=int, default=YEAR)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--scale", type=float, default=1.0, help="fraction of national volume (default 1)")
    parser.add_argument("--repeat", type=int, default=2, help="timed runs of each (the best counts)")
    parser.add_argument("--profile", action="store_true", help="also sample one history run with py-spy")
    parser.add_argument("--result", default="history", help="name of the JSON file in bench/results")
    args = parser.parse_args(argv)

    load_before = harness.loadavg()
    with (
        harness.cleanup_on_exit() as cleanup,
        tempfile.TemporaryDirectory(prefix="jeugdhub-history-bench-") as tmp,
    ):
        del cleanup  # nothing long-lived: each child is waited for (and dies with us)
        result = measure(Path(tmp), args.year, args.seed, args.scale, args.repeat, args.profile)
    result["machine"] = {**harness.machine(), "loadavg_before": load_before}
    path = harness.write_result(args.result, result)
    for line in summary_lines(result):
        print(line)
    print(f"load average now {harness.loadavg()}, before {load_before}; result in {path}")
    if result["profile"] is not None:
        harness.print_profile("history profile (py-spy)", result["profile"])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
