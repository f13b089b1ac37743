"""The one builder of test and benchmark raw records (``hubdev.records``): what ingest writes."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime

import orjson

from hubdev.records import PLACEMENT, expand_feed, placement, raw_records, valid_bsn
from services.contracts.bsn import is_valid_bsn
from services.contracts.canonical import inbound_from_json
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


def test_placement_is_a_valid_inbound_message_and_a_fresh_copy_each_time() -> None:
    first, second = placement(), placement()
    assert first == dict(PLACEMENT) and inbound_from_json(first)["message_type"] == "placement_started"
    first["sender"]["code"] = "99999999"
    assert second["sender"]["code"] == PLACEMENT["sender"]["code"] == "12345678"


def test_placement_changes_fields_and_drops_those_set_to_ellipsis() -> None:
    message = placement(provider="87654321", location_code="L9", message_id=...)
    assert (
        message["sender"] == {"kind": "provider", "code": "87654321"}
        and message["provider_agb"] == "87654321"
    )
    assert message["location_code"] == "L9" and "message_id" not in message


def test_a_drawn_placement_depends_only_on_its_seed() -> None:
    one = placement(random.Random(3), valid_bsn(random.Random(4)), date(2010, 1, 2))
    assert one == placement(random.Random(3), valid_bsn(random.Random(4)), date(2010, 1, 2))
    assert one["message_id"] != PLACEMENT["message_id"] and one["birth_date"] == "2010-01-02"
    assert inbound_from_json(one)["bsn"] == one["bsn"]
