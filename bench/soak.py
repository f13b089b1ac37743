"""Soak: the hub under a steady simulated feed for a long time; memory, lag and staleness must level off.

    .venv/bin/python -m bench.soak --minutes 30 --rate 1000            # the long run (docs/reliability.md)
    .venv/bin/python -m bench.soak --seconds 60 --rate 100             # the short one tests/faults runs
    .venv/bin/python -m bench.soak --brokers 3 --validators 2 --aggregators 2 --minutes 10

Starts its own Kafka (one broker, or ``--brokers 3`` a local cluster; ``--bootstrap`` uses a running
one), ingest and the workers as real processes, and posts a seeded simulated feed over HTTP at
``--rate`` messages/s for the duration. Every ``--interval`` seconds it samples:

- the resident memory (``VmRSS``) of every service process;
- the lag of validate's and aggregate's consumer groups (messages between their committed offsets
  and the end of the raw / validated topic);
- staleness: the age of the oldest acknowledged (202) message that has no retour record yet, read
  from the retour topic as it is written; and, when ingest exposes them, its own
  ``jeugdhub_ingest_pipeline_oldest_unprocessed_seconds`` per stage.

Levelling off, judged on the samples after the first third (start-up and warm-up excluded): the
last third's highest RSS of each service may be at most ``--max-growth`` (default 10 %) above the
middle third's, and the last third's highest lag and staleness at most 50 % above the middle
third's or under a small floor (``rate`` × 5 s of lag, 15 s of staleness), so a pipeline keeping up
passes and one falling further behind fails; and ingest must still acknowledge at least 80 % of the
rate in the last third (a lag that "levels off" because ingest refuses senders with 503 fails). Exit 0 when everything levels off, 1 when not; the
samples and the verdict go to ``bench/results/<--result>.json`` (or ``--output``).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import threading
import time
import urllib.request
import uuid
from collections.abc import Mapping, Sequence
from datetime import date
from pathlib import Path
from typing import Any

from kafka import KafkaConsumer, TopicPartition

from bench.harness import cleanup_on_exit, log, machine, temp_workdir, write_result
from hubdev.localkafka.broker import Broker
from hubdev.localkafka.cluster import Cluster
from services.contracts.codec import decode
from services.contracts.regions import load_region_table
from services.contracts.topics import RAW, RETOUR, VALIDATED
from services.streaming.topic_admin import create_hub_topics
from tests.faults.hub_harness import (
    FeedPoster,
    Hub,
    Key,
    endless_feed,
    group_lag,
    register_tokens,
)

LINES_PER_SCALE = 30_000
"""Lines one simulated year makes at ``--scale 1`` with the soak's small other-care share (measured)."""
ANSWERED_KEPT = 100_000
LAG_FLOOR_S = 5.0
STALENESS_FLOOR_S = 15.0


class RetourFollower:
    """Follows the retour topic and forgets every acknowledged message once its retour is there."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        self.bootstrap = bootstrap
        self.topic = topic
        self.pending: dict[Key, float] = {}
        self.answered: dict[Key, None] = {}
        """Keys answered lately (a retour can beat the 202 to us); the oldest are forgotten."""
        self.retours = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="retours", daemon=True)

    def start(self) -> RetourFollower:
        self._thread.start()
        return self

    def acked(self, key: Key, at: float) -> None:
        with self._lock:
            if key not in self.answered:
                self.pending.setdefault(key, at)

    def oldest_unanswered_s(self) -> float:
        with self._lock:
            first = next(iter(self.pending.values()), None)
        return 0.0 if first is None else time.monotonic() - first

    def _run(self) -> None:
        consumer = KafkaConsumer(
            bootstrap_servers=self.bootstrap, enable_auto_commit=False, isolation_level="read_committed"
        )
        try:
            partitions: set[int] = set()
            while not partitions and not self._stop.is_set():
                partitions = consumer.partitions_for_topic(self.topic) or set()
                time.sleep(0.2)
            tps = [TopicPartition(self.topic, p) for p in sorted(partitions)]
            consumer.assign(tps)
            consumer.seek_to_beginning(*tps)
            while not self._stop.is_set():
                for batch in consumer.poll(timeout_ms=300).values():
                    keys = []
                    for record in batch:
                        retour = decode("Retour", record.value)
                        sender = retour.get("sender") or {}
                        keys.append((str(sender.get("code")), str(retour.get("message_id"))))
                    with self._lock:
                        self.retours += len(keys)
                        for key in keys:
                            self.pending.pop(key, None)
                            self.answered[key] = None
                        while len(self.answered) > ANSWERED_KEPT:
                            del self.answered[next(iter(self.answered))]
        finally:
            consumer.close()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)


def ingest_staleness(hub: Hub) -> dict[str, float]:
    """``jeugdhub_ingest_pipeline_oldest_unprocessed_seconds{stage=...}`` when ingest exposes it."""
    try:
        with urllib.request.urlopen(f"{hub.url}/metrics", timeout=2) as response:
            text = response.read().decode()
    except OSError:
        return {}
    out: dict[str, float] = {}
    for match in re.finditer(
        r'^jeugdhub_ingest_pipeline_(oldest_unprocessed_seconds|backlog_messages)\{stage="([^"]+)"\} (\S+)$',
        text,
        re.MULTILINE,
    ):
        out[f"{match.group(1)}:{match.group(2)}"] = float(match.group(3))
    return out


def thirds(values: Sequence[float]) -> tuple[list[float], list[float]]:
    """The middle and the last third of a series (the first third is warm-up)."""
    n = len(values)
    return list(values[n // 3 : 2 * n // 3]), list(values[2 * n // 3 :])


def verdict(
    samples: Sequence[Mapping[str, Any]], services: Sequence[str], rate: float, max_growth: float
) -> dict[str, Any]:
    """Does every series level off? One entry per series with the two thirds' maxima."""
    checks: dict[str, Any] = {}
    for name in services:
        points = [
            (float(s["rss_mib"][name]), int(s["acknowledged"])) for s in samples if s["rss_mib"].get(name)
        ]
        series = [rss for rss, _ in points]
        middle, last = thirds(series)
        tail = points[2 * len(points) // 3 :]
        if not middle or not last:
            checks[f"rss:{name}"] = {"ok": False, "why": "too few samples"}
            continue
        limit = max(middle) * (1 + max_growth)
        checks[f"rss:{name}"] = {
            "middle_max_mib": round(max(middle), 1),
            "last_max_mib": round(max(last), 1),
            "growth": round(max(last) / max(middle) - 1, 4),
            # state that grows with the data (validate's duplicate table, aggregate's youth) shows
            # here as memory per message; a leak would too, so this tells the size, not the cause
            "kib_per_1000_messages": round(
                (tail[-1][0] - tail[0][0]) * 1024 / max(1, tail[-1][1] - tail[0][1]) * 1000, 1
            ),
            "ok": max(last) <= limit,
        }
    floors = {
        # Lag is counted in offsets. Ingest writes every request as its own transaction, so on the
        # raw topic a one-message request takes two offsets (the record and its commit marker), and
        # faust commits every 2.8 s: a validate keeping up sits at 2 x rate x 3-5 s.
        "lag:validate": 2 * rate * LAG_FLOOR_S,
        "lag:aggregate": rate * LAG_FLOOR_S,
        "staleness_s": STALENESS_FLOOR_S,
    }
    for series_name, floor in floors.items():
        series = [float(s[series_name]) for s in samples if s.get(series_name) is not None]
        middle, last = thirds(series)
        if not middle or not last:
            checks[series_name] = {"ok": False, "why": "too few samples"}
            continue
        checks[series_name] = {
            "middle_max": round(max(middle), 2),
            "last_max": round(max(last), 2),
            "floor": floor,
            "ok": max(last) <= max(max(middle) * 1.5, floor),
        }
    # Kept up with the feed: the senders got 202s at (nearly) the rate to the end, so a lag that
    # "levels off" because ingest stopped admitting (503 pipeline-behind) does not pass.
    timed = [(float(s["t_s"]), int(s["acknowledged"])) for s in samples]
    tail = timed[2 * len(timed) // 3 :]
    if len(tail) >= 2 and tail[-1][0] > tail[0][0]:
        achieved = (tail[-1][1] - tail[0][1]) / (tail[-1][0] - tail[0][0])
        checks["acknowledged_rate"] = {
            "last_third_per_s": round(achieved, 1),
            "target": rate,
            "ok": achieved >= 0.8 * rate,
        }
    else:
        checks["acknowledged_rate"] = {"ok": False, "why": "too few samples"}
    return {"levelled_off": all(c["ok"] for c in checks.values()), "checks": checks}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    length = parser.add_mutually_exclusive_group()
    length.add_argument("--minutes", type=float, help="how long to post (default 30)")
    length.add_argument("--seconds", type=float, help="how long to post, in seconds")
    parser.add_argument("--rate", type=float, default=1000.0, help="messages per second (default 1000)")
    parser.add_argument("--interval", type=float, default=5.0, help="seconds between samples (default 5)")
    parser.add_argument("--brokers", type=int, default=1, help="1: one broker; 3: a local cluster")
    parser.add_argument("--bootstrap", help="use this running Kafka instead of starting one")
    parser.add_argument("--validators", type=int, default=1, help="validate workers (default 1)")
    parser.add_argument("--aggregators", type=int, default=1, help="aggregate workers (default 1)")
    parser.add_argument(
        "--max-growth", type=float, default=0.10, help="RSS growth allowed, last vs middle third"
    )
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--result", default="soak", help="name of bench/results/<name>.json")
    parser.add_argument("--output", type=Path, help="write the result here instead")
    args = parser.parse_args(argv)
    duration = args.seconds if args.seconds is not None else 60.0 * (args.minutes if args.minutes else 30.0)
    needed = int(duration * args.rate * 1.1) + 1000

    with cleanup_on_exit() as cleanup:
        workdir = temp_workdir(cleanup)
        replication = 1
        if args.bootstrap:
            bootstrap = args.bootstrap
        elif args.brokers > 1:
            cluster = Cluster(
                workdir / "cluster", nodes=args.brokers, progress=lambda line: log(f"kafka: {line}")
            )
            cleanup.add("cluster", cluster.stop)
            cluster.start()
            bootstrap, replication = cluster.bootstrap, cluster.replication_factor
        else:
            broker = Broker(workdir / "kafka", progress=lambda line: log(f"kafka: {line}"))
            cleanup.add("broker", broker.stop)
            broker.start()
            bootstrap = broker.bootstrap
        prefix = f"soak{uuid.uuid4().hex[:8]}."
        min_isr = 2 if replication >= 3 else None
        create_hub_topics(bootstrap, prefix, replication_factor=replication, min_insync_replicas=min_isr)
        regions = load_region_table(None)
        scale = max(0.05, needed / (LINES_PER_SCALE * 40))
        lines, senders = endless_feed(args.seed, scale, 2023, regions)
        tokens_file = workdir / "ingest-tokens.json"
        tokens = register_tokens(senders, tokens_file)
        hub = Hub(
            bootstrap,
            prefix,
            workdir / "hub",
            as_of=date(2023, 12, 31),
            tokens_file=tokens_file,
            validators=args.validators,
            aggregators=args.aggregators,
            replication_factor=replication,
            min_insync_replicas=min_isr,
            extra_env={"JEUGDHUB_BATCH_SIZE": "500"},
        )
        cleanup.add("hub", hub.stop)
        log(f"starting ingest, {args.validators} validate, {args.aggregators} aggregate on {bootstrap}")
        startup = hub.start()
        follower = RetourFollower(bootstrap, RETOUR.full_name(prefix)).start()
        cleanup.add("retour follower", follower.stop)
        poster = FeedPoster(
            hub.url, tokens, lines, rate=args.rate, batch_size=200, keep_acks=False, on_ack=follower.acked
        )
        poster.start()
        started = time.monotonic()
        samples: list[dict[str, Any]] = []
        validate_group, aggregate_group = f"{prefix}jeugdhub-validate", f"{prefix}jeugdhub-aggregate"
        log(f"posting at {args.rate:g} messages/s for {duration:g} s; a sample every {args.interval:g} s")
        while time.monotonic() - started < duration:
            time.sleep(max(0.0, args.interval - (time.monotonic() - started) % args.interval))
            if poster.done:
                break
            sample: dict[str, Any] = {
                "t_s": round(time.monotonic() - started, 1),
                "acknowledged": poster.stats.acknowledged,
                "retours": follower.retours,
                "rss_mib": {k: (None if v is None else round(v / 2**20, 1)) for k, v in hub.rss().items()},
                "lag:validate": group_lag(bootstrap, validate_group, RAW.full_name(prefix)),
                "lag:aggregate": group_lag(bootstrap, aggregate_group, VALIDATED.full_name(prefix)),
                "staleness_s": round(follower.oldest_unanswered_s(), 2),
                "ingest": ingest_staleness(hub),
            }
            samples.append(sample)
            log(
                f"t={sample['t_s']:>6}s acked {sample['acknowledged']:>8} lag v/a "
                f"{sample['lag:validate']}/{sample['lag:aggregate']} stale {sample['staleness_s']:>6}s rss "
                + " ".join(f"{k}={v}" for k, v in sample["rss_mib"].items())
            )
        posted_s = time.monotonic() - started
        if poster.error is not None:
            log(f"posting failed: {poster.error!r}")
        result = verdict(samples, list(hub.services), args.rate, args.max_growth)
        document = {
            "machine": machine(),
            "config": {
                "seconds": duration,
                "rate": args.rate,
                "brokers": args.brokers if not args.bootstrap else None,
                "validators": args.validators,
                "aggregators": args.aggregators,
                "interval_s": args.interval,
                "max_growth": args.max_growth,
                "scale": round(scale, 3),
            },
            "startup_s": startup,
            "posted": {
                "seconds": round(posted_s, 1),
                "acknowledged": poster.stats.acknowledged,
                "achieved_rate": round(poster.stats.acknowledged / max(posted_s, 1e-9), 1),
                "retried": dict(poster.stats.retried),
                "refused": dict(poster.stats.refused),
            },
            "verdict": result,
            "samples": samples,
        }
        path = args.output or None
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(document, indent=2) + "\n")
        else:
            path = write_result(args.result, document)
        for name, check in result["checks"].items():
            log(f"{'ok ' if check['ok'] else 'NOT'} {name}: {check}")
        log(f"levelled off: {result['levelled_off']}; result in {path}")
        return 0 if result["levelled_off"] and poster.error is None else 1


if __name__ == "__main__":
    sys.exit(main())
