"""Throughput of ONE ``jeugdhub validate`` worker on a real local Kafka.

    .venv/bin/python -m bench.validate_bench                    # 200k+ records, py-spy profile
    .venv/bin/python -m bench.validate_bench --messages 50000 --no-profile

Method:

1. Start a single-node Kafka (``hubdev.localkafka.broker.Broker``) in a temporary directory on a
   free 127.0.0.1 port and create the hub's topics under a unique prefix.
2. Expand the worked example ``shared/spec/examples/feed.jsonl`` into at least ``--messages``
   lines (``bench/feedgen.py``: disjoint copies with new youth and ids, shuffled; per copy 725
   accepted, 19 rejected incl. one line that is not JSON, 36 duplicates, conflicting re-sends,
   cancels) and pre-load them as RawMessage records on the raw topic, as ingest would write them.
3. Start one ``jeugdhub validate`` process (default settings: batches of 500), wait until every
   raw record has been read (its ``/metrics`` counter), optionally sampling it with py-spy.
4. Read the retour topic: exactly one retour per raw record. The throughput is
   ``(N - 1) / (last - first retour broker timestamp)``, so worker start-up and table recovery
   are not counted; the wall time from process start is reported too.

The broker, the worker and this script share the machine's cores; the load average before and
after is recorded. The result goes to ``bench/results/validate.json``.
"""

from __future__ import annotations

import argparse
import sys
import time
import uuid
from collections import Counter
from typing import Any

from bench import feedgen, harness
from bench.aggregate_bench import cpu_after_ready
from services.contracts.codec import decode
from services.contracts.topics import RAW, RETOUR
from services.streaming.topic_admin import create_hub_topics

TARGET = 10_000


def read_retours(bootstrap: str, topic: str, expect: int, timeout_s: float) -> list[tuple[int, str]]:
    """(broker timestamp ms, status) of every retour record, waiting for ``expect`` of them."""
    consumer, _ = harness.consumer_for(bootstrap, topic)
    out: list[tuple[int, str]] = []
    try:
        deadline = time.monotonic() + timeout_s
        while len(out) < expect and time.monotonic() < deadline:
            for records in consumer.poll(timeout_ms=500, max_records=50_000).values():
                for record in records:
                    out.append((record.timestamp, decode("Retour", record.value)["status"]))
    finally:
        consumer.close()
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--messages", type=int, default=200_000, help="at least this many raw records")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument(
        "--batch-size", type=int, default=None, help="JEUGDHUB_BATCH_SIZE (default: service's)"
    )
    parser.add_argument("--no-profile", action="store_true", help="do not sample the worker with py-spy")
    parser.add_argument("--timeout", type=float, default=1800.0, help="give up after this many seconds")
    parser.add_argument("--keep", action="store_true", help="keep the work directory (logs, profile)")
    parser.add_argument("--result", default="validate", help="name of the JSON file in bench/results")
    args = parser.parse_args(argv)

    load_before = harness.loadavg()
    harness.log(f"generating at least {args.messages} raw records from the worked example")
    lines = feedgen.expanded(args.messages, args.seed)
    records = feedgen.raw_records(lines)
    n = len(records)
    del lines

    with harness.cleanup_on_exit() as cleanup:
        workdir = harness.temp_workdir(cleanup, keep=args.keep)
        harness.log(f"work directory {workdir}")
        broker = harness.start_broker(cleanup, workdir)
        prefix = f"bench{uuid.uuid4().hex[:8]}."
        create_hub_topics(broker.bootstrap, prefix)
        started = time.monotonic()
        harness.produce(broker.bootstrap, RAW.full_name(prefix), records)
        harness.log(f"pre-loaded {n} raw records in {time.monotonic() - started:.1f} s")
        del records

        env = harness.service_env(
            broker.bootstrap,
            prefix,
            {
                "JEUGDHUB_KEYRING_FILE": str(harness.write_keyring(workdir / "keyring.json")),
                "JEUGDHUB_REGIONS_FILE": str(feedgen.REGIONS),
                **({"JEUGDHUB_BATCH_SIZE": str(args.batch_size)} if args.batch_size else {}),
            },
        )
        worker = harness.worker(cleanup, "validate", env, workdir / "validate.log")
        process_started = time.monotonic()
        worker.start()
        profile_path = workdir / "validate.pyspy.txt"
        spy = None
        if not args.no_profile and harness.py_spy() is not None:
            spy = harness.start_py_spy(cleanup, worker.pid, profile_path, duration_s=int(args.timeout))
        worker.wait_ready(120)
        cpu_ready = harness.cpu_seconds(worker.pid)  # start-up and table recovery: not per message
        harness.log("validate worker ready; waiting until every raw record is read")
        deadline = time.monotonic() + args.timeout
        done = 0.0
        while time.monotonic() < deadline:
            done = worker.metric("jeugdhub_validate_messages_in_total") or 0.0
            if done >= n:
                break
            if worker.proc is not None and worker.proc.poll() is not None:
                raise RuntimeError(f"validate exited:\n{worker.log_tail()}")
            time.sleep(0.5)
        finished = time.monotonic()
        worker_cpu_s = harness.cpu_seconds(worker.pid)
        _, metrics_text = worker.get("/metrics")
        (workdir / "validate.metrics.txt").write_bytes(metrics_text)
        if spy is not None:
            harness.stop_process(spy)
        retours = read_retours(broker.bootstrap, RETOUR.full_name(prefix), n, timeout_s=120)
        profile = harness.summarise_collapsed(profile_path) if spy is not None else None

    if len(retours) != n:
        print(f"expected {n} retours, got {len(retours)}", file=sys.stderr)
        return 1
    stamps = sorted(t for t, _ in retours)
    span_s = (stamps[-1] - stamps[0]) / 1000
    rate = (n - 1) / span_s if span_s > 0 else float("inf")
    statuses = Counter(s for _, s in retours)
    result: dict[str, Any] = {
        "messages": n,
        "statuses": dict(statuses),
        "messages_per_s": round(rate, 1),
        "first_to_last_retour_s": round(span_s, 2),
        "wall_from_process_start_s": round(finished - process_started, 2),
        "worker_cpu_s": worker_cpu_s,
        "worker_cpu_us_per_message": round(worker_cpu_s * 1e6 / n, 1) if worker_cpu_s else None,
        **cpu_after_ready(cpu_ready, worker_cpu_s, n),
        "target_messages_per_s": TARGET,
        "batch_size": args.batch_size or 500,
        "profiled_with_py_spy": spy is not None,
        "machine": {**harness.machine(), "loadavg_before": load_before},
        "profile": profile,
    }
    path = harness.write_result(args.result, result)
    print(f"validate: {n} raw records, {dict(statuses)}")
    print(f"validate: {rate:,.0f} messages/s on one worker (first to last retour, {span_s:.1f} s; "
          f"target {TARGET:,})")  # fmt: skip
    if "messages_per_worker_cpu_s" in result:
        print(f"validate: {result['worker_cpu_us_per_message_after_ready']} µs of worker CPU per message after "
              f"ready ({result['messages_per_worker_cpu_s']:,.0f} messages per worker CPU-second)")  # fmt: skip
    print(f"load average now {harness.loadavg()}, before {load_before}; result in {path}")
    if profile is not None:
        harness.print_profile("validate worker profile (py-spy)", profile)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
