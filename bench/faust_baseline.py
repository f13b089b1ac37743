"""The ceiling for a *faust* stage: a faust agent that passes records through and does nothing else.

    .venv/bin/python -m bench.faust_baseline --bootstrap 127.0.0.1:PORT --source IN --dest OUT --messages N

The hub's workers are faust apps (the stack is fixed), so their per-record cost has a floor that
no domain code can remove: faust's consumer thread, its per-event stream machinery, acks and
commits. This script measures that floor on this machine with the hub's own app factory
(``services.streaming.faust_app.new_faust_app``: the ``jeugdhub://`` transport, ``read_committed``,
idempotent acks=all producer, the same fetch wait), one agent with ``take_events`` in batches of
``--batch`` (the workers' default 500, within 0.05 s), that sends every record's key and value
unchanged to ``--dest`` through ``app.producer.send`` and awaits the batch's acknowledgements, as
the aggregate worker does with its youth-facts upserts. No decoding, no table, no state.
``--no-produce`` only counts (the consume floor).

``--runs`` measures the floor of the hub's own path instead (docs/performance.md, "Batch
agents"): the source delivered as runs (``services.streaming.runs.source_topic``: one faust event
per partition per fetch), batches of whole runs by record count (``take_runs``), and the records
sent as one record batch per partition (``services.streaming.batches.send_record_batches``).

Rate = (N - 1) / (time of the last acknowledged batch - time the first event arrived), so start-up,
group join and topic creation are not counted. Prints one JSON object on stdout and stops.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from bench.baseline import passthrough_parser
from services.settings import WorkerSettings
from services.streaming.batches import send_record_batches
from services.streaming.faust_app import new_faust_app
from services.streaming.producer import kafka_producer
from services.streaming.runs import records_of, source_topic, take_runs
from services.streaming.worker import run_worker


def main(argv: list[str] | None = None) -> int:
    parser = passthrough_parser(__doc__)
    parser.add_argument("--web-port", type=int, default=0, help="faust's web server port (0: any free one)")
    parser.add_argument("--no-produce", action="store_true", help="only consume and count")
    parser.add_argument("--runs", action="store_true", help="the hub's run delivery and batch sends")
    args = parser.parse_args(argv)

    settings = WorkerSettings(
        kafka_bootstrap=args.bootstrap,
        app_id=f"faust-baseline-{uuid.uuid4().hex[:8]}",
        web_port=args.web_port or _free_port(),
        data_dir=Path(tempfile.mkdtemp(prefix="faust-baseline-")),
        batch_size=args.batch,
        log_level="WARNING",
        create_topics=False,
    )
    app = new_faust_app(settings, partitions=6)
    source = (
        source_topic(app, args.source)
        if args.runs
        else app.topic(
            args.source, key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw"
        )
    )
    result: dict[str, Any] = {}
    started: list[float] = []

    def done(count: int) -> None:
        """Print the result once *count* reaches the target, then stop the worker."""
        if count < args.messages or result:
            return
        elapsed = time.monotonic() - started[0]
        result.update(
            {
                "messages": count,
                "seconds": round(elapsed, 3),
                "messages_per_s": round((count - 1) / elapsed, 1) if elapsed > 0 else None,
                "produce": not args.no_produce,
                "runs": args.runs,
                "batch": settings.batch_size,
                "cpu_s": round(time.process_time(), 2),
            }
        )
        print(json.dumps(result), flush=True)
        os.kill(os.getpid(), signal.SIGTERM)  # faust's own clean shutdown

    @app.agent(source, concurrency=1)
    async def passthrough(stream: Any) -> None:
        if args.runs:
            await _runs(stream)
            return
        count = 0
        async for events in stream.take_events(settings.batch_size, within=settings.batch_within_s):
            if not started:
                started.append(time.monotonic())
            if not args.no_produce:
                pending = [
                    await app.producer.send(args.dest, e.message.key, e.message.value, None, None, None)
                    for e in events
                ]
                await asyncio.gather(*pending)
            count += len(events)
            done(count)

    async def _runs(stream: Any) -> None:
        count = 0
        async for events in take_runs(stream, settings.batch_size, settings.batch_within_s):
            if not started:
                started.append(time.monotonic())
            records = records_of(events)
            if not args.no_produce:
                pending = await send_record_batches(
                    kafka_producer(app), args.dest, ((r.key, r.value) for r in records)
                )
                await asyncio.gather(*pending)
            count += len(records)
            done(count)

    return run_worker(app, settings)


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


if __name__ == "__main__":
    raise SystemExit(main())
