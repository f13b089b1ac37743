"""``jeugdhub figures`` against the real broker: what a regulator's consumer sees on the three topics.

Records are written as the hub writes them (contract codec, in Kafka transactions), plus an aborted
transaction that must never show and, on the aggregates topic, a record of another schema that is
skipped with a warning. The command runs as a process, as a person or a script would run it.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import IO, Any

import pytest
from kafka import KafkaProducer

from hubdev.localkafka.broker import free_port
from hubdev.processes import JEUGDHUB
from services.contracts.canonical import record_from_json
from services.contracts.codec import encode
from services.contracts.topics import AGGREGATES, AGGREGATES_PUBLIC, FIGURES_DAILY, TopicSpec
from services.regulator.topic_reader import read_daily, read_latest

pytestmark = pytest.mark.integration

KINDS = ("afzondering", "separatie", "fixatie", "insluiting_eigen_kamer")


def exact_row(region: str, as_of: str, base: int) -> dict[str, Any]:
    """A RegionSnapshot in JSON form whose figures all differ, so a wrong column shows."""
    return {
        "region": region,
        "as_of": as_of,
        "computed_at": f"{as_of}T21:59:58Z",
        "occupancy": base,
        "occupancy_residential": base + 1,
        "placements_started_12m": base + 2,
        "youth_placed_12m": base + 3,
        "transfers_12m": base + 4,
        "transfers_between_providers_12m": base + 5,
        "transfers_within_provider_12m": base + 6,
        "perspective_cohort_12m": 8,
        "perspective_in_time_12m": 6,
        "perspective_in_time_rate": 0.75,
        "overdue_without_perspective": base + 7,
        "episodes_ended_12m": base + 8,
        "median_length_of_stay_days_12m": 40.5,
        "restrictive_measures_12m": {
            "afzondering": 1,
            "separatie": base + 9,
            "fixatie": 0,
            "insluiting_eigen_kamer": 2,
        },
    }


def table_cells(row: dict[str, Any]) -> list[str]:
    """The table line of an exact row, cell by cell, as the command's help text documents them."""
    measures = row["restrictive_measures_12m"]
    return [
        row["region"],
        row["as_of"],
        *(str(row[k]) for k in ("occupancy", "occupancy_residential", "placements_started_12m")),
        *(str(row[k]) for k in ("youth_placed_12m", "transfers_12m", "transfers_between_providers_12m")),
        "75.0%",
        str(row["overdue_without_perspective"]),
        str(row["episodes_ended_12m"]),
        "40.5",
        str(measures["separatie"]),
        str(sum(measures.values())),
    ]


def daily_value(row: dict[str, Any], written_late: bool) -> bytes:
    # The daily record is a RegionSnapshot's fields plus written_late.
    snapshot = {k: v for k, v in row.items() if k != "written_late"}
    return encode(
        "DailyRegionFigures", {**record_from_json("RegionSnapshot", snapshot), "written_late": written_late}
    )


class Writer:
    """A transactional producer, as the hub's snapshot publisher writes."""

    def __init__(self, bootstrap: str) -> None:
        self.producer = KafkaProducer(
            bootstrap_servers=bootstrap, transactional_id=f"it-figures-{uuid.uuid4().hex[:8]}", acks="all"
        )
        self.producer.init_transactions()

    def transaction(self, topic: str, records: list[tuple[str, bytes]], *, commit: bool = True) -> None:
        self.producer.begin_transaction()
        for key, value in records:
            self.producer.send(topic, key=key.encode(), value=value)
        self.producer.flush()
        if commit:
            self.producer.commit_transaction()
        else:
            self.producer.abort_transaction()

    def close(self) -> None:
        self.producer.close()


@pytest.fixture
def topics(kafka_bootstrap: str, unique_prefix: str, create_topics: Callable[..., None]) -> str:
    for spec in (AGGREGATES, AGGREGATES_PUBLIC, FIGURES_DAILY):
        create_topics([spec.full_name(unique_prefix)], partitions=spec.partitions, config=spec.config())
    return unique_prefix


@pytest.fixture
def writer(kafka_bootstrap: str) -> Iterator[Writer]:
    w = Writer(kafka_bootstrap)
    try:
        yield w
    finally:
        w.close()


def env_for(bootstrap: str, prefix: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("JEUGDHUB_")}
    return {**env, "JEUGDHUB_KAFKA_BOOTSTRAP": bootstrap, "JEUGDHUB_TOPIC_PREFIX": prefix}


def figures(bootstrap: str, prefix: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [JEUGDHUB, "figures", *args],
        env=env_for(bootstrap, prefix),
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
        check=False,
    )


def jsonl(out: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.splitlines()]


def body_lines(out: str) -> list[list[str]]:
    """The table's rows (after its two header lines), split into cells."""
    lines = out.splitlines()
    assert lines[1].split()[:3] == ["region", "as", "of"], out
    return [line.split() for line in lines[2:]]


def topic(spec: TopicSpec, prefix: str) -> str:
    return spec.full_name(prefix)


def test_latest_committed_snapshot_per_region_as_table_and_jsonl(
    kafka_bootstrap: str, topics: str, writer: Writer
) -> None:
    name = topic(AGGREGATES, topics)
    first = {r: exact_row(r, "2026-06-29", base) for r, base in (("VB01", 10), ("VB02", 20), ("NL", 30))}
    newer = exact_row("VB01", "2026-06-30", 11)
    aborted = [("VB02", exact_row("VB02", "2026-06-30", 999)), ("VB99", exact_row("VB99", "2026-06-30", 5))]
    writer.transaction(
        name,
        [(r, encode("RegionSnapshot", record_from_json("RegionSnapshot", row))) for r, row in first.items()],
    )
    writer.transaction(name, [("VB01", encode("RegionSnapshot", record_from_json("RegionSnapshot", newer)))])
    writer.transaction(
        name,
        [(r, encode("RegionSnapshot", record_from_json("RegionSnapshot", row))) for r, row in aborted],
        commit=False,
    )
    # A record of another schema on the topic: refused by its fingerprint, skipped with a warning.
    public = {**exact_row("VB03", "2026-06-30", 1), "suppressed": []}
    writer.transaction(
        name, [("VB03", encode("PublicRegionSnapshot", record_from_json("PublicRegionSnapshot", public)))]
    )

    as_json = figures(kafka_bootstrap, topics, "--format", "jsonl")
    assert as_json.returncode == 0, as_json.stderr
    assert jsonl(as_json.stdout) == [newer, first["VB02"], first["NL"]]  # regions by code, NL last
    assert "skipped a record that does not decode" in as_json.stderr
    assert "PublicRegionSnapshot" in as_json.stderr and "VB03" in as_json.stderr

    as_table = figures(kafka_bootstrap, topics)
    assert as_table.returncode == 0, as_table.stderr
    assert body_lines(as_table.stdout) == [
        table_cells(newer),
        table_cells(first["VB02"]),
        table_cells(first["NL"]),
    ]
    assert "999" not in as_table.stdout and "VB99" not in as_table.stdout

    # The library call the command is built on gives the same rows, keyed by region.
    assert read_latest(kafka_bootstrap, AGGREGATES, topics, on_error=lambda _text: None) == {
        "VB01": newer,
        "VB02": first["VB02"],
        "NL": first["NL"],
    }

    only = figures(kafka_bootstrap, topics, "--region", "NL", "--region", "VB02", "--format", "jsonl")
    assert jsonl(only.stdout) == [first["VB02"], first["NL"]]
    nothing = figures(kafka_bootstrap, topics, "--region", "VB77")
    assert nothing.returncode == 0
    assert body_lines(nothing.stdout) == []
    assert f"jeugdhub figures: no figures for VB77 on {name}" in nothing.stderr


def test_public_form_marks_suppressed_figures(kafka_bootstrap: str, topics: str, writer: Writer) -> None:
    row = exact_row("VB01", "2026-06-30", 10)
    public = {
        **row,
        "occupancy": 10,
        "occupancy_residential": None,
        "perspective_in_time_rate": None,
        "restrictive_measures_12m": {
            "afzondering": None,
            "separatie": 20,
            "fixatie": 0,
            "insluiting_eigen_kamer": 0,
        },
        "suppressed": [
            "occupancy_residential",
            "perspective_in_time_rate",
            "restrictive_measures_12m.afzondering",
        ],
    }
    writer.transaction(
        topic(AGGREGATES_PUBLIC, topics),
        [("VB01", encode("PublicRegionSnapshot", record_from_json("PublicRegionSnapshot", public)))],
    )
    as_json = figures(kafka_bootstrap, topics, "--public", "--format", "jsonl")
    assert as_json.returncode == 0, as_json.stderr
    assert jsonl(as_json.stdout) == [public]
    as_table = figures(kafka_bootstrap, topics, "--public")
    (cells,) = body_lines(as_table.stdout)[:1]
    assert cells[:4] == ["VB01", "2026-06-30", "10", "*"]
    assert cells[8] == "*"  # the rate, suppressed on a small cohort
    assert cells[-2:] == ["20", "*"]  # separatie shown, the total unknown with afzondering withheld
    assert as_table.stdout.splitlines()[-1].startswith("* suppressed in the public form")


def test_history_one_row_per_region_and_day(kafka_bootstrap: str, topics: str, writer: Writer) -> None:
    name = topic(FIGURES_DAILY, topics)
    days = ("2026-06-28", "2026-06-29", "2026-06-30")
    rows = {
        (r, d): exact_row(r, d, base + i)
        for i, d in enumerate(days)
        for r, base in (("NL", 40), ("VB01", 10))
    }
    late = ("VB01", "2026-06-29")
    writer.transaction(name, [(f"{r}:{d}", daily_value(row, (r, d) == late)) for (r, d), row in rows.items()])
    writer.transaction(
        name, [("VB01:2026-07-01", daily_value(exact_row("VB01", "2026-07-01", 99), False))], commit=False
    )

    def expected(r: str, d: str) -> dict[str, Any]:
        return {**rows[(r, d)], "written_late": (r, d) == late}

    as_json = figures(kafka_bootstrap, topics, "--history", "--format", "jsonl")
    assert as_json.returncode == 0, as_json.stderr
    order = [(r, d) for d in days for r in ("VB01", "NL")]  # by day, then region with NL last
    assert jsonl(as_json.stdout) == [expected(r, d) for r, d in order]
    assert read_daily(kafka_bootstrap, topics, regions={"VB01"}) == [expected("VB01", d) for d in days]

    as_table = figures(kafka_bootstrap, topics, "--history", "--region", "VB01")
    assert as_table.returncode == 0, as_table.stderr
    assert as_table.stdout.splitlines()[1].split()[-1] == "written"
    assert body_lines(as_table.stdout) == [
        table_cells(rows[("VB01", d)]) + (["late"] if ("VB01", d) == late else []) for d in days
    ]


class LineReader(threading.Thread):
    """Collects a process's output lines, so a test can wait for one without blocking forever."""

    def __init__(self, stream: IO[str]) -> None:
        super().__init__(daemon=True)
        self.stream = stream
        self.lines: queue.Queue[str] = queue.Queue()

    def run(self) -> None:
        for text in self.stream:
            self.lines.put(text.rstrip("\n"))

    def next(self, timeout_s: float = 30.0) -> str:
        return self.lines.get(timeout=timeout_s)


@pytest.mark.parametrize("output", ["jsonl", "table"])
def test_follow_prints_each_new_committed_record_and_stops_on_ctrl_c(
    kafka_bootstrap: str, topics: str, writer: Writer, output: str
) -> None:
    name = topic(AGGREGATES, topics)
    start = exact_row("VB01", "2026-06-30", 10)
    writer.transaction(name, [("VB01", encode("RegionSnapshot", record_from_json("RegionSnapshot", start)))])
    process = subprocess.Popen(
        [JEUGDHUB, "figures", "--follow", "--format", output],
        env=env_for(kafka_bootstrap, topics),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
    )
    reader = LineReader(process.stdout)  # type: ignore[arg-type]
    reader.start()
    try:
        if output == "table":
            reader.next(), reader.next()  # the header
            assert reader.next().split() == table_cells(start)
        else:
            assert json.loads(reader.next()) == start
        update = exact_row("VB01", "2026-07-01", 12)
        other = exact_row("VB02", "2026-07-01", 20)
        writer.transaction(
            name,
            [
                (
                    "VB01",
                    encode(
                        "RegionSnapshot",
                        record_from_json("RegionSnapshot", exact_row("VB01", "2026-07-01", 999)),
                    ),
                )
            ],
            commit=False,
        )
        writer.transaction(
            name, [("VB01", encode("RegionSnapshot", record_from_json("RegionSnapshot", update)))]
        )
        writer.transaction(
            name, [("VB02", encode("RegionSnapshot", record_from_json("RegionSnapshot", other)))]
        )
        got = [reader.next(), reader.next()]
        if output == "table":
            assert [line.split() for line in got] == [table_cells(update), table_cells(other)]
        else:
            assert [json.loads(line) for line in got] == [update, other]
        started = time.monotonic()
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=10) == 0
        assert time.monotonic() - started < 5
        stderr = process.stderr.read() if process.stderr else ""
        assert "Traceback" not in stderr and "interrupted" not in stderr, stderr
        with pytest.raises(queue.Empty):
            reader.next(timeout_s=0.5)  # nothing after the two updates: the aborted one never showed
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_missing_topic_and_unreachable_kafka_end_in_one_line(
    kafka_bootstrap: str, unique_prefix: str
) -> None:
    # Both commands wait out their timeouts (topic, bootstrap: 10 s each): run them side by side.
    with ThreadPoolExecutor(2) as pool:
        waiting = pool.submit(figures, kafka_bootstrap, unique_prefix, "--history")
        nobody = figures(f"127.0.0.1:{free_port()}", unique_prefix)
        missing = waiting.result()
    assert missing.returncode == 1
    assert missing.stderr.strip() == (
        f"jeugdhub figures: topic {FIGURES_DAILY.full_name(unique_prefix)} does not exist on {kafka_bootstrap} "
        "(or this user may not read it)"
    )
    assert nobody.returncode == 1
    (line,) = nobody.stderr.strip().splitlines()
    assert line.startswith("jeugdhub figures: Kafka: ") and "Unable to bootstrap" in line
