"""Generated canonical-JSON messages and RawMessage records for integration tests."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import orjson

from services.contracts.codec import encode


def valid_bsn(rng: random.Random) -> str:
    """A random 9-digit number that passes the 11-proef."""
    while True:
        digits = [rng.randrange(10) for _ in range(8)]
        total = sum(w * d for w, d in zip(range(9, 1, -1), digits, strict=True))
        last = total % 11
        if last < 10:
            return "".join(map(str, [*digits, last]))


def placement(
    rng: random.Random, bsn: str, birth: date, provider: str = "10000001", **overrides: Any
) -> dict[str, Any]:
    start = date(2026, 1, 1) + timedelta(days=rng.randrange(60))
    message = {
        "message_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        "message_type": "placement_started",
        "status": "new",
        "cancels_message_id": None,
        "sender": {"kind": "provider", "code": provider},
        "created_at": f"{start + timedelta(days=1)}T10:00:00Z",
        "bsn": bsn,
        "birth_date": birth.isoformat(),
        "municipality_code": "0363",
        "placement_id": f"P{rng.getrandbits(32):08x}",
        "provider_agb": provider,
        "location_code": "L1",
        "care_type": rng.choice(["gesloten", "open_residentieel", "gezinshuis"]),
        "legal_basis": "machtiging",
        "start_date": start.isoformat(),
    }
    message.update(overrides)
    return message


def raw_record(message: dict[str, Any] | bytes, sender: dict[str, str] | None = None) -> tuple[bytes, bytes]:
    """(key, RawMessage bytes) as ingest would write them."""
    if isinstance(message, bytes):
        payload, message_id = message, "unreadable"
        sender = sender or {"kind": "provider", "code": "10000001"}
    else:
        payload, message_id = orjson.dumps(message), str(message["message_id"])
        sender = sender or message["sender"]
    assert sender is not None
    record = {
        "received_at": datetime.now(UTC).replace(microsecond=0),
        "sender": sender,
        "message_id": message_id,
        "format": "json",
        "payload": payload,
    }
    return f"{sender['code']}:{message_id}".encode(), encode("RawMessage", record)


def _bsn_valid(bsn: str) -> bool:
    if len(bsn) != 9 or not bsn.isdigit():
        return False
    total = sum(w * int(d) for w, d in zip(range(9, 1, -1), bsn[:8], strict=True)) - int(bsn[8])
    return total % 11 == 0


def expand_feed(lines: list[bytes], copies: int, seed: int) -> list[bytes]:
    """``copies`` disjoint copies of a feed (new youth, ids and references), shuffled.

    Each copy keeps every quirk of the original (duplicates, conflicting re-sends, cancels, rule
    breaks); only valid BSNs are replaced, so invalid ones stay invalid.
    """
    import json

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
            if isinstance(bsn, str) and _bsn_valid(bsn):
                message["bsn"] = bsn_map.setdefault(bsn, valid_bsn(rng))
            for key in ("placement_id", "from_placement_id", "to_placement_id", "measure_id"):
                if isinstance(message.get(key), str) and len(message[key]) <= 32:
                    message[key] = f"{message[key]}c{copy}"
            out.append(orjson.dumps(message))
    rng.shuffle(out)
    return out
