"""What the benchmarks share: a local broker, ``jeugdhub`` worker processes, Kafka I/O, profiles, results.

Every process a benchmark starts is stopped on the way out, also on Ctrl-C, SIGTERM or an error:
:class:`Cleanup` runs registered stop functions in reverse order from ``finally``, SIGTERM is turned
into ``KeyboardInterrupt``, and every child also gets the parent-death signal (Linux), so a
benchmark killed with SIGKILL leaves no broker or worker behind. Everything binds to 127.0.0.1 on
free ports.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any

from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from hubdev.localkafka.broker import Broker, free_port, set_parent_death_signal
from hubdev.paths import REPO
from hubdev.processes import JEUGDHUB, Child

RESULTS = REPO / "bench" / "results"


# -- lifecycle ------------------------------------------------------------------------------------
class Cleanup:
    """Stop functions run in reverse order of registration, whatever happens."""

    def __init__(self) -> None:
        self._stops: list[tuple[str, Callable[[], None]]] = []

    def add(self, name: str, stop: Callable[[], None]) -> None:
        self._stops.append((name, stop))

    def run(self) -> None:
        while self._stops:
            name, stop = self._stops.pop()
            try:
                stop()
            except Exception as exc:  # keep stopping the rest
                print(f"cleanup: stopping {name} failed: {exc}", file=sys.stderr)


def _sigterm(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


@contextlib.contextmanager
def cleanup_on_exit() -> Iterator[Cleanup]:
    """``with cleanup_on_exit() as cleanup:``; SIGTERM/SIGHUP become KeyboardInterrupt inside."""
    previous = {sig: signal.signal(sig, _sigterm) for sig in (signal.SIGTERM, signal.SIGHUP)}
    cleanup = Cleanup()
    try:
        yield cleanup
    finally:
        # A second Ctrl-C during cleanup must not leave processes behind.
        old_int = signal.signal(signal.SIGINT, signal.SIG_IGN)
        try:
            cleanup.run()
        finally:
            signal.signal(signal.SIGINT, old_int)
            for sig, handler in previous.items():
                signal.signal(sig, handler)


def start_broker(cleanup: Cleanup, workdir: Path) -> Broker:
    broker = Broker(workdir / "kafka", heap=("512m", "1g"), progress=lambda line: log(f"kafka: {line}"))
    cleanup.add("broker", broker.stop)
    broker.start()
    return broker


def temp_workdir(cleanup: Cleanup, keep: bool = False) -> Path:
    path = Path(tempfile.mkdtemp(prefix="jeugdhub-bench-"))
    if not keep:
        cleanup.add("workdir", lambda: shutil.rmtree(path, ignore_errors=True))
    return path


def write_keyring(path: Path, key_id: str = "bench") -> Path:
    path.write_text(json.dumps({"active": key_id, "keys": {key_id: secrets.token_hex(32)}}))
    return path


def service_env(bootstrap: str, prefix: str, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("JEUGDHUB_")}
    env.update(
        {
            "JEUGDHUB_KAFKA_BOOTSTRAP": bootstrap,
            "JEUGDHUB_TOPIC_PREFIX": prefix,
            "JEUGDHUB_LOG_LEVEL": "INFO",
            "JEUGDHUB_WEB_BIND": "127.0.0.1",
        }
    )
    env.update(extra or {})
    return env


def worker(cleanup: Cleanup, command: str, env: dict[str, str], log_path: Path) -> Child:
    """One ``jeugdhub <command>`` child (not started) with its own log file, a free web port, its
    faust data directory beside the log, and the parent-death signal; *cleanup* stops it."""
    port = free_port()
    # faust keeps a data directory per app (relative paths resolve against the cwd).
    cwd = log_path.parent
    data_dir = cwd / f"faust-{command}-{port}"
    data_dir.mkdir(parents=True, exist_ok=True)
    child = Child(
        command,
        [JEUGDHUB, command],
        {**env, "JEUGDHUB_WEB_PORT": str(port), "JEUGDHUB_DATA_DIR": str(data_dir)},
        log_path,
        port,
        cwd=cwd,
        death_signal=signal.SIGTERM,
        tail_lines=30,
    )
    cleanup.add(f"jeugdhub {command}", child.stop)
    return child


# -- Kafka I/O ------------------------------------------------------------------------------------
def produce(bootstrap: str, topic: str, records: Iterable[tuple[bytes, bytes]]) -> int:
    """Write records as fast as the client allows (acks=all); returns the count."""
    producer = KafkaProducer(
        bootstrap_servers=bootstrap,
        acks="all",
        linger_ms=20,
        batch_size=512 * 1024,
        max_request_size=8 * 1024 * 1024,
    )
    count = 0
    try:
        for key, value in records:
            producer.send(topic, key=key, value=value)
            count += 1
        producer.flush()
    finally:
        producer.close()
    return count


def consumer_for(bootstrap: str, topic: str, from_end: bool = False) -> tuple[KafkaConsumer, list[Any]]:
    """A group-less consumer assigned to every partition of ``topic`` (waits for the topic)."""
    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap,
        enable_auto_commit=False,
        isolation_level="read_committed",
        max_partition_fetch_bytes=8 * 1024 * 1024,
        fetch_max_bytes=64 * 1024 * 1024,
    )
    deadline = time.monotonic() + 60
    partitions: set[int] = set()
    while not partitions:
        partitions = consumer.partitions_for_topic(topic) or set()
        if not partitions:
            if time.monotonic() > deadline:
                consumer.close()
                raise RuntimeError(f"topic {topic} does not exist")
            time.sleep(0.2)
    tps = [TopicPartition(topic, p) for p in sorted(partitions)]
    consumer.assign(tps)
    if from_end:
        consumer.seek_to_end(*tps)
    else:
        consumer.seek_to_beginning(*tps)
    return consumer, tps


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds used so far by ``pid`` (from /proc), or None."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


# -- profiles -------------------------------------------------------------------------------------
def py_spy() -> str | None:
    found = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    return found if Path(found).exists() else None


def start_py_spy(
    cleanup: Cleanup, pid: int, out: Path, duration_s: int, rate: int = 100
) -> subprocess.Popen[bytes]:
    """Sample ``pid`` for ``duration_s`` into collapsed stacks (``py-spy record --format raw``)."""
    exe = py_spy()
    if exe is None:
        raise RuntimeError("py-spy is not installed: .venv/bin/pip install py-spy")
    proc = subprocess.Popen(
        [
            exe,
            "record",
            "--pid",
            str(pid),
            "--format",
            "raw",
            "--rate",
            str(rate),
            "--duration",
            str(duration_s),
            "--output",
            str(out),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        preexec_fn=set_parent_death_signal,
    )

    cleanup.add("py-spy", lambda: stop_process(proc))
    return proc


def stop_process(proc: subprocess.Popen[bytes]) -> None:
    """SIGINT (py-spy writes its output on it), then SIGKILL after 15 s."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def _frame_name(frame: str) -> str:
    """``func (path/to/module.py:123)`` -> ``module.py:func``."""
    name, _, where = frame.partition(" (")
    path = where.rstrip(")").rsplit(":", 1)[0]
    marker = "site-packages/"
    if marker in path:
        path = path.split(marker, 1)[1]
    elif "/work/main/" in path:
        path = path.split("/work/main/", 1)[1]
    else:
        path = Path(path).name
    return f"{path}:{name}"


def summarise_collapsed(path: Path, top: int = 20) -> dict[str, Any]:
    """Self and inclusive sample shares per function from py-spy's collapsed stacks."""
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    idle = 0
    if not path.exists():
        return {"samples": 0, "self": [], "inclusive": []}
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [_frame_name(f) for f in stack.split(";") if f and not f.startswith("process ")]
        frames = [f for f in frames if not f.startswith("thread")] or frames
        if not frames:
            continue
        total += count
        if frames[-1].endswith(("select", "_run_once", "poll")) and "selectors" in frames[-1]:
            idle += count
        own[frames[-1]] += count
        for name in set(frames):
            inclusive[name] += count

    def share(counter: Counter[str]) -> list[dict[str, Any]]:
        return [
            {"function": name, "share": round(n / total, 4) if total else 0.0}
            for name, n in counter.most_common(top)
        ]

    return {"samples": total, "idle_share": round(idle / total, 4) if total else 0.0,
            "self": share(own), "inclusive": share(inclusive)}  # fmt: skip


def print_profile(title: str, summary: Mapping[str, Any], top: int = 15) -> None:
    print(f"\n{title}: {summary['samples']} samples")
    print("  self time:")
    for row in summary["self"][:top]:
        print(f"    {row['share'] * 100:5.1f}%  {row['function']}")


# -- machine and results --------------------------------------------------------------------------
@dataclass(frozen=True)
class ChildRun:
    wall_s: float
    cpu_s: float
    peak_rss_mib: float


def run_measured(command: list[str], preexec_fn: Callable[[], None] | None = None) -> ChildRun:
    """Run *command*; wall time, CPU time and the peak RSS of that process itself.

    The peak comes from ``VmHWM`` in ``/proc/<pid>/status``, read every 20 ms until it exits, not
    from ``ru_maxrss``: Linux carries the parent's high-water mark over fork and exec into the
    child's ``ru_maxrss``, so a child of a big benchmark process reported the parent's size (the
    suite's replay-memory figure came out as 0-1 MiB per 100k youth that way). ``VmHWM`` belongs
    to the exec'd program's own address space. Memory of a replay grows until the end, so the
    last reading is within 20 ms of the peak.
    """
    started = time.perf_counter()
    proc = subprocess.Popen(
        command, stdin=subprocess.DEVNULL, stderr=subprocess.DEVNULL, preexec_fn=preexec_fn
    )
    peak_kib = 0
    status_path = Path(f"/proc/{proc.pid}/status")
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid == proc.pid:
            break
        with contextlib.suppress(OSError):
            for line in status_path.read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peak_kib = max(peak_kib, int(line.split()[1]))
        time.sleep(0.02)
    wall = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RuntimeError(f"{command[0]} exited {proc.returncode}")
    return ChildRun(wall, usage.ru_utime + usage.ru_stime, peak_kib / 1024)


def cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def loadavg() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def machine() -> dict[str, Any]:
    return {
        "nproc": os.cpu_count(),
        "cpu_model": cpu_model(),
        "python": platform.python_version(),
        "loadavg_1_5_15": loadavg(),
    }


def write_result(name: str, result: Mapping[str, Any]) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    document = {"benchmark": name, "finished_at": datetime.now(UTC).isoformat(timespec="seconds"), **result}
    path.write_text(json.dumps(document, indent=2) + "\n")
    return path


def log(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


def percentile(sorted_values: list[float], q: float) -> float:
    """Nearest-rank percentile of an ascending list (q in 0..100)."""
    if not sorted_values:
        return float("nan")
    rank = max(1, min(len(sorted_values), int(-(-q * len(sorted_values) // 100))))
    return sorted_values[rank - 1]
