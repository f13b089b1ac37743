"""The figures stage's reading of the youth-facts topic, one record at a time, without Kafka."""

from __future__ import annotations

from datetime import date

from services.aggregate.follow import FactsFollower
from services.aggregate.records import facts_record
from services.aggregate.state import FiguresState
from tests.unit.aggregate.aggregate_support import TABLE, Feed, facts_of


def test_facts_a_tombstone_and_an_unusable_record_each_move_the_read_position() -> None:
    feed = Feed("ya")
    [facts] = facts_of([feed.start("11111111", "P1", "2026-01-05")])
    state = FiguresState(TABLE, date(2026, 3, 31))
    follower = FactsFollower(state)

    follower.apply(1, 10, b"ya", facts_record("ya", facts, 1))
    assert (state.youth_count, state.accepted) == (1, 1)

    follower.apply(1, 11, b"yb", b"not a YouthFactsRecord")
    assert follower.stale == 1
    assert state.youth_count == 1

    follower.apply(1, 12, b"ya", None)
    assert (state.youth_count, state.accepted) == (0, 0)
    assert state.position().facts == (0, 13)
