"""The validate worker as a real process on the real broker: every path, privacy, crash-restart."""

from __future__ import annotations

import json
import random
import time
from collections import Counter, defaultdict
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest

from hubdev.localkafka.broker import free_port
from services.contracts.canonical import inbound_from_json, record_to_json, validated_to_json
from services.contracts.codec import decode, encode
from services.contracts.topics import RAW, REJECTED, RETOUR, VALIDATED
from services.streaming.topic_admin import create_hub_topics
from tests.integration.hub_processes import (
    produce,
    read_all,
    running,
    service_env,
    service_process,
    topic_names,
    write_keyring,
)
from tests.integration.messages_support import placement, raw_record, raw_records, valid_bsn

pytestmark = pytest.mark.integration
EXAMPLES = Path(__file__).resolve().parents[2].parent / "shared" / "spec" / "examples"


def _env(
    kafka_bootstrap: str, prefix: str, tmp_path: Path, regions: Path | None = None, **extra: str
) -> dict[str, str]:
    settings = {"JEUGDHUB_KEYRING_FILE": str(write_keyring(tmp_path / "keyring.json"))}
    if regions is not None:
        settings["JEUGDHUB_REGIONS_FILE"] = str(regions)
    settings.update(extra)
    return service_env(kafka_bootstrap, prefix, settings)


@pytest.mark.skipif(not EXAMPLES.is_dir(), reason="worked example not available")
def test_every_path_of_the_example_feed(kafka_bootstrap: str, unique_prefix: str, tmp_path: Path) -> None:
    create_hub_topics(kafka_bootstrap, unique_prefix)
    records = raw_records((EXAMPLES / "feed.jsonl").read_bytes().splitlines())  # one line is not JSON
    # an Avro-encoded InboundMessage, accepted like its JSON twin
    rng = random.Random(7)
    avro_message = placement(rng, valid_bsn(rng), date(2010, 1, 1))
    avro_key, _ = raw_record(avro_message)
    from datetime import UTC, datetime

    avro_raw = encode(
        "RawMessage",
        {
            "received_at": datetime.now(UTC).replace(microsecond=0),
            "sender": avro_message["sender"],
            "message_id": avro_message["message_id"],
            "format": "avro",
            "payload": encode("InboundMessage", inbound_from_json(avro_message)),
        },
    )
    records.append((avro_key, avro_raw))
    records.append((b"junk", b"this is not a RawMessage"))  # someone else wrote to the raw topic
    produce(kafka_bootstrap, RAW.full_name(unique_prefix), records)

    env = _env(kafka_bootstrap, unique_prefix, tmp_path, EXAMPLES / "regions.csv")
    with running("validate", env, tmp_path / "validate.log") as worker:
        retours = read_all(kafka_bootstrap, RETOUR.full_name(unique_prefix), expect=len(records))
        # The counters move after a batch's outputs are acknowledged, so a reader of the retour
        # topic can be a moment ahead of /metrics: poll (the assertion below shows the last answer).
        deadline = time.monotonic() + 15
        while True:
            status, metrics = worker.get("/metrics")
            assert status == 200
            if _counter(metrics, "jeugdhub_validate_messages_in_total") >= len(records):
                break
            if time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert worker.get("/healthz")[0] == 200

    statuses = Counter(decode("Retour", r.value)["status"] for r in retours)
    assert statuses == {"accepted": 725, "rejected": 19, "duplicate": 36}
    assert b"jeugdhub_validate_accepted_total 725.0" in metrics, [
        line
        for line in metrics.decode().splitlines()
        if line.startswith("jeugdhub_validate_") and "{" not in line
    ]
    assert b'jeugdhub_validate_rule_violations_total{code="JH030",sender_kind="provider"}' in metrics
    assert b'rule_violations_total{code="JH030",sender=' not in metrics  # bounded: no sender code

    validated = [
        decode("ValidatedMessage", r.value)
        for r in read_all(kafka_bootstrap, VALIDATED.full_name(unique_prefix), expect=725)
    ]
    assert len(validated) == 725
    for record in read_all(kafka_bootstrap, VALIDATED.full_name(unique_prefix), expect=725)[:50]:
        assert record.key.decode() == decode("ValidatedMessage", record.value)["youth_pseudonym"]
    assert avro_message["message_id"] in {str(v["message_id"]) for v in validated}

    rejections = [
        record_to_json("Rejection", decode("Rejection", r.value))
        for r in read_all(kafka_bootstrap, REJECTED.full_name(unique_prefix), expect=19)
    ]
    expected = [
        json.loads(line) for line in (EXAMPLES / "expected-rejections.jsonl").read_text().splitlines()
    ]
    for want in expected:
        assert any(
            r["message_id"] == want["message_id"] and set(want["codes"]) <= {e["code"] for e in r["errors"]}
            for r in rejections
        ), want
    unreadable = [r for r in rejections if r["message_id"] is None]
    assert len(unreadable) == 2  # the non-JSON line and the junk record
    assert all(r["errors"][0]["code"] == "SCHEMA" for r in unreadable)
    # the retour of a rejected message lists its errors
    rejected_retours = [
        decode("Retour", r.value) for r in retours if decode("Retour", r.value)["status"] == "rejected"
    ]
    assert all(r["errors"] for r in rejected_retours)


def test_no_bsn_or_birth_date_leaves_the_validate_step(
    kafka_bootstrap: str, unique_prefix: str, tmp_path: Path
) -> None:
    create_hub_topics(kafka_bootstrap, unique_prefix)
    rng = random.Random(2026)
    messages: list[dict[str, Any]] = []
    for i in range(120):
        bsn = valid_bsn(rng)
        birth = date(2008, 1, 1) + timedelta(days=rng.randrange(1500))  # no event date is in 2008-2012
        overrides: dict[str, Any] = {}
        if i % 4 == 1:
            overrides["municipality_code"] = "9999"  # S300: rejected, BSN must be masked there
        if i % 4 == 2:
            overrides["birth_date"] = "2030-01-01"  # TR134 + TR002: the rejection must not show it
            birth = date(2030, 1, 1)
        if i % 4 == 3:
            overrides["start_dat"] = overrides.pop("start_date", "2026-01-05")  # SCHEMA
        messages.append(placement(rng, bsn, birth, **overrides))
    produce(kafka_bootstrap, RAW.full_name(unique_prefix), [raw_record(m) for m in messages])
    env = _env(
        kafka_bootstrap, unique_prefix, tmp_path, EXAMPLES / "regions.csv" if EXAMPLES.is_dir() else None
    )
    log = tmp_path / "validate.log"
    with running("validate", env, log):
        read_all(kafka_bootstrap, RETOUR.full_name(unique_prefix), expect=len(messages))

    secrets = {m["bsn"].encode() for m in messages} | {m["birth_date"].encode() for m in messages}
    written = sorted(
        t
        for t in topic_names(kafka_bootstrap)
        if t.startswith(unique_prefix) and t != RAW.full_name(unique_prefix)
    )
    assert VALIDATED.full_name(unique_prefix) in written
    assert any("dedup-changelog" in t for t in written)
    scanned = 0
    for topic in written:
        for record in read_all(kafka_bootstrap, topic):
            blob = (record.key or b"") + b"\x00" + (record.value or b"")
            scanned += 1
            leaked = [s for s in secrets if s in blob]
            assert not leaked, f"{topic} holds {len(leaked)} BSNs or birth dates"
    assert scanned >= 2 * len(messages)
    log_bytes = log.read_bytes()
    assert b"jeugdhub.validate" in log_bytes or b"faust" in log_bytes
    assert not [s for s in secrets if s in log_bytes]


def _counter(metrics: bytes, name: str) -> float:
    for line in metrics.decode().splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return 0.0


def _messages_in(metrics: bytes) -> float:
    return _counter(metrics, "jeugdhub_validate_messages_in_total")


@pytest.mark.parametrize("kill_after", [40, 400])
def test_sigkill_mid_batch_then_restart_gives_one_outcome_per_message(
    kafka_bootstrap: str, unique_prefix: str, tmp_path: Path, kill_after: int
) -> None:
    """40: killed in its first batches, before its first commit; the restart recovers a dedup table
    and used to lose the records fetched while faust finished recovery (see
    services/streaming/faust_app.py). 400: killed mid-stream with more state."""
    create_hub_topics(kafka_bootstrap, unique_prefix)
    rng = random.Random(99)
    messages = []
    # Enough records that the kill lands mid-stream however fast the worker is (it processes
    # about a thousand a second; the loop below notices new retours only every few tenths of a second).
    for i in range(10_000):
        overrides = {"municipality_code": "9999"} if i % 10 == 0 else {}
        messages.append(placement(rng, valid_bsn(rng), date(2010, 6, 1), **overrides))
    produce(kafka_bootstrap, RAW.full_name(unique_prefix), [raw_record(m) for m in messages])
    env = _env(kafka_bootstrap, unique_prefix, tmp_path, None, JEUGDHUB_BATCH_SIZE="40")
    retour_topic = RETOUR.full_name(unique_prefix)

    # Poll the worker's own counter (cheap) rather than re-reading the retour topic, and do not
    # wait for readiness first: the kill must land while the backlog is being worked through.
    port = free_port()
    worker = service_process(
        "validate", {**env, "JEUGDHUB_WEB_PORT": str(port)}, tmp_path / "validate-1.log", port
    )
    worker.start()
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            try:
                status, body = worker.get("/metrics", timeout_s=0.5)
            except OSError:
                status, body = 0, b""
            if status == 200 and _messages_in(body) >= kill_after:
                break
            time.sleep(0.02)
    finally:
        worker.kill()
    first_run = len(read_all(kafka_bootstrap, retour_topic))
    assert 0 < first_run < len(messages), "the kill must land mid-stream"

    with running("validate", env, tmp_path / "validate-2.log"):
        # Wait for every message_id, not for a record count: records processed again after the
        # kill (at-least-once) add retours, so the count can be reached before the last message.
        wanted = {m["message_id"] for m in messages}
        deadline = time.monotonic() + 200
        while time.monotonic() < deadline:
            seen = {decode("Retour", r.value)["message_id"] for r in read_all(kafka_bootstrap, retour_topic)}
            if seen >= wanted:
                break
            time.sleep(1)
        time.sleep(1)
        retours = read_all(kafka_bootstrap, retour_topic)

    by_id: dict[str, set[str]] = defaultdict(set)
    for record in retours:
        retour = decode("Retour", record.value)
        by_id[retour["message_id"]].add(retour["status"])
    assert set(by_id) == {m["message_id"] for m in messages}
    assert all(len(s) == 1 and "duplicate" not in s for s in by_id.values())
    expected_rejected = {m["message_id"] for m in messages if m["municipality_code"] == "9999"}
    assert {k for k, s in by_id.items() if s == {"rejected"}} == expected_rejected

    validated_ids = Counter(
        str(decode("ValidatedMessage", r.value)["message_id"])
        for r in read_all(kafka_bootstrap, VALIDATED.full_name(unique_prefix))
    )
    rejected_ids = Counter(
        decode("Rejection", r.value)["message_id"]
        for r in read_all(kafka_bootstrap, REJECTED.full_name(unique_prefix))
    )
    assert set(validated_ids) == {m["message_id"] for m in messages} - expected_rejected
    assert set(rejected_ids) == expected_rejected
    # at-least-once: a re-processed record may appear twice, but always with identical content
    dupes = [r for r in read_all(kafka_bootstrap, VALIDATED.full_name(unique_prefix))]
    by_message: dict[str, set[bytes]] = defaultdict(set)
    for r in dupes:
        by_message[str(decode("ValidatedMessage", r.value)["message_id"])].add(
            orjson.dumps(validated_to_json(decode("ValidatedMessage", r.value)), option=orjson.OPT_SORT_KEYS)
        )
    assert all(len(v) == 1 for v in by_message.values())


def test_refuses_to_start_under_another_pseudonymisation_key(
    kafka_bootstrap: str, unique_prefix: str, tmp_path: Path
) -> None:
    import subprocess

    from hubdev.processes import JEUGDHUB

    create_hub_topics(kafka_bootstrap, unique_prefix)
    rng = random.Random(3)
    produce(
        kafka_bootstrap,
        RAW.full_name(unique_prefix),
        [raw_record(placement(rng, valid_bsn(rng), date(2011, 2, 3)))],
    )
    env = _env(kafka_bootstrap, unique_prefix, tmp_path, None)
    with running("validate", env, tmp_path / "validate.log"):
        read_all(kafka_bootstrap, VALIDATED.full_name(unique_prefix), expect=1)
    rotated = {**env, "JEUGDHUB_KEYRING_FILE": str(write_keyring(tmp_path / "rotated.json", key_id="k2"))}
    result = subprocess.run([JEUGDHUB, "validate"], env=rotated, capture_output=True, timeout=60, check=False)
    assert result.returncode == 2
    assert b"'k2'" in result.stderr and b"'k1'" in result.stderr
    assert b"split" in result.stderr
