"""Content identity and the NEW / REPLAY / DUPLICATE / CONFLICT decision."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.contracts.topics import dedup_key
from services.validate.dedup import Decision, DedupEntry, canonical_json, content_hash, decide

MSG: dict[str, Any] = {
    "message_id": "0f8fad5b-d9cb-469f-a165-70867728950e",
    "message_type": "perspective_determined",
    "status": "new",
    "cancels_message_id": None,
    "sender": {"kind": "municipality", "code": "0363"},
    "created_at": "2026-02-20T10:00:00Z",
    "bsn": "123456782",
    "birth_date": "2010-03-01",
    "municipality_code": "0363",
    "determined_date": "2026-02-19",
    "perspective": "thuis",
}
HASH = content_hash(MSG)
OTHER_HASH = content_hash({**MSG, "perspective": "pleeggezin"})


def test_content_hash_is_sha256_hex_of_sorted_compact_json() -> None:
    assert len(HASH) == 64
    assert canonical_json({"b": 1, "a": {"d": [1, {"z": 0, "y": None}], "c": "é"}}) == (
        '{"a":{"c":"é","d":[1,{"y":null,"z":0}]},"b":1}'.encode()
    )


def test_content_hash_ignores_key_order_spacing_and_escapes() -> None:
    raw_variants = [
        json.dumps(MSG),
        json.dumps(MSG, indent=4, sort_keys=True),
        json.dumps(dict(reversed(list(MSG.items()))), separators=(",", ":")),
        json.dumps({**MSG, "sender": {"code": "0363", "kind": "municipality"}}, ensure_ascii=True),
    ]
    assert {content_hash(json.loads(raw)) for raw in raw_variants} == {HASH}


def test_content_hash_sees_any_value_change() -> None:
    assert OTHER_HASH != HASH
    assert content_hash({**MSG, "cancels_message_id": "x"}) != HASH
    assert content_hash({k: v for k, v in MSG.items() if k != "cancels_message_id"}) != HASH  # null vs absent


def test_escaped_and_literal_unicode_are_the_same_content() -> None:
    assert content_hash(json.loads('{"a": "\\u00e9"}')) == content_hash(json.loads('{"a": "é"}'))


def test_content_hash_of_huge_integers_falls_back_deterministically() -> None:
    obj = {"n": 10**30, "a": 1}
    assert content_hash(obj) == content_hash({"a": 1, "n": 10**30})
    assert canonical_json(obj) == b'{"a":1,"n":1000000000000000000000000000000}'


_json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.text(max_size=10),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=5), children, max_size=4)
    ),
    max_leaves=20,
)


@given(st.dictionaries(st.text(max_size=8), _json_values, max_size=8), st.randoms(use_true_random=False))
def test_content_hash_invariant_under_key_order(obj: dict[str, Any], rnd: random.Random) -> None:
    def shuffled(value: Any) -> Any:
        if isinstance(value, dict):
            items = list(value.items())
            rnd.shuffle(items)
            return {k: shuffled(v) for k, v in items}
        if isinstance(value, list):
            return [shuffled(v) for v in value]
        return value

    assert content_hash(shuffled(obj)) == content_hash(obj)
    assert content_hash(json.loads(json.dumps(obj, indent=2))) == content_hash(obj)


def test_dedup_key() -> None:
    assert dedup_key("12345678", "0f8fad5b-d9cb-469f-a165-70867728950e") == (
        "12345678:0f8fad5b-d9cb-469f-a165-70867728950e"
    )


# --- decide ---------------------------------------------------------------------------------------


def test_no_entry_is_new() -> None:
    assert decide(None, HASH, 7) is Decision.NEW
    assert decide(None, HASH, None) is Decision.NEW


@pytest.mark.parametrize("outcome", ["accepted", "rejected"])
def test_same_record_again_is_a_replay(outcome: Any) -> None:
    assert decide(DedupEntry(HASH, outcome, 7), HASH, 7) is Decision.REPLAY


@pytest.mark.parametrize("outcome", ["accepted", "rejected"])
def test_same_content_other_record_is_a_duplicate(outcome: Any) -> None:
    assert decide(DedupEntry(HASH, outcome, 7), HASH, 8) is Decision.DUPLICATE
    assert decide(DedupEntry(HASH, outcome, 7), HASH, None) is Decision.DUPLICATE
    assert decide(DedupEntry(HASH, outcome, None), HASH, 7) is Decision.DUPLICATE


def test_without_offsets_there_is_no_replay() -> None:
    # jeugdhub replay has no offsets: the second identical line is a duplicate.
    assert decide(DedupEntry(HASH, "accepted", None), HASH, None) is Decision.DUPLICATE


@pytest.mark.parametrize("outcome", ["accepted", "rejected"])
def test_different_content_is_a_conflict(outcome: Any) -> None:
    assert decide(DedupEntry(HASH, outcome, 7), OTHER_HASH, 8) is Decision.CONFLICT
    assert decide(DedupEntry(HASH, outcome, None), OTHER_HASH, None) is Decision.CONFLICT


def test_different_content_at_the_stored_offset_is_a_conflict_not_a_replay() -> None:
    assert decide(DedupEntry(HASH, "accepted", 7), OTHER_HASH, 7) is Decision.CONFLICT


# --- DedupEntry -----------------------------------------------------------------------------------


@pytest.mark.parametrize("offset", [0, 12345, None])
def test_entry_round_trips_through_json(offset: int | None) -> None:
    entry = DedupEntry(HASH, "rejected", offset)
    assert DedupEntry.from_dict(json.loads(json.dumps(entry.to_dict()))) == entry
    assert entry.to_dict() == {"content_hash": HASH, "outcome": "rejected", "source_offset": offset}


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        ({"content_hash": "abc", "outcome": "accepted", "source_offset": 1}, "content_hash"),
        ({"content_hash": HASH.upper(), "outcome": "accepted", "source_offset": 1}, "content_hash"),
        ({"content_hash": HASH, "outcome": "duplicate", "source_offset": 1}, "outcome"),
        ({"content_hash": HASH, "outcome": "accepted", "source_offset": "1"}, "source_offset"),
        ({"content_hash": HASH, "outcome": "accepted", "source_offset": True}, "source_offset"),
        ({"outcome": "accepted", "source_offset": 1}, "content_hash"),
    ],
)
def test_corrupt_entry_is_refused(data: dict[str, Any], problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        DedupEntry.from_dict(data)


def test_missing_offset_reads_as_none() -> None:
    assert DedupEntry.from_dict({"content_hash": HASH, "outcome": "accepted"}).source_offset is None
