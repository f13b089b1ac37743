"""The figures stage's reading of the youth-facts topic, one record at a time, without Kafka."""

from __future__ import annotations

from datetime import date

from hypothesis import given, settings
from hypothesis import strategies as st

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


# -- a start's read: each youth's facts derived once, the same state as record by record ----------
def _variants() -> list[bytes]:
    """Facts records of youth ya/yb from different message sets (and counts), and unusable ones."""
    out: list[bytes] = []
    for youth in ("ya", "yb"):
        feed = Feed(youth)
        messages = [
            feed.start("11111111", "P1", "2026-01-05"),
            feed.end("11111111", "P1", "2026-02-01"),
            feed.start("22222222", "P2", "2026-02-03", care_type="gesloten"),
        ]
        for n in (1, 2, 3):
            [facts] = facts_of(messages[:n])
            out.append(facts_record(youth, facts, n))
    return out


VARIANTS = _variants()
_record = st.one_of(
    st.tuples(st.sampled_from(["ya", "yb"]), st.sampled_from(range(len(VARIANTS)))),  # facts
    st.tuples(st.sampled_from(["ya", "yb"]), st.just(-1)),  # tombstone
    st.tuples(st.sampled_from(["ya", "yb"]), st.just(-2)),  # unusable
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_record, max_size=12))
def test_a_start_folds_each_youths_records_into_the_state_record_by_record_gives(
    records: list[tuple[str, int]],
) -> None:
    """Same figures, youth, accepted messages, read position and unusable count, whatever the
    order, the repeats, the fewer-messages refusals and the tombstones (property)."""
    one_by_one = FiguresState(TABLE, date(2026, 3, 31))
    folded = FiguresState(TABLE, date(2026, 3, 31))
    plain, loading = FactsFollower(one_by_one), FactsFollower(folded, loading=True)
    for offset, (youth, which) in enumerate(records):
        value = None if which == -1 else b"unusable" if which == -2 else VARIANTS[which]
        for follower in (plain, loading):
            follower.apply(offset % 2, offset, youth.encode(), value)
    assert folded.youth_count == 0 or not records  # nothing derived before the read is complete
    loading.loaded()
    assert folded.rows() == one_by_one.rows()
    assert dict(folded.facts_items()) == dict(one_by_one.facts_items())
    assert (folded.youth_count, folded.accepted) == (one_by_one.youth_count, one_by_one.accepted)
    assert folded.position() == one_by_one.position()
    assert loading.stale == plain.stale
    # after the load it follows record by record
    loading.apply(0, 1000, b"ya", None)
    plain.apply(0, 1000, b"ya", None)
    assert folded.rows() == one_by_one.rows()
