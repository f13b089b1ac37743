"""The benchmark suite: every hub figure side by side, in ONE run on ONE local broker.

    .venv/bin/python -m bench.suite --quick      # about 10 minutes on a 2-core machine
    .venv/bin/python -m bench.suite              # the full sizes (longer)

Starts one single-node Kafka (``hubdev.localkafka``) in a temporary directory on free 127.0.0.1
ports and measures, each stage under its own topic prefix:

1. Kafka's own ``ProducerPerformance`` / ``ConsumerPerformance`` (``bench/kafka_tools.py``): the
   broker's ceiling, records about the size of a raw record.
2. A plain aiokafka consume → produce passthrough (``bench/baseline.py``) of the raw records and of
   the validated records: the ceiling for any Python stage on this machine; and a faust agent that
   only passes the validated records through (``bench/faust_baseline.py``, the hub's app factory):
   the floor cost of any faust stage, which the workers' figures cannot beat.
3. ``jeugdhub validate`` alone (the method of ``bench/validate_bench.py``: pre-loaded raw records,
   rate between the first and last retour), ``jeugdhub aggregate`` alone
   (``aggregate_bench.throughput``) and the whole pipeline raw → validate → aggregate (pre-loaded
   raw records; from the validate worker's first progress until the aggregate worker has applied
   every accepted message), each with its ratio to the passthrough of the same records. The
   scale-out figure (``bench/scaleout.py``): the pipeline again with 1, 2 and 3 workers per
   service on the six partitions, msg/s and the ratio to 1 worker, with what two cores can and
   cannot show about a cluster.
4. End-to-end latency from the HTTP 202 of ``jeugdhub ingest`` to the first ``NL`` RegionSnapshot
   on the aggregates topic that reflects the message (rank matching as in
   ``aggregate_bench.latency``: each message is a new youth in closed care, +1 national occupancy),
   open loop at 100, 500 and 2,000 messages/s (``--latency-rates``). Achieved rates are reported
   as measured, "NOT sustained" when ingest did not accept or the pipeline did not carry the rate;
   per message the legs 202 → validated → youth-facts → snapshot (``bench/latency_stages.py``) and
   the CPU per message of every process, with the rate the machine's CPUs could carry at that cost.
5. ``jeugdhub replay`` messages/s and peak memory per 100,000 tracked youth
   (``replay_bench.run_replay``); and ``jeugdhub history --every day`` over a simulated national
   year against one replay of the same feed (``history_bench.measure``: the ratio, target ≤ 3).
6. Recovery: one aggregate worker applies a large state (1,000,000 validated messages; 100,000 with
   ``--quick``) and is SIGKILLed; a few new messages are written; the time from the restart until
   the aggregates topic shows figures that include both the old state and the new messages.

Everything it starts (broker, workers, JVM tools) is stopped on the way out, also on Ctrl-C.
Results: ``bench/results/suite.json`` and ``bench/results/suite.md``, with the machine (nproc,
CPU model, load average before/after, Python, Kafka version).

``--only STAGE ...`` runs some stages (``--only scaleout``, ``--only latency``); ``--set
JEUGDHUB_NAME=VALUE`` gives every service the suite starts a setting (before/after of a default).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import subprocess
import sys
import time
import traceback
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import orjson

import services
from bench import (
    aggregate_bench,
    feedgen,
    harness,
    history_bench,
    ingest_bench,
    kafka_tools,
    latency_stages,
    replay_bench,
    scaleout,
    validate_bench,
)
from hubdev.localkafka.broker import Broker, set_parent_death_signal
from hubdev.localkafka.jars import kafka_version
from hubdev.paths import REPO
from hubdev.processes import Child
from services.contracts.canonical import validated_from_json
from services.contracts.codec import encode
from services.contracts.regions import load_region_table
from services.contracts.topics import AGGREGATES, RAW, RETOUR, VALIDATED
from services.ingest.tokens import Sender, add_token
from services.privacy.pseudonym import Keyring
from services.replay.offline import judge_lines
from services.streaming.topic_admin import create_hub_topics, ensure_topics
from tests.faults.hub_harness import group_lag

SENDER_CODE = "10000001"  # the provider of aggregate_bench's latency messages
LATENCY_RATES = (100.0, 500.0, 2000.0)
LATENCY_P99_TARGET_S = 1.0  # issue 18: p99 < 1 s at 2,000 msg/s, HTTP 202 -> region snapshot


@dataclass(frozen=True)
class Sizes:
    messages: int  # raw records for validate alone and the pipeline
    aggregate_messages: int  # validated records for aggregate alone
    latency_seconds: float  # open-loop send time per rate
    drain_timeout_s: float  # how long to wait for a latency step's messages to show
    replay_lines: int
    recovery_messages: int
    tools_records: int
    stage_timeout_s: float


QUICK = Sizes(20_000, 20_000, 15.0, 45.0, 100_000, 100_000, 300_000, 600.0)
FULL = Sizes(100_000, 100_000, 60.0, 180.0, 300_000, 1_000_000, 2_000_000, 3600.0)


# -- helpers --------------------------------------------------------------------------------------
def _prefix(tag: str) -> str:
    return f"suite{tag}{uuid.uuid4().hex[:6]}."


def _passthrough(
    bootstrap: str,
    source: str,
    messages: int,
    timeout_s: float,
    script: str = "baseline",
    extra: tuple[str, ...] = (),
) -> dict[str, Any]:
    """``bench/baseline.py`` (plain aiokafka) or ``bench/faust_baseline.py`` (a faust agent) as a
    child process from ``source`` to a fresh 6-partition topic."""
    dest = f"passthrough{uuid.uuid4().hex[:8]}"
    ensure_topics(bootstrap, [dest], partitions=6)
    out = subprocess.run(
        [sys.executable, "-m", f"bench.{script}", "--bootstrap", bootstrap,
         "--source", source, "--dest", dest, "--messages", str(messages), *extra],
        cwd=REPO, capture_output=True, text=True, timeout=timeout_s, check=False, stdin=subprocess.DEVNULL,
        preexec_fn=set_parent_death_signal,
    )  # fmt: skip
    if out.returncode != 0:
        raise RuntimeError(f"{script} exited {out.returncode}:\n{out.stderr[-2000:]}")
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def _wait_counter(worker: Child, metric: str, target: float, timeout_s: float) -> list[tuple[float, float]]:
    """Sample ``metric`` every 0.25 s until it reaches ``target``: [(monotonic, value)]."""
    samples: list[tuple[float, float]] = []
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = worker.metric(metric) or 0.0
        samples.append((time.monotonic(), value))
        if value >= target:
            return samples
        if worker.proc is not None and worker.proc.poll() is not None:
            raise RuntimeError(f"{worker.name} exited:\n{worker.log_tail()}")
        time.sleep(0.25)
    raise TimeoutError(
        f"{metric} reached {samples[-1][1] if samples else 0:.0f} of {target:.0f} in {timeout_s} s"
    )


def _validated_records(lines: list[bytes], keyring: Keyring, seed: int) -> list[tuple[bytes, bytes]]:
    """What the validate worker would write for ``lines``: judged in-process (as replay does)."""
    result = judge_lines(lines, keyring, load_region_table(feedgen.REGIONS))
    records = [
        (youth.encode(), encode("ValidatedMessage", validated_from_json(message)))
        for youth, messages in result.by_youth.items()
        for message in messages
    ]
    random.Random(seed).shuffle(records)
    return records


def _latency_summary(values: list[float]) -> dict[str, float | None]:
    values = sorted(values)
    return {
        "p50": round(harness.percentile(values, 50), 3) if values else None,
        "p95": round(harness.percentile(values, 95), 3) if values else None,
        "p99": round(harness.percentile(values, 99), 3) if values else None,
        "max": round(values[-1], 3) if values else None,
    }


# -- stages ---------------------------------------------------------------------------------------
def stage_kafka_tools(broker: Broker, sizes: Sizes, record_size: int) -> dict[str, Any]:
    topic = "perf-tools"
    ensure_topics(broker.bootstrap, [topic], partitions=6)
    harness.log(f"ProducerPerformance: {sizes.tools_records} records of {record_size} bytes")
    produced = kafka_tools.producer_performance(broker.bootstrap, topic, sizes.tools_records, record_size)
    harness.log(f"  {produced['records_per_s']:,.0f} records/s; ConsumerPerformance")
    consumed = kafka_tools.consumer_performance(broker.bootstrap, topic, sizes.tools_records)
    harness.log(f"  {consumed['records_per_s']:,.0f} records/s")
    return {"producer": produced, "consumer": consumed, "topic_partitions": 6}


def stage_validate(
    cleanup: harness.Cleanup, broker: Broker, workdir: Path, records: list[tuple[bytes, bytes]],
    env_of: Callable[[str], dict[str, str]], sizes: Sizes,
) -> tuple[dict[str, Any], str]:  # fmt: skip
    """validate alone; returns the result and the prefix (its validated topic is reused)."""
    n = len(records)
    prefix = _prefix("v")
    create_hub_topics(broker.bootstrap, prefix)
    harness.produce(broker.bootstrap, RAW.full_name(prefix), records)
    harness.log(f"validate alone: {n} raw records pre-loaded; passthrough of the same records first")
    passthrough = _passthrough(broker.bootstrap, RAW.full_name(prefix), n, sizes.stage_timeout_s)
    harness.log(f"  passthrough {passthrough['messages_per_s']:,.0f}/s; starting jeugdhub validate")
    worker = harness.worker(cleanup, "validate", env_of(prefix), workdir / "validate.log")
    started = time.monotonic()
    worker.start()
    worker.wait_ready(120)
    _wait_counter(worker, "jeugdhub_validate_messages_in_total", n, sizes.stage_timeout_s)
    wall = time.monotonic() - started
    cpu_s = harness.cpu_seconds(worker.pid)
    worker.stop()
    retours = validate_bench.read_retours(broker.bootstrap, RETOUR.full_name(prefix), n, timeout_s=120)
    stamps = sorted(t for t, _ in retours)
    span_s = (stamps[-1] - stamps[0]) / 1000 if len(stamps) > 1 else 0.0
    rate = (len(retours) - 1) / span_s if span_s > 0 else None
    harness.log(f"  validate {rate or 0:,.0f}/s")
    return {
        "messages": n,
        "retours": len(retours),
        "statuses": dict(Counter(s for _, s in retours)),
        "messages_per_s": round(rate, 1) if rate else None,
        "first_to_last_retour_s": round(span_s, 2),
        "wall_from_process_start_s": round(wall, 2),
        "worker_cpu_s": cpu_s,
        "passthrough": passthrough,
        "ratio_to_passthrough": round(rate / passthrough["messages_per_s"], 3)
        if rate and passthrough["messages_per_s"]
        else None,
    }, prefix


def stage_aggregate(
    cleanup: harness.Cleanup, broker: Broker, workdir: Path, validate_prefix: str, accepted: int,
    sizes: Sizes, seed: int,
) -> dict[str, Any]:  # fmt: skip
    harness.log(f"aggregate alone: passthrough of the {accepted} validated records of the validate stage")
    passthrough = _passthrough(
        broker.bootstrap, VALIDATED.full_name(validate_prefix), accepted, sizes.stage_timeout_s
    )
    faust_passthrough = _passthrough(
        broker.bootstrap, VALIDATED.full_name(validate_prefix), accepted, sizes.stage_timeout_s,
        script="faust_baseline",
    )  # fmt: skip
    faust_runs = _passthrough(
        broker.bootstrap, VALIDATED.full_name(validate_prefix), accepted, sizes.stage_timeout_s,
        script="faust_baseline", extra=("--runs",),
    )  # fmt: skip
    harness.log(f"  passthrough {passthrough['messages_per_s']:,.0f}/s, faust passthrough "
                f"{faust_passthrough['messages_per_s']:,.0f}/s; aggregate_bench.throughput")  # fmt: skip
    args = argparse.Namespace(
        messages=sizes.aggregate_messages, seed=seed, no_profile=True, timeout=sizes.stage_timeout_s
    )
    result = aggregate_bench.throughput(args, cleanup, broker, workdir)
    result.pop("profile", None)
    rate = result["messages_per_s"]
    harness.log(f"  aggregate {rate:,.0f}/s")
    return {
        **result,
        "passthrough": passthrough,
        "faust_passthrough": faust_passthrough,
        "faust_runs_passthrough": faust_runs,
        "ratio_to_passthrough": round(rate / passthrough["messages_per_s"], 3)
        if passthrough["messages_per_s"]
        else None,
    }


def stage_pipeline(
    cleanup: harness.Cleanup, broker: Broker, workdir: Path, records: list[tuple[bytes, bytes]],
    accepted: int, env_of: Callable[[str], dict[str, str]], sizes: Sizes, raw_passthrough: float | None,
) -> dict[str, Any]:  # fmt: skip
    n = len(records)
    prefix = _prefix("p")
    create_hub_topics(broker.bootstrap, prefix)
    harness.produce(broker.bootstrap, RAW.full_name(prefix), records)
    harness.log(f"pipeline: {n} raw records pre-loaded; starting validate and aggregate")
    env = env_of(prefix)
    validate = harness.worker(cleanup, "validate", env, workdir / "pipeline-validate.log").start()
    aggregate = harness.worker(cleanup, "aggregate", env, workdir / "pipeline-aggregate.log").start()
    validate.wait_ready(120)
    aggregate.wait_ready(120)
    first: float | None = None
    done: float | None = None
    deadline = time.monotonic() + sizes.stage_timeout_s
    while time.monotonic() < deadline:
        now = time.monotonic()
        if first is None and (validate.metric("jeugdhub_validate_messages_in_total") or 0) > 0:
            first = now
        if (aggregate.metric("jeugdhub_aggregate_events_applied_total") or 0) >= accepted:
            done = now
            break
        for worker in (validate, aggregate):
            if worker.proc is not None and worker.proc.poll() is not None:
                raise RuntimeError(f"{worker.name} exited:\n{worker.log_tail()}")
        time.sleep(0.25)
    cpu = {
        "validate_cpu_s": harness.cpu_seconds(validate.pid),
        "aggregate_cpu_s": harness.cpu_seconds(aggregate.pid),
    }
    validate.stop()
    aggregate.stop()
    if first is None or done is None:
        raise TimeoutError(
            f"pipeline did not apply {accepted} accepted messages in {sizes.stage_timeout_s} s"
        )
    rate = n / (done - first) if done > first else None
    harness.log(f"  pipeline {rate or 0:,.0f} raw messages/s")
    return {
        "raw_messages": n,
        "accepted_applied": accepted,
        "messages_per_s": round(rate, 1) if rate else None,
        "window_s": round(done - first, 2),
        **cpu,
        "ratio_to_passthrough": round(rate / raw_passthrough, 3) if rate and raw_passthrough else None,
        "ratio_basis": "raw-record passthrough of the validate stage",
    }


LATENCY_MAX_CONNECTIONS = 1024
"""Keep-alive connections the latency client opens at most. A request whose time has come waits for
a free one (its latency still counts from its scheduled time, so a stall is not hidden); without a
cap a slow ingest made the client open a connection per message until the process ran out of
descriptors. 1,024 carries 2,000 requests/s up to half a second of HTTP latency."""
LATENCY_POST_TIMEOUT_S = 30.0


async def _open_loop_accepts(
    host: str, port: int, token: str, bodies: list[bytes], rate: float
) -> dict[str, Any]:
    """POST each body at its scheduled time; wall-clock time of every 202 (sorted, and per body
    index), HTTP latencies from the scheduled time, and the other answers by status (0: no answer)."""
    accepted_at: list[float] = []
    accepted_by_index: dict[int, float] = {}
    http_latency: list[float] = []
    statuses: Counter[int] = Counter()
    idle: list[ingest_bench.Connection] = []
    everyone: list[ingest_bench.Connection] = []
    free = asyncio.Semaphore(LATENCY_MAX_CONNECTIONS)

    async def one(index: int, body: bytes, scheduled: float) -> None:
        async with free:
            if idle:
                connection = idle.pop()
            else:
                connection = ingest_bench.Connection(host, port, token)
                everyone.append(connection)
            try:
                status = await asyncio.wait_for(connection.post(body), LATENCY_POST_TIMEOUT_S)
            except TimeoutError:
                await connection.close()
                status = 0
            now = time.perf_counter()
            if status == 202:
                accepted_at.append(time.time())
                accepted_by_index[index] = accepted_at[-1]
                http_latency.append(now - scheduled)
            else:
                statuses[status] += 1
            idle.append(connection)

    started = time.perf_counter()
    tasks = []
    for i, body in enumerate(bodies):
        scheduled = started + i / rate
        delay = scheduled - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(i, body, scheduled)))
    sent_span = time.perf_counter() - started
    await asyncio.gather(*tasks)
    for connection in everyone:
        await connection.close()
    return {"accepted_at": sorted(accepted_at), "accepted_by_index": accepted_by_index,
            "http_latency": http_latency, "errors": sum(statuses.values()),
            "errors_by_status": {str(k): v for k, v in sorted(statuses.items())}, "sent_span_s": sent_span,
            "connections": len(everyone)}  # fmt: skip


_NO_DIGITS = str.maketrans("0123456789", "ghijklmnop")


def _without_digit_runs(message: dict[str, Any]) -> dict[str, Any]:
    """The message with its random placement_id's digits as letters (one to one, so still unique):
    a hex id can hold a 9-digit run that passes the BSN check, which rule JH040 rejects, and every
    latency message must be accepted (each adds one youth to the national occupancy)."""
    return {**message, "placement_id": str(message["placement_id"]).translate(_NO_DIGITS)}


class YouthMessages:
    """The latency stage's messages: each a new youth in closed care (+1 national occupancy)."""

    def __init__(self, rng: random.Random, as_of: date) -> None:
        self._rng, self._as_of = rng, as_of
        self._bsns: set[str] = set()

    def take(self, count: int) -> list[dict[str, Any]]:
        """``count`` messages of youth not seen before. A random BSN drawn twice (about 5 in 30,000)
        is the same youth, whose second message adds nothing to the occupancy and so would never
        count as reflected: such draws are skipped."""
        out: list[dict[str, Any]] = []
        while len(out) < count:
            message = _without_digit_runs(aggregate_bench._new_youth_message(self._rng, self._as_of))
            if message["bsn"] not in self._bsns:
                self._bsns.add(message["bsn"])
                out.append(message)
        return out


def _latency_cpu(broker: Broker, workers: tuple[Child, ...]) -> dict[str, float]:
    """CPU seconds so far of the broker, each worker and this process (the HTTP client)."""
    cpu = {w.name: harness.cpu_seconds(w.pid) or 0.0 for w in workers}
    cpu["broker"] = harness.cpu_seconds(broker.pid or 0) or 0.0
    cpu["client"] = harness.cpu_seconds(os.getpid()) or 0.0
    return cpu


def stage_latency(
    cleanup: harness.Cleanup, broker: Broker, workdir: Path, env_of: Callable[[str], dict[str, str]],
    sizes: Sizes, seed: int, rates: tuple[float, ...] = LATENCY_RATES,
) -> dict[str, Any]:  # fmt: skip
    prefix = _prefix("l")
    create_hub_topics(broker.bootstrap, prefix)
    tokens = workdir / "tokens.json"
    token = add_token(tokens, Sender("provider", SENDER_CODE))
    env = env_of(prefix)
    ingest = harness.worker(
        cleanup,
        "ingest",
        {**env, "JEUGDHUB_INGEST_TOKENS_FILE": str(tokens), "JEUGDHUB_INGEST_HOST": "127.0.0.1",
         "JEUGDHUB_INGEST_RATE_PER_S": "10000000", "JEUGDHUB_INGEST_RATE_BURST": "10000000"},
        workdir / "latency-ingest.log",
    )  # fmt: skip
    ingest_port = ingest.web_port
    assert ingest_port is not None
    ingest.env["JEUGDHUB_INGEST_PORT"] = str(ingest_port)
    ingest.start()
    validate = harness.worker(cleanup, "validate", env, workdir / "latency-validate.log").start()
    aggregate = harness.worker(cleanup, "aggregate", env, workdir / "latency-aggregate.log").start()
    for worker in (ingest, validate, aggregate):
        worker.wait_ready(120)
    follower = aggregate_bench.SnapshotFollower(broker.bootstrap, AGGREGATES.full_name(prefix))
    follower.start()
    cleanup.add("snapshot follower", follower.stop.set)
    rng = random.Random(seed)
    as_of = date.fromisoformat(aggregate_bench.AS_OF)

    messages = YouthMessages(rng, as_of).take

    def bodies(count: int) -> list[bytes]:
        return [orjson.dumps(message) for message in messages(count)]

    # warm-up: consumer groups joined, tables recovered, the JIT of the broker warm
    warm = 50
    warm_result = asyncio.run(_open_loop_accepts("127.0.0.1", ingest_port, token, bodies(warm), 50.0))
    if warm_result["errors"]:
        raise RuntimeError(f"ingest refused warm-up messages:\n{ingest.log_tail()}")
    deadline = time.monotonic() + 120
    while follower.occupancy() < warm:
        if time.monotonic() > deadline:
            raise RuntimeError(f"warm-up not reflected:\n{aggregate.log_tail()}")
        time.sleep(0.2)
    time.sleep(2)

    steps: list[dict[str, Any]] = []
    for rate in rates:
        base = follower.occupancy()
        seen_from = len(follower.seen)
        total = int(rate * sizes.latency_seconds)
        step_messages = messages(total)
        payload = [orjson.dumps(message) for message in step_messages]
        harness.log(f"latency: {total} messages over HTTP at {rate:g}/s (open loop)")
        cpu_before = _latency_cpu(broker, (ingest, validate, aggregate))
        sent = asyncio.run(_open_loop_accepts("127.0.0.1", ingest_port, token, payload, rate))
        accepted_at: list[float] = sent["accepted_at"]
        accepted = len(accepted_at)
        drain_deadline = time.monotonic() + sizes.drain_timeout_s
        while follower.occupancy() < base + accepted and time.monotonic() < drain_deadline:
            time.sleep(0.2)
        seen = [(t, occ - base) for t, occ in follower.seen[seen_from:] if occ > base]
        cpu_after = _latency_cpu(broker, (ingest, validate, aggregate))
        latencies = aggregate_bench.rank_latencies(seen, accepted_at)
        reflected = max((occ for _, occ in seen), default=0)
        span = accepted_at[-1] - accepted_at[0] if accepted > 1 else 0.0
        end_to_end_span = (seen[-1][0] - accepted_at[0]) if seen and accepted else 0.0
        step = {
            "target_rate_per_s": rate,
            "sent": total,
            "accepted_http_202": accepted,
            "http_errors": sent["errors"],
            "http_errors_by_status": sent["errors_by_status"],
            "client_connections": sent["connections"],
            "achieved_accept_rate_per_s": round((accepted - 1) / span, 1) if span > 0 else None,
            "reflected": reflected,
            "all_reflected": reflected >= accepted,
            "reflected_rate_per_s": round(reflected / end_to_end_span, 1) if end_to_end_span > 0 else None,
            "drain_timeout_s": sizes.drain_timeout_s,
            "latency_s": _latency_summary(latencies),
            "http_latency_ms": {k: round(v * 1000, 1) if v is not None else None
                                for k, v in _latency_summary(sent["http_latency"]).items()},
        }  # fmt: skip
        # sustained: ingest took the offered rate, everything shown, and end to end at (nearly) the
        # offered rate, not a growing backlog
        end_rate = step["reflected_rate_per_s"] or 0.0
        accept_rate = step["achieved_accept_rate_per_s"] or 0.0
        step["sustained"] = bool(step["all_reflected"]) and min(end_rate, accept_rate) >= 0.9 * rate
        step["target_p99_s"] = LATENCY_P99_TARGET_S
        # CPU per accepted message: steadier than the rates on a shared machine, and what a rate needs
        step["cpu_us_per_message"] = {
            name: round((cpu_after[name] - cpu_before[name]) / accepted * 1e6) if accepted else None
            for name in cpu_after
        }
        step["cpu_cores"] = {
            name: round((cpu_after[name] - cpu_before[name]) / end_to_end_span, 2)
            if end_to_end_span > 0
            else None
            for name in cpu_after
        }
        by_id = {str(step_messages[i]["message_id"]): t for i, t in sent["accepted_by_index"].items()}
        step["stages"] = latency_stages.breakdown(broker.bootstrap, prefix, by_id, seen)
        harness.log(f"  accepted {accepted}, reflected {reflected}; latency {step['latency_s']}; "
                    f"{'sustained' if step['sustained'] else 'NOT sustained'}; legs {step['stages']['legs_s']}")  # fmt: skip
        steps.append(step)
        if not step["all_reflected"]:
            # where the missing messages are: uncommitted source records of each worker's group
            step["group_lag_after_drain"] = {
                "validate_raw": group_lag(
                    broker.bootstrap, f"{prefix}jeugdhub-validate", RAW.full_name(prefix)
                ),
                "aggregate_validated": group_lag(
                    broker.bootstrap, f"{prefix}jeugdhub-aggregate", VALIDATED.full_name(prefix)
                ),
            }
            harness.log(f"  group lag after the drain: {step['group_lag_after_drain']}")
            harness.log("  not sustained: the remaining rates would only measure the backlog; stopping here")
            break
        time.sleep(2)
    follower.stop.set()
    follower.join(10)
    return {
        "path": "HTTP 202 from jeugdhub ingest -> first NL RegionSnapshot on the aggregates topic reflecting it",
        "seconds_per_rate": sizes.latency_seconds,
        "rates": list(rates),
        "steps": steps,
        "cpu_s": {w.name: harness.cpu_seconds(w.pid) for w in (ingest, validate, aggregate)},
    }


def stage_replay(sizes: Sizes, seed: int, workdir: Path) -> dict[str, Any]:
    copies = -(-sizes.replay_lines // feedgen.FEED_LINES)
    one_copy = feedgen.feed_lines()
    youth_per_copy = len(judge_lines(one_copy, Keyring.from_json(aggregate_bench._keyring_json()),
                                     load_region_table(feedgen.REGIONS)).by_youth)  # fmt: skip
    work = workdir / "replay"
    work.mkdir()
    feed, small, n = replay_bench.write_feeds(work, one_copy, copies, seed)
    harness.log(f"replay: {n} lines, one CPU")
    baseline = replay_bench.run_replay(small, work / "small.json")
    run = replay_bench.run_replay(feed, work / "out.json")
    document = json.loads((work / "out.json").read_text())
    youth = youth_per_copy * copies
    per_100k = (run["maxrss_mib"] - baseline["maxrss_mib"]) / youth * 100_000
    harness.log(f"  {n / run['wall_s']:,.0f} lines/s wall, {per_100k:.0f} MiB per 100k youth")
    return {
        "lines": n,
        "tracked_youth": youth,
        "messages_per_s_wall": round(n / run["wall_s"], 1),
        "messages_per_s_cpu": round(n / run["cpu_s"], 1),
        "wall_s": round(run["wall_s"], 2),
        "peak_rss_mib": round(run["maxrss_mib"], 1),
        "baseline_rss_mib": round(baseline["maxrss_mib"], 1),
        "rss_mib_per_100k_youth": round(per_100k, 1),
        "counts": {k: document[k] for k in ("accepted", "rejected", "duplicates")},
    }


def stage_history(seed: int, workdir: Path, repeat: int) -> dict[str, Any]:
    """One national year by day against one replay of it (both pinned to one CPU)."""
    result = history_bench.measure(workdir / "history", seed=seed, repeat=repeat)
    for line in history_bench.summary_lines(result):
        harness.log(f"  {line}")
    return result


RECOVERY_MARKS = {
    "table partitions restored": "table_restored_s",
    "figures state loaded": "figures_state_loaded_s",
}
"""Log lines of a restarted aggregate whose time after the restart the recovery stage reports."""


def _log_marks(log_path: Path, since: float) -> dict[str, Any]:
    """Seconds after *since* of the first RECOVERY_MARKS line (written after *since*) in a worker's
    JSON log, and the changelog records the table restore read."""
    marks: dict[str, Any] = {}
    for line in log_path.read_bytes().splitlines():
        try:
            entry = orjson.loads(line)
        except orjson.JSONDecodeError:
            continue
        if not isinstance(entry, dict) or entry.get("msg") not in RECOVERY_MARKS:
            continue
        at = datetime.fromisoformat(str(entry["ts"])).timestamp()
        name = RECOVERY_MARKS[entry["msg"]]
        if at >= since and name not in marks:
            marks[name] = round(at - since, 2)
            if "changelog_records_read" in entry:
                marks["changelog_records_read"] = entry["changelog_records_read"]
    return marks


def stage_recovery(
    cleanup: harness.Cleanup, broker: Broker, workdir: Path, sizes: Sizes, seed: int
) -> dict[str, Any]:
    """One aggregate worker (RocksDB store, static group member) applies the state and is
    SIGKILLed; then, each after 10 new-youth messages and a SIGKILL of the one before: a restart on
    its data directory with the same group instance id (the product case, a StatefulSet's pod), a
    cold start on an empty one, a restart on its directory as a dynamic group member, and a start
    with the memory store as a dynamic member (the figure before issue 18). Each: seconds from the restart until the aggregates
    topic shows figures with the new messages, and when the table and the figures state were loaded."""
    keyring_json = aggregate_bench._keyring_json()
    keyring = Keyring.from_json(keyring_json)
    harness.log(f"recovery: judging about {sizes.recovery_messages} validated messages of state in-process")
    lines = feedgen.expanded(int(sizes.recovery_messages * feedgen.FEED_LINES / 725) + 1, seed)
    records = _validated_records(lines, keyring, seed)
    del lines
    n = len(records)
    prefix = _prefix("r")
    create_hub_topics(broker.bootstrap, prefix)
    harness.produce(broker.bootstrap, VALIDATED.full_name(prefix), records)
    del records
    # A StatefulSet's pod: a persistent data directory and a stable group instance id (deploy/k8s).
    env = aggregate_bench._env(
        broker,
        prefix,
        keyring_json,
        {"JEUGDHUB_TABLE_STORE": "rocksdb", "JEUGDHUB_GROUP_INSTANCE_ID": "jeugdhub-aggregate-0"},
    )
    follower = aggregate_bench.SnapshotFollower(broker.bootstrap, AGGREGATES.full_name(prefix))
    follower.start()
    cleanup.add("recovery snapshot follower", follower.stop.set)
    harness.log(f"  {n} validated records pre-loaded; one aggregate worker applies them")
    first = harness.worker(cleanup, "aggregate", env, workdir / "recovery-1.log").start()
    data_dir = Path(first.env["JEUGDHUB_DATA_DIR"])
    first.wait_ready(120)
    samples = _wait_counter(first, "jeugdhub_aggregate_events_applied_total", n, sizes.stage_timeout_s)
    nonzero = next(s for s in samples if s[1] > 0)
    apply_rate = (n - nonzero[1]) / (samples[-1][0] - nonzero[0]) if samples[-1][0] > nonzero[0] else None
    # the state is complete; wait until its snapshot has been published and is stable
    stable_since, last = time.monotonic(), follower.occupancy()
    deadline = time.monotonic() + 60
    while time.monotonic() - stable_since < 3 and time.monotonic() < deadline:
        time.sleep(0.25)
        if follower.occupancy() != last:
            stable_since, last = time.monotonic(), follower.occupancy()
    base = follower.occupancy()
    harness.log(f"  applied {n} at {apply_rate or 0:,.0f}/s; NL occupancy {base}")
    extra = 10
    rng = random.Random(seed + 1)
    as_of = date.fromisoformat(aggregate_bench.AS_OF)
    running = first
    expected = base
    restarts: dict[str, Any] = {}
    for name, store, own_dir, static in (
        ("rocksdb_restart", "rocksdb", True, True),
        ("rocksdb_cold_start", "rocksdb", False, True),
        ("rocksdb_restart_dynamic_member", "rocksdb", True, False),
        ("memory_store", "memory", False, False),
    ):
        assert running.proc is not None
        running.proc.kill()
        running.proc.wait(10)
        killed_at = time.time()
        new_lines = [orjson.dumps(aggregate_bench._new_youth_message(rng, as_of)) for _ in range(extra)]
        harness.produce(
            broker.bootstrap, VALIDATED.full_name(prefix), _validated_records(new_lines, keyring, seed)
        )
        expected += extra
        log_path = workdir / f"recovery-{name}.log"
        own_env = {k: v for k, v in env.items() if static or k != "JEUGDHUB_GROUP_INSTANCE_ID"}
        restart = harness.worker(cleanup, "aggregate", {**own_env, "JEUGDHUB_TABLE_STORE": store}, log_path)
        if own_dir:
            restart.env["JEUGDHUB_DATA_DIR"] = str(data_dir)  # the killed worker's volume
        if static:
            # The same pod: its port is part of faust's assignor metadata, which the coordinator
            # hands a static member back unchanged (faust asserts it is the worker's own).
            restart.env["JEUGDHUB_WEB_PORT"] = first.env["JEUGDHUB_WEB_PORT"]
            restart.web_port = first.web_port
        restarted_at = time.time()
        restart.start()
        restart.wait_ready(timeout_s=sizes.stage_timeout_s)
        ready_s = time.time() - restarted_at
        deadline = time.monotonic() + sizes.stage_timeout_s
        while follower.occupancy() < expected and time.monotonic() < deadline:
            if restart.proc is not None and restart.proc.poll() is not None:
                raise RuntimeError(f"restarted aggregate exited:\n{restart.log_tail()}")
            time.sleep(0.1)
        current = next(((t, occ) for t, occ in follower.seen if t >= restarted_at and occ >= expected), None)
        if current is None:
            raise TimeoutError(
                f"{name}: figures not current {sizes.stage_timeout_s} s after the restart:\n{restart.log_tail()}"
            )
        time.sleep(2)
        restarts[name] = {
            "store": store,
            "data_dir": "the killed worker's" if own_dir else "empty",
            "group_membership": "static" if static else "dynamic",
            "restart_to_ready_s": round(ready_s, 2),
            "restart_to_current_figures_s": round(current[0] - restarted_at, 2),
            "kill_to_current_figures_s": round(current[0] - killed_at, 2),
            **_log_marks(log_path, restarted_at),
            "nl_occupancy_after": follower.occupancy(),
            "figures_correct": follower.occupancy() == expected,
        }
        harness.log(
            f"  {name}: current again {current[0] - restarted_at:.1f} s after the restart; {restarts[name]}"
        )
        running = restart
    follower.stop.set()
    follower.join(10)
    running.stop()
    warm = restarts["rocksdb_restart"]
    return {
        "state_messages": n,
        "state_apply_rate_per_s": round(apply_rate, 1) if apply_rate else None,
        "nl_occupancy_before_kill": base,
        "new_messages_after_kill": extra,
        # the headline figures: a restart on its own data directory (RocksDB store)
        "restart_to_ready_s": warm["restart_to_ready_s"],
        "restart_to_current_figures_s": warm["restart_to_current_figures_s"],
        "kill_to_current_figures_s": warm["kill_to_current_figures_s"],
        "nl_occupancy_after": warm["nl_occupancy_after"],
        "figures_correct": all(r["figures_correct"] for r in restarts.values()),
        "restarts": restarts,
        "method": "SIGKILL after the state is applied and published; before each restart the running "
        "worker is SIGKILLed and 10 new-youth messages written; restarts on the killed worker's data "
        "directory (RocksDB, static member), on an empty one (cold), on its directory as a dynamic member, "
        "and with the memory store (dynamic member, the old default); 'current' = "
        "the first NL snapshot after the restart with occupancy = before + 10 per restart so far; the "
        "table/figures times are from the restarted worker's log",
    }


# -- report ---------------------------------------------------------------------------------------
def _fmt(value: Any, digits: int = 0) -> str:
    if value is None:
        return "–"
    if isinstance(value, float | int):
        return f"{value:,.{digits}f}"
    return str(value)


def _rates_option(latency: dict[str, Any]) -> str:
    """' --latency-rates …' when a run's rates were not the default ones."""
    rates = latency.get("rates")
    if not rates or tuple(rates) == LATENCY_RATES:
        return ""
    return " --latency-rates " + " ".join(f"{r:g}" for r in rates)


def _legs_text(step: dict[str, Any], cpus: int) -> str:
    """'; p50/p99 per leg' of a latency step (bench/latency_stages.py) and its CPU per message, with
    the rate ``cpus`` CPUs could carry at that cost; '' for older results."""
    legs = step.get("stages", {}).get("legs_s")
    if not legs:
        return ""
    parts = [f"{name} {_fmt(q['p50'], 2)}/{_fmt(q['p99'], 2)}" for name, q in legs.items()]
    text = "; legs p50/p99 s: " + ", ".join(parts)
    cpu = step.get("cpu_us_per_message")
    if cpu and all(v is not None for v in cpu.values()) and sum(cpu.values()) > 0:
        total = sum(cpu.values())
        text += (f"; CPU µs/msg: {', '.join(f'{k} {v}' for k, v in cpu.items())} = {total}, so "
                 f"{cpus} CPUs carry at most {_fmt(cpus * 1e6 / total)}/s")  # fmt: skip
    return text


def markdown(doc: dict[str, Any]) -> str:
    m = doc["machine"]
    rows: list[tuple[str, str, str, str]] = []
    stages = doc["stages"]

    def err(name: str) -> str | None:
        stage = stages.get(name, {})
        return f"not measured: {stage['error']}" if "error" in stage else None

    tools = stages.get("kafka_tools", {})
    if err("kafka_tools"):
        rows.append(("Kafka ProducerPerformance / ConsumerPerformance", "–", "", err("kafka_tools") or ""))
    elif tools:
        p, c = tools["producer"], tools["consumer"]
        rows.append(
            (
                "Kafka ProducerPerformance (acks=all)",
                f"{_fmt(p['records_per_s'])} records/s",
                "",
                f"{p['records']:,} × {p['record_size']} B, {p['mb_per_s']} MB/s, p99 {p.get('p99_ms', '–')} ms",
            )
        )
        rows.append(("Kafka ConsumerPerformance", f"{_fmt(c['records_per_s'])} records/s", "",
                     f"{c['records']:,} records, {c['mb_per_s']} MB/s"))  # fmt: skip
    v = stages.get("validate", {})
    if err("validate"):
        rows.append(("validate alone", "–", "", err("validate") or ""))
    elif v:
        pt = v["passthrough"]
        rows.append(
            (
                "aiokafka passthrough (raw records)",
                f"{_fmt(pt['messages_per_s'])} msg/s",
                "1.00",
                f"{pt['messages']:,} records, {pt['cpu_us_per_message']} µs CPU/msg",
            )
        )
        rows.append(("validate alone (1 worker)", f"{_fmt(v['messages_per_s'])} msg/s",
                     _fmt(v["ratio_to_passthrough"], 3), f"{v['messages']:,} raw records, {v['statuses']}"))  # fmt: skip
    a = stages.get("aggregate", {})
    if err("aggregate"):
        rows.append(("aggregate alone", "–", "", err("aggregate") or ""))
    elif a:
        pt = a["passthrough"]
        rows.append(
            (
                "aiokafka passthrough (validated records)",
                f"{_fmt(pt['messages_per_s'])} msg/s",
                "1.00",
                f"{pt['messages']:,} records",
            )
        )
        fpt = a.get("faust_passthrough")
        if fpt:
            rows.append(
                (
                    "faust agent passthrough (validated records)",
                    f"{_fmt(fpt['messages_per_s'])} msg/s",
                    _fmt(fpt["messages_per_s"] / pt["messages_per_s"], 3) if pt["messages_per_s"] else "",
                    f"{fpt['messages']:,} records; the floor of any faust stage (bench/faust_baseline.py)",
                )
            )
        frp = a.get("faust_runs_passthrough")
        if frp:
            rows.append(
                (
                    "faust agent passthrough, runs (validated records)",
                    f"{_fmt(frp['messages_per_s'])} msg/s",
                    _fmt(frp["messages_per_s"] / pt["messages_per_s"], 3) if pt["messages_per_s"] else "",
                    f"{frp['messages']:,} records; the hub's run path (bench/faust_baseline.py --runs)",
                )
            )
        rows.append(("aggregate alone (1 worker)", f"{_fmt(a['messages_per_s'])} msg/s",
                     _fmt(a["ratio_to_passthrough"], 3),
                     f"{a['messages']:,} validated records, {a['youth']:,} youth; "
                     f"NL snapshot = replay: {a['nl_snapshot_equals_replay']}"))  # fmt: skip
    pl = stages.get("pipeline", {})
    if err("pipeline"):
        rows.append(("pipeline raw → validate → aggregate", "–", "", err("pipeline") or ""))
    elif pl:
        rows.append(("pipeline raw → validate → aggregate", f"{_fmt(pl['messages_per_s'])} msg/s",
                     _fmt(pl["ratio_to_passthrough"], 3),
                     f"{pl['raw_messages']:,} raw records (ratio to the raw passthrough)"))  # fmt: skip
    so = stages.get("scaleout", {})
    if err("scaleout"):
        rows.append(("scale-out: pipeline with 1, 2, 3 workers per service", "–", "", err("scaleout") or ""))
    elif so:
        for s in so["steps"]:
            rows.append((
                f"scale-out: pipeline, {s['workers_per_service']} worker(s) per service",
                f"{_fmt(s['messages_per_s'])} msg/s",
                f"{_fmt(s['ratio_to_1_worker'], 2)} of 1 worker",
                f"{s['cpu_us_per_message']} µs CPU/msg (workers + broker)"
                + (f", workers {s['workers_cpu_us_per_message_net_of_idle']} net of their idle "
                   f"{s['workers_idle_cores']} cores" if "workers_idle_cores" in s else "")
                + "; validate per worker "
                f"{s['validate_messages_per_worker']}, aggregate {s['aggregate_applied_per_worker']}"
                + (f"; {s['reprocessed']} read twice" if s["reprocessed"] else ""),
            ))  # fmt: skip
    lat = stages.get("latency", {})
    if err("latency"):
        rows.append(("end-to-end latency", "–", "", err("latency") or ""))
    elif lat:
        for step in lat["steps"]:
            q = step["latency_s"]
            rows.append((
                f"latency HTTP 202 → NL snapshot at {step['target_rate_per_s']:g}/s",
                f"p50 {_fmt(q['p50'], 2)} s / p95 {_fmt(q['p95'], 2)} s / p99 {_fmt(q['p99'], 2)} s", "",
                f"accepted {step['achieved_accept_rate_per_s']}/s, {step['accepted_http_202']:,} messages, "
                + (f"{step['http_errors']:,} not accepted {step.get('http_errors_by_status', '')}, "
                   if step["http_errors"] else "") +
                f"reflected {step['reflected']:,}" + ("" if step.get("sustained", step["all_reflected"]) else
                f" — NOT sustained ({step['reflected_rate_per_s']}/s end to end)") + _legs_text(step, m["nproc"] or 1)
                + (f"; group lag after the drain {step['group_lag_after_drain']}"
                   if "group_lag_after_drain" in step else ""),
            ))  # fmt: skip
        missing = [
            r
            for r in lat.get("rates", LATENCY_RATES)
            if r not in {s["target_rate_per_s"] for s in lat["steps"]}
        ]
        for rate in missing:
            rows.append(
                (f"latency at {rate:g}/s", "–", "", "not run: a lower rate was already not sustained")
            )
    r = stages.get("replay", {})
    if err("replay"):
        rows.append(("jeugdhub replay", "–", "", err("replay") or ""))
    elif r:
        rows.append(
            (
                "jeugdhub replay (1 CPU)",
                f"{_fmt(r['messages_per_s_wall'])} msg/s",
                "",
                f"{r['lines']:,} lines, wall incl. start-up; {_fmt(r['messages_per_s_cpu'])}/CPU-s",
            )
        )
        rows.append(("replay peak memory", f"{_fmt(r['rss_mib_per_100k_youth'])} MiB per 100,000 youth", "",
                     f"peak {r['peak_rss_mib']} MiB − baseline {r['baseline_rss_mib']} MiB, "
                     f"{r['tracked_youth']:,} youth"))  # fmt: skip
    h = stages.get("history", {})
    if err("history"):
        rows.append(("jeugdhub history --every day", "–", "", err("history") or ""))
    elif h:
        rows.append((
            "jeugdhub history --every day ÷ replay (1 CPU)",
            f"{h['ratio_cpu']:.2f}× CPU, {h['ratio_wall']:.2f}× wall (target ≤ {h['target_ratio']:g})",
            "",
            f"national {h['year']}: {h['lines']:,} lines, {h['rows']:,} rows; history {h['history']['cpu_s']} s CPU, "
            f"replay {h['replay']['cpu_s']} s CPU",
        ))  # fmt: skip
    rc = stages.get("recovery", {})
    if err("recovery"):
        rows.append(("recovery after SIGKILL", "–", "", err("recovery") or ""))
    elif rc:
        rows.append(("aggregate recovery after SIGKILL", f"{_fmt(rc['restart_to_current_figures_s'], 1)} s",
                     "", f"state {rc['state_messages']:,} messages; ready after {rc['restart_to_ready_s']} s; "
                     f"figures correct: {rc['figures_correct']}"))  # fmt: skip
    lines = [
        f"# Benchmark suite ({'quick' if doc['quick'] else 'full'} run, {doc['finished_at']})",
        "",
        f"Machine: {m['nproc']} CPUs, {m['cpu_model']}, Python {m['python']}, Kafka {doc['kafka_version']}, "
        f"core build {m.get('core_build', 'not recorded')}; "
        f"load average (1/5/15 min) before {m['loadavg_before']}, after {m['loadavg_after']}. "
        "Broker, workers and the load generator share these CPUs.",
        "",
        "| Measurement | Result | Ratio to passthrough | Details |",
        "|---|---|---|---|",
        *[f"| {a} | {b} | {c} | {d.replace('|', '/')} |" for a, b, c, d in rows],
        "",
        *(
            [f"Scale-out on {so['cores']} CPUs: {so['what_two_cores_show']}", ""]
            if so and "steps" in so
            else []
        ),
        f"Reproduce: `.venv/bin/python -m bench.suite{' --quick' if doc['quick'] else ''}"
        f"{' --only ' + ' '.join(doc['only']) if doc.get('only') else ''}"
        f"{''.join(f' --set {k}={v}' for k, v in doc.get('service_settings', {}).items())}"
        f"{_rates_option(lat)}"
        f"{' --result ' + doc['result'] if doc.get('result', 'suite') != 'suite' else ''}` "
        f"(all figures of this table come from one run on one broker; raw numbers in {doc.get('result', 'suite')}.json).",
        "",
    ]
    return "\n".join(lines)


# -- main -----------------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="smaller sizes: about 10 minutes")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--keep", action="store_true", help="keep the work directory (logs)")
    parser.add_argument(
        "--only", nargs="*", default=None,
        choices=["kafka_tools", "validate", "aggregate", "pipeline", "scaleout", "latency", "replay", "history",
                 "recovery"],
        help="run only these stages (the result files are still written); e.g. --only scaleout, --only latency",
    )  # fmt: skip
    parser.add_argument(
        "--result", default="suite", help="name of the result files in bench/results (NAME.json, NAME.md)"
    )
    parser.add_argument(
        "--latency-rates", nargs="+", type=float, default=list(LATENCY_RATES), metavar="MSG_PER_S",
        help=f"open-loop rates of the latency stage (default {' '.join(f'{r:g}' for r in LATENCY_RATES)})",
    )  # fmt: skip
    parser.add_argument(
        "--set", action="append", default=[], metavar="JEUGDHUB_NAME=VALUE", dest="settings",
        help="a setting for every service the suite starts (repeatable), e.g. the old default "
             "JEUGDHUB_PUBLISH_INTERVAL_S=1 for a before/after; recorded in the result",
    )  # fmt: skip
    parser.add_argument(
        "--markdown-from", metavar="JSON", help="only (re)write the Markdown table of an earlier result file"
    )
    args = parser.parse_args(argv)
    if args.markdown_from:
        source = Path(args.markdown_from)
        source.with_suffix(".md").write_text(markdown(json.loads(source.read_text())))
        print(source.with_suffix(".md").read_text())
        return 0
    sizes = QUICK if args.quick else FULL
    wanted = set(args.only) if args.only else None
    service_settings = dict(item.split("=", 1) for item in args.settings if "=" in item)
    if len(service_settings) != len(args.settings) or not all(
        k.startswith("JEUGDHUB_") for k in service_settings
    ):
        parser.error("--set takes JEUGDHUB_NAME=VALUE")

    def want(name: str) -> bool:
        return wanted is None or name in wanted

    load_before = harness.loadavg()
    started = time.monotonic()
    version = kafka_version()
    harness.log(f"suite ({'quick' if args.quick else 'full'}): Kafka {version}; sizes {sizes}")
    if want("kafka_tools"):
        kafka_tools.ensure_tools(version)  # before the clock matters: the first run downloads
    stages: dict[str, Any] = {}

    def run(name: str, func: Callable[[], Any]) -> Any:
        t0 = time.monotonic()
        try:
            value = func()
        except (KeyboardInterrupt, SystemExit):
            raise
        except Exception as exc:
            harness.log(f"{name} failed: {type(exc).__name__}: {exc}")
            traceback.print_exc()
            stages[name] = {"error": f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"}
            return None
        result = value[0] if isinstance(value, tuple) else value
        stages[name] = {**result, "stage_wall_s": round(time.monotonic() - t0, 1)}
        return value

    harness.log("generating raw records from the worked example")
    lines = feedgen.expanded(sizes.messages, args.seed)
    records = feedgen.raw_records(lines)
    del lines
    record_size = round(sum(len(v) for _, v in records) / len(records))
    keyring_json = aggregate_bench._keyring_json()

    with harness.cleanup_on_exit() as cleanup:
        workdir = harness.temp_workdir(cleanup, keep=args.keep)
        harness.log(f"work directory {workdir}")
        broker = harness.start_broker(cleanup, workdir)

        def env_of(prefix: str) -> dict[str, str]:
            return aggregate_bench._env(broker, prefix, keyring_json, service_settings)

        if want("kafka_tools"):
            run("kafka_tools", lambda: stage_kafka_tools(broker, sizes, record_size))
        validated = None
        if want("validate") or want("aggregate") or want("pipeline"):
            validated = run(
                "validate", lambda: stage_validate(cleanup, broker, workdir, records, env_of, sizes)
            )
        accepted = int(stages.get("validate", {}).get("statuses", {}).get("accepted", 0))
        if validated is not None and want("aggregate"):
            run("aggregate", lambda: stage_aggregate(cleanup, broker, workdir, validated[1], accepted, sizes,
                                                     args.seed))  # fmt: skip
        if validated is not None and want("pipeline"):
            raw_pt = stages["validate"]["passthrough"]["messages_per_s"]
            run("pipeline", lambda: stage_pipeline(cleanup, broker, workdir, records, accepted, env_of, sizes,
                                                   raw_pt))  # fmt: skip
        if want("scaleout"):
            run(
                "scaleout",
                lambda: scaleout.stage(cleanup, broker, workdir, records, env_of, sizes.stage_timeout_s),
            )
        if want("latency"):
            rates = tuple(args.latency_rates)
            run("latency", lambda: stage_latency(cleanup, broker, workdir, env_of, sizes, args.seed, rates))
        if want("replay"):
            run("replay", lambda: stage_replay(sizes, args.seed, workdir))
        if want("history"):
            run("history", lambda: stage_history(args.seed, workdir, 1 if args.quick else 2))
        if want("recovery"):
            run("recovery", lambda: stage_recovery(cleanup, broker, workdir, sizes, args.seed))

    doc: dict[str, Any] = {
        "benchmark": "suite",
        "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "quick": args.quick,
        "only": sorted(wanted) if wanted else None,
        "service_settings": service_settings,
        "result": args.result,
        "sizes": asdict(sizes),
        "kafka_version": version,
        "total_wall_s": round(time.monotonic() - started, 1),
        "machine": {
            "nproc": os.cpu_count(),
            "cpu_model": harness.cpu_model(),
            "python": harness.machine()["python"],
            "core_build": services.BUILD,  # compiled or pure (why): the workers decide the same way
            "loadavg_before": load_before,
            "loadavg_after": harness.loadavg(),
        },
        "stages": stages,
    }
    harness.RESULTS.mkdir(parents=True, exist_ok=True)
    (harness.RESULTS / f"{args.result}.json").write_text(json.dumps(doc, indent=2) + "\n")
    (harness.RESULTS / f"{args.result}.md").write_text(markdown(doc))
    print(markdown(doc))
    harness.log(f"done in {doc['total_wall_s']} s; bench/results/{args.result}.json and .md written")
    return 0 if not any("error" in s for s in stages.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
