"""The generated encoders write exactly fastavro's bytes, or step aside (None) for fastavro.

Records come from the real flows (the worked example through the validate pipeline, replay's
figures, youth facts) and from mutations of them (wrong types, missing and extra fields, naive
datetimes, dates as text, out-of-range ints, tuples for lists, unknown enum symbols, ...).
"""

from __future__ import annotations

import contextlib
import io
import random
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import orjson
from fastavro import schemaless_writer

from hubdev.paths import SPEC_EXAMPLES
from services.aggregate.facts import build_youth_facts
from services.aggregate.records import facts_record
from services.aggregate.snapshots import snapshot
from services.contracts.canonical import inbound_from_json, record_from_json, validated_from_json
from services.contracts.codec import MARKER, _fast_encoder, _schema, decode, encode
from services.contracts.regions import load_region_table
from services.privacy.pseudonym import Keyring
from services.replay.offline import figures_document, judge_lines
from services.validate.pipeline import RawInput, process

REGIONS = SPEC_EXAMPLES / "regions.csv" if (SPEC_EXAMPLES / "regions.csv").is_file() else None
FEED = SPEC_EXAMPLES / "feed.jsonl"

ODD: list[Any] = [
    None, "", "x", "é ✓", "\ud800", 0, 1, -1, 63, 64, -65, 2**31 - 1, 2**31, -(2**31) - 1, 2**63, 1.5, 0.0,
    True, False, b"b", [], (), {}, ["a"], ("a",), date(2026, 1, 2), "2026-01-02",
    datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC),
    datetime(2026, 1, 2, 3, 4, 5),  # noqa: DTZ001 - a naive datetime is one of the odd values
    datetime(1969, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
    datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone(timedelta(hours=2))),
    "accepted", "rejected", "duplicate", "provider", "municipality", "placement_started", "new", "cancel",
]  # fmt: skip


def _fastavro(name: str, record: Any) -> bytes | str:
    schema = _schema(name)
    buffer = io.BytesIO()
    buffer.write(MARKER + schema.fingerprint)
    try:
        schemaless_writer(buffer, schema.parsed, record, strict_allow_default=True)
    except Exception as exc:  # fastavro's refusal, whatever its type
        return f"error {type(exc).__name__}"
    return buffer.getvalue()


def _check(name: str, record: Any) -> bool:
    """Fast bytes equal fastavro's whenever the fast encoder answers; True when it answered."""
    fast = _fast_encoder(name)
    assert fast is not None
    got = fast(record)
    if got is None:
        return False
    assert got == _fastavro(name, record), (name, record)
    return True


def _records() -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = {n: [] for n in
           ("Retour", "Rejection", "ValidatedMessage", "InboundMessage", "RawMessage", "YouthFactsRecord", "RegionSnapshot")}  # fmt: skip
    if not FEED.is_file() or REGIONS is None:
        return out
    regions = load_region_table(REGIONS)
    keyring = Keyring("k1", {"k1": b"k" * 32})
    lines = FEED.read_bytes().splitlines()
    seen: dict[str, Any] = {}
    for number, line in enumerate(lines, start=1):
        sender = {"kind": "provider", "code": "10000001"} if number % 7 == 0 else None
        raw = RawInput(line, "json", sender, "2026-03-02T09:30:00Z", number % 6, number)
        outcome = process(raw, seen.get, keyring, regions)
        if outcome.dedup_key is not None:
            seen[outcome.dedup_key] = outcome.dedup_entry
        out["Retour"].append(record_from_json("Retour", outcome.retour))
        if outcome.rejection is not None:
            out["Rejection"].append(record_from_json("Rejection", outcome.rejection))
        if outcome.validated is not None:
            out["ValidatedMessage"].append(validated_from_json(outcome.validated))
        with contextlib.suppress(Exception):
            out["InboundMessage"].append(inbound_from_json(orjson.loads(line)))
        out["RawMessage"].append(
            {"received_at": datetime(2026, 3, 2, 9, 30, tzinfo=UTC), "sender": {"kind": "provider", "code": "1"},
             "message_id": "m", "format": "json", "payload": line}
        )  # fmt: skip
    result = judge_lines(lines, keyring, regions)
    as_of = date(2026, 3, 31)
    for row in figures_document(result, as_of, regions)["regions"]:
        computed = datetime(2026, 3, 31, 12, tzinfo=UTC)
        out["RegionSnapshot"].append(record_from_json("RegionSnapshot", snapshot(row, as_of, computed)))
    for youth, messages in list(result.by_youth.items())[:60]:
        out["YouthFactsRecord"].append(
            decode(
                "YouthFactsRecord", facts_record(youth, build_youth_facts(messages, regions), len(messages))
            )
        )
    return out


RECORDS = _records()


def _mutate(rng: random.Random, record: Any) -> Any:
    if isinstance(record, dict):
        copy = dict(record)
        if not copy or rng.random() < 0.1:
            copy[rng.choice(["extra", "x"])] = 1
            return copy
        key = rng.choice(list(copy))
        action = rng.randrange(3)
        if action == 0:
            del copy[key]
        elif action == 1:
            copy[key] = rng.choice(ODD)
        else:
            copy[key] = _mutate(rng, copy[key])
        return copy
    if isinstance(record, tuple) and len(record) == 2:
        return rng.choice(
            [(record[0], _mutate(rng, record[1])), ("nl.jeugdhub.v1.Nope", record[1]), record[1]]
        )
    if isinstance(record, list):
        return tuple(record) if rng.random() < 0.5 else [*record, rng.choice(ODD)]
    return rng.choice(ODD)


def test_valid_records_take_the_fast_path_and_match_fastavro() -> None:
    if not FEED.is_file():
        return
    for name, records in RECORDS.items():
        assert records, name
        answered = sum(_check(name, record) for record in records)
        assert answered == len(records), name  # every record our code makes is encoded fast


def test_mutated_records_match_fastavro_or_fall_back() -> None:
    rng = random.Random(5)
    for name, records in RECORDS.items():
        for _ in range(1500):
            if not records:
                break
            record = rng.choice(records)
            for _ in range(rng.randrange(1, 3)):
                record = _mutate(rng, record)
            _check(name, record)
            if isinstance(record, dict):
                result = _fastavro(name, record)
                if isinstance(result, str):  # fastavro refuses: so must encode() (through fastavro)
                    try:
                        encode(name, record)
                    except Exception:
                        continue
                    raise AssertionError((name, record))


def _fastavro_read(name: str, data: bytes) -> Any:
    from fastavro import schemaless_reader

    stream = io.BytesIO(data)
    stream.seek(10)
    try:
        record = schemaless_reader(
            stream, _schema(name).parsed, None, return_record_name=True, return_record_name_override=True
        )
    except Exception as exc:
        return f"error {type(exc).__name__}"
    return record if stream.tell() == len(data) else "trailing bytes"


def test_decoders_return_exactly_what_fastavro_returns() -> None:
    from services.contracts.codec import _fast_decoder

    rng = random.Random(9)
    for name, records in RECORDS.items():
        fast = _fast_decoder(f"nl.jeugdhub.v1.{name}")
        assert fast is not None
        for record in records:
            data = encode(name, record)
            got = fast(data, 10)
            want = _fastavro_read(name, data)
            assert got is not None, name
            assert got == want and repr(got) == repr(want), name
            for _ in range(8):  # damaged bytes: the same answer, or the fast decoder steps aside
                damaged = bytearray(data)
                action = rng.randrange(3)
                if action == 0 and len(damaged) > 11:
                    del damaged[rng.randrange(10, len(damaged)) :]
                elif action == 1:
                    damaged[rng.randrange(10, len(damaged))] = rng.randrange(256)
                else:
                    damaged += bytes([rng.randrange(256)])
                got = fast(bytes(damaged), 10)
                if got is not None:
                    want = _fastavro_read(name, bytes(damaged))
                    assert got == want and repr(got) == repr(want), (name, bytes(damaged))
