"""Key rotation as a migration (services/privacy/rotation.py): the keyring's ``previous``, the anchor
validate keys each record by, the start decision on the validated topic's tail, the aggregate's
identity during a rotation and the link counts of ``jeugdhub keys status``."""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hubdev.records import raw_records
from services.aggregate.apply import apply_batch
from services.aggregate.facts import YouthFacts
from services.aggregate.figures import region_figures
from services.contracts.codec import decode
from services.contracts.regions import load_region_table
from services.privacy.pseudonym import (
    Keyring,
    KeyringError,
    KeyRotationError,
    pseudonymise,
    to_validated_with_anchor,
)
from services.privacy.rotation import Tail, as_one_youth, check_start, link_status, record_is_anchored
from services.replay.offline import figures_document, judge_lines
from services.validate.answer import OutputTopics, answer_batch
from tests.unit.aggregate.aggregate_support import DictTable

K0, K1, K2 = b"0" * 32, b"1" * 32, b"2" * 32
OLD = Keyring("k0", {"k0": K0})
ROTATING = Keyring("k1", {"k0": K0, "k1": K1}, previous="k0")
BSN = "123456782"
MESSAGE = {
    "message_id": "5f0c3a56-1d1e-4c8e-9d0f-0d3c2b1a0f9e",
    "bsn": BSN,
    "birth_date": "2010-04-01",
    "municipality_code": "0363",
}
EXAMPLES = Path(__file__).resolve().parents[3].parent / "shared" / "spec" / "examples"


def _hmac(secret: bytes, bsn: str) -> str:
    return hmac.new(secret, bsn.encode(), hashlib.sha256).hexdigest()


# --- the keyring's rotation state -----------------------------------------------------------------


def test_previous_is_read_from_json_and_names_the_anchor_key() -> None:
    ring = Keyring.from_json(
        json.dumps({"active": "k1", "previous": "k0", "keys": {"k0": K0.hex(), "k1": K1.hex()}})
    )
    assert (ring.active_key_id, ring.previous_key_id, ring.anchor_key_id) == ("k1", "k0", "k0")
    assert "previous='k0'" in repr(ring) and K0.hex() not in repr(ring)
    plain = Keyring.from_json(json.dumps({"active": "k1", "keys": {"k1": K1.hex()}, "previous": None}))
    assert (plain.previous_key_id, plain.anchor_key_id) == (None, "k1")


@pytest.mark.parametrize(
    ("config", "error"),
    [
        ({"active": "k1", "previous": "k9", "keys": {"k1": K1.hex()}}, r"previous key 'k9' is not among"),
        ({"active": "k1", "previous": "k1", "keys": {"k1": K1.hex()}}, r"must differ from the active key"),
        ({"active": "k1", "previous": 0, "keys": {"k1": K1.hex()}}, r"'previous' must be a key id"),
        ({"active": "k1", "old": "k0", "keys": {"k1": K1.hex()}}, r"unknown field\(s\) \['old'\]"),
    ],
)
def test_a_bad_previous_is_refused(config: dict[str, Any], error: str) -> None:
    with pytest.raises(KeyringError, match=error):
        Keyring.from_mapping(config)


# --- the link validate computes -------------------------------------------------------------------


def test_outside_a_rotation_the_anchor_is_the_pseudonym() -> None:
    validated, anchor = to_validated_with_anchor(MESSAGE, OLD)
    assert anchor == validated["youth_pseudonym"] == _hmac(K0, BSN)
    assert validated["pseudonym_key_id"] == "k0"


def test_during_a_rotation_the_message_has_the_new_pseudonym_and_the_anchor_the_old_one() -> None:
    validated, anchor = to_validated_with_anchor(MESSAGE, ROTATING)
    assert validated["youth_pseudonym"] == _hmac(K1, BSN)
    assert validated["pseudonym_key_id"] == "k1"
    assert anchor == _hmac(K0, BSN) == to_validated_with_anchor(MESSAGE, OLD)[0]["youth_pseudonym"]
    assert "bsn" not in validated and BSN not in json.dumps(validated)


@given(st.integers(0, 999_999_999))
def test_the_anchor_is_the_pseudonym_under_previous_for_every_bsn(number: int) -> None:
    bsn = f"{number:09d}"
    validated, anchor = to_validated_with_anchor({**MESSAGE, "bsn": bsn}, ROTATING)
    assert anchor == pseudonymise(bsn, ROTATING, "k0")[0]
    assert validated["youth_pseudonym"] == pseudonymise(bsn, ROTATING)[0] != anchor


# --- whether validate may start -------------------------------------------------------------------

PLAIN_K0, PLAIN_K1 = Tail("k0", anchored=False), Tail("k1", anchored=False)
LINKED_K1, LINKED_K2 = Tail("k1", anchored=True), Tail("k2", anchored=True)


@pytest.mark.parametrize(
    ("active", "previous", "tails"),
    [
        ("k1", None, []),  # a fresh hub
        ("k1", "k0", []),  # a fresh hub started mid-procedure: harmless
        ("k0", None, [PLAIN_K0, PLAIN_K0]),  # no rotation
        ("k1", "k0", [PLAIN_K0, PLAIN_K0]),  # a rotation starts
        ("k1", "k0", [LINKED_K1, PLAIN_K0]),  # it continues; a quiet partition still ends in k0
    ],
)
def test_allowed_starts(active: str, previous: str | None, tails: list[Tail]) -> None:
    check_start(active, previous, tails)


@pytest.mark.parametrize(
    ("active", "previous", "tails", "error"),
    [
        ("k1", None, [PLAIN_K0], r"'k1'.*'k0'.*split"),  # unexplained key change: the data-loss case
        ("k2", "k1", [PLAIN_K0], r"'previous' must name the key of the stored state"),
        ("k1", None, [LINKED_K1], r"rotation to 'k1' is in progress.*Keep 'previous'"),  # dropped too soon
        ("k2", "k1", [LINKED_K1], r"rotation to 'k1'.*active key is 'k2'.*finish"),  # a second rotation
        ("k1", "k0", [LINKED_K2], r"rotation to 'k2'"),
        ("k1", "k0", [PLAIN_K1], r"built with the active key 'k1'.*Remove 'previous'"),
    ],
)
def test_refused_starts(active: str, previous: str | None, tails: list[Tail], error: str) -> None:
    with pytest.raises(KeyRotationError, match=error):
        check_start(active, previous, tails)


def test_a_record_is_anchored_when_its_key_is_not_its_pseudonym() -> None:
    assert not record_is_anchored(b"abc", "abc")
    assert record_is_anchored(b"old", "new")
    assert not record_is_anchored(None, "abc")


# --- the aggregate's identity and the link counts -------------------------------------------------


def test_link_status_counts_youth_with_a_new_pseudonym_as_linked() -> None:
    table = [
        ("a0", {"s:1": {"youth_pseudonym": "a0", "pseudonym_key_id": "k0"}}),
        ("b0", {"s:2": {"youth_pseudonym": "b0", "pseudonym_key_id": "k0"},
                "s:3": {"youth_pseudonym": "b1", "pseudonym_key_id": "k1"}}),
        ("c0", {"s:4": {"youth_pseudonym": "c1", "pseudonym_key_id": "k1"}}),
    ]  # fmt: skip
    status = link_status(table)
    assert {k: v for k, v in status.to_dict().items() if k not in ("old_key_retirable", "verdict")} == {
        "youth": 3,
        "linked": 2,
        "unlinked": 1,
        "current": 0,
        "messages_by_key_id": {"k0": 2, "k1": 2},
    }


def test_as_one_youth_names_every_message_by_its_anchor() -> None:
    old = {"youth_pseudonym": "a0", "x": 1}
    new = {"youth_pseudonym": "a1", "x": 2}
    result = as_one_youth("a0", [old, new])
    assert result == [old, {"youth_pseudonym": "a0", "x": 2}]
    assert result[0] is old and new["youth_pseudonym"] == "a1"  # stored messages are not changed


@dataclass
class Rec:
    key: bytes
    value: bytes
    partition: int
    offset: int


def _validated(lines: list[bytes], keyring: Keyring, dedup: DictTable) -> list[Rec]:
    out = OutputTopics("validated", "rejected", "retour")
    raws = [Rec(key, value, 0, offset) for offset, (key, value) in enumerate(raw_records(lines))]
    batch = answer_batch(out, raws, dedup, keyring, load_region_table(EXAMPLES / "regions.csv"))
    return [Rec(key, value, 0, n) for n, (key, value) in enumerate(batch.records["validated"])]


@pytest.mark.skipif(not EXAMPLES.is_dir(), reason="worked example not available")
def test_a_rotation_halfway_through_the_worked_example_counts_no_youth_twice() -> None:
    """Half the feed under k0, the rest with k1 active and k0 previous, through validate's and the
    aggregate's batch logic: the facts and figures equal replay of the whole feed under one key."""
    regions = load_region_table(EXAMPLES / "regions.csv")
    lines = (EXAMPLES / "feed.jsonl").read_bytes().splitlines()
    half = len(lines) // 2
    dedup = DictTable()
    before = _validated(lines[:half], OLD, dedup)
    after = _validated(lines[half:], ROTATING, dedup)
    assert before and after
    for record in after:  # the new pseudonym in the message, the old one as its key
        message = decode("ValidatedMessage", record.value)
        assert message["pseudonym_key_id"] == "k1"
        assert record.key != message["youth_pseudonym"].encode()
    assert {r.key for r in before} & {r.key for r in after}, "some youth appear on both sides"

    table = DictTable()
    batch = apply_batch(table, before + after, regions)
    facts = {key.decode(): YouthFacts.from_dict(json.loads(decode("YouthFactsRecord", value)["facts_json"]))
             for key, value in batch.facts}  # fmt: skip
    replay = judge_lines(lines, OLD, regions)
    as_of = date(2026, 3, 31)
    assert len(facts) == len(replay.by_youth)
    assert set(facts) == set(replay.by_youth)  # the anchors are the old pseudonyms
    assert (
        region_figures(facts.values(), as_of, regions) == figures_document(replay, as_of, regions)["regions"]
    )


def test_the_verdict_keeps_the_old_key_while_any_youth_is_anchored_on_it() -> None:
    plain = link_status([("a0", {"s:1": {"youth_pseudonym": "a0", "pseudonym_key_id": "k0"}})])
    assert plain.to_dict()["old_key_retirable"] is True
    assert plain.verdict() == "no rotation in progress"
    rotating = link_status([("b0", {"s:2": {"youth_pseudonym": "b1", "pseudonym_key_id": "k1"}})])
    rotating.merge(plain)
    assert (rotating.youth, rotating.linked, rotating.unlinked) == (2, 1, 1)
    assert rotating.to_dict()["old_key_retirable"] is False
    assert "1 youth are known only under it" in rotating.verdict()
    assert "1 youth are linked" in rotating.verdict()
    assert "counted as a new youth" in rotating.verdict()
    mixed = link_status([("c0", {"s:3": {"youth_pseudonym": "c0", "pseudonym_key_id": "k0"},
                                 "s:4": {"youth_pseudonym": "c0", "pseudonym_key_id": "k9"}})])  # fmt: skip
    assert mixed.to_dict()["old_key_retirable"] is False
