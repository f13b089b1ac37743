"""The public aggregates topic's side of the publisher: each round's transaction carries the public
form (services/regulator/public.py) of the exact rows it writes, without the position header, and
only when the public form (or the as-of date) changed."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime
from typing import Any

from services.aggregate.metrics import new_metrics
from services.aggregate.ordering import POSITION_HEADER
from services.aggregate.publisher import SnapshotPublisher
from services.aggregate.snapshots import SnapshotThrottle, public_due
from services.aggregate.state import FiguresState
from services.contracts.canonical import record_to_json
from services.contracts.codec import decode
from services.regulator.public import public_row
from tests.unit.aggregate.aggregate_support import TABLE, Feed, facts_of

D = date(2026, 3, 31)
COMPUTED = datetime(2026, 3, 31, 12, tzinfo=UTC)


class FakeProducer:
    """Records the committed sends of a transactional producer per topic."""

    def __init__(self) -> None:
        self.committed: list[tuple[str, bytes, bytes, list[tuple[str, bytes]] | None]] = []
        self._open: list[tuple[str, bytes, bytes, list[tuple[str, bytes]] | None]] = []
        self.transactions = 0

    async def begin_transaction(self) -> None:
        self._open = []

    async def send(
        self, topic: str, key: bytes, value: bytes, headers: list[tuple[str, bytes]] | None = None
    ) -> Any:
        self._open.append((topic, key, value, headers))
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        done.set_result(None)
        return done

    async def commit_transaction(self) -> None:
        self.committed += self._open
        self.transactions += 1

    def on(self, topic: str) -> list[tuple[str, dict[str, Any], list[tuple[str, bytes]] | None]]:
        schema = "PublicRegionSnapshot" if topic == "public" else "RegionSnapshot"
        return [
            (key.decode(), record_to_json(schema, decode(schema, value)), headers)
            for t, key, value, headers in self.committed
            if t == topic
        ]


def _add(state: FiguresState, youth: str, municipality: str = "0363") -> None:
    [facts] = facts_of([Feed(youth, municipality).start("10000001", "P1", "2026-01-10")])
    state.upsert(youth, facts, 1)


def _publisher() -> tuple[SnapshotPublisher, FakeProducer]:
    publisher = SnapshotPublisher(
        "unused:9092", "exact", "t-snapshots", new_metrics(), min_interval_s=0, public_topic="public"
    )
    producer = FakeProducer()
    publisher._producer = producer  # as after a take-over
    return publisher, producer


def _figures(value: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in value.items() if k not in ("as_of", "computed_at")}


def test_every_round_writes_the_public_form_of_its_exact_rows_in_the_same_transaction() -> None:
    async def scenario() -> None:
        publisher, producer = _publisher()
        state = FiguresState(TABLE, D)
        for n in range(7):
            _add(state, f"y{n}")
        assert await publisher.publish(state.rows(), state.position(), COMPUTED, now=1.0) == 4
        assert producer.transactions == 1
        exact, public = producer.on("exact"), producer.on("public")
        assert [key for key, _, _ in public] == [key for key, _, _ in exact] == ["R1", "R2", "R3", "NL"]
        for (_, exact_value, headers), (_, public_value, public_headers) in zip(exact, public, strict=True):
            assert _figures(public_value) == public_row(_figures(exact_value))
            assert (public_value["as_of"], public_value["computed_at"]) == (
                "2026-03-31",
                "2026-03-31T12:00:00Z",
            )
            assert headers is not None and headers[0][0] == POSITION_HEADER
            assert not public_headers  # no offsets or message counts for the public reader
        nl = next(value for key, value, _ in public if key == "NL")
        assert nl["occupancy"] == 5 and nl["suppressed"] == []

    asyncio.run(scenario())


def test_an_exact_change_that_keeps_the_public_form_writes_no_public_record() -> None:
    async def scenario() -> None:
        publisher, producer = _publisher()
        state = FiguresState(TABLE, D)
        for n in range(7):
            _add(state, f"y{n}")
        await publisher.publish(state.rows(), state.position(), COMPUTED, now=1.0)
        _add(state, "y7")  # 7 -> 8 in R1 and NL: rounds to 10, a new public form for both
        await publisher.publish(state.rows(), state.position(), COMPUTED, now=2.0)
        assert [key for key, _, _ in producer.on("public")][4:] == ["R1", "NL"]
        _add(state, "y8", municipality="0599")  # R2: 0 -> 1 (suppressed: new); NL 8 -> 9 (still 10)
        await publisher.publish(state.rows(), state.position(), COMPUTED, now=3.0)
        assert [key for key, _, _ in producer.on("exact")][6:] == ["R2", "NL"]
        assert [key for key, _, _ in producer.on("public")][6:] == ["R2"]
        _add(state, "y9", municipality="0599")  # R2: 1 -> 2 (still suppressed); NL 9 -> 10
        await publisher.publish(state.rows(), state.position(), COMPUTED, now=4.0)
        assert [key for key, _, _ in producer.on("exact")][8:] == ["R2", "NL"]
        assert [key for key, _, _ in producer.on("public")][7:] == []

    asyncio.run(scenario())


def test_a_new_publisher_fills_in_public_rows_missing_for_exact_rows_already_published() -> None:
    state = FiguresState(TABLE, D)
    _add(state, "y1")
    rows = state.rows()
    throttle = SnapshotThrottle(0)
    throttle.seed({row["region"]: (D.isoformat(), row) for row in rows})  # the exact topic has them
    missing = public_due(rows, [], D, throttle, {})
    assert missing == [public_row(row) for row in rows]
    on_topic = {row["region"]: (D.isoformat(), public_row(row)) for row in rows}
    assert public_due(rows, [], D, throttle, on_topic) == []
    # A row changed but held back by the interval: its public form waits for its exact row.
    _add(state, "y2")
    assert public_due(state.rows(), [], D, throttle, on_topic) == []
    # A new day: the same figures as of another date are a new public record.
    later = date(2026, 4, 1)
    assert len(public_due(rows, rows, later, throttle, on_topic)) == 4
