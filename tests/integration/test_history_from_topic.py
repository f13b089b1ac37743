"""``jeugdhub history --from-topic`` on the real broker: the worked example goes through the real
validate service (raw topic -> validated topic), and the history read back from the validated topic
equals the history of the feed file, row for row, every day of a year."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from hubdev.paths import SPEC_EXAMPLES
from hubdev.processes import JEUGDHUB
from services.cli import main
from services.contracts.topics import RAW, RETOUR, VALIDATED
from services.streaming.topic_admin import create_hub_topics
from tests.integration.hub_processes import produce, read_all, running, service_env, write_keyring
from tests.integration.messages_support import raw_records

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not SPEC_EXAMPLES.is_dir(), reason="worked example not available"),
]
FEED = SPEC_EXAMPLES / "feed.jsonl"
REGIONS = SPEC_EXAMPLES / "regions.csv"
PERIOD = ("--from", "2025-04-01", "--to", "2026-03-31", "--every", "day")


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


def test_history_from_the_validated_topic_equals_history_from_the_file(
    kafka_bootstrap: str, unique_prefix: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in [n for n in os.environ if n.startswith("JEUGDHUB_")]:
        monkeypatch.delenv(name)
    create_hub_topics(kafka_bootstrap, unique_prefix)
    lines = FEED.read_bytes().splitlines()
    produce(kafka_bootstrap, RAW.full_name(unique_prefix), raw_records(lines))
    env = service_env(
        kafka_bootstrap,
        unique_prefix,
        {
            "JEUGDHUB_KEYRING_FILE": str(write_keyring(tmp_path / "keyring.json")),
            "JEUGDHUB_REGIONS_FILE": str(REGIONS),
        },
    )
    with running("validate", env, tmp_path / "validate.log"):
        read_all(kafka_bootstrap, RETOUR.full_name(unique_prefix), expect=len(lines))
    expected = json.loads((SPEC_EXAMPLES / "expected-figures.json").read_text())
    assert len(read_all(kafka_bootstrap, VALIDATED.full_name(unique_prefix))) == expected["accepted"]

    from_file = tmp_path / "file.csv"
    assert main(["history", str(FEED), "--regions", str(REGIONS), *PERIOD, "--output", str(from_file)]) == 0
    from_topic = tmp_path / "topic.csv"
    done = _history_from_topic(env, "--output", str(from_topic))
    assert done.returncode == 0, done.stderr
    file_rows, topic_rows = from_file.read_text().splitlines(), from_topic.read_text().splitlines()
    assert len(topic_rows) == 1 + 365 * 6
    assert topic_rows == file_rows

    # JSON: the same figures; the topic knows only the accepted messages
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
