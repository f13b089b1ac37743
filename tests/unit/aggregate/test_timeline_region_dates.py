"""A placement or measure counts in its municipality's region on the event date of the message that
set it, with the same lookup as validate's S300 (``RegionTable.region_on``).

The table here is fictional on purpose: 0010 moves from R1 to R2 on 2021-01-01 (real mergers move a
code out of the table, which the shipped dated example and the validate/replay tests cover).
"""

from __future__ import annotations

from datetime import date

from services.aggregate.facts import build_youth_facts
from services.aggregate.timeline import build_timeline
from services.contracts.regions import RegionPeriod, RegionTable, event_day
from services.validate.rules import check_rules
from tests.unit.aggregate.aggregate_support import Feed, Msg

A, B = "10000001", "10000002"
CHANGE = date(2021, 1, 1)
MOVING = RegionTable(
    {"0363": "R3"},
    {"R1": "Een", "R2": "Twee", "R3": "Drie"},
    {"0010": (RegionPeriod("R1", None, CHANGE), RegionPeriod("R2", CHANGE, None))},
)
AFTER = "2021-03-01T10:00:00Z"


def regions_by_placement(messages: list[Msg]) -> dict[str, str | None]:
    return {p.placement_id: p.region for p in build_timeline(messages, MOVING).placements}


def test_a_placement_counts_in_the_region_of_its_start_date() -> None:
    feed = Feed(municipality="0010")
    messages = [
        feed.start(A, "P1", "2020-12-31", created_at=AFTER),
        feed.start(A, "P2", "2021-01-01", created_at=AFTER),
    ]
    assert regions_by_placement(messages) == {"P1": "R1", "P2": "R2"}


def test_an_end_after_the_change_does_not_move_the_placement() -> None:
    feed = Feed(municipality="0010")
    messages = [feed.start(A, "P1", "2020-06-01", created_at=AFTER), feed.end(A, "P1", "2021-02-01")]
    assert regions_by_placement(messages) == {"P1": "R1"}


def test_a_transfer_places_the_to_placement_by_the_transfer_date() -> None:
    feed = Feed(municipality="0010")
    messages = [
        feed.start(A, "P1", "2020-06-01", created_at="2020-06-01T10:00:00Z"),
        feed.transfer(A, "P1", "2021-01-01", B, "Q1", created_at=AFTER),
    ]
    assert regions_by_placement(messages) == {"P1": "R1", "Q1": "R2"}
    facts = build_youth_facts(messages, MOVING)
    (transfer,) = facts.transfers
    assert (transfer.date, transfer.region) == (CHANGE, "R2")
    (episode,) = facts.episodes
    assert episode.region == "R1"  # the region of its first placement, on that one's start


def test_the_receiving_providers_own_start_wins_by_created_at_and_brings_its_date() -> None:
    """Last writer wins on the start fields, and the region follows the winner's event date."""
    feed = Feed(municipality="0010")
    transfer = feed.transfer(A, "P1", "2021-01-01", B, "Q1", created_at="2021-01-02T10:00:00Z")
    own_start = feed.start(B, "Q1", "2020-12-31", created_at="2021-01-03T10:00:00Z")
    messages = [feed.start(A, "P1", "2020-06-01", created_at="2020-06-01T10:00:00Z"), transfer, own_start]
    assert regions_by_placement(messages)["Q1"] == "R1"


def test_a_measure_counts_in_the_region_of_its_start_date() -> None:
    feed = Feed(municipality="0010")
    messages = [
        feed.measure(A, "M1", "separatie", "2020-12-31", end_date="2021-01-02", created_at=AFTER),
        feed.measure(A, "M2", "separatie", "2021-01-01", created_at=AFTER),
    ]
    facts = build_youth_facts(messages, MOVING)
    assert sorted((m.start_date, m.region) for m in facts.restrictive_measures) == [
        (date(2020, 12, 31), "R1"),
        (CHANGE, "R2"),
    ]


def test_the_timeline_region_is_the_region_validate_checks() -> None:
    """For every message that sets a region, timeline and S300 use one date: a message validate
    accepts has a region, one it refuses on the date would have none."""
    feed = Feed(municipality="0010")
    table = RegionTable({}, {"R1": "Een"}, {"0010": (RegionPeriod("R1", None, CHANGE),)})
    for day in ("2020-12-31", "2021-01-01"):
        start = feed.start(A, f"P{day}", day, created_at=AFTER)
        measure = feed.measure(A, f"M{day}", "separatie", day, created_at=AFTER)
        transfer = feed.transfer(A, f"P{day}", day, B, f"Q{day}", created_at=AFTER)
        for msg, placement_or_measure in ((start, f"P{day}"), (transfer, f"Q{day}"), (measure, f"M{day}")):
            timeline = build_timeline([msg], table)
            items = {p.placement_id: p.region for p in timeline.placements}
            items |= {m.measure_id: m.region for m in timeline.measures}
            day_of_message = event_day(msg)
            assert day_of_message is not None
            assert items[placement_or_measure] == table.region_on("0010", day_of_message)
            raw = {
                k: v for k, v in msg.items() if k not in ("youth_pseudonym", "pseudonym_key_id", "birth_year")
            }
            raw |= {"bsn": "123456782", "birth_date": "2010-03-01"}
            raw.pop("received_at")
            refused = any(v.code == "S300" for v in check_rules(raw, table))
            assert refused == (items[placement_or_measure] is None)
