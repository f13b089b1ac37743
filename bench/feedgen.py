"""Input generation shared by the benchmarks: the worked example feed, expanded to many youth.

``expand_feed`` makes ``copies`` disjoint copies of ``feed.jsonl`` (new youth, message ids and
references) and shuffles them, keeping every quirk of the original: duplicates, conflicting
re-sends, cancels, rule breaks and the one line that is not JSON. It is
``hubdev.simulate.expand.expand_feed``, which the integration tests use too, so a benchmark
input is the kind of input they check for correctness. The example feed's 778 lines
hold about 150 youth, 725 accepted, 19 rejected and 36 duplicates per copy.

Everything here is deterministic for a given seed, except :func:`raw_record`'s ``received_at``.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from hubdev.simulate.expand import expand_feed, valid_bsn  # noqa: E402
from services.contracts.codec import encode  # noqa: E402

__all__ = ["expand_feed", "expanded", "feed_lines", "raw_record", "raw_records", "valid_bsn"]

EXAMPLES = REPO.parent / "shared" / "spec" / "examples"
FEED = EXAMPLES / "feed.jsonl"
REGIONS = EXAMPLES / "regions.csv"
FEED_LINES = 778
"""Lines in the example feed: ``copies = ceil(wanted / FEED_LINES)``."""
YOUTH_PER_COPY = 150


def feed_lines(path: Path = FEED) -> list[bytes]:
    if not path.is_file():
        raise SystemExit(f"the worked example is not at {path} (it ships in shared/spec/examples)")
    return path.read_bytes().splitlines()


def expanded(at_least: int, seed: int = 2026) -> list[bytes]:
    """At least ``at_least`` lines: whole copies of the example feed."""
    copies = -(-at_least // FEED_LINES)
    return expand_feed(feed_lines(), copies, seed)


def raw_record(
    message: dict[str, Any] | bytes,
    sender: dict[str, str] | None = None,
    received_at: datetime | None = None,
) -> tuple[bytes, bytes]:
    """(key, RawMessage bytes) as ingest would write them."""
    if isinstance(message, bytes):
        payload, message_id = message, "unreadable"
        sender = sender or {"kind": "provider", "code": "10000001"}
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


def raw_records(lines: Iterable[bytes]) -> list[tuple[bytes, bytes]]:
    """The raw-topic records ingest would write for feed lines (a non-JSON line as is)."""
    received_at = datetime.now(UTC).replace(microsecond=0)
    records = []
    for line in lines:
        try:
            message = orjson.loads(line)
        except orjson.JSONDecodeError:
            records.append(raw_record(line, received_at=received_at))
            continue
        if isinstance(message, dict):
            records.append(raw_record(message, received_at=received_at))
        else:
            records.append(raw_record(line, received_at=received_at))
    return records
