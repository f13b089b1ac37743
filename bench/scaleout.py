"""The pipeline's throughput with 1, 2 and 3 workers per service on the six partitions (issue 18, item 5).

One step per worker count N, each on a fresh topic prefix of the suite's broker: N ``jeugdhub
validate`` and N ``jeugdhub aggregate`` workers (each service one consumer group, so the six raw and
the six validated partitions are spread over its N workers) start on empty topics; once every
worker is ready and both groups are ``Stable`` with N members, the raw records are written and the
clock runs from the first raw record any validate worker read until the aggregate workers together
applied every message the validate workers accepted. Starting the groups first keeps rebalances
(and the records they make a group read twice) out of the window; a step where the workers read
more records than were written says so (``reprocessed``).

What two cores can and cannot show (:data:`TWO_CORES`): the figure is the price of coordination and
the evidence that the partitions spread over the workers, not a cluster's speed-up.
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaProducer
from kafka import KafkaAdminClient

from bench import harness
from hubdev.localkafka.broker import Broker
from hubdev.processes import Child
from services.contracts.topics import RAW
from services.streaming.batches import send_record_batches
from services.streaming.topic_admin import create_hub_topics

WORKER_COUNTS = (1, 2, 3)
IDLE_SAMPLE_S = 3.0
VALIDATE_IN = "jeugdhub_validate_messages_in_total"
VALIDATE_ACCEPTED = "jeugdhub_validate_accepted_total"
AGGREGATE_APPLIED = "jeugdhub_aggregate_events_applied_total"

TWO_CORES = (
    "All workers, the broker and this load generator share the machine's {cores} CPUs. With more "
    "worker processes than cores the workers take turns on the same cores, so the pipeline cannot get "
    "faster with N: the ratio to 1 worker shows what coordination costs (consumer-group membership, "
    "every aggregate worker reading the whole youth-facts topic for its figures, more and smaller "
    "batches and fetches) and the per-worker shares show that the six partitions spread. What it "
    "cannot show is a cluster's speed-up. For a cluster: a worker with its own core does the CPU work "
    "of its partitions only, so the pipeline's capacity there is about N × (1-worker rate) × "
    "(CPU-seconds per message with 1 worker ÷ with N) until a shared part saturates: the broker, or "
    "the figures state that every aggregate worker keeps of all youth-facts. Six partitions cap each "
    "service at six busy workers."
)


async def _produce_batches(bootstrap: str, topic: str, records: Sequence[tuple[bytes, bytes]]) -> None:
    """Write ``records`` as one record batch per partition and fill (the services' own way,
    ``send_record_batches``: each record where the default partitioner puts it), acks=all."""
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", max_batch_size=1024 * 1024, max_request_size=8 * 1024 * 1024
    )
    await producer.start()
    try:
        await asyncio.gather(*await send_record_batches(producer, topic, records))
    finally:
        await producer.stop()


def produce(bootstrap: str, topic: str, records: Sequence[tuple[bytes, bytes]]) -> float:
    """Seconds to write the records. kafka-python's one ``send`` per record took 9-33 s for the quick
    run's 20,228 records once six workers shared the cores, longer than the pipeline's window, so
    the figure measured this process; whole batches take a fraction of a second."""
    started = time.monotonic()
    asyncio.run(_produce_batches(bootstrap, topic, records))
    return time.monotonic() - started


def _group_members(admin: KafkaAdminClient, group: str) -> tuple[str, int]:
    """(state, member count) of a consumer group; ('', 0) when the broker does not know it yet."""
    try:
        description: dict[str, Any] = admin.describe_groups([group])[group]
    except Exception:  # the coordinator is not known yet: try again
        return "", 0
    return str(description.get("group_state", "")), len(description.get("members", []))


def _wait_stable(admin: KafkaAdminClient, groups: Sequence[str], members: int, timeout_s: float) -> None:
    """Until every group is ``Stable`` with ``members`` members, twice 1 s apart (no join in flight)."""
    deadline = time.monotonic() + timeout_s
    calm = 0
    last: dict[str, tuple[str, int]] = {}
    while time.monotonic() < deadline:
        last = {group: _group_members(admin, group) for group in groups}
        calm = calm + 1 if all(state == ("Stable", members) for state in last.values()) else 0
        if calm >= 2:
            return
        time.sleep(1.0)
    raise TimeoutError(f"consumer groups not Stable with {members} members in {timeout_s} s: {last}")


def _total(workers: Sequence[Child], metric: str) -> float:
    return sum(w.metric(metric) or 0.0 for w in workers)


def _cpu(pids: Sequence[int]) -> float:
    return sum(harness.cpu_seconds(pid) or 0.0 for pid in pids)


def _stop_all(workers: Sequence[Child]) -> None:
    """SIGTERM every worker at once (each faust shutdown takes seconds) and wait for all."""
    with ThreadPoolExecutor(max_workers=max(1, len(workers))) as pool:
        list(pool.map(lambda w: w.stop(), workers))


def _measure(
    validates: Sequence[Child], aggregates: Sequence[Child], n: int, timeout_s: float
) -> tuple[float | None, float | None]:
    """(first raw record read, every accepted message applied), monotonic; None when not reached."""
    everyone = [*validates, *aggregates]
    first: float | None = None
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        # Each reading is an HTTP GET of /metrics per worker: the workers' CPU too, so the aggregate
        # workers are asked only once the validate workers have read everything.
        now = time.monotonic()
        read = _total(validates, VALIDATE_IN)
        if first is None and read > 0:
            first = now
        if read >= n and _total(aggregates, AGGREGATE_APPLIED) >= _total(validates, VALIDATE_ACCEPTED) > 0:
            return first, now
        for worker in everyone:
            if not worker.alive:
                raise RuntimeError(f"{worker.name} exited:\n{worker.log_tail()}")
        time.sleep(0.05 if first is None else 0.25)
    return first, None


def step(
    cleanup: harness.Cleanup, broker: Broker, workdir: Path, records: Sequence[tuple[bytes, bytes]],
    env_of: Callable[[str], dict[str, str]], workers: int, timeout_s: float,
) -> dict[str, Any]:  # fmt: skip
    """N validate and N aggregate workers on a fresh prefix; the raw records written once both
    groups are stable; msg/s from the first record read until every accepted message is applied."""
    n = len(records)
    prefix = f"suites{workers}{uuid.uuid4().hex[:6]}."
    create_hub_topics(broker.bootstrap, prefix)
    env = env_of(prefix)
    validates = [
        harness.worker(cleanup, "validate", env, workdir / f"scaleout{workers}-validate{i}.log")
        for i in range(workers)
    ]
    aggregates = [
        harness.worker(cleanup, "aggregate", env, workdir / f"scaleout{workers}-aggregate{i}.log")
        for i in range(workers)
    ]
    everyone = validates + aggregates
    try:
        for worker in everyone:
            worker.start()
        for worker in everyone:
            worker.wait_ready(180)
        admin = KafkaAdminClient(bootstrap_servers=broker.bootstrap)
        try:
            groups = [f"{prefix}jeugdhub-validate", f"{prefix}jeugdhub-aggregate"]
            _wait_stable(admin, groups, workers, 120)
        finally:
            admin.close()
        pids = [w.pid for w in everyone]
        # What the idle workers burn (timers, empty fetches, heartbeats): a cost per worker, not per
        # message, which a longer window (a busier machine) would otherwise charge to the messages.
        idle_started, idle_cpu = time.monotonic(), _cpu(pids)
        time.sleep(IDLE_SAMPLE_S)
        idle_cores = (_cpu(pids) - idle_cpu) / (time.monotonic() - idle_started)
        cpu_before, broker_before, cpu_at = _cpu(pids), _cpu([broker.pid or 0]), time.monotonic()
        harness.log(f"scale-out {workers} worker(s) per service: groups stable; writing {n} raw records")
        produce_s = produce(broker.bootstrap, RAW.full_name(prefix), records)
        first, done = _measure(validates, aggregates, n, timeout_s)
        cpu_s = _cpu(pids) - cpu_before
        cpu_window_s = time.monotonic() - cpu_at
        broker_cpu_s = _cpu([broker.pid or 0]) - broker_before
        validate_in = [w.metric(VALIDATE_IN) or 0.0 for w in validates]
        applied = [w.metric(AGGREGATE_APPLIED) or 0.0 for w in aggregates]
        accepted = _total(validates, VALIDATE_ACCEPTED)
    finally:
        _stop_all(everyone)
    if first is None or done is None:
        raise TimeoutError(
            f"{workers} worker(s): the pipeline did not finish {n} raw records in {timeout_s} s"
        )
    window = done - first
    rate = n / window if window > 0 else None
    harness.log(f"  {rate or 0:,.0f} raw messages/s; validate shares {validate_in}, aggregate {applied}")
    return {
        "workers_per_service": workers,
        "raw_messages": n,
        "accepted": int(accepted),
        "messages_per_s": round(rate, 1) if rate else None,
        "window_s": round(window, 2),
        "produce_s": round(produce_s, 2),
        "workers_cpu_s": round(cpu_s, 2),
        "broker_cpu_s": round(broker_cpu_s, 2),
        "cpu_us_per_message": round((cpu_s + broker_cpu_s) / n * 1e6, 1),
        "workers_idle_cores": round(idle_cores, 3),
        "workers_cpu_us_per_message_net_of_idle": round(
            max(0.0, cpu_s - idle_cores * cpu_window_s) / n * 1e6, 1
        ),
        "validate_messages_per_worker": [int(v) for v in validate_in],
        "aggregate_applied_per_worker": [int(v) for v in applied],
        "reprocessed": int(sum(validate_in) - n),
    }


def stage(
    cleanup: harness.Cleanup, broker: Broker, workdir: Path, records: Sequence[tuple[bytes, bytes]],
    env_of: Callable[[str], dict[str, str]], timeout_s: float, counts: Sequence[int] = WORKER_COUNTS,
) -> dict[str, Any]:  # fmt: skip
    """Every worker count of ``counts`` in turn; ratios to the first (1 worker)."""
    steps = [step(cleanup, broker, workdir, records, env_of, n, timeout_s) for n in counts]
    base = steps[0]
    for s in steps:
        s["ratio_to_1_worker"] = (
            round(s["messages_per_s"] / base["messages_per_s"], 3)
            if s["messages_per_s"] and base["messages_per_s"]
            else None
        )
        s["cpu_per_message_ratio_to_1_worker"] = round(
            s["cpu_us_per_message"] / base["cpu_us_per_message"], 3
        )
    cores = os.cpu_count() or 1
    return {
        "method": "N validate + N aggregate workers on 6 partitions, groups Stable before the raw records "
        "are written; first raw record read -> every accepted message applied",
        "cores": cores,
        "steps": steps,
        "what_two_cores_show": TWO_CORES.format(cores=cores),
    }
