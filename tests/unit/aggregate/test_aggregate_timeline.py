"""Messages → placements, measures, perspectives: cancels, last-writer-wins, order independence."""

from __future__ import annotations

import itertools
import json
from datetime import date

import pytest

from services.aggregate.facts import YouthFacts, build_youth_facts
from services.aggregate.timeline import Placement, build_timeline
from tests.unit.aggregate.aggregate_support import TABLE, Feed, Msg

A, B = "10000001", "10000002"


def placements(messages: list[Msg]) -> tuple[Placement, ...]:
    return build_timeline(messages, TABLE).placements


def assert_order_independent(messages: list[Msg]) -> YouthFacts:
    """Every permutation (and a duplicated copy) gives the same facts; returns them."""
    expected = build_youth_facts(messages, TABLE)
    for order in itertools.permutations(messages):
        assert build_youth_facts(order, TABLE) == expected
    assert build_youth_facts(messages + messages[::-1], TABLE) == expected
    return expected


def test_start_and_end_make_one_placement() -> None:
    feed = Feed()
    [p] = placements([feed.start(A, "P1", "2025-05-01", location="L7"), feed.end(A, "P1", "2025-06-01")])
    assert p == Placement(
        A, "P1", date(2025, 5, 1), "L7", "gesloten", "machtiging", "R1", date(2025, 6, 1), "31", "thuis"
    )


def test_stop_that_arrives_before_its_start_is_applied_when_the_start_comes() -> None:
    feed = Feed()
    start = feed.start(A, "P1", "2025-05-01")
    end = feed.end(A, "P1", "2025-06-01", destination="pleeggezin")
    facts = assert_order_independent([end, start])
    [p] = facts.placements
    assert (p.end_date, p.end_destination) == (date(2025, 6, 1), "pleeggezin")


def test_a_placement_with_only_an_end_does_not_count() -> None:
    feed = Feed()
    assert placements([feed.end(A, "P1", "2025-06-01")]) == ()


def test_an_end_applies_only_to_the_senders_own_placement() -> None:
    feed = Feed()
    [p] = placements([feed.start(A, "P1", "2025-05-01"), feed.end(B, "P1", "2025-06-01")])
    assert p.end_date is None


def test_cancel_before_its_target_waits_for_it() -> None:
    feed = Feed()
    start = feed.start(A, "P1", "2025-05-01")
    end = feed.end(A, "P1", "2025-06-01")
    cancel = feed.cancel(end)
    facts = assert_order_independent([cancel, end, start])
    assert facts.placements[0].end_date is None


def test_cancelled_start_removes_the_placement_and_its_effects() -> None:
    feed = Feed()
    start = feed.start(A, "P1", "2025-05-01")
    facts = assert_order_independent([start, feed.end(A, "P1", "2025-06-01"), feed.cancel(start)])
    assert facts.placements == ()


def test_cancel_naming_a_cancel_has_no_effect() -> None:
    feed = Feed()
    end = feed.end(A, "P1", "2025-06-01")
    cancel = feed.cancel(end)
    cancel_of_cancel = feed.cancel(cancel)
    facts = assert_order_independent([feed.start(A, "P1", "2025-05-01"), end, cancel, cancel_of_cancel])
    assert facts.placements[0].end_date is None


def test_cancel_from_another_sender_does_not_remove() -> None:
    feed = Feed()
    end = feed.end(A, "P1", "2025-06-01")
    foreign = feed.cancel(end)
    foreign["sender"] = {"kind": "provider", "code": B}
    [p] = placements([feed.start(A, "P1", "2025-05-01"), end, foreign])
    assert p.end_date == date(2025, 6, 1)


def test_cancel_naming_an_unknown_message_is_harmless() -> None:
    feed = Feed()
    ghost = feed.end(A, "P1", "2025-06-01")
    [p] = placements([feed.start(A, "P1", "2025-05-01"), feed.cancel(ghost)])
    assert p.end_date is None


def test_correction_by_cancel_and_new() -> None:
    feed = Feed()
    wrong = feed.end(A, "P1", "2025-06-01", destination="thuis")
    right = feed.end(A, "P1", "2025-06-20", destination="gezinshuis")
    facts = assert_order_independent([feed.start(A, "P1", "2025-05-01"), wrong, feed.cancel(wrong), right])
    p = facts.placements[0]
    assert (p.end_date, p.end_destination) == (date(2025, 6, 20), "gezinshuis")


def test_resend_without_cancel_latest_created_at_wins() -> None:
    feed = Feed()
    later = feed.end(A, "P1", "2025-06-20", created_at="2025-06-21T08:00:00Z")
    earlier = feed.end(A, "P1", "2025-06-01", created_at="2025-06-02T08:00:00Z")
    facts = assert_order_independent([feed.start(A, "P1", "2025-05-01"), later, earlier])
    assert facts.placements[0].end_date == date(2025, 6, 20)


def test_created_at_tie_goes_to_the_greater_message_id() -> None:
    feed = Feed()
    stamp = "2025-06-21T08:00:00Z"
    low = feed.end(A, "P1", "2025-06-20", created_at=stamp, message_id="00000000-0000-4000-8000-000000000001")
    high = feed.end(
        A, "P1", "2025-06-10", created_at=stamp, message_id="ffffffff-0000-4000-8000-000000000001"
    )
    facts = assert_order_independent([feed.start(A, "P1", "2025-05-01"), low, high])
    assert facts.placements[0].end_date == date(2025, 6, 10)


def test_start_fields_and_end_fields_win_separately() -> None:
    feed = Feed()
    end = feed.end(A, "P1", "2025-06-01", created_at="2025-06-01T00:00:00Z")
    restart = feed.start(A, "P1", "2025-05-03", location="L2", created_at="2025-07-01T00:00:00Z")
    [p] = placements([feed.start(A, "P1", "2025-05-01", created_at="2025-05-01T00:00:00Z"), end, restart])
    assert (p.start_date, p.location_code, p.end_date) == (date(2025, 5, 3), "L2", date(2025, 6, 1))


def test_transfer_ends_the_from_placement_and_starts_the_to_placement() -> None:
    feed = Feed()
    facts = assert_order_independent(
        [feed.start(A, "P1", "2025-05-01"), feed.transfer(A, "P1", "2025-08-01", B, "Q1", to_location="L4")]
    )
    first, second = facts.placements
    assert (first.end_date, first.end_reason, first.end_destination) == (
        date(2025, 8, 1),
        "38",
        "residentieel",
    )
    assert (second.provider_agb, second.placement_id, second.start_date, second.location_code) == (
        B,
        "Q1",
        date(2025, 8, 1),
        "L4",
    )


def test_transfer_within_provider_has_reason_37() -> None:
    feed = Feed()
    first, _ = placements([feed.start(A, "P1", "2025-05-01"), feed.transfer(A, "P1", "2025-08-01", A, "P2")])
    assert first.end_reason == "37"


def test_transfer_also_reported_by_the_receiver_is_one_placement_latest_wins() -> None:
    feed = Feed()
    transfer = feed.transfer(
        A, "P1", "2025-08-01", B, "Q1", to_location="L4", created_at="2025-08-01T10:00:00Z"
    )
    own = feed.start(B, "Q1", "2025-08-01", location="L5", created_at="2025-08-01T12:00:00Z")
    facts = assert_order_independent([feed.start(A, "P1", "2025-05-01"), transfer, own])
    assert [(p.provider_agb, p.placement_id, p.location_code) for p in facts.placements] == [
        (A, "P1", "L1"),
        (B, "Q1", "L5"),
    ]
    assert len(facts.transfers) == 1


def test_placement_region_follows_the_message_that_won_its_start() -> None:
    feed = Feed(municipality="0363")
    transfer = feed.transfer(A, "P1", "2025-08-01", B, "Q1", created_at="2025-08-02T00:00:00Z")
    own = feed.start(B, "Q1", "2025-08-01", municipality="0599", created_at="2025-08-01T00:00:00Z")
    end = feed.end(B, "Q1", "2025-09-01", municipality="0014")
    by_key = {p.placement_id: p for p in placements([feed.start(A, "P1", "2025-05-01"), transfer, own, end])}
    assert by_key["Q1"].region == "R1"  # the later transfer won the start; the end never moves it


def test_unknown_municipality_gives_no_region_and_does_not_crash() -> None:
    feed = Feed(municipality="9999")
    [p] = placements([feed.start(A, "P1", "2025-05-01")])
    assert p.region is None


def test_measure_last_writer_wins_per_sender_and_measure_id() -> None:
    feed = Feed()
    first = feed.measure(A, "M1", "separatie", "2025-05-01", created_at="2025-05-01T00:00:00Z")
    update = feed.measure(A, "M1", "fixatie", "2025-05-02", created_at="2025-05-03T00:00:00Z")
    other_sender = feed.measure(B, "M1", "afzondering", "2025-05-04")
    legal = feed.measure(A, "M2", "voogdij", "2025-05-04")
    facts = assert_order_independent([update, first, other_sender, legal])
    assert [(m.kind, m.start_date) for m in facts.restrictive_measures] == [
        ("fixatie", date(2025, 5, 2)),
        ("afzondering", date(2025, 5, 4)),
    ]
    assert len(build_timeline([first, update, other_sender, legal], TABLE).measures) == 3


def test_perspective_dates_are_sorted_distinct_and_cancellable() -> None:
    feed = Feed()
    kept = feed.perspective("0363", "2025-07-01")
    again = feed.perspective("0363", "2025-07-01")
    withdrawn = feed.perspective("0363", "2025-05-01")
    facts = assert_order_independent([withdrawn, kept, again, feed.cancel(withdrawn)])
    assert facts.perspective_dates == (date(2025, 7, 1),)


def test_conflicting_copies_keep_the_first_to_arrive() -> None:
    feed = Feed()
    first = feed.end(A, "P1", "2025-06-01")
    first["received_at"] = "2025-06-02T00:00:00Z"
    conflicting = dict(first, end_date="2025-06-15", received_at="2025-06-03T00:00:00Z")
    start = feed.start(A, "P1", "2025-05-01")
    for order in ([start, first, conflicting], [conflicting, first, start]):
        assert placements(order)[0].end_date == date(2025, 6, 1)


def test_messages_of_two_youth_are_refused() -> None:
    with pytest.raises(ValueError, match="more than one youth"):
        build_youth_facts(
            [Feed("y1").start(A, "P1", "2025-05-01"), Feed("y2").start(A, "P2", "2025-05-01")], TABLE
        )


def test_no_messages_is_refused() -> None:
    with pytest.raises(ValueError, match="at least one"):
        build_youth_facts([], TABLE)


def test_facts_round_trip_through_json() -> None:
    feed = Feed()
    messages = [
        feed.start(A, "P1", "2025-01-01"),
        feed.transfer(A, "P1", "2025-03-01", B, "Q1"),
        feed.end(B, "Q1", "2025-06-01", destination="thuis"),
        feed.start(A, "P2", "2025-09-01", care_type="pleegzorg", municipality="9999"),
        feed.measure(A, "M1", "separatie", "2025-02-01"),
        feed.perspective("0363", "2025-05-01"),
    ]
    facts = build_youth_facts(messages, TABLE)
    data = json.loads(json.dumps(facts.to_dict()))
    assert YouthFacts.from_dict(data) == facts
    assert data["episodes"][0]["start_date"] == "2025-01-01"
    assert data["episodes"][0]["deadline"] == "2025-07-01"


def test_facts_of_another_version_are_refused() -> None:
    data = build_youth_facts([Feed().start(A, "P1", "2025-01-01")], TABLE).to_dict()
    with pytest.raises(ValueError, match="version"):
        YouthFacts.from_dict(dict(data, v=0))
