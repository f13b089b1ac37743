"""The ceiling for any Python stage: a plain aiokafka consume → produce passthrough.

    .venv/bin/python -m bench.baseline --bootstrap 127.0.0.1:PORT --source IN --dest OUT --messages N

One process, one asyncio loop, the same client library and settings the hub's workers use
(aiokafka, ``read_committed``, acks=all, idempotent producer): read every partition of ``--source``
from its start (no consumer group), write each record's key and value unchanged to ``--dest``, in
batches of up to ``--batch`` records (each batch's sends awaited together, as a worker commits a
batch). No decoding, no state. The rate is measured as bench/validate_bench.py measures a worker:
``(N - 1) / (last - first output record timestamp)``, so start-up is not counted. Prints one JSON
object on stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import sys
import time
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition


async def passthrough(bootstrap: str, source: str, dest: str, messages: int, batch: int) -> dict[str, Any]:
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        enable_auto_commit=False,
        isolation_level="read_committed",
        max_partition_fetch_bytes=8 * 1024 * 1024,
        fetch_max_bytes=64 * 1024 * 1024,
    )
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        acks="all",
        enable_idempotence=True,
        linger_ms=5,
        max_batch_size=512 * 1024,
    )
    await consumer.start()
    await producer.start()
    try:
        partitions: set[int] = set()
        deadline = time.monotonic() + 60
        while not partitions:
            partitions = consumer.partitions_for_topic(source) or set()
            if not partitions:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"topic {source} does not exist")
                await consumer._client.force_metadata_update()
                await asyncio.sleep(0.2)
        tps = [TopicPartition(source, p) for p in sorted(partitions)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        first_ts: int | None = None
        last_ts = 0
        count = 0
        started = time.monotonic()
        cpu0 = time.process_time()
        while count < messages:
            fetched = await consumer.getmany(timeout_ms=500, max_records=batch)
            futures = []
            for records in fetched.values():
                for record in records:
                    futures.append(await producer.send(dest, key=record.key, value=record.value))
            if not futures:
                continue
            for metadata in await asyncio.gather(*futures):
                ts = int(metadata.timestamp)
                first_ts = ts if first_ts is None else min(first_ts, ts)
                last_ts = max(last_ts, ts)
            count += len(futures)
        wall = time.monotonic() - started
        cpu = time.process_time() - cpu0
    finally:
        await producer.stop()
        await consumer.stop()
    span_s = (last_ts - (first_ts or last_ts)) / 1000
    return {
        "messages": count,
        "messages_per_s": round((count - 1) / span_s, 1) if span_s > 0 else None,
        "first_to_last_output_s": round(span_s, 2),
        "wall_s": round(wall, 2),
        "cpu_s": round(cpu, 2),
        "cpu_us_per_message": round(cpu * 1e6 / count, 1) if count else None,
        "maxrss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "batch": batch,
    }


def passthrough_parser(description: str | None) -> argparse.ArgumentParser:
    """The options every passthrough baseline takes (this one and bench/faust_baseline.py), so the
    suite runs them with the same arguments."""
    parser = argparse.ArgumentParser(
        description=description, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--source", required=True)
    parser.add_argument("--dest", required=True)
    parser.add_argument("--messages", type=int, required=True, help="stop after this many records")
    parser.add_argument("--batch", type=int, default=500, help="records per batch (the workers' default)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = passthrough_parser(__doc__).parse_args(argv)
    result = asyncio.run(passthrough(args.bootstrap, args.source, args.dest, args.messages, args.batch))
    json.dump(result, sys.stdout)
    print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
