"""Posting a feed to the real ingest HTTP application (its Kafka writer replaced by a list).

Checks what the contract needs from a sender: every message reaches ingest under its own sender's
token, in feed order per sender (so the first copy of a message id is the first to arrive), lines
that are not JSON are refused by ingest alone, and 429s are waited out and retried.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import replace
from datetime import date
from typing import Any

import orjson
import pytest

from hubdev.simulate.feed import Line, SimulationConfig
from hubdev.simulate.post import Poster, PostError
from services.contracts.codec import decode
from tests.unit.simulate.simulate_support import Feed, simulate

ingest_app = pytest.importorskip("services.ingest.app")
ingest_settings = pytest.importorskip("services.ingest.settings")
ingest_tokens = pytest.importorskip("services.ingest.tokens")
test_utils = pytest.importorskip("aiohttp.test_utils")

FEED_CONFIG = SimulationConfig(
    start=date(2023, 1, 1),
    end=date(2023, 2, 28),
    seed=4,
    history_days=30,
    scale=0.2,
    other_care_scale=0.05,
    invalid_share=0.05,
    providers=12,
)


class ListWriter:
    """Stands in for the Kafka raw-topic writer."""

    available = True

    def __init__(self) -> None:
        self.records: list[tuple[bytes, bytes]] = []

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        return None

    async def write(
        self, records: Sequence[tuple[bytes, bytes]], audit: tuple[bytes, bytes] | None = None
    ) -> None:
        """The raw records (the access record, ingest's audit of the request, is not looked at here)."""
        self.records.extend(records)

    async def probe(self) -> bool:
        return True


class NoReader:
    async def close(self) -> None:
        return None

    async def sender_partition(self, sender_code: str) -> tuple[int, int]:
        raise AssertionError("not used")

    async def read(self, sender_kind: str, sender_code: str, start: Any, limit: int) -> Any:
        raise AssertionError("not used")


def _tokens(feed: Feed) -> tuple[dict[str, str], Any]:
    plain: dict[str, str] = {}
    table: dict[str, Any] = {}
    for sender in feed.senders:
        key = f"{sender['kind']}:{sender['code']}"
        if key not in plain:
            token = ingest_tokens.new_token()
            plain[key] = token
            table[ingest_tokens.hash_token(token)] = ingest_tokens.Sender(sender["kind"], sender["code"])
    return plain, ingest_tokens.TokenStore(table)


async def _post(feed: Feed, tokens: dict[str, str], store: Any, **settings: Any) -> tuple[Any, ListWriter]:
    writer = ListWriter()
    app = ingest_app.create_app(
        ingest_settings.IngestSettings(**settings), tokens=store, writer=writer, reader=NoReader()
    )
    async with test_utils.TestServer(app) as server:
        poster = Poster(str(server.make_url("/")), tokens, rate=None, batch_size=100, concurrency=4)
        report = await poster.run(Line(p, s) for p, s in zip(feed.lines, feed.senders, strict=True))
    return report, writer


def test_every_message_arrives_in_order_per_sender() -> None:
    feed = simulate(FEED_CONFIG)
    # One more line that is not JSON, wherever the generator put (or did not put) its own.
    feed = replace(
        feed, lines=[*feed.lines, b'{"message_id": "cut off'], senders=[*feed.senders, feed.senders[0]]
    )
    tokens, store = _tokens(feed)
    report, writer = asyncio.run(_post(feed, tokens, store, ingest_rate_per_s=1e6, ingest_rate_burst=1e6))

    objects = [p for p in feed.lines if p.startswith(b"{") and p.endswith(b"}")]
    not_json = len(feed.lines) - len(objects)
    assert not_json == feed.stats.not_json + 1
    assert report.messages == len(objects) == len(writer.records)
    assert report.refused == {"400 invalid-json": not_json}

    expected: dict[str, list[str]] = defaultdict(list)
    for payload, sender in zip(feed.lines, feed.senders, strict=True):
        if payload.startswith(b"{") and payload.endswith(b"}"):
            expected[sender["code"]].append(orjson.loads(payload)["message_id"])
    received: dict[str, list[str]] = defaultdict(list)
    for _, value in writer.records:
        record = decode("RawMessage", value)
        received[record["sender"]["code"]].append(record["message_id"])
    assert received == expected


def test_rate_limits_are_waited_out() -> None:
    feed = simulate(replace(FEED_CONFIG, end=date(2023, 1, 15), history_days=0, invalid_share=0.0))
    tokens, store = _tokens(feed)
    settings = {"ingest_rate_per_s": 2_000.0, "ingest_rate_burst": 100.0, "ingest_max_batch": 100}
    report, writer = asyncio.run(_post(feed, tokens, store, **settings))
    assert report.messages == len(feed.lines) == len(writer.records)
    assert report.retries > 0
    assert not report.refused


def test_a_sender_without_token_stops_posting() -> None:
    feed = simulate(replace(FEED_CONFIG, end=date(2023, 1, 10), history_days=0))
    tokens, store = _tokens(feed)
    tokens.pop(next(iter(tokens)))
    with pytest.raises(PostError, match="no token"):
        asyncio.run(_post(feed, tokens, store))
