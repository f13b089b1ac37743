"""Forgetting youth (services/aggregate/forget.py): state removed, tombstones to write, figures as
if the youth's messages had never been accepted."""

from __future__ import annotations

from services.aggregate.follow import FactsFollower
from services.aggregate.forget import forget_youths, tombstones
from services.aggregate.records import facts_record, message_key
from services.aggregate.state import FiguresState
from services.streaming.changelog import faust_json
from tests.unit.aggregate.aggregate_support import (
    EXAMPLE_AS_OF,
    TABLE,
    example_accepted_by_youth,
    facts_of,
    figures_of,
)

AS_OF = EXAMPLE_AS_OF


def test_forgetting_a_youth_of_the_worked_example_gives_the_figures_without_its_messages() -> None:
    by_youth = example_accepted_by_youth()
    store = {youth: {message_key(m): m for m in messages} for youth, messages in by_youth.items()}
    state = FiguresState(TABLE, AS_OF)
    follower = FactsFollower(state)
    for offset, (youth, messages) in enumerate(sorted(by_youth.items())):
        [facts] = facts_of(messages)
        follower.apply(0, offset, youth.encode(), facts_record(youth, facts, len(messages)))
    # the youth with the most messages, so the figures certainly move
    erased = max(by_youth, key=lambda y: len(by_youth[y]))
    before = state.rows()

    forgotten = forget_youths(store, [erased, "not-held", erased])

    assert forgotten.youths == (erased,)
    assert forgotten.messages == len(by_youth[erased])
    assert erased not in store and len(store) == len(by_youth) - 1
    assert forgotten.facts == [(erased.encode(), None)]
    assert forgotten.changelog == [(erased.encode(), faust_json(erased), None)]
    for key, value in forgotten.facts:
        follower.apply(0, 10_000, key, value)
    others = [m for youth, messages in by_youth.items() if youth != erased for m in messages]
    expected = figures_of(others, AS_OF)
    assert {row["region"]: row for row in state.rows()} == expected
    assert state.rows() != before
    assert state.accepted == len(others)


def test_forgetting_twice_writes_nothing_the_second_time() -> None:
    store: dict[str, dict[str, object]] = {"ya": {"s:1": {}}, "yb": {"s:2": {}, "s:3": {}}}
    first = forget_youths(store, ["yb"])
    assert bool(first) and first.messages == 2
    second = forget_youths(store, ["yb"])
    assert not second and second.facts == [] and second.changelog == []
    assert store == {"ya": {"s:1": {}}}


def test_tombstones_without_state_keep_the_order_and_drop_repeats() -> None:
    found = tombstones(["b", "a", "b"])
    assert found.youths == ("b", "a")
    assert [key for key, _ in found.facts] == [b"b", b"a"]
    assert [(route, key) for route, key, _ in found.changelog] == [(b"b", b'"b"'), (b"a", b'"a"')]
