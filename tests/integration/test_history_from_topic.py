"""``jeugdhub history --from-topic`` and ``jeugdhub rebuild`` on the real broker, with validate and
aggregate as real processes: both read the aggregate's youth-messages changelog plus the validated
records it has not applied yet (services/aggregate/state_source.py). The worked example's first half
is applied by the aggregate, which then stops; the validated topic loses those records (deleted up
to the aggregate's committed offsets, which is what retention does); the second half is validated
only. The history read back equals the history of the feed file row for row, every day of a year,
and rebuild gives replay's figures."""

from __future__ import annotations

import json
import os
import subprocess
from datetime import date
from pathlib import Path

import pytest
from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition

from hubdev.paths import SPEC_EXAMPLES
from hubdev.processes import JEUGDHUB
from services.aggregate.state_source import changelog_topic
from services.cli import main
from services.contracts.regions import load_region_table
from services.contracts.topics import RAW, RETOUR, VALIDATED
from services.streaming.topic_admin import create_hub_topics
from tests.integration.hub_processes import (
    committed_to_end,
    produce,
    read_all,
    running_all,
    service_env,
    write_keyring,
)
from tests.integration.messages_support import raw_records
from tests.integration.test_aggregate_daily import replay_rows, wait_for_snapshots

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not SPEC_EXAMPLES.is_dir(), reason="worked example not available"),
]
FEED = SPEC_EXAMPLES / "feed.jsonl"
REGIONS = SPEC_EXAMPLES / "regions.csv"
PERIOD = ("--from", "2025-04-01", "--to", "2026-03-31", "--every", "day")
AS_OF = date(2026, 3, 31)  # the worked example's date (expected-figures.json)
APP_ID = "jeugdhub-aggregate"


def _history_from_topic(env: dict[str, str], *options: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [JEUGDHUB, "history", "--from-topic", "--regions", str(REGIONS), *PERIOD, *options],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        stdin=subprocess.DEVNULL,
    )


def _delete_records(bootstrap: str, offsets: dict[TopicPartition, int]) -> None:
    """What retention does to the validated topic: every record before ``offsets`` is gone."""
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        admin.delete_records({tp: offset for tp, offset in offsets.items() if offset > 0})
    finally:
        admin.close()
    consumer = KafkaConsumer(bootstrap_servers=bootstrap)
    try:
        assert consumer.beginning_offsets(list(offsets)) == {tp: max(o, 0) for tp, o in offsets.items()}
    finally:
        consumer.close()


def test_history_and_rebuild_read_the_state_when_the_validated_topic_has_lost_records(
    kafka_bootstrap: str, unique_prefix: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from services.aggregate.rebuild import rebuild

    for name in [n for n in os.environ if n.startswith("JEUGDHUB_")]:
        monkeypatch.delenv(name)
    create_hub_topics(kafka_bootstrap, unique_prefix)
    lines = FEED.read_bytes().splitlines()
    first, second = lines[: len(lines) // 2], lines[len(lines) // 2 :]
    env = service_env(
        kafka_bootstrap,
        unique_prefix,
        {
            "JEUGDHUB_KEYRING_FILE": str(write_keyring(tmp_path / "keyring.json")),
            "JEUGDHUB_REGIONS_FILE": str(REGIONS),
            "JEUGDHUB_AS_OF": AS_OF.isoformat(),
            "JEUGDHUB_DATA_DIR": str(tmp_path / "data"),
        },
    )
    produce(kafka_bootstrap, RAW.full_name(unique_prefix), raw_records(first))
    services = (("validate", env, tmp_path / "validate.log"), ("aggregate", env, tmp_path / "aggregate.log"))
    with running_all(*services) as (_validate, aggregate):
        wait_for_snapshots(kafka_bootstrap, unique_prefix, AS_OF, replay_rows(first, AS_OF))
        applied = committed_to_end(kafka_bootstrap, unique_prefix)
        aggregate.stop()
        assert sum(applied.values()) > 0
        _delete_records(kafka_bootstrap, applied)  # the first half is now only in the changelog
        produce(kafka_bootstrap, RAW.full_name(unique_prefix), raw_records(second))
        read_all(kafka_bootstrap, RETOUR.full_name(unique_prefix), expect=len(lines))
    expected = json.loads((SPEC_EXAMPLES / "expected-figures.json").read_text())
    on_topic = read_all(kafka_bootstrap, VALIDATED.full_name(unique_prefix))
    assert 0 < len(on_topic) < expected["accepted"]  # the topic alone could not give the figures
    assert len(read_all(kafka_bootstrap, changelog_topic(unique_prefix, APP_ID))) > 0

    from_file = tmp_path / "file.csv"
    assert main(["history", str(FEED), "--regions", str(REGIONS), *PERIOD, "--output", str(from_file)]) == 0
    from_topic = tmp_path / "topic.csv"
    done = _history_from_topic(env, "--output", str(from_topic))
    assert done.returncode == 0, done.stderr
    assert f"{len(on_topic)} validated records not yet applied by the aggregate" in done.stderr
    file_rows, topic_rows = from_file.read_text().splitlines(), from_topic.read_text().splitlines()
    assert len(topic_rows) == 1 + 365 * 6
    assert topic_rows == file_rows

    # JSON: the same figures; the state knows only the accepted messages
    topic_json = tmp_path / "topic.json"
    done = _history_from_topic(env, "--output", str(topic_json), "--format", "json")
    assert done.returncode == 0, done.stderr
    documents = json.loads(topic_json.read_text())
    last = documents[-1]
    assert (last["as_of"], last["accepted"], last["rejected"], last["duplicates"]) == (
        expected["as_of"],
        expected["accepted"],
        None,
        None,
    )
    assert last["regions"] == expected["regions"]

    # rebuild reads the same state: replay's figures of the whole feed
    document, state = rebuild(
        kafka_bootstrap, unique_prefix, APP_ID, load_region_table(REGIONS), AS_OF, publish=False
    )
    assert state.changelog_found and state.from_changelog > 0 and state.tail_messages == len(on_topic)
    assert document["accepted"] == expected["accepted"]
    assert document["regions"] == replay_rows(lines, AS_OF) == expected["regions"]


def test_a_missing_validated_topic_is_an_error_not_an_empty_history(
    kafka_bootstrap: str, unique_prefix: str, tmp_path: Path
) -> None:
    # The options win over the settings (these point nowhere); no topics exist under this prefix.
    env = service_env("127.0.0.1:1", "not-this-prefix.")
    out = tmp_path / "h.csv"
    done = _history_from_topic(
        env, "--bootstrap", kafka_bootstrap, "--prefix", unique_prefix, "--output", str(out)
    )
    assert done.returncode == 1
    assert done.stderr.strip() == (
        f"jeugdhub history: topic {VALIDATED.full_name(unique_prefix)} does not exist on {kafka_bootstrap} "
        "(or this user may not read it)"
    )
    assert not out.exists()


def test_an_unreachable_broker_is_one_line_and_exit_1(tmp_path: Path) -> None:
    from hubdev.localkafka.broker import free_port

    env = service_env(f"127.0.0.1:{free_port()}", "")
    done = _history_from_topic(env, "--output", str(tmp_path / "h.csv"))
    assert done.returncode == 1
    assert done.stderr.startswith("jeugdhub history: Kafka: ") and done.stderr.count("\n") == 1, done.stderr
