"""A raw record re-read after a crash writes its duplicate-table entry again, unchanged
(services/validate/answer.py, ``_judge``): the RocksDB store takes a batch's entries before their
changelog records are acknowledged, so after a crash in between only this write brings the
changelog level with the store."""

from __future__ import annotations

import orjson

from services.validate.answer import answer_batch
from tests.unit.validate.test_validate_answer_batch import (
    ACCEPTED,
    KEYRING,
    OUT,
    REGIONS,
    REJECTED,
    SENDER,
    DictTable,
    Rec,
    raw,
)


def crash_after_the_store_took_the_batch(table: DictTable) -> None:
    """The store keeps the batch's entries; their changelog records were never acknowledged."""
    table.drain()


def test_a_re_read_record_writes_its_stored_entry_again_with_the_same_outputs() -> None:
    table = DictTable()
    records = [Rec(raw(ACCEPTED), 2, 10), Rec(raw(REJECTED, bsn="123456789"), 2, 11)]
    first = answer_batch(OUT, records, table, KEYRING, REGIONS)
    stored = dict(table.data)
    crash_after_the_store_took_the_batch(table)

    again = answer_batch(OUT, records, table, KEYRING, REGIONS)

    assert again.records == first.records  # a replay, not a duplicate: the same outputs
    assert (again.counts.accepted, again.counts.duplicates) == (1, 0)
    assert table.data == stored  # the entries are unchanged ...
    changelog = table.drain()  # ... and their changelog records go out again
    assert {key.decode(): orjson.loads(value) for _, key, value in changelog} == stored
    assert {route for route, _, _ in changelog} == {
        f"{SENDER['code']}:{ACCEPTED}".encode(),
        f"{SENDER['code']}:{REJECTED}".encode(),
    }


def test_a_hashed_key_is_written_again_on_its_raw_records_partition_key() -> None:
    message_id = "not a uuid"  # rejected, and its table key is a hash of sender and message_id
    table = DictTable()
    answer_batch(OUT, [Rec(raw(message_id), 1, 7)], table, KEYRING, REGIONS)
    (key,) = table.data
    assert key.startswith("#")
    crash_after_the_store_took_the_batch(table)

    answer_batch(OUT, [Rec(raw(message_id), 1, 7)], table, KEYRING, REGIONS)

    assert [(route.decode(), k.decode()) for route, k, _ in table.drain()] == [
        (f"{SENDER['code']}:{message_id}", key)
    ]


def test_a_later_copy_of_a_stored_message_writes_nothing() -> None:
    """Only the record the entry names is written again; a re-send (another offset) is a duplicate."""
    table = DictTable()
    answer_batch(OUT, [Rec(raw(ACCEPTED), 0, 1)], table, KEYRING, REGIONS)
    stored = dict(table.data)
    table.drain()

    resent = answer_batch(OUT, [Rec(raw(ACCEPTED), 0, 2)], table, KEYRING, REGIONS)

    assert resent.counts.duplicates == 1
    assert table.drain() == []
    assert table.data == stored


def test_a_conflict_keeps_the_first_entry_and_writes_nothing() -> None:
    table = DictTable()
    answer_batch(OUT, [Rec(raw(ACCEPTED), 0, 1)], table, KEYRING, REGIONS)
    stored = dict(table.data)
    table.drain()

    conflict = answer_batch(OUT, [Rec(raw(ACCEPTED, placement_id="P2"), 0, 2)], table, KEYRING, REGIONS)

    assert sum(conflict.counts.rejected.values()) == 1
    assert table.drain() == []
    assert table.data == stored
