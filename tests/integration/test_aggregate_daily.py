"""The provisional history on the real broker: validate + aggregate as processes, the worked example
fed in two halves, and the worker's day moved by ``JEUGDHUB_AS_OF_FILE``. The daily topic must hold
exactly one record per region per day, equal to replay's figures as of that day over the messages
the worker had then: on time for the days the worker saw end, late for the days it was down over,
and nothing written twice after a SIGKILL and a restart."""

from __future__ import annotations

import time
from collections import Counter
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from hubdev.localkafka.broker import free_port
from hubdev.paths import SPEC_EXAMPLES
from hubdev.processes import Child
from services.contracts.canonical import record_to_json
from services.contracts.codec import decode
from services.contracts.regions import load_region_table
from services.contracts.topics import AGGREGATES, FIGURES_DAILY, RAW
from services.privacy.pseudonym import ephemeral_keyring
from services.replay.offline import figures_document, judge_lines
from services.streaming.topic_admin import create_hub_topics
from tests.integration.hub_processes import (
    day_file_env,
    produce,
    read_all,
    running,
    service_process,
    write_keyring,
)
from tests.integration.messages_support import raw_records

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not SPEC_EXAMPLES.is_dir(), reason="worked example not available"),
]
DAY = timedelta(days=1)
FIRST = date(2026, 3, 27)
"""The worker's first day; the example's national figures differ on each of the days after it."""


def replay_rows(lines: list[bytes], as_of: date) -> list[dict[str, Any]]:
    regions = load_region_table(SPEC_EXAMPLES / "regions.csv")
    result = judge_lines(lines, ephemeral_keyring(), regions)
    rows: list[dict[str, Any]] = figures_document(result, as_of, regions)["regions"]
    return rows


def daily_records(bootstrap: str, prefix: str) -> list[tuple[str, dict[str, Any]]]:
    """Every committed record of the daily topic, in log order: (key, value in JSON form)."""
    return [
        (
            record.key.decode(),
            record_to_json("DailyRegionFigures", decode("DailyRegionFigures", record.value)),
        )
        for record in read_all(bootstrap, FIGURES_DAILY.full_name(prefix), timeout_s=10)
    ]


def rows_of_day(records: list[tuple[str, dict[str, Any]]], day: date) -> list[dict[str, Any]] | None:
    """The day's figures rows in replay's order (regions sorted, then NL), or None while incomplete."""
    found = {value["region"]: value for _, value in records if value["as_of"] == day.isoformat()}
    if not found:
        return None
    order = sorted(r for r in found if r != "NL") + (["NL"] if "NL" in found else [])
    return [
        {k: v for k, v in found[r].items() if k not in ("as_of", "computed_at", "written_late")}
        for r in order
    ]


def late_flags(records: list[tuple[str, dict[str, Any]]], day: date) -> set[bool]:
    return {value["written_late"] for _, value in records if value["as_of"] == day.isoformat()}


def wait_for_day(
    bootstrap: str, prefix: str, day: date, expected: list[dict[str, Any]], timeout_s: float = 90
) -> list[tuple[str, dict[str, Any]]]:
    """Wait until every region's record of ``day`` is on the daily topic; returns every record."""
    deadline = time.monotonic() + timeout_s
    regions = {row["region"] for row in expected}
    while True:
        records = daily_records(bootstrap, prefix)
        got = rows_of_day(records, day)
        if got is not None and {row["region"] for row in got} >= regions:
            return records
        if time.monotonic() > deadline:
            raise AssertionError(
                f"no complete day {day} on the daily topic; it holds {sorted(k for k, _ in records)}"
            )
        time.sleep(0.3)


def check_day(
    bootstrap: str, prefix: str, day: date, expected: list[dict[str, Any]], late: bool
) -> list[tuple[str, dict[str, Any]]]:
    """Wait for ``day`` on the daily topic; its rows must be ``expected``, every one ``late`` or not."""
    records = wait_for_day(bootstrap, prefix, day, expected)
    assert rows_of_day(records, day) == expected, day
    assert late_flags(records, day) == {late}, day
    return records


def wait_for_snapshots(bootstrap: str, prefix: str, day: date, expected: list[dict[str, Any]]) -> None:
    """Wait until the aggregates topic's latest rows are ``expected`` as of ``day`` (the worker's
    state then reflects exactly those messages)."""
    deadline = time.monotonic() + 120
    latest: dict[str, dict[str, Any]] = {}
    want = {row["region"]: row for row in expected}
    while time.monotonic() < deadline:
        for record in read_all(bootstrap, AGGREGATES.full_name(prefix), timeout_s=10):
            value = record_to_json("RegionSnapshot", decode("RegionSnapshot", record.value))
            latest[value["region"]] = value
        shown = {
            region: {k: v for k, v in value.items() if k not in ("as_of", "computed_at")}
            for region, value in latest.items()
            if value["as_of"] == day.isoformat()
        }
        if shown == want:
            return
        time.sleep(0.3)
    raise AssertionError(f"the aggregates topic never showed replay's figures as of {day}")


def set_day(path: Path, day: date) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(day.isoformat())
    tmp.replace(path)  # atomic: the worker never reads half a date


def aggregate_process(env: dict[str, str], tmp_path: Path, name: str) -> Child:
    port = free_port()
    return service_process(
        "aggregate",
        {**env, "JEUGDHUB_WEB_PORT": str(port), "JEUGDHUB_DATA_DIR": str(tmp_path / f"data-{name}")},
        tmp_path / f"{name}.log",
        port,
    ).start()


def assert_once_per_key(records: list[tuple[str, dict[str, Any]]]) -> None:
    counts = Counter(key for key, _ in records)
    assert [key for key, n in counts.items() if n > 1] == []
    for key, value in records:
        assert key == f"{value['region']}:{value['as_of']}"


def test_one_record_per_region_and_day_on_time_late_and_across_a_restart(
    kafka_bootstrap: str, unique_prefix: str, tmp_path: Path
) -> None:
    create_hub_topics(kafka_bootstrap, unique_prefix)
    lines = (SPEC_EXAMPLES / "feed.jsonl").read_bytes().splitlines()
    first, second = lines[: len(lines) // 2], lines[len(lines) // 2 :]
    as_of_file = tmp_path / "as-of"
    set_day(as_of_file, FIRST)
    env = day_file_env(kafka_bootstrap, unique_prefix, write_keyring(tmp_path / "keyring.json"), as_of_file)
    bootstrap, prefix = kafka_bootstrap, unique_prefix
    worker = aggregate_process(env, tmp_path, "aggregate-1")  # starts while validate does
    try:
        with running("validate", env, tmp_path / "validate.log"):
            worker.wait_ready(90)
            # An empty daily topic: history starts with yesterday, written late (nothing known yet).
            check_day(bootstrap, prefix, FIRST - DAY, replay_rows([], FIRST - DAY), late=True)

            produce(bootstrap, RAW.full_name(prefix), raw_records(first))
            wait_for_snapshots(bootstrap, prefix, FIRST, replay_rows(first, FIRST))
            set_day(as_of_file, FIRST + DAY)  # midnight: the first day ends, as the worker knows it
            check_day(bootstrap, prefix, FIRST, replay_rows(first, FIRST), late=False)

            produce(bootstrap, RAW.full_name(prefix), raw_records(second))
            wait_for_snapshots(bootstrap, prefix, FIRST + DAY, replay_rows(lines, FIRST + DAY))
            set_day(as_of_file, FIRST + 2 * DAY)
            check_day(bootstrap, prefix, FIRST + DAY, replay_rows(lines, FIRST + DAY), late=False)
            worker.kill()  # SIGKILL: no clean resignation

            # Down over two midnights: the restarted worker writes both missed days late, from its
            # state (every message), and rewrites none of the days already there.
            set_day(as_of_file, FIRST + 4 * DAY)
            worker = aggregate_process(env, tmp_path, "aggregate-2")
            worker.wait_ready(90)
            for missed in (FIRST + 2 * DAY, FIRST + 3 * DAY):
                check_day(bootstrap, prefix, missed, replay_rows(lines, missed), late=True)
            assert replay_rows(lines, FIRST + 2 * DAY) != replay_rows(lines, FIRST + 3 * DAY)
            set_day(as_of_file, FIRST + 5 * DAY)
            check_day(bootstrap, prefix, FIRST + 4 * DAY, replay_rows(lines, FIRST + 4 * DAY), late=False)
            time.sleep(2)  # a few more rounds: nothing is written again
            records = daily_records(bootstrap, prefix)
            worker.stop()
    finally:
        worker.kill()  # a no-op after the stop; on a failure: no worker left running
    assert_once_per_key(records)
    regions = len(replay_rows([], FIRST))
    assert len(records) == 6 * regions  # FIRST - 1 ... FIRST + 4, every region and NL once
    assert rows_of_day(records, FIRST) == replay_rows(first, FIRST)  # untouched by the restart
