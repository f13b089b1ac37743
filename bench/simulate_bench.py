"""Throughput of ``jeugdhub simulate`` writing a national feed to a file.

    python -m bench.simulate_bench                       # 2022-2023 national, to a temp file
    python -m bench.simulate_bench --start 2023-01-01 --end 2023-12-31 --output feed.jsonl

Prints messages per second of wall-clock time and of CPU time (the latter is what to compare on a
shared machine), the share spent planning careers, and — for scale — how many messages per
second the same Python does in a bare loop that only builds one dict per message and serialises
it with orjson (no model at all): the simulator's ceiling on this machine. Target (issue): at
least 100,000 messages/s to a file.

The generator runs from its compiled build when it matches the sources (``scripts/bootstrap.sh``
makes it; ``hubdev/simulate/build.py``); the figure says which build it measured.
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import statistics
import tempfile
import time
from datetime import date
from pathlib import Path

import orjson

from bench import harness
from hubdev.simulate import BUILD
from hubdev.simulate.feed import Simulation, SimulationConfig
from hubdev.simulate.output import write_lines
from services.contracts.regions import load_region_table

TARGET = 100_000


def bare_loop(n: int = 200_000) -> float:
    """Messages/s of the simplest possible generator: a dict per message and orjson.dumps."""
    rng = random.Random(1)
    envelope = {"bsn": "990000000", "birth_date": "2010-01-01", "municipality_code": "0363"}
    sender = {"kind": "provider", "code": "99000001"}
    out: list[tuple[int, bytes]] = []  # kept, as the simulator keeps its lines until delivery
    started = time.process_time()
    for _ in range(n):
        h = rng.randbytes(16).hex()
        message = {
            "message_id": f"{h[:8]}-{h[8:12]}-4{h[13:16]}-a{h[17:20]}-{h[20:]}",
            "message_type": "placement_started",
            "status": "new",
            "cancels_message_id": None,
            "sender": sender,
            "created_at": "2022-01-01T10:00:00Z",
            **envelope,
            "placement_id": "P1",
            "provider_agb": "99000001",
            "location_code": "O1",
            "care_type": "open_residentieel",
            "legal_basis": "vrijwillig",
            "start_date": "2022-01-01",
        }
        out.append((int(rng.random() * 86_400), bytes(memoryview(orjson.dumps(message)))))
    return n / (time.process_time() - started)


def _cpu_with_children() -> float:
    """CPU seconds of this process and its finished children (the simulator's worker processes)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def run_once(config: SimulationConfig, path: Path, workers: int) -> tuple[int, float, float, int]:
    """(lines, wall s, CPU s of all processes, bytes) of one run writing the feed to ``path``."""
    simulation = Simulation(config, load_region_table(), workers=workers)
    wall, cpu = time.perf_counter(), _cpu_with_children()
    with path.open("wb") as handle:
        lines = write_lines(simulation.batches(), handle)
    return lines, time.perf_counter() - wall, _cpu_with_children() - cpu, path.stat().st_size


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--start", type=date.fromisoformat, default=date(2022, 1, 1))
    parser.add_argument("--end", type=date.fromisoformat, default=date(2023, 12, 31))
    parser.add_argument("--history-days", type=int, default=365)
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=3, help="runs; the best is reported (shared machines)")
    parser.add_argument("--output", help="feed file (default: a temporary file, removed afterwards)")
    parser.add_argument(
        "--workers",
        default=f"1,{_cpus()}" if _cpus() > 1 else "1",
        help="comma-separated worker-process counts to measure, interleaved (default: 1 and one per CPU)",
    )
    parser.add_argument("--result", default="simulate", help="bench/results/NAME.json (default simulate)")
    args = parser.parse_args()
    counts = sorted({int(n) for n in str(args.workers).split(",")})

    config = SimulationConfig(
        start=args.start, end=args.end, seed=args.seed, history_days=args.history_days, scale=args.scale
    )
    fd, tmp = tempfile.mkstemp(suffix=".jsonl")
    os.close(fd)
    path = Path(args.output or tmp)
    runs: dict[int, list[tuple[int, float, float, int]]] = {n: [] for n in counts}
    ceilings: list[float] = []
    load_before = harness.loadavg()
    try:
        cpu = time.process_time()
        careers = sum(1 for _ in Simulation(config, load_region_table()).careers())
        plan_cpu = time.process_time() - cpu
        for _ in range(max(1, args.repeat)):  # interleaved, so all see the same machine
            for n in counts:
                runs[n].append(run_once(config, path, n))
            ceilings.append(bare_loop())
    finally:
        if not args.output:
            Path(tmp).unlink(missing_ok=True)

    lines, _, _, size = runs[counts[0]][0]
    ceiling = max(ceilings)
    print(f"feed {config.origin}..{config.end} scale {config.scale}: {lines:,} lines, {size / 1e6:.0f} MB, "
          f"{careers:,} careers (planning them alone: {plan_cpu:.2f} CPU-s); {_cpus()} CPUs; "
          f"best of {args.repeat} runs; generator build: {BUILD}")  # fmt: skip
    measured: list[dict[str, float]] = []
    for n in counts:
        wall = min(r[1] for r in runs[n])
        median = statistics.median(r[1] for r in runs[n])
        cpu = min(r[2] for r in runs[n])
        measured.append({"workers": n, "wall_s": round(wall, 3), "cpu_s": round(cpu, 3),
                         "messages_per_s": round(lines / wall), "messages_per_cpu_s": round(lines / cpu),
                         "median_wall_s": round(median, 3), "median_messages_per_s": round(lines / median)})  # fmt: skip
        print(f"{n} worker process(es): wall {wall:.2f} s -> {lines / wall:,.0f} messages/s "
              f"(median of the runs {lines / median:,.0f}/s); "
              f"CPU {cpu:.2f} s in all processes -> {lines / cpu:,.0f} messages per CPU-second")  # fmt: skip
    print(f"bare dict+orjson loop on this machine: {ceiling:,.0f} messages/s on one core")
    best = max(m["messages_per_s"] for m in measured)
    verdict = "meets" if best >= TARGET else "below"
    print(f"target {TARGET:,} messages/s to a file: {verdict} (best wall clock {best:,.0f}/s)")
    result = harness.write_result(
        args.result,
        {
            "machine": {**harness.machine(), "cpus_usable": _cpus(), "loadavg_before": load_before},
            "feed": {
                "start": str(config.origin),
                "end": str(config.end),
                "scale": config.scale,
                "lines": lines,
                "bytes": size,
                "careers": careers,
            },
            "generator_build": BUILD,
            "repeat": args.repeat,
            "runs": measured,
            "bare_loop_messages_per_s": round(ceiling),
            "target_messages_per_s": TARGET,
            "meets_target": best >= TARGET,
        },
    )
    print(f"written to {result}")
    return 0


def _cpus() -> int:
    return len(os.sched_getaffinity(0))


if __name__ == "__main__":
    raise SystemExit(main())
