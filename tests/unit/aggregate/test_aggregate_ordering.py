"""The ordering rule of published figures (services/aggregate/ordering.py), with the figures state
that supplies the positions and the publisher's gate.

The central property: readers of one youth-facts log at different (and incomparable) positions,
publishing in any interleaving through the gate, with publishers taking over from each other (each
take-over starts from the join of what is on the topic), produce a sequence of snapshots in which
every position covers the previous one and the accepted-message count never decreases, even when
the log holds stale facts (derived from fewer messages) after newer ones.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime
from itertools import pairwise
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.aggregate.metrics import new_metrics
from services.aggregate.ordering import POSITION_HEADER, Position, joined, may_follow, position_of
from services.aggregate.publisher import SnapshotPublisher
from services.aggregate.state import FiguresState
from services.contracts.codec import decode
from tests.unit.aggregate.aggregate_support import TABLE, Feed, facts_of

D = date(2026, 3, 31)
FACTS = facts_of([Feed("y", "0363").start("10000001", "P1", "2026-01-10")])[0]

offsets = st.lists(st.integers(0, 50), max_size=4).map(tuple)
days = st.sampled_from([date(2026, 3, 30), D, date(2026, 4, 1)])
positions = st.builds(Position, days, offsets, st.integers(0, 1000))


@given(positions, positions, positions)
def test_covers_is_a_partial_order_and_join_the_least_upper_bound(
    a: Position, b: Position, c: Position
) -> None:
    assert a.covers(a)
    if a.covers(b) and b.covers(c):
        assert a.covers(c)
    j = a.join(b)
    assert j.covers(a) and j.covers(b)
    if c.covers(a) and c.covers(b):
        assert c.covers(j)  # least: whatever covers both covers the join
    assert joined([a, b, c]) == a.join(b).join(c)


def test_covers_compares_every_partition_and_the_date() -> None:
    ahead_in_0 = Position(D, (5, 1))
    ahead_in_1 = Position(D, (1, 5))
    assert not ahead_in_0.covers(ahead_in_1) and not ahead_in_1.covers(ahead_in_0)  # incomparable
    assert Position(D, (5, 5)).covers(ahead_in_0)
    assert Position(D, (5, 1, 0)).covers(ahead_in_0)  # a missing partition counts as offset 0
    assert not Position(date(2026, 3, 30), (9, 9)).covers(ahead_in_0)  # an earlier as-of date
    assert may_follow(ahead_in_0, None)
    assert not may_follow(ahead_in_1, ahead_in_0)


@given(positions)
def test_header_round_trip(position: Position) -> None:
    assert position_of([("other", b"x"), (POSITION_HEADER, position.to_header())]) == position


def test_headers_that_are_missing_or_malformed_give_none() -> None:
    assert position_of(None) is None
    assert position_of([]) is None
    for bad in (b"", b"{", b"[]", b'{"as_of": "2026-13-01", "facts": [], "accepted": 0}',
                b'{"as_of": "2026-03-31", "facts": [-1], "accepted": 0}',
                b'{"as_of": "2026-03-31", "facts": [true], "accepted": 0}',
                b'{"as_of": "2026-03-31", "facts": [], "accepted": "1"}'):  # fmt: skip
        assert position_of([(POSITION_HEADER, bad)]) is None, bad


def test_state_ignores_facts_from_fewer_messages_and_tracks_its_position() -> None:
    state = FiguresState(TABLE, D)
    assert state.position() == Position(D, (), 0)
    assert state.upsert("y1", FACTS, 3)
    state.read_up_to(1, 7)
    version = state.version
    # A stale view of y1 (re-derived after a crash from a table that had not yet stored all three
    # messages): ignored, the figures keep what they reflect.
    ended = facts_of(
        [Feed("y1").start("10000001", "P1", "2026-01-10"), Feed("y1").end("10000001", "P1", "2026-02-01")]
    )
    assert not state.upsert("y1", ended[0], 2)
    assert state.version == version and state.accepted == 3
    state.read_up_to(1, 8)
    assert state.upsert("y2", FACTS, 1)
    assert state.position() == Position(D, (0, 9), 4)
    assert state.upsert("y1", ended[0], 3)  # the same number of messages: a newer definition wins
    assert state.version > version
    state.read_up_to(1, 2)  # an older offset never moves the position back
    assert state.position().facts == (0, 9)


Record = tuple[int, str, int]
"""(youth-facts partition, youth, messages_applied)"""


@st.composite
def logs(draw: Any) -> list[list[Record]]:
    """A youth-facts log: per partition, records of its youth with counts that mostly grow and
    sometimes step back (stale facts written after newer ones)."""
    partitions = draw(st.integers(1, 3))
    log: list[list[Record]] = [[] for _ in range(partitions)]
    for youth in range(draw(st.integers(1, 6))):
        partition = youth % partitions
        count = 0
        for _ in range(draw(st.integers(1, 5))):
            count = max(1, count + draw(st.integers(-2, 3)))
            log[partition].append((partition, f"y{youth}", count))
    return log


class Reader:
    """A worker's figures state reading the log, partition by partition."""

    def __init__(self, log: list[list[Record]]) -> None:
        self.log = log
        self.state = FiguresState(TABLE, D)
        self.read = [0] * len(log)

    def advance(self, partition: int, steps: int) -> None:
        for _ in range(steps):
            if self.read[partition] < len(self.log[partition]):
                _, youth, count = self.log[partition][self.read[partition]]
                self.state.upsert(youth, FACTS, count)
                self.state.read_up_to(partition, self.read[partition])
                self.read[partition] += 1


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(logs(), st.data())
def test_gated_publishers_give_a_chain_of_positions_and_counts(log: list[list[Record]], data: Any) -> None:
    readers = [Reader(log) for _ in range(data.draw(st.integers(2, 3)))]
    topic: list[Position] = []  # committed snapshot positions, in log order
    holder, gate = 0, joined(topic)
    for _ in range(data.draw(st.integers(1, 40))):
        step = data.draw(st.sampled_from(["advance", "publish", "take_over"]))
        if step == "advance":
            reader = data.draw(st.sampled_from(readers))
            reader.advance(data.draw(st.integers(0, len(log) - 1)), data.draw(st.integers(1, 3)))
        elif step == "take_over":  # fencing: the new holder starts from everything committed
            holder, gate = data.draw(st.integers(0, len(readers) - 1)), joined(topic)
        else:
            position = readers[holder].state.position()
            if may_follow(position, gate):
                topic.append(position)
                gate = position if gate is None else gate.join(position)
    for before, after in pairwise(topic):
        assert after.covers(before)
        assert after.accepted >= before.accepted


class FakeProducer:
    """Records what a transactional producer was asked to do (the real one is tested on the broker)."""

    def __init__(self) -> None:
        self.committed: list[tuple[bytes, bytes, list[tuple[str, bytes]]]] = []
        self._open: list[tuple[bytes, bytes, list[tuple[str, bytes]]]] = []

    async def begin_transaction(self) -> None:
        self._open = []

    async def send(self, topic: str, key: bytes, value: bytes, headers: list[tuple[str, bytes]]) -> Any:
        self._open.append((key, value, headers))
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        done.set_result(None)
        return done

    async def commit_transaction(self) -> None:
        self.committed += self._open


def test_publisher_holds_back_until_its_state_covers_what_is_published() -> None:
    async def scenario() -> None:
        publisher = SnapshotPublisher(
            "unused:9092", "aggregates", "t-snapshots", new_metrics(), min_interval_s=0
        )
        producer = FakeProducer()
        publisher._producer = producer
        publisher.published = Position(D, (10, 4), 30)  # what the previous publisher left
        state = FiguresState(TABLE, D)
        state.upsert("y1", FACTS, 1)
        state.read_up_to(0, 11)
        computed = datetime(2026, 3, 31, 12, tzinfo=UTC)
        assert await publisher.publish(state.rows(), state.position(), computed, now=1.0) == 0
        assert publisher.throttle.pending and producer.committed == []
        state.read_up_to(1, 3)
        state.upsert("y2", FACTS, 40)
        assert await publisher.publish(state.rows(), state.position(), computed, now=2.0) == 4
        regions = [decode("RegionSnapshot", value)["region"] for _, value, _ in producer.committed]
        assert regions == ["R1", "R2", "R3", "NL"]
        assert {position_of(headers) for _, _, headers in producer.committed} == {Position(D, (12, 4), 41)}
        assert publisher.published == Position(D, (12, 4), 41)

    asyncio.run(scenario())


def test_a_new_publisher_does_not_resend_rows_already_on_the_topic() -> None:
    from services.aggregate.publisher import figures_row
    from services.aggregate.snapshots import SnapshotThrottle, snapshot
    from services.contracts.canonical import record_from_json, record_to_json
    from services.contracts.codec import encode

    state = FiguresState(TABLE, D)
    state.upsert("y1", FACTS, 1)
    rows = state.rows()
    latest = {}
    for row in rows:  # as read back from the aggregates topic at a take-over
        record = record_from_json("RegionSnapshot", snapshot(row, D, datetime(2026, 3, 31, tzinfo=UTC)))
        value = record_to_json("RegionSnapshot", decode("RegionSnapshot", encode("RegionSnapshot", record)))
        latest[value["region"]] = (value["as_of"], figures_row(value))
    throttle = SnapshotThrottle(0)
    throttle.seed(latest)
    assert throttle.due(rows, D, now=1.0) == [] and not throttle.has_unpublished(rows, D)
    state.upsert("y2", FACTS, 1)
    assert {r["region"] for r in throttle.due(state.rows(), D, now=1.0)} == {"R1", "NL"}
