"""A pseudonymisation key rotation on the real broker, with validate and aggregate as real processes:
half the worked example under k0, validate restarted with k1 active and k0 previous, the rest fed.
The published figures equal replay's before, at and after the switch; the records written after
it carry the new pseudonym and are keyed by the old one; no youth is counted twice. validate
refuses an unexplained key change and dropping ``previous`` while the state is anchored on it."""

from __future__ import annotations

import json
import subprocess
from datetime import date
from pathlib import Path
from typing import Any

import orjson
import pytest

from hubdev.processes import JEUGDHUB
from services.contracts.codec import decode
from services.contracts.regions import load_region_table
from services.contracts.topics import RAW, RETOUR, VALIDATED, YOUTH_FACTS
from services.privacy.pseudonym import Keyring, pseudonymise
from services.replay.offline import figures_document, judge_lines
from services.streaming.topic_admin import create_hub_topics
from tests.integration.hub_processes import (
    produce,
    published_rows,
    read_all,
    running,
    service_env,
    wait_for_published,
)
from tests.integration.messages_support import raw_records

EXAMPLES = Path(__file__).resolve().parents[2].parent / "shared" / "spec" / "examples"
pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not EXAMPLES.is_dir(), reason="worked example not available"),
]
AS_OF = "2026-03-31"
SECRETS = {"k0": "a0" * 32, "k1": "b1" * 32}


def _keyring_file(path: Path, active: str, previous: str | None = None) -> Path:
    document: dict[str, Any] = {"active": active, "keys": SECRETS}
    if previous is not None:
        document["previous"] = previous
    path.write_text(json.dumps(document))
    return path


def _replay_rows(lines: list[bytes]) -> list[dict[str, Any]]:
    regions = load_region_table(EXAMPLES / "regions.csv")
    result = judge_lines(lines, Keyring.from_mapping({"active": "k0", "keys": SECRETS}), regions)
    rows: list[dict[str, Any]] = figures_document(result, date.fromisoformat(AS_OF), regions)["regions"]
    return rows


# test_key_retirement imports the helpers under these names.
_published_rows = published_rows
_wait_for = wait_for_published


def _validate_refuses(env: dict[str, str]) -> bytes:
    result = subprocess.run([JEUGDHUB, "validate"], env=env, capture_output=True, timeout=90, check=False)
    assert result.returncode == 2, result.stderr[-2000:]
    return result.stderr


def test_a_key_rotation_keeps_every_figure_and_every_youth_once(
    kafka_bootstrap: str, unique_prefix: str, tmp_path: Path
) -> None:
    create_hub_topics(kafka_bootstrap, unique_prefix)
    lines = (EXAMPLES / "feed.jsonl").read_bytes().splitlines()
    first, second = lines[: len(lines) // 2], lines[len(lines) // 2 :]
    base = {"JEUGDHUB_REGIONS_FILE": str(EXAMPLES / "regions.csv"), "JEUGDHUB_AS_OF": AS_OF}
    old_env = service_env(
        kafka_bootstrap,
        unique_prefix,
        {**base, "JEUGDHUB_KEYRING_FILE": str(_keyring_file(tmp_path / "k0.json", "k0"))},
    )
    rotating = {**old_env, "JEUGDHUB_KEYRING_FILE": str(_keyring_file(tmp_path / "k1.json", "k1", "k0"))}
    expected_first, expected_all = _replay_rows(first), _replay_rows(lines)
    assert expected_first != expected_all

    produce(kafka_bootstrap, RAW.full_name(unique_prefix), raw_records(first))
    with running("aggregate", old_env, tmp_path / "aggregate.log"):
        with running("validate", old_env, tmp_path / "validate-k0.log"):
            assert wait_for_published(kafka_bootstrap, unique_prefix, expected_first) == expected_first

        before = _keys_status(old_env)
        assert (before["linked"], before["old_key_retirable"]) == (0, True)
        assert before["verdict"] == "no rotation in progress"

        # An unexplained key change (k1 active, no 'previous') is still refused: the data-loss case.
        flipped = {**old_env, "JEUGDHUB_KEYRING_FILE": str(_keyring_file(tmp_path / "flip.json", "k1"))}
        assert b"split" in _validate_refuses(flipped)

        with running("validate", rotating, tmp_path / "validate-k1.log"):
            assert published_rows(kafka_bootstrap, unique_prefix) == expected_first  # at the switch
            produce(kafka_bootstrap, RAW.full_name(unique_prefix), raw_records(second))
            read_all(kafka_bootstrap, RETOUR.full_name(unique_prefix), expect=len(lines))
            assert wait_for_published(kafka_bootstrap, unique_prefix, expected_all) == expected_all

        # Dropping 'previous' is the old key's retirement (test_key_retirement), allowed since the
        # links topic holds links k0 -> k1; a keyring whose active key no link leads to is refused.
        k2 = tmp_path / "k2.json"
        k2.write_text(json.dumps({"active": "k2", "keys": {**SECRETS, "k2": "c2" * 32}}))
        assert b"Keep 'previous'" in _validate_refuses({**old_env, "JEUGDHUB_KEYRING_FILE": str(k2)})
        # ... and the rotation continues after a restart.
        with running("validate", rotating, tmp_path / "validate-k1-again.log"):
            assert published_rows(kafka_bootstrap, unique_prefix) == expected_all

    # The records written after the switch: the new pseudonym (k1) in the message, keyed by the
    # youth's pseudonym under k0, computed from the BSN the feed sent.
    bsn_of = {
        m["message_id"]: m["bsn"] for m in map(_json_or_none, lines) if isinstance(m, dict) and "bsn" in m
    }
    ring = Keyring.from_mapping({"active": "k1", "keys": SECRETS})
    by_key_id: dict[str, int] = {}
    validated = read_all(kafka_bootstrap, VALIDATED.full_name(unique_prefix))
    for record in validated:
        message = decode("ValidatedMessage", record.value)
        key_id = message["pseudonym_key_id"]
        by_key_id[key_id] = by_key_id.get(key_id, 0) + 1
        bsn = bsn_of[str(message["message_id"])]
        assert message["youth_pseudonym"] == pseudonymise(bsn, ring, key_id)[0]
        assert record.key.decode() == pseudonymise(bsn, ring, "k0")[0]
    assert by_key_id["k0"] > 0 and by_key_id["k1"] > 0

    # No youth counted twice: the youth-facts keys are replay's youth, under their k0 pseudonyms.
    facts: dict[bytes, bytes | None] = {}
    for record in read_all(kafka_bootstrap, YOUTH_FACTS.full_name(unique_prefix)):
        facts[record.key] = record.value
    replay = judge_lines(
        lines,
        Keyring.from_mapping({"active": "k0", "keys": SECRETS}),
        load_region_table(EXAMPLES / "regions.csv"),
    )
    assert {k.decode() for k, v in facts.items() if v is not None} == set(replay.by_youth)

    # jeugdhub keys status: every youth whose messages continued after the switch is linked, the
    # others are known only under k0, and the old key may not be retired yet.
    linked = {r.key for r in validated if decode("ValidatedMessage", r.value)["pseudonym_key_id"] == "k1"}
    status = _keys_status(old_env)
    assert status["youth"] == len(replay.by_youth)
    assert status["linked"] == len(linked) > 0
    assert status["unlinked"] == len(replay.by_youth) - len(linked) > 0
    assert status["messages_by_key_id"] == by_key_id
    assert status["old_key_retirable"] is False and "keep the old key" in status["verdict"]


def _keys_status(env: dict[str, str]) -> dict[str, Any]:
    result = subprocess.run(
        [JEUGDHUB, "keys", "status"], env=env, capture_output=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr[-2000:]
    status: dict[str, Any] = json.loads(result.stdout)
    return status


def _json_or_none(line: bytes) -> Any:
    try:
        return orjson.loads(line)
    except orjson.JSONDecodeError:
        return None
