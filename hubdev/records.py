"""Test and benchmark input: feeds expanded into many disjoint youth, and the raw-topic records
ingest would write for them.

One home for what the integration tests, the fault tests and ``bench/`` feed the workers, so that a
benchmark input is the kind of input the tests check for correctness (same seed, same output), and
a raw record is built one way only (``RawMessage`` via the contract codec, keyed like ingest).
"""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import Iterable, Mapping
from copy import deepcopy
from datetime import UTC, date, datetime, timedelta
from typing import Any

import orjson

from services.contracts.bsn import is_valid_bsn
from services.contracts.codec import encode

DEFAULT_SENDER = {"kind": "provider", "code": "10000001"}
"""The sender of a payload that is not a JSON object (it names none)."""


def valid_bsn(rng: random.Random) -> str:
    """A random 9-digit number that passes the 11-proef."""
    while True:
        digits = [rng.randrange(10) for _ in range(8)]
        total = sum(w * d for w, d in zip(range(9, 1, -1), digits, strict=True))
        last = total % 11
        if last < 10:
            return "".join(map(str, [*digits, last]))


PLACEMENT: Mapping[str, Any] = {
    "message_id": "0f8fad5b-d9cb-469f-a165-70867728950e",
    "message_type": "placement_started",
    "status": "new",
    "cancels_message_id": None,
    "sender": {"kind": "provider", "code": "12345678"},
    "created_at": "2026-03-02T09:30:00Z",
    "bsn": "123456782",
    "birth_date": "2010-05-17",
    "municipality_code": "0363",
    "placement_id": "P1",
    "provider_agb": "12345678",
    "location_code": "L1",
    "care_type": "gesloten",
    "legal_basis": "machtiging",
    "start_date": "2026-03-01",
}
"""A valid inbound ``placement_started`` message with known values (read-only: use :func:`placement`)."""


def placement(
    rng: random.Random | None = None,
    bsn: str | None = None,
    birth: date | None = None,
    /,
    provider: str | None = None,
    **changes: Any,
) -> dict[str, Any]:
    """An inbound ``placement_started`` message: :data:`PLACEMENT`, or with *rng* a drawn one (message
    id, start date in early 2026, placement id and care type; provider 10000001).

    *bsn*, *birth* and *provider* (sender code and AGB) replace those fields; *changes* replace any
    field (``bsn=123`` too: a wrong type), and a change to ``...`` removes it.
    """
    if rng is None:
        message = deepcopy(dict(PLACEMENT))
    else:
        start = date(2026, 1, 1) + timedelta(days=rng.randrange(60))
        message = {
            **deepcopy(dict(PLACEMENT)),
            "message_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            "sender": {"kind": "provider", "code": "10000001"},
            "created_at": f"{start + timedelta(days=1)}T10:00:00Z",
            "placement_id": f"P{rng.getrandbits(32):08x}",
            "provider_agb": "10000001",
            "care_type": rng.choice(["gesloten", "open_residentieel", "gezinshuis"]),
            "start_date": start.isoformat(),
        }
    if bsn is not None:
        message["bsn"] = bsn
    if birth is not None:
        message["birth_date"] = birth.isoformat()
    if provider is not None:
        message["sender"] = {"kind": "provider", "code": provider}
        message["provider_agb"] = provider
    for key, value in changes.items():
        if value is ...:
            message.pop(key, None)
        else:
            message[key] = value
    return message


def expand_feed(lines: list[bytes], copies: int, seed: int) -> list[bytes]:
    """``copies`` disjoint copies of a feed (new youth, ids and references), shuffled.

    Each copy keeps every quirk of the original (duplicates, conflicting re-sends, cancels, rule
    breaks); only valid BSNs are replaced, so invalid ones stay invalid.
    """
    rng = random.Random(seed)
    out: list[bytes] = []
    for copy in range(copies):
        namespace = uuid.UUID(int=rng.getrandbits(128))
        bsn_map: dict[str, str] = {}
        for line in lines:
            try:
                message = json.loads(line)
            except ValueError:
                out.append(line)
                continue
            if not isinstance(message, dict):
                out.append(line)
                continue
            for key in ("message_id", "cancels_message_id"):
                if isinstance(message.get(key), str):
                    message[key] = str(uuid.uuid5(namespace, message[key]))
            bsn = message.get("bsn")
            if isinstance(bsn, str) and is_valid_bsn(bsn):
                message["bsn"] = bsn_map.setdefault(bsn, valid_bsn(rng))
            for key in ("placement_id", "from_placement_id", "to_placement_id", "measure_id"):
                if isinstance(message.get(key), str) and len(message[key]) <= 32:
                    message[key] = f"{message[key]}c{copy}"
            out.append(orjson.dumps(message))
    rng.shuffle(out)
    return out


def raw_record(
    message: dict[str, Any] | bytes,
    sender: dict[str, str] | None = None,
    received_at: datetime | None = None,
) -> tuple[bytes, bytes]:
    """(key, RawMessage bytes) as ingest would write them; bytes are a payload that is not a JSON
    object (ingest stores it as received, under message id ``unreadable``)."""
    if isinstance(message, bytes):
        payload, message_id = message, "unreadable"
        sender = sender or DEFAULT_SENDER
    else:
        payload, message_id = orjson.dumps(message), str(message["message_id"])
        sender = sender or message["sender"]
    assert sender is not None
    record = {
        "received_at": received_at or datetime.now(UTC).replace(microsecond=0),
        "sender": sender,
        "message_id": message_id,
        "format": "json",
        "payload": payload,
    }
    return f"{sender['code']}:{message_id}".encode(), encode("RawMessage", record)


def raw_records(lines: Iterable[bytes], received_at: datetime | None = None) -> list[tuple[bytes, bytes]]:
    """The raw-topic records ingest would write for feed lines (a line that is not a JSON object
    as is), all received at one moment."""
    received_at = received_at or datetime.now(UTC).replace(microsecond=0)
    records = []
    for line in lines:
        try:
            message = orjson.loads(line)
        except orjson.JSONDecodeError:
            message = None
        if isinstance(message, dict):
            records.append(raw_record(message, received_at=received_at))
        else:
            records.append(raw_record(line, received_at=received_at))
    return records
