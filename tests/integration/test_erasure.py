"""Erasure on request on the real broker: validate + aggregate as processes, the worked example
fed, then ``jeugdhub erase`` of one youth. The published figures must become replay's of the feed
without that youth's lines; a later message for the youth is rejected with JH050; after
``--readmit`` a new message is accepted (and counted). No BSN in any output or log."""

from __future__ import annotations

import subprocess
import time
import uuid
from datetime import date
from pathlib import Path
from typing import Any

import orjson
import pytest

from hubdev.paths import SPEC_EXAMPLES
from hubdev.processes import JEUGDHUB
from services.contracts.codec import decode
from services.contracts.topics import ERASURES, RAW, RETOUR, YOUTH_FACTS
from services.privacy.erasure import ERASED_RULE
from services.streaming.topic_admin import create_hub_topics
from tests.integration.hub_processes import (
    day_file_env,
    produce,
    read_all,
    running,
    write_keyring,
)
from tests.integration.messages_support import raw_records
from tests.integration.test_aggregate_daily import aggregate_process, replay_rows, set_day, wait_for_snapshots

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not SPEC_EXAMPLES.is_dir(), reason="worked example not available"),
]
AS_OF = date(2026, 3, 31)  # the worked example's date (expected-figures.json)


def youth_with_most_lines(lines: list[bytes]) -> str:
    counts: dict[str, int] = {}
    for line in lines:
        try:
            message = orjson.loads(line)
        except orjson.JSONDecodeError:
            continue
        if isinstance(message, dict) and isinstance(message.get("bsn"), str):
            counts[message["bsn"]] = counts.get(message["bsn"], 0) + 1
    return max(counts, key=counts.__getitem__)


def lines_of(lines: list[bytes], bsn: str) -> tuple[list[bytes], list[bytes]]:
    """(the youth's lines, the others)"""
    mine = [line for line in lines if f'"bsn": "{bsn}"'.encode() in line]
    return mine, [line for line in lines if line not in mine]


def new_message_like(line: bytes) -> bytes:
    """The youth's placement_started again under a new message id: a message the hub never saw."""
    message = orjson.loads(line)
    message["message_id"] = str(uuid.uuid4())
    return orjson.dumps(message)


def erase(env: dict[str, str], bsn: str, *extra: str) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [JEUGDHUB, "erase", "--bsn-stdin", *extra],
        input=bsn + "\n",
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert bsn not in result.stdout + result.stderr
    return result


def retour_status(bootstrap: str, prefix: str, message_id: str, timeout_s: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for record in read_all(bootstrap, RETOUR.full_name(prefix), timeout_s=10):
            value = decode("Retour", record.value)
            if str(value["message_id"]) == message_id:
                return value
        time.sleep(0.5)
    raise AssertionError(f"no retour for {message_id}")


def test_erase_then_figures_are_replay_without_the_youth_later_messages_refused_until_readmitted(
    kafka_bootstrap: str, unique_prefix: str, tmp_path: Path
) -> None:
    bootstrap, prefix = kafka_bootstrap, unique_prefix
    create_hub_topics(bootstrap, prefix)
    lines = (SPEC_EXAMPLES / "feed.jsonl").read_bytes().splitlines()
    bsn = youth_with_most_lines(lines)
    mine, others = lines_of(lines, bsn)
    everything, without = replay_rows(lines, AS_OF), replay_rows(others, AS_OF)
    assert everything != without, "the chosen youth must change a figure, or the test proves nothing"
    start_line = next(line for line in mine if b'"placement_started"' in line)

    keyring_file = write_keyring(tmp_path / "keyring.json")
    as_of_file = tmp_path / "as-of"
    set_day(as_of_file, AS_OF)
    env = day_file_env(bootstrap, prefix, keyring_file, as_of_file)
    worker = aggregate_process(env, tmp_path, "aggregate")  # starts while validate does
    try:
        with running("validate", env, tmp_path / "validate.log"):
            worker.wait_ready(90)
            produce(bootstrap, RAW.full_name(prefix), raw_records(lines))
            wait_for_snapshots(bootstrap, prefix, AS_OF, everything)

            started = time.monotonic()
            result = erase(env, bsn, "--reference", f"AVG-17 request for {bsn}")
            assert "1 pseudonym(s)" in result.stdout
            wait_for_snapshots(bootstrap, prefix, AS_OF, without)
            elapsed = time.monotonic() - started
            print(f"erase -> figures updated: {elapsed:.1f} s")

            erasures = read_all(bootstrap, ERASURES.full_name(prefix), timeout_s=10)
            assert len(erasures) == 1 and bsn.encode() not in erasures[0].value
            facts = read_all(bootstrap, YOUTH_FACTS.full_name(prefix), timeout_s=10)
            assert any(r.key == erasures[0].key and r.value is None for r in facts)

            refused = new_message_like(start_line)
            produce(bootstrap, RAW.full_name(prefix), raw_records([refused]))
            retour = retour_status(bootstrap, prefix, orjson.loads(refused)["message_id"])
            assert retour["status"] == "rejected"
            assert [e["code"] for e in retour["errors"]] == [ERASED_RULE]

            erase(env, bsn, "--readmit")
            time.sleep(1.1)  # received in a later second than the re-admission
            admitted = new_message_like(start_line)
            produce(bootstrap, RAW.full_name(prefix), raw_records([admitted]))
            retour = retour_status(bootstrap, prefix, orjson.loads(admitted)["message_id"])
            assert retour["status"] == "accepted", retour
            # only the new message counts for the youth: its old messages stay erased
            wait_for_snapshots(bootstrap, prefix, AS_OF, replay_rows([*others, admitted], AS_OF))
    finally:
        worker.stop()

    for log in tmp_path.glob("*.log"):
        assert bsn not in log.read_text(errors="replace"), log.name
