"""Ingest throughput and latency over real HTTP on loopback, against a real local Kafka.

    python -m bench.ingest_bench                      # starts a broker and the service itself
    python -m bench.ingest_bench --url http://127.0.0.1:8080 --token TOKEN --code 12345678

Without ``--url`` it starts a single-node Kafka (hubdev.localkafka) in a temporary directory,
creates the hub's topics under a fresh prefix, issues a token, and runs ``jeugdhub ingest`` as a
child process with the rate limit raised out of the way; this process is the HTTP client. Three
scenarios, each bounded in time:

1. batches of 1, closed loop (``--concurrency`` requests in flight): single-message requests/s;
2. batches of 100, closed loop: messages/s;
3. batches of 1 at a fixed ``--rate`` (open loop): p50/p99 latency, measured from each request's
   scheduled start so a stall is not hidden by the client waiting (no coordinated omission).

Targets (issue): >= 2,000 requests/s at batch 1, >= 20,000 messages/s at batch 100, p99 < 100 ms
at 500 requests/s. Everything runs on one machine: client, service and broker share its cores.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.parse
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import orjson

from hubdev.paths import REPO
from hubdev.records import placement

SENDER_CODE = "12345678"


def message(code: str) -> dict[str, object]:
    """A realistic placement_started message (about 450 bytes) with a fresh message_id."""
    return placement(provider=code, message_id=str(uuid.uuid4()), placement_id="P-bench")


@dataclass
class Result:
    name: str
    requests: int
    messages: int
    errors: int
    seconds: float
    latencies: list[float]
    cpu: str = ""

    def pct(self, p: float) -> float:
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))] * 1000

    def line(self) -> str:
        return (
            f"{self.name:34} {self.requests / self.seconds:9.0f} req/s {self.messages / self.seconds:9.0f} msg/s"
            f"   p50 {self.pct(50):7.1f} ms   p99 {self.pct(99):7.1f} ms   errors {self.errors}"
            + (f"\n{'':34} CPU: {self.cpu}" if self.cpu else "")
        )


class CpuMeter:
    """CPU used by the service and broker processes, and by the whole machine, over one scenario.

    On a shared machine the figures only mean something next to how busy the machine was:
    other processes' load shows up as ``machine`` busy time the two processes do not account for.
    """

    def __init__(self, pids: dict[str, int]) -> None:
        self.pids = pids
        self.tick = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
        self._start: tuple[float, dict[str, float], tuple[float, float]] | None = None

    def _proc(self, pid: int) -> float:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return 0.0
        return (int(fields[11]) + int(fields[12])) / self.tick

    def _machine(self) -> tuple[float, float]:
        try:
            values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
        except OSError:
            return (0.0, 0.0)
        idle = values[3] + values[4]
        return (sum(values) / self.tick, idle / self.tick)

    def start(self) -> None:
        self._start = (time.perf_counter(), {n: self._proc(p) for n, p in self.pids.items()}, self._machine())

    def stop(self) -> str:
        if self._start is None or not self.pids:
            return ""
        began, procs, (total0, idle0) = self._start
        wall = time.perf_counter() - began
        total1, idle1 = self._machine()
        parts = [f"{n} {(self._proc(p) - procs[n]) / wall:.2f} cores" for n, p in self.pids.items()]
        cpus = os.cpu_count() or 1
        if total1 > total0:
            busy = (total1 - total0 - (idle1 - idle0)) / (total1 - total0) * cpus
            ours = sum((self._proc(p) - procs[n]) / wall for n, p in self.pids.items())
            parts.append(
                f"machine {busy:.2f} of {cpus} cores busy ({max(0.0, busy - ours):.2f} by other processes)"
            )
        return ", ".join(parts)


class Connection:
    """A minimal HTTP/1.1 keep-alive client connection.

    aiohttp's client costs several times the CPU of the request it sends; on a 2-core machine
    shared by client, service and broker that would measure the client. This one writes a
    prepared request and reads the status line, headers and Content-Length body.
    """

    def __init__(self, host: str, port: int, token: str) -> None:
        self.host, self.port = host, port
        self.head = (
            f"POST /v1/messages HTTP/1.1\r\nHost: {host}:{port}\r\nAuthorization: Bearer {token}\r\n"
            "Content-Type: application/json\r\nContent-Length: "
        ).encode()
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def post(self, body: bytes) -> int:
        """Send one POST /v1/messages; the status code, or 0 on a connection error."""
        try:
            if self.writer is None or self.reader is None:
                self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
            self.writer.write(b"%s%d\r\n\r\n%s" % (self.head, len(body), body))
            head = await self.reader.readuntil(b"\r\n\r\n")
            status = int(head[9:12])
            length = 0
            for line in head.split(b"\r\n"):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            await self.reader.readexactly(length)
            return status
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError):
            await self.close()
            return 0

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            with contextlib.suppress(OSError):
                await self.writer.wait_closed()
        self.reader = self.writer = None


def _body(code: str, batch: int) -> bytes:
    return orjson.dumps(message(code) if batch == 1 else [message(code) for _ in range(batch)])


def _host_port(base: str) -> tuple[str, int]:
    url = urllib.parse.urlsplit(base)
    return url.hostname or "127.0.0.1", url.port or 80


async def closed_loop(
    base: str, token: str, code: str, batch: int, concurrency: int, seconds: float
) -> Result:
    host, port = _host_port(base)
    latencies: list[float] = []
    counts = {"ok": 0, "err": 0}
    deadline = time.perf_counter() + seconds
    connections = [Connection(host, port, token) for _ in range(concurrency)]

    async def worker(connection: Connection) -> None:
        while time.perf_counter() < deadline:
            body = _body(code, batch)
            t0 = time.perf_counter()
            status = await connection.post(body)
            latencies.append(time.perf_counter() - t0)
            counts["ok" if status == 202 else "err"] += 1

    started = time.perf_counter()
    await asyncio.gather(*(worker(c) for c in connections))
    elapsed = time.perf_counter() - started
    for connection in connections:
        await connection.close()
    name = f"batch {batch:>3}, {concurrency} in flight"
    return Result(name, counts["ok"], counts["ok"] * batch, counts["err"], elapsed, latencies)


async def open_loop(base: str, token: str, code: str, rate: float, seconds: float) -> Result:
    host, port = _host_port(base)
    latencies: list[float] = []
    counts = {"ok": 0, "err": 0}
    idle: list[Connection] = []
    everyone: set[Connection] = set()

    async def one(scheduled: float) -> None:
        connection = idle.pop() if idle else Connection(host, port, token)
        everyone.add(connection)
        status = await connection.post(_body(code, 1))
        latencies.append(time.perf_counter() - scheduled)
        counts["ok" if status == 202 else "err"] += 1
        idle.append(connection)

    total = int(rate * seconds)
    started = time.perf_counter()
    tasks = []
    for i in range(total):
        scheduled = started + i / rate
        delay = scheduled - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(scheduled)))
    await asyncio.gather(*tasks)
    elapsed = time.perf_counter() - started
    for connection in everyone:
        await connection.close()
    name = f"batch   1, open loop {rate:g} req/s"
    return Result(name, counts["ok"], counts["ok"], counts["err"], elapsed, latencies)


async def run_scenarios(
    base: str, token: str, code: str, args: argparse.Namespace, pids: dict[str, int] | None = None
) -> list[Result]:
    # Warm-up: the first transactions (metadata, partitions added) are slower than steady state,
    # and a freshly started broker JVM spends its first tens of seconds compiling its hot paths.
    warm_until = time.perf_counter() + args.warmup
    while time.perf_counter() < warm_until:
        await closed_loop(base, token, code, 1, 16, 1.0)
        await closed_loop(base, token, code, 100, 4, 1.0)
    meter = CpuMeter({**pids, "client": os.getpid()} if pids else {})
    scenarios: list[Callable[[], Awaitable[Result]]] = [
        lambda: closed_loop(base, token, code, 1, args.concurrency, args.seconds),
        lambda: closed_loop(base, token, code, 100, args.batch_concurrency, args.seconds),
        lambda: open_loop(base, token, code, args.rate, args.seconds),
    ]
    results = []
    for scenario in scenarios:
        meter.start()
        result = await scenario()
        result.cpu = meter.stop()
        results.append(result)
    return results


@contextlib.contextmanager
def local_service(args: argparse.Namespace) -> Iterator[tuple[str, str, dict[str, int]]]:
    """Broker + topics + token + ``jeugdhub ingest`` child; yields (base URL, token, pids)."""
    from hubdev.localkafka.broker import Broker, free_port
    from services.ingest.tokens import Sender, add_token
    from services.streaming.topic_admin import create_hub_topics

    workdir = Path(tempfile.mkdtemp(prefix="ingest-bench-"))
    broker = Broker(workdir / "kafka", progress=lambda line: print(f"localkafka: {line}", file=sys.stderr))
    service: subprocess.Popen[bytes] | None = None
    try:
        broker.start()
        prefix = f"bench{uuid.uuid4().hex[:8]}."
        create_hub_topics(broker.bootstrap, prefix)
        tokens = workdir / "tokens.json"
        token = add_token(tokens, Sender("provider", SENDER_CODE))
        port = free_port()
        env = {
            **os.environ,
            "JEUGDHUB_KAFKA_BOOTSTRAP": broker.bootstrap,
            "JEUGDHUB_TOPIC_PREFIX": prefix,
            "JEUGDHUB_INGEST_TOKENS_FILE": str(tokens),
            "JEUGDHUB_INGEST_HOST": "127.0.0.1",
            "JEUGDHUB_INGEST_PORT": str(port),
            "JEUGDHUB_INGEST_RATE_PER_S": "10000000",
            "JEUGDHUB_INGEST_RATE_BURST": "10000000",
            # No worker consumes here: the pipeline only falls behind, so admission bounds are off.
            "JEUGDHUB_INGEST_ADMISSION_MAX_LAG_MESSAGES": "0",
            "JEUGDHUB_INGEST_ADMISSION_MAX_STALENESS_S": "0",
            "JEUGDHUB_INGEST_PRODUCERS": str(args.producers),
            "JEUGDHUB_LOG_LEVEL": "WARNING",
        }
        log = (workdir / "ingest.log").open("wb")
        service = subprocess.Popen(
            [sys.executable, "-m", "services.cli", "ingest"], cwd=REPO, env=env, stdout=log, stderr=log
        )
        base = f"http://127.0.0.1:{port}"
        _wait_ready(base, service, timeout_s=60.0)
        yield base, token, {"service": service.pid, "broker": broker.pid or 0}
    finally:
        if service is not None and service.poll() is None:
            service.send_signal(signal.SIGTERM)
            try:
                service.wait(20)
            except subprocess.TimeoutExpired:
                service.kill()
                service.wait()
        broker.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def _wait_ready(base: str, service: subprocess.Popen[bytes], timeout_s: float) -> None:
    import urllib.error
    import urllib.request

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if service.poll() is not None:
            raise SystemExit(f"ingest exited with {service.returncode} before it was ready")
        try:
            with urllib.request.urlopen(f"{base}/readyz", timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.2)
    raise SystemExit("ingest not ready in time")


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--url", help="a running ingest service (else one is started with its own broker)")
    parser.add_argument("--token", help="bearer token for --url")
    parser.add_argument("--code", default=SENDER_CODE, help="the token's provider AGB code (with --url)")
    parser.add_argument("--seconds", type=float, default=10.0, help="duration of each scenario")
    parser.add_argument("--warmup", type=float, default=20.0, help="seconds of load before measuring")
    parser.add_argument("--concurrency", type=int, default=64, help="requests in flight, batch 1")
    parser.add_argument("--batch-concurrency", type=int, default=8, help="requests in flight, batch 100")
    parser.add_argument("--rate", type=float, default=500.0, help="open-loop request rate")
    parser.add_argument("--producers", type=int, default=2, help="JEUGDHUB_INGEST_PRODUCERS (local service)")
    args = parser.parse_args()
    if args.seconds <= 0 or args.seconds > 120:
        parser.error("--seconds must be in (0, 120]")
    if args.warmup < 0 or args.warmup > 300:
        parser.error("--warmup must be in [0, 300]")
    if args.url:
        if not args.token:
            parser.error("--url needs --token")
        results = asyncio.run(run_scenarios(args.url.rstrip("/"), args.token, args.code, args))
    else:
        with local_service(args) as (base, token, pids):
            results = asyncio.run(run_scenarios(base, token, SENDER_CODE, args, pids))
    print(f"ingest benchmark ({os.cpu_count()} CPUs, client, service and broker on one machine)")
    for result in results:
        print(result.line())
    single, batched, paced = results
    checks = [
        ("batch 1 >= 2000 req/s", single.requests / single.seconds >= 2000),
        ("batch 100 >= 20000 msg/s", batched.messages / batched.seconds >= 20000),
        (f"p99 < 100 ms at {args.rate:g} req/s", paced.pct(99) < 100),
    ]
    print("targets: " + "; ".join(f"{name}: {_mark(ok)}" for name, ok in checks))
    return 0 if all(r.errors == 0 for r in results) else 1


def _mark(ok: bool) -> str:
    return "met" if ok else "NOT met"


if __name__ == "__main__":
    raise SystemExit(main())
