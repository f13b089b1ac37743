"""The one builder of test and benchmark raw records (``hubdev.records``): what ingest writes."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import orjson

from hubdev.records import expand_feed, raw_records, valid_bsn
from services.contracts.bsn import is_valid_bsn
from services.contracts.codec import decode

RECEIVED = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
MESSAGE = {"message_id": "m-1", "sender": {"kind": "municipality", "code": "0363"}, "bsn": "111222333"}


def test_raw_records_are_keyed_and_encoded_like_ingests() -> None:
    lines = [orjson.dumps(MESSAGE), b"not json", b"[1, 2]"]
    (key, value), (bad_key, bad_value), (list_key, _) = raw_records(lines, RECEIVED)
    assert key == b"0363:m-1"
    record = decode("RawMessage", value)
    assert record["sender"] == MESSAGE["sender"] and record["message_id"] == "m-1"
    assert record["payload"] == lines[0] and record["format"] == "json"
    assert record["received_at"] == RECEIVED
    assert bad_key == list_key == b"10000001:unreadable"  # kept as received, under the default sender
    assert decode("RawMessage", bad_value)["payload"] == b"not json"


def test_expanded_copies_are_disjoint_and_keep_invalid_bsns_invalid() -> None:
    lines = [orjson.dumps(MESSAGE), orjson.dumps({**MESSAGE, "message_id": "m-2", "bsn": "123456789"})]
    out = [orjson.loads(line) for line in expand_feed(lines, copies=3, seed=1)]
    assert len(out) == 6 and len({m["message_id"] for m in out}) == 6
    assert sum(is_valid_bsn(m["bsn"]) for m in out) == 3
    assert is_valid_bsn(valid_bsn(random.Random(3)))
