"""The apply stage without a broker: a batch of validated records into the youth-messages table and
the youth-facts records to publish (services/aggregate/apply.py, the worker's agent body)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson
import pytest

import services.aggregate.apply as apply_module
from services.aggregate.apply import apply_batch
from services.aggregate.facts import FACTS_VERSION, YouthFacts, build_youth_facts
from services.aggregate.records import message_key
from services.contracts.canonical import validated_from_json
from services.contracts.codec import decode, encode
from tests.unit.aggregate.aggregate_support import TABLE, DictTable, Feed, Msg


@dataclass
class Rec:
    value: bytes
    partition: int
    offset: int


def rec(message: Msg, partition: int = 0, offset: int = 0) -> Rec:
    return Rec(encode("ValidatedMessage", validated_from_json(message)), partition, offset)


def facts_by_youth(facts: list[tuple[bytes, bytes]]) -> dict[str, dict[str, Any]]:
    out = {}
    for key, value in facts:
        record = decode("YouthFactsRecord", value)
        assert record["youth_pseudonym"] == key.decode()
        assert record["facts_version"] == FACTS_VERSION
        out[key.decode()] = record
    return out


def test_a_batch_is_stored_per_youth_and_each_youth_gets_facts_from_all_its_messages() -> None:
    a, b = Feed("ya"), Feed("yb", municipality="0599")
    start_a, end_a = a.start("11111111", "P1", "2026-01-05"), a.end("11111111", "P1", "2026-02-01")
    start_b = b.start("22222222", "P9", "2026-01-10")
    table = DictTable()
    table.set("ya", {message_key(start_a): start_a})  # stored by an earlier batch
    table.drain()

    batch = apply_batch(table, [rec(end_a, 2, 40), rec(start_b, 5, 7), rec(start_a, 2, 39)], TABLE)

    assert table.get("ya") == {message_key(start_a): start_a, message_key(end_a): end_a}
    assert table.get("yb") == {message_key(start_b): start_b}
    # one changelog record per youth written, the partition key its youth
    assert sorted(route for route, _, _ in batch.changelog) == [b"ya", b"yb"]
    facts = facts_by_youth(batch.facts)
    assert set(facts) == {"ya", "yb"}
    assert facts["ya"]["messages_applied"] == 2
    assert YouthFacts.from_dict(orjson.loads(facts["ya"]["facts_json"])) == build_youth_facts(
        [start_a, end_a], TABLE
    )
    assert batch.highest == {2: 40, 5: 7}


def test_a_message_read_again_writes_nothing_but_its_youth_facts_go_out_again() -> None:
    feed = Feed("ya")
    start = feed.start("11111111", "P1", "2026-01-05")
    table = DictTable()
    apply_batch(table, [rec(start)], TABLE)
    writes = table.writes

    again = apply_batch(table, [rec(start, offset=1)], TABLE)

    assert table.writes == writes
    assert again.changelog == []
    assert set(facts_by_youth(again.facts)) == {"ya"}  # republished: the first facts may be lost


def test_an_undecodable_record_is_skipped_and_the_rest_of_the_batch_applied() -> None:
    start = Feed("ya").start("11111111", "P1", "2026-01-05")
    table = DictTable()

    batch = apply_batch(table, [Rec(b"not avro", 0, 3), rec(start, 0, 4)], TABLE)

    assert list(table.data) == ["ya"]
    assert set(facts_by_youth(batch.facts)) == {"ya"}
    assert batch.highest == {0: 4}


def test_a_youth_whose_facts_fail_is_left_out_and_keeps_its_messages(monkeypatch: pytest.MonkeyPatch) -> None:
    bad, good = (
        Feed("bad").start("11111111", "P1", "2026-01-05"),
        Feed("good").start("11111111", "P2", "2026-01-05"),
    )

    def build(messages: list[Msg], regions: Any) -> YouthFacts:
        if messages[0]["youth_pseudonym"] == "bad":
            raise RuntimeError("a bug for this youth")
        return build_youth_facts(messages, regions)

    monkeypatch.setattr(apply_module, "build_youth_facts", build)
    table = DictTable()

    batch = apply_batch(table, [rec(bad), rec(good, offset=1)], TABLE)

    assert set(facts_by_youth(batch.facts)) == {"good"}
    assert set(table.data) == {"bad", "good"}  # stored: the youth's next message retries
    assert len(batch.changelog) == 2
