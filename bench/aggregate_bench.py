"""``jeugdhub aggregate`` on a real local Kafka: (a) throughput of ONE worker, (b) end-to-end latency.

    .venv/bin/python -m bench.aggregate_bench                  # both parts
    .venv/bin/python -m bench.aggregate_bench --part throughput --messages 100000
    .venv/bin/python -m bench.aggregate_bench --part latency --rate 500 --seconds 30

Both parts start their own single-node Kafka in a temporary directory (free 127.0.0.1 ports) and
run the services as ``jeugdhub`` child processes with ``JEUGDHUB_AS_OF=2026-03-31`` and the
example region table.

(a) Throughput. The worked example feed is expanded to at least ``--messages`` *accepted*
messages and judged in-process with the validate step's own pipeline (``judge_lines``, as
``jeugdhub replay`` does); each accepted message is encoded as the ``ValidatedMessage`` record the
validate worker would write (key: youth pseudonym) and pre-loaded on the validated topic. Then ONE
``jeugdhub aggregate`` starts; its ``jeugdhub_aggregate_events_applied_total`` counter is sampled
every 0.25 s. Throughput = (N - count at the first non-zero sample) / (time of the sample that
reaches N - time of that first sample), so start-up and table recovery are not counted. Finally
the NL snapshot on the aggregates topic must equal replay's figures for the same messages.

(b) Latency. ``jeugdhub validate`` and ``jeugdhub aggregate`` run side by side (publish interval
1 s, the default). Raw records are produced open-loop at ``--rate`` messages/s for ``--seconds``:
each is a ``placement_started`` of a *new* youth in closed care, open on the as-of date, so each
raises the national ``occupancy`` by exactly one and nothing else changes it. A reader follows
the aggregates topic; the k-th produced message counts as reflected by the first ``NL`` snapshot
whose occupancy is at least k (counted from the warm-up's end). Its latency is that snapshot's
broker timestamp minus the k-th message's send time (both this machine's clock). Matching by
rank ("FIFO") makes the mean exact whatever the order; percentiles are exact when messages are
reflected in produce order and otherwise approximate it (messages on six partitions can overtake
each other by a batch). The publish throttle (each region at most once per second) is part of
what is measured, as a consumer of the aggregates topic sees it.

(c) Latency from *accepted by validate* (``--part latency --source validated``), the measure of the
aggregate issue ("a message accepted by validate is reflected in the aggregates topic within 2 s"):
only ``jeugdhub aggregate`` runs; the same new-youth messages are judged in-process by the validate
step's pipeline and their ``ValidatedMessage`` records are produced open-loop on the validated topic
at ``--rate``, so each send is the moment validate would have had the message accepted. Latency and
matching as in (b).

Results go to ``bench/results/aggregate.json``.
"""

from __future__ import annotations

import argparse
import random
import threading
import time
import uuid
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import orjson
from kafka import KafkaProducer

from bench import feedgen, harness
from hubdev.localkafka.broker import Broker
from services.contracts.canonical import record_to_json, validated_from_json
from services.contracts.codec import decode, encode
from services.contracts.regions import load_region_table
from services.contracts.topics import AGGREGATES, RAW, VALIDATED, YOUTH_FACTS
from services.privacy.pseudonym import Keyring
from services.replay.offline import figures_document, judge_lines
from services.streaming.topic_admin import create_hub_topics

AS_OF = "2026-03-31"
THROUGHPUT_TARGET = 10_000
LATENCY_P99_TARGET_S = 2.0


def rank_latencies(seen: list[tuple[float, int]], sent_at: list[float]) -> list[float]:
    """Latency of the k-th sent message: the time of the first snapshot whose count (above the
    baseline) reached k, minus its send time ("FIFO" rank matching; see the module docstring).
    Messages never reflected get no latency."""
    latencies: list[float] = []
    j = 0
    for k in range(1, len(sent_at) + 1):
        while j < len(seen) and seen[j][1] < k:
            j += 1
        if j == len(seen):
            break
        latencies.append(seen[j][0] - sent_at[k - 1])
    return latencies


def _keyring_json(key_id: str = "bench") -> str:
    import json
    import secrets

    return json.dumps({"active": key_id, "keys": {key_id: secrets.token_hex(32)}})


def _env(
    broker: Broker, prefix: str, keyring_json: str, extra: dict[str, str] | None = None
) -> dict[str, str]:
    return harness.service_env(
        broker.bootstrap,
        prefix,
        {
            "JEUGDHUB_KEYRING_JSON": keyring_json,
            "JEUGDHUB_REGIONS_FILE": str(feedgen.REGIONS),
            "JEUGDHUB_AS_OF": AS_OF,
            **(extra or {}),
        },
    )


def latest_snapshots(bootstrap: str, topic: str) -> dict[str, dict[str, Any]]:
    """The last RegionSnapshot per key on the aggregates topic (JSON form)."""
    consumer, tps = harness.consumer_for(bootstrap, topic)
    latest: dict[str, dict[str, Any]] = {}
    try:
        ends = consumer.end_offsets(tps)
        while any(consumer.position(tp) < ends[tp] for tp in tps):
            for records in consumer.poll(timeout_ms=500).values():
                for record in records:
                    latest[record.key.decode()] = record_to_json(
                        "RegionSnapshot", decode("RegionSnapshot", record.value)
                    )
    finally:
        consumer.close()
    return latest


# -- (a) throughput -------------------------------------------------------------------------------
def throughput(
    args: argparse.Namespace, cleanup: harness.Cleanup, broker: Broker, workdir: Path
) -> dict[str, Any]:
    regions = load_region_table(feedgen.REGIONS)
    keyring_json = _keyring_json()
    keyring = Keyring.from_json(keyring_json)
    lines = feedgen.expanded(int(args.messages * feedgen.FEED_LINES / 725) + 1, args.seed)
    harness.log(f"judging {len(lines)} lines in-process to get the validated records")
    result = judge_lines(lines, keyring, regions)
    expected = figures_document(result, date.fromisoformat(AS_OF), regions)["regions"]
    records = []
    for youth, messages in result.by_youth.items():
        key = youth.encode()
        for message in messages:
            records.append((key, encode("ValidatedMessage", validated_from_json(message))))
    random.Random(args.seed).shuffle(records)  # arrival order across youth, as on a busy topic
    n = len(records)
    prefix = f"bencha{uuid.uuid4().hex[:8]}."
    create_hub_topics(broker.bootstrap, prefix)
    harness.produce(broker.bootstrap, VALIDATED.full_name(prefix), records)
    harness.log(f"pre-loaded {n} validated records ({len(result.by_youth)} youth)")
    del records, lines

    worker = harness.worker(
        cleanup, "aggregate", _env(broker, prefix, keyring_json), workdir / "aggregate-a.log"
    )
    started = time.monotonic()
    worker.start()
    spy = None
    profile_path = workdir / "aggregate.pyspy.txt"
    if not args.no_profile and harness.py_spy() is not None:
        spy = harness.start_py_spy(cleanup, worker.pid, profile_path, duration_s=int(args.timeout))
    worker.wait_ready(120)
    cpu_ready = harness.cpu_seconds(worker.pid)  # start-up and table recovery: not per message
    samples: list[tuple[float, float]] = []
    deadline = time.monotonic() + args.timeout
    while time.monotonic() < deadline:
        count = worker.metric("jeugdhub_aggregate_events_applied_total") or 0.0
        samples.append((time.monotonic(), count))
        if count >= n:
            break
        time.sleep(0.25)
    cpu_s = harness.cpu_seconds(worker.pid)
    if spy is not None:
        harness.stop_process(spy)
    first = next((s for s in samples if s[1] > 0), None)
    last = samples[-1]
    if first is None or last[1] < n:
        raise RuntimeError(
            f"aggregate applied {last[1]:.0f} of {n} in {args.timeout} s:\n{worker.log_tail()}"
        )
    rate = (n - first[1]) / (last[0] - first[0]) if last[0] > first[0] else float("inf")

    # correctness: the published figures equal replay's
    nl_expected = expected[-1]
    snapshot: dict[str, Any] = {}
    check_deadline = time.monotonic() + 60
    while time.monotonic() < check_deadline:
        snapshot = latest_snapshots(broker.bootstrap, AGGREGATES.full_name(prefix)).get("NL", {})
        if {k: snapshot.get(k) for k in nl_expected} == nl_expected:
            break
        time.sleep(1)
    figures_equal = {k: snapshot.get(k) for k in nl_expected} == nl_expected
    worker.stop()
    return {
        "messages": n,
        "youth": len(result.by_youth),
        "messages_per_s": round(rate, 1),
        "apply_window_s": round(last[0] - first[0], 2),
        "wall_from_process_start_s": round(last[0] - started, 2),
        "worker_cpu_s": cpu_s,
        **cpu_after_ready(cpu_ready, cpu_s, n),
        "nl_snapshot_equals_replay": figures_equal,
        "target_messages_per_s": THROUGHPUT_TARGET,
        "profile": harness.summarise_collapsed(profile_path) if spy is not None else None,
    }


def cpu_after_ready(cpu_ready: float | None, cpu_end: float | None, n: int) -> dict[str, Any]:
    """The worker's CPU from ready to done: per message, and messages per CPU-second (what the
    worker would reach with a core of its own; the steadier figure on a shared machine)."""
    if cpu_ready is None or cpu_end is None or cpu_end <= cpu_ready:
        return {}
    used = cpu_end - cpu_ready
    return {
        "worker_cpu_after_ready_s": round(used, 2),
        "worker_cpu_us_per_message_after_ready": round(used * 1e6 / n, 1),
        "messages_per_worker_cpu_s": round(n / used, 1),
    }


# -- (b) latency ----------------------------------------------------------------------------------
def _new_youth_message(rng: random.Random, as_of: date) -> dict[str, Any]:
    start = as_of - timedelta(days=rng.randrange(1, 60))
    message = {
        "message_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        "message_type": "placement_started",
        "status": "new",
        "cancels_message_id": None,
        "sender": {"kind": "provider", "code": "10000001"},
        "created_at": f"{start}T12:00:00Z",
        "bsn": feedgen.valid_bsn(rng),
        "birth_date": f"{2008 + rng.randrange(6)}-0{1 + rng.randrange(9)}-1{rng.randrange(10)}",
        "municipality_code": rng.choice(["0363", "0599", "0344", "0014", "0772"]),
        "placement_id": f"L{rng.getrandbits(40):010x}",
        "provider_agb": "10000001",
        "location_code": "L1",
        "care_type": "gesloten",
        "legal_basis": "machtiging",
        "start_date": start.isoformat(),
    }
    return message


class SnapshotFollower(threading.Thread):
    """Follows the aggregates topic from its start: (broker timestamp s, NL occupancy) per snapshot."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        super().__init__(daemon=True)
        self.bootstrap, self.topic = bootstrap, topic
        self.seen: list[tuple[float, int]] = []
        self.stop = threading.Event()

    def run(self) -> None:
        consumer, _ = harness.consumer_for(self.bootstrap, self.topic)
        try:
            while not self.stop.is_set():
                for records in consumer.poll(timeout_ms=100).values():
                    for record in records:
                        if record.key == b"NL":
                            occupancy = decode("RegionSnapshot", record.value)["occupancy"]
                            self.seen.append((record.timestamp / 1000, occupancy))
        finally:
            consumer.close()

    def occupancy(self) -> int:
        return self.seen[-1][1] if self.seen else 0


def _read_timestamps(bootstrap: str, topic: str, key_of: Any) -> dict[Any, float]:
    """First broker timestamp (s) per ``key_of(record)`` on ``topic``, read to its current end."""
    consumer, tps = harness.consumer_for(bootstrap, topic)
    first: dict[Any, float] = {}
    try:
        ends = consumer.end_offsets(tps)
        while any(consumer.position(tp) < ends[tp] for tp in tps):
            for records in consumer.poll(timeout_ms=500, max_records=20_000).values():
                for record in records:
                    first.setdefault(key_of(record), record.timestamp / 1000)
    finally:
        consumer.close()
    return first


def _stage_latencies(
    bootstrap: str, prefix: str, prepared: list[tuple[bytes, bytes]], sent_at: list[float]
) -> dict[str, list[float]]:
    """Where the time goes: send -> validated record, validated -> youth-facts record (p50, p99)."""
    validated: dict[str, tuple[float, str]] = {}
    consumer, tps = harness.consumer_for(bootstrap, VALIDATED.full_name(prefix))
    try:
        ends = consumer.end_offsets(tps)
        while any(consumer.position(tp) < ends[tp] for tp in tps):
            for records in consumer.poll(timeout_ms=500, max_records=20_000).values():
                for record in records:
                    message = decode("ValidatedMessage", record.value)
                    validated[str(message["message_id"])] = (
                        record.timestamp / 1000,
                        message["youth_pseudonym"],
                    )
    finally:
        consumer.close()
    facts = _read_timestamps(bootstrap, YOUTH_FACTS.full_name(prefix), lambda r: r.key.decode())
    to_validated, to_facts = [], []
    for (key, _), sent in zip(prepared, sent_at, strict=True):
        found = validated.get(key.decode().split(":", 1)[1])
        if found is None:
            continue
        to_validated.append(found[0] - sent)
        if found[1] in facts:
            to_facts.append(facts[found[1]] - found[0])

    def p50_p99(values: list[float]) -> list[float]:
        values.sort()
        return [round(harness.percentile(values, 50), 3), round(harness.percentile(values, 99), 3)]

    return {"send_to_validated": p50_p99(to_validated), "validated_to_youth_facts": p50_p99(to_facts)}


def validated_records(lines: list[bytes], keyring: Keyring) -> list[tuple[bytes, bytes]]:
    """What the validate worker would write for ``lines`` (judged in-process, as replay does),
    in the order of ``lines``; rejected lines have no record."""
    result = judge_lines(lines, keyring, load_region_table(feedgen.REGIONS))
    by_id = {
        message["message_id"]: (youth.encode(), encode("ValidatedMessage", validated_from_json(message)))
        for youth, messages in result.by_youth.items()
        for message in messages
    }
    ids = (orjson.loads(line)["message_id"] for line in lines)
    return [by_id[i] for i in ids if i in by_id]


def latency(
    args: argparse.Namespace, cleanup: harness.Cleanup, broker: Broker, workdir: Path
) -> dict[str, Any]:
    from_validated = args.source == "validated"
    prefix = f"benchl{uuid.uuid4().hex[:8]}."
    create_hub_topics(broker.bootstrap, prefix)
    keyring_json = _keyring_json()
    env = _env(broker, prefix, keyring_json)
    validate = None
    if not from_validated:
        validate = harness.worker(cleanup, "validate", env, workdir / "validate-b.log").start()
    aggregate = harness.worker(cleanup, "aggregate", env, workdir / "aggregate-b.log").start()
    if validate is not None:
        validate.wait_ready(120)
    aggregate.wait_ready(120)
    follower = SnapshotFollower(broker.bootstrap, AGGREGATES.full_name(prefix))
    follower.start()
    cleanup.add("snapshot follower", follower.stop.set)
    producer = KafkaProducer(bootstrap_servers=broker.bootstrap, acks="all", linger_ms=0)
    cleanup.add("producer", producer.close)
    rng = random.Random(args.seed)
    as_of = date.fromisoformat(AS_OF)
    keyring = Keyring.from_json(keyring_json)

    def prepare(count: int) -> list[tuple[bytes, bytes]]:
        messages = [_new_youth_message(rng, as_of) for _ in range(count)]
        if from_validated:
            return validated_records([orjson.dumps(m) for m in messages], keyring)
        return [feedgen.raw_record(m) for m in messages]

    topic = VALIDATED.full_name(prefix) if from_validated else RAW.full_name(prefix)
    # warm-up: a few messages, until they show (consumer groups joined, tables recovered)
    warm = 20
    for key, value in prepare(warm):
        producer.send(topic, key=key, value=value)
    producer.flush()
    deadline = time.monotonic() + 120
    while follower.occupancy() < warm:
        if time.monotonic() > deadline:
            raise RuntimeError(f"warm-up not reflected:\n{aggregate.log_tail()}")
        time.sleep(0.1)
    time.sleep(2)  # let the throttle's interval pass
    base = follower.occupancy()

    total = int(args.rate * args.seconds)
    prepared = prepare(total)
    assert len(prepared) == total, "every new-youth message is accepted"
    harness.log(f"producing {total} {args.source} records at {args.rate}/s (open loop)")
    sent_at: list[float] = []
    start = time.time() + 0.1
    interval = 1.0 / args.rate
    for i, (key, value) in enumerate(prepared):
        due = start + i * interval
        delay = due - time.time()
        if delay > 0:
            time.sleep(delay)
        sent_at.append(time.time())
        producer.send(topic, key=key, value=value)
    producer.flush()
    produce_span = sent_at[-1] - sent_at[0]
    deadline = time.monotonic() + args.timeout
    while follower.occupancy() < base + total and time.monotonic() < deadline:
        time.sleep(0.2)
    follower.stop.set()
    follower.join(10)

    reflected = follower.occupancy() - base
    if from_validated:
        facts = _read_timestamps(broker.bootstrap, YOUTH_FACTS.full_name(prefix), lambda r: r.key)
        to_facts = sorted(
            facts[key] - sent for (key, _), sent in zip(prepared, sent_at, strict=True) if key in facts
        )
        stages = {"send_to_youth_facts": [round(harness.percentile(to_facts, q), 3) for q in (50, 99)]}
    else:
        stages = _stage_latencies(broker.bootstrap, prefix, prepared, sent_at)
    seen = [(t, occ - base) for t, occ in follower.seen if occ > base]
    latencies = sorted(rank_latencies(seen, sent_at[:total]))
    return {
        "source": args.source,
        "measured_from": "send of the ValidatedMessage record (accepted by validate)"
        if from_validated
        else "send of the raw record",
        "rate_per_s": args.rate,
        "seconds": args.seconds,
        "messages": total,
        "achieved_send_rate_per_s": round((total - 1) / produce_span, 1) if produce_span > 0 else None,
        "reflected": reflected,
        "nl_snapshots": len(seen),
        "latency_s": {
            "p50": round(harness.percentile(latencies, 50), 3),
            "p95": round(harness.percentile(latencies, 95), 3),
            "p99": round(harness.percentile(latencies, 99), 3),
            "max": round(latencies[-1], 3) if latencies else None,
            "mean": round(sum(latencies) / len(latencies), 3) if latencies else None,
        },
        "stages_p50_p99_s": stages,
        "target_p99_s": LATENCY_P99_TARGET_S,
        "validate_cpu_s": harness.cpu_seconds(validate.pid) if validate is not None else None,
        "aggregate_cpu_s": harness.cpu_seconds(aggregate.pid),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--part", choices=["throughput", "latency", "both"], default="both")
    parser.add_argument(
        "--messages", type=int, default=100_000, help="(a) at least this many validated records"
    )
    parser.add_argument("--rate", type=float, default=500.0, help="(b) raw messages per second")
    parser.add_argument("--seconds", type=float, default=30.0, help="(b) how long to produce")
    parser.add_argument(
        "--source",
        choices=["raw", "validated"],
        default="raw",
        help="latency from a raw record (validate + aggregate running, (b)) or from a validated record "
        "(aggregate only, (c))",
    )
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--no-profile", action="store_true", help="(a) do not sample the worker with py-spy")
    parser.add_argument("--timeout", type=float, default=900.0)
    parser.add_argument("--keep", action="store_true", help="keep the work directory (logs, profile)")
    parser.add_argument("--result", default="aggregate", help="name of the JSON file in bench/results")
    args = parser.parse_args(argv)

    load_before = harness.loadavg()
    result: dict[str, Any] = {}
    with harness.cleanup_on_exit() as cleanup:
        workdir = harness.temp_workdir(cleanup, keep=args.keep)
        harness.log(f"work directory {workdir}")
        broker = harness.start_broker(cleanup, workdir)
        if args.part in ("throughput", "both"):
            result["throughput"] = throughput(args, cleanup, broker, workdir)
            t = result["throughput"]
            print(f"aggregate (a): {t['messages']} validated records, {t['youth']} youth: "
                  f"{t['messages_per_s']:,.0f} messages/s applied by one worker (target {THROUGHPUT_TARGET:,}); "
                  f"NL snapshot equals replay: {t['nl_snapshot_equals_replay']}")  # fmt: skip
            if t["profile"] is not None:
                harness.print_profile("aggregate worker profile (py-spy)", t["profile"])
        if args.part in ("latency", "both"):
            result["latency"] = latency(args, cleanup, broker, workdir)
            lat = result["latency"]
            q = lat["latency_s"]
            print(f"aggregate ({'c' if args.source == 'validated' else 'b'}): {lat['messages']} {args.source} messages at {lat['rate_per_s']:.0f}/s "
                  f"(achieved {lat['achieved_send_rate_per_s']}/s), reflected {lat['reflected']}: produce -> first "
                  f"NL RegionSnapshot p50 {q['p50']:.2f} s, p95 {q['p95']:.2f} s, p99 {q['p99']:.2f} s "
                  f"(target p99 < {LATENCY_P99_TARGET_S:.0f} s); stages p50/p99 {lat['stages_p50_p99_s']}")  # fmt: skip
    result["machine"] = {**harness.machine(), "loadavg_before": load_before}
    path = harness.write_result(args.result, result)
    print(f"load average now {harness.loadavg()}, before {load_before}; result in {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
