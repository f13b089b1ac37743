"""The provisional history with two aggregate workers (one app id) on the real broker: the publisher
is SIGKILLed just before a midnight, then (after it came back) right after the next one, before or
after its write; the other takes over each time. Every region-day is on the daily topic exactly
once, with the figures the workers knew when the day ended (not late: the survivor captured the day
too), equal to replay's."""

from __future__ import annotations

import time
from datetime import date, timedelta
from pathlib import Path

import pytest

from hubdev.paths import SPEC_EXAMPLES
from hubdev.processes import Child
from hubdev.waiting import wait_until
from services.contracts.topics import RAW
from services.streaming.topic_admin import create_hub_topics
from tests.integration.hub_processes import day_file_env, produce, running, write_keyring
from tests.integration.messages_support import raw_records
from tests.integration.test_aggregate_daily import (
    aggregate_process,
    assert_once_per_key,
    check_day,
    daily_records,
    replay_rows,
    set_day,
    wait_for_snapshots,
)

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not SPEC_EXAMPLES.is_dir(), reason="worked example not available"),
]
DAY = timedelta(days=1)
FIRST = date(2026, 3, 28)


def _publisher(workers: dict[str, Child]) -> str:
    """The worker that publishes now (its gauge is 1), waiting for one."""
    found = wait_until(
        lambda: [
            name for name, w in workers.items() if w.metric("jeugdhub_aggregate_snapshot_publisher") == 1
        ],
        lambda names: len(names) == 1,
        timeout_s=60,
    )
    assert len(found) == 1, f"publishers: {found}"
    return found[0]


def test_one_record_per_key_with_two_workers_and_the_publisher_killed_at_midnight(
    kafka_bootstrap: str, unique_prefix: str, tmp_path: Path
) -> None:
    create_hub_topics(kafka_bootstrap, unique_prefix)
    lines = (SPEC_EXAMPLES / "feed.jsonl").read_bytes().splitlines()
    as_of_file = tmp_path / "as-of"
    set_day(as_of_file, FIRST)
    env = day_file_env(kafka_bootstrap, unique_prefix, write_keyring(tmp_path / "keyring.json"), as_of_file)
    bootstrap, prefix = kafka_bootstrap, unique_prefix
    # the workers start while validate does
    workers = {"a": aggregate_process(env, tmp_path, "a-1"), "b": aggregate_process(env, tmp_path, "b-1")}
    try:
        with running("validate", env, tmp_path / "validate.log"):
            for worker in workers.values():
                worker.wait_ready(90)
            check_day(bootstrap, prefix, FIRST - DAY, replay_rows([], FIRST - DAY), late=True)
            produce(bootstrap, RAW.full_name(prefix), raw_records(lines))
            wait_for_snapshots(bootstrap, prefix, FIRST, replay_rows(lines, FIRST))
            # Both workers' states reflect every message once the other has read the facts too.
            tracked = wait_until(
                lambda: [w.metric("jeugdhub_aggregate_youth_tracked") for w in workers.values()],
                lambda counts: len(set(counts)) == 1 and counts[0] not in (None, 0),
            )
            assert len(set(tracked)) == 1, f"youth tracked: {tracked}"
            time.sleep(1)

            # The publisher dies just before midnight: the other worker saw the day end too, and
            # writes what it knew then once it has taken over (not late).
            killed = _publisher(workers)
            workers[killed].kill()
            set_day(as_of_file, FIRST + DAY)
            check_day(bootstrap, prefix, FIRST, replay_rows(lines, FIRST), late=False)
            workers[killed] = aggregate_process(env, tmp_path, f"{killed}-2")
            workers[killed].wait_ready(90)

            # Midnight, and the publisher dies within a round of it (before or after its write).
            killed = _publisher(workers)
            set_day(as_of_file, FIRST + 2 * DAY)
            time.sleep(0.3)
            workers[killed].kill()
            check_day(bootstrap, prefix, FIRST + DAY, replay_rows(lines, FIRST + DAY), late=False)
            workers[killed] = aggregate_process(env, tmp_path, f"{killed}-3")
            workers[killed].wait_ready(90)

            set_day(as_of_file, FIRST + 3 * DAY)
            check_day(bootstrap, prefix, FIRST + 2 * DAY, replay_rows(lines, FIRST + 2 * DAY), late=False)
            time.sleep(3)  # rounds of both workers, and of a rebalance if one comes
            records = daily_records(bootstrap, prefix)
    finally:
        for worker in workers.values():
            worker.stop()
    assert_once_per_key(records)
    assert len(records) == 4 * len(replay_rows([], FIRST))
