"""The validate agent's body without a broker: a batch of raw records answered in order, its
duplicate-table writes left to drain, its outcomes counted (services/validate/answer.py)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

from services.contracts.codec import decode, encode
from services.contracts.regions import load_region_table
from services.privacy.pseudonym import Keyring
from services.validate.answer import OutputTopics, answer_batch

KEYRING = Keyring("k1", {"k1": b"k" * 32})
REGIONS = load_region_table()
OUT = OutputTopics("validated", "rejected", "retour")
SENDER = {"kind": "provider", "code": "10000001"}


class DictTable:
    """The duplicate table (StateTable) in a dict."""

    topic = "dedup-changelog"

    def __init__(self) -> None:
        self.data: dict[str, Any] = {}
        self.pending: dict[str, str] = {}

    def get(self, key: str, route: str | None = None) -> Any:
        return self.data.get(key)

    def set(self, key: str, value: Any, route: str | None = None) -> None:
        self.data[key] = value
        self.pending[key] = route or key

    def drain(self) -> list[tuple[bytes, bytes, bytes]]:
        pending, self.pending = self.pending, {}
        return [
            (route.encode(), key.encode(), orjson.dumps(self.data[key])) for key, route in pending.items()
        ]

    def __len__(self) -> int:
        return len(self.data)


@dataclass
class Rec:
    value: bytes
    partition: int
    offset: int


def raw(message_id: str, **overrides: Any) -> bytes:
    message: dict[str, Any] = {
        "message_id": message_id,
        "message_type": "placement_started",
        "status": "new",
        "cancels_message_id": None,
        "sender": SENDER,
        "created_at": "2026-02-20T10:00:00Z",
        "bsn": "972308660",
        "birth_date": "2009-07-13",
        "municipality_code": "0363",
        "placement_id": "P1",
        "provider_agb": SENDER["code"],
        "location_code": "L1",
        "care_type": "gesloten",
        "legal_basis": "machtiging",
        "start_date": "2026-02-19",
    } | overrides
    record = {
        "received_at": datetime(2026, 2, 20, 10, 0, 1, tzinfo=UTC),
        "sender": SENDER,
        "message_id": message_id,
        "format": "json",
        "payload": orjson.dumps(message),
    }
    return encode("RawMessage", record)


ACCEPTED = "0f8fad5b-d9cb-469f-a165-70867728950e"
REJECTED = "7c9e6679-7425-40de-944b-e07fc1f90ae7"


def test_a_batch_is_answered_in_order_counted_and_its_table_writes_left_to_drain() -> None:
    table = DictTable()
    batch = answer_batch(
        OUT,
        [
            Rec(raw(ACCEPTED), 2, 10),
            Rec(raw(ACCEPTED), 2, 11),  # the same message again: a duplicate
            Rec(raw(REJECTED, bsn="123456789"), 4, 3),  # fails the 11-proef
            Rec(b"not a RawMessage", 4, 4),
        ],
        table,
        KEYRING,
        REGIONS,
    )

    assert [len(batch.records[topic]) for topic in ("validated", "rejected", "retour")] == [1, 2, 4]
    validated = decode("ValidatedMessage", batch.records["validated"][0][1])
    assert str(validated["message_id"]) == ACCEPTED
    assert (batch.counts.accepted, batch.counts.duplicates) == (1, 1)
    assert batch.counts.rejected == {SENDER["code"]: 1, "unknown": 1}
    assert batch.highest == {2: 11, 4: 4}
    changelog = table.drain()
    assert {key for _, key, _ in changelog} >= {f"{SENDER['code']}:{ACCEPTED}".encode()}
    assert len(table) == len(changelog)


def test_a_message_seen_in_an_earlier_batch_is_a_duplicate_with_no_new_table_write() -> None:
    table = DictTable()
    answer_batch(OUT, [Rec(raw(ACCEPTED), 0, 1)], table, KEYRING, REGIONS)
    table.drain()

    again = answer_batch(OUT, [Rec(raw(ACCEPTED), 0, 2)], table, KEYRING, REGIONS)

    assert again.counts.duplicates == 1
    assert again.records["validated"] == []
    assert len(again.records["retour"]) == 1
    assert table.drain() == []
