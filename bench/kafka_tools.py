"""Kafka's own ``ProducerPerformance`` / ``ConsumerPerformance``: the broker's ceiling on this machine.

``org.apache.kafka:kafka-tools`` (same version as the broker, read from ``deploy/local/pom.xml``
via :func:`hubdev.localkafka.jars.kafka_version`) is resolved with ``bench/kafka-tools-pom.xml``
into ``deploy/local/cache/tools-<version>/`` (git-ignored), a folder of its own: the broker's
classpath (``jars-<version>/``) must never contain ``kafka-tools``. The tools then run as
``java -cp '<broker jars>/*:<tools jars>/*' org.apache.kafka.tools.ProducerPerformance …``.
Like the broker's cache, the folder is created whole (scratch directory, manifest, rename).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
import uuid
from pathlib import Path
from typing import Any

from hubdev.localkafka.broker import find_java, set_parent_death_signal
from hubdev.localkafka.jars import (
    CACHE_ROOT,
    MANIFEST_NAME,
    JarResolutionError,
    classpath,
    ensure_jars,
    is_complete,
    kafka_version,
)

TOOLS_POM = Path(__file__).resolve().parent / "kafka-tools-pom.xml"


def tools_dir(version: str) -> Path:
    return CACHE_ROOT / f"tools-{version}"


def ensure_tools(version: str | None = None) -> Path:
    """The tools' jar folder for the broker's Kafka version, resolving it with Maven if needed."""
    version = version or kafka_version()
    target = tools_dir(version)
    if is_complete(target):
        return target
    mvn = shutil.which("mvn")
    if mvn is None:
        raise JarResolutionError("Maven (`mvn`) is not on PATH; it is needed once to fetch kafka-tools")
    CACHE_ROOT.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=f".tools-{version}-", dir=CACHE_ROOT))
    try:
        out = subprocess.run(
            [mvn, "-B", "-q", "-f", str(TOOLS_POM), "dependency:copy-dependencies",
             f"-Dkafka.version={version}", f"-DoutputDirectory={scratch}", "-DincludeScope=runtime"],
            capture_output=True, text=True, stdin=subprocess.DEVNULL, check=False,
        )  # fmt: skip
        if out.returncode != 0:
            raise JarResolutionError(
                f"mvn exited {out.returncode}:\n{out.stdout[-3000:]}{out.stderr[-2000:]}"
            )
        jars = sorted(p.name for p in scratch.glob("*.jar"))
        if f"kafka-tools-{version}.jar" not in jars:
            raise JarResolutionError(f"Maven resolved no kafka-tools-{version}.jar: {jars}")
        (scratch / MANIFEST_NAME).write_text("\n".join(jars) + "\n", encoding="utf-8")
        if is_complete(target):
            return target
        if target.exists():
            shutil.rmtree(target)
        scratch.rename(target)
        return target
    finally:
        if scratch.exists():
            shutil.rmtree(scratch, ignore_errors=True)


def tools_classpath() -> str:
    """Broker jars first, then the tools' extra jars (kafka-tools, argparse4j, connect-runtime, …)."""
    return f"{classpath(ensure_jars(progress=None))}:{classpath(ensure_tools())}"


def _run(main_class: str, arguments: list[str], timeout_s: float) -> str:
    proc = subprocess.run(
        [find_java(), "-Xmx512m", "-cp", tools_classpath(), main_class, *arguments],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=timeout_s,
        check=False,
        preexec_fn=set_parent_death_signal,
    )
    if proc.returncode != 0:
        raise RuntimeError(
            f"{main_class} exited {proc.returncode}:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}"
        )
    return proc.stdout


_PRODUCER_SUMMARY = re.compile(
    r"(?P<records>\d+) records sent, (?P<rate>[\d.]+) records/sec \((?P<mb>[\d.]+) MB/sec\), "
    r"(?P<avg>[\d.]+) ms avg latency, (?P<max>[\d.]+) ms max latency"
    r"(?:, (?P<p50>\d+) ms 50th, (?P<p95>\d+) ms 95th, (?P<p99>\d+) ms 99th)?"
)


def parse_producer_output(text: str) -> dict[str, Any]:
    """The final summary line of ProducerPerformance (the last match: interim lines come first)."""
    matches = list(_PRODUCER_SUMMARY.finditer(text))
    if not matches:
        raise ValueError(f"no ProducerPerformance summary in:\n{text[-1500:]}")
    m = matches[-1]
    result: dict[str, Any] = {
        "records": int(m["records"]),
        "records_per_s": float(m["rate"]),
        "mb_per_s": float(m["mb"]),
        "avg_latency_ms": float(m["avg"]),
        "max_latency_ms": float(m["max"]),
    }
    if m["p50"] is not None:
        result.update({"p50_ms": int(m["p50"]), "p95_ms": int(m["p95"]), "p99_ms": int(m["p99"])})
    return result


def parse_consumer_output(text: str) -> dict[str, Any]:
    """ConsumerPerformance's CSV: a header line naming the columns, then one line of values."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    for i, line in enumerate(lines[:-1]):
        if line.startswith("start.time"):
            names = [n.strip() for n in line.split(",")]
            values = [v.strip() for v in lines[i + 1].split(",")]
            row = dict(zip(names, values, strict=False))
            return {
                "records": int(row["data.consumed.in.nMsg"]),
                "records_per_s": float(row["nMsg.sec"]),
                "mb_per_s": float(row["MB.sec"]),
                "fetch_records_per_s": float(row.get("fetch.nMsg.sec", "nan")),
                "rebalance_time_ms": float(row.get("rebalance.time.ms", "nan")),
            }
    raise ValueError(f"no ConsumerPerformance header in:\n{text[-1500:]}")


def producer_performance(
    bootstrap: str, topic: str, records: int, record_size: int, timeout_s: float = 600.0
) -> dict[str, Any]:
    """``ProducerPerformance --throughput -1`` (acks=all, the client's other defaults)."""
    arguments = ["--bootstrap-server", bootstrap, "--topic", topic, "--num-records", str(records),
                 "--record-size", str(record_size), "--throughput", "-1",
                 "--command-property", "acks=all"]  # fmt: skip
    return {
        "tool": "org.apache.kafka.tools.ProducerPerformance",
        "record_size": record_size,
        **parse_producer_output(_run("org.apache.kafka.tools.ProducerPerformance", arguments, timeout_s)),
    }


def consumer_performance(
    bootstrap: str, topic: str, records: int, timeout_s: float = 600.0
) -> dict[str, Any]:
    """``ConsumerPerformance`` reading ``records`` from the topic's start (fresh group)."""
    arguments = ["--bootstrap-server", bootstrap, "--topic", topic, "--num-records", str(records),
                 "--timeout", "60000", "--group", f"perf-{uuid.uuid4().hex[:8]}"]  # fmt: skip
    return {
        "tool": "org.apache.kafka.tools.ConsumerPerformance",
        **parse_consumer_output(_run("org.apache.kafka.tools.ConsumerPerformance", arguments, timeout_s)),
    }
