"""What a simulated feed holds: every message type, care type, quirk and rule break of the contract,
and exactly the validation outcome the generator intended for each line."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from datetime import date
from functools import cache
from typing import Any

import orjson

from hubdev.simulate.feed import SimulationConfig
from hubdev.simulate.invalid import RULE_CODES
from services.contracts.bsn import is_valid_bsn
from services.contracts.canonical import check_inbound
from services.contracts.errors import ContractError
from services.validate.rules import check_rules
from tests.unit.simulate.simulate_support import Feed, judged_year, simulate, year_feed

YEAR = 2022


def _objects(feed: Feed) -> list[dict[str, Any] | None]:
    out: list[dict[str, Any] | None] = []
    for line in feed.lines:
        try:
            value = orjson.loads(line)
        except orjson.JSONDecodeError:
            value = None
        out.append(value if isinstance(value, dict) else None)
    return out


@cache
def _accepted_messages(year: int = YEAR) -> list[dict[str, Any]]:
    """First copies of the messages that pass the schema and the rules, in feed order."""
    feed = judged_year(year).feed
    seen: set[tuple[str, str]] = set()
    out = []
    for obj in _objects(feed):
        if obj is None:
            continue
        key = (obj["sender"]["code"], obj["message_id"])
        if key in seen:
            continue
        seen.add(key)
        if _is_valid(obj, feed):
            out.append(obj)
    return out


def _is_valid(obj: dict[str, Any], feed: Feed) -> bool:
    try:
        return not check_rules(check_inbound(obj), feed.regions)
    except ContractError:
        return False


def test_every_line_gets_the_outcome_the_generator_intended() -> None:
    judged = judged_year(YEAR)
    stats = judged.feed.stats
    assert judged.result.accepted == stats.valid
    assert judged.result.duplicates == stats.duplicates
    assert judged.result.rejected == stats.invalid
    assert stats.lines == len(judged.feed.lines)


def test_every_rule_code_is_hit() -> None:
    judged = judged_year(YEAR)
    assert set(judged.codes) == set(RULE_CODES)
    assert set(judged.feed.stats.invalid_by_code) == set(RULE_CODES)
    assert judged.result.bad_lines, "some lines are not JSON at all"


def test_invalid_share_is_honoured() -> None:
    for share in (0.0, 0.03):
        feed = year_feed(YEAR, invalid_share=share)
        assert abs(feed.stats.invalid / len(feed.lines) - share) < 0.005


def test_without_rule_breaks_every_line_passes_schema_and_rules() -> None:
    feed = simulate(
        SimulationConfig(
            start=date(2023, 1, 1), end=date(2023, 3, 31), seed=3, other_care_scale=0.05, invalid_share=0.0
        )
    )
    assert feed.stats.invalid == 0
    for line in feed.lines:
        message = orjson.loads(line)
        assert check_rules(check_inbound(message), feed.regions) == [], message


def test_every_message_type_status_and_value_occurs() -> None:
    messages = _accepted_messages()
    types = Counter(m["message_type"] for m in messages)
    assert set(types) == {
        "placement_started",
        "placement_ended",
        "transfer",
        "measure",
        "perspective_determined",
    }
    assert {m["status"] for m in messages} == {"new", "cancel"}
    new = [m for m in messages if m["status"] == "new"]
    care = {m["care_type"] for m in new if m["message_type"] == "placement_started"}
    care |= {m["to_care_type"] for m in new if m["message_type"] == "transfer"}
    assert care == {"gesloten", "open_residentieel", "gezinshuis", "pleegzorg", "kleinschalig"}
    assert {m["legal_basis"] for m in new if m["message_type"] == "placement_started"} == {
        "machtiging", "voorlopige_machtiging", "spoedmachtiging", "vrijwillig", "strafrechtelijk"
    }  # fmt: skip
    ends = [m for m in new if m["message_type"] == "placement_ended"]
    assert {m["reason"] for m in ends} == {"02", "20", "31", "32", "33", "34", "35", "36", "37", "38", "39"}
    assert {m["destination"] for m in ends} == {
        "thuis", "pleeggezin", "gezinshuis", "kleinschalig_wonen", "zelfstandig", "residentieel",
        "jeugdinrichting", "onbekend",
    }  # fmt: skip
    kinds = {m["kind"] for m in new if m["message_type"] == "measure"}
    assert kinds == {
        "machtiging_gesloten_jeugdhulp", "voorlopige_machtiging", "spoedmachtiging", "ondertoezichtstelling",
        "voogdij", "afzondering", "separatie", "fixatie", "insluiting_eigen_kamer",
    }  # fmt: skip
    reasons = {m["transfer_reason"] for m in new if m["message_type"] == "transfer"}
    assert reasons == {"planned_step_down", "escalation", "breakdown", "capacity", "other"}
    perspectives = {m["perspective"] for m in new if m["message_type"] == "perspective_determined"}
    assert perspectives == {
        "thuis",
        "pleeggezin",
        "gezinshuis",
        "kleinschalig_wonen",
        "zelfstandig",
        "anders",
    }


def test_senders_and_identifiers_are_synthetic_and_well_formed() -> None:
    messages = _accepted_messages()
    feed = judged_year(YEAR).feed
    for m in messages:
        assert m["bsn"].startswith("99") and is_valid_bsn(m["bsn"])
        sender = m["sender"]
        if sender["kind"] == "provider":
            assert len(sender["code"]) == 8 and sender["code"].isdigit()
        else:
            assert sender["code"] == m["municipality_code"]
        assert m["municipality_code"] in feed.regions
    kinds = {m["sender"]["kind"] for m in messages}
    assert kinds == {"provider", "municipality"}
    by_bsn: dict[str, set[tuple[str, str]]] = defaultdict(set)
    for m in messages:
        by_bsn[m["bsn"]].add((m["birth_date"], m["municipality_code"]))
    assert all(len(v) == 1 for v in by_bsn.values()), "a youth keeps one birth date and municipality"


def test_transfers_come_both_as_messages_and_as_end_start_pairs() -> None:
    new = [m for m in _accepted_messages() if m["status"] == "new"]
    transfers = [m for m in new if m["message_type"] == "transfer"]
    assert any(m["to_provider_agb"] == m["sender"]["code"] for m in transfers), "within a provider"
    assert any(m["to_provider_agb"] != m["sender"]["code"] for m in transfers), "between providers"
    reasons = Counter(m["reason"] for m in new if m["message_type"] == "placement_ended")
    assert reasons["38"] > 0 and reasons["37"] > 0, "end+start pairs between and within providers"
    started = {
        (m["provider_agb"], m["placement_id"]) for m in new if m["message_type"] == "placement_started"
    }
    both_ways = [m for m in transfers if (m["to_provider_agb"], m["to_placement_id"]) in started]
    assert 0 < len(both_ways) < len(transfers), "some transfers are also reported by the receiving provider"


def test_quirks_of_a_real_feed_are_there() -> None:
    feed = judged_year(YEAR).feed
    objects = _objects(feed)
    by_identity: dict[tuple[str, str], list[bytes]] = defaultdict(list)
    for line, obj in zip(feed.lines, objects, strict=True):
        if obj is not None and isinstance(obj.get("message_id"), str):
            by_identity[(obj["sender"]["code"], obj["message_id"])].append(line)
    copies = [lines for lines in by_identity.values() if len(lines) > 1]
    assert any(len(set(lines)) == 1 for lines in copies), "exact re-sends"
    assert any(
        len(set(lines)) > 1 and len({json.dumps(orjson.loads(x), sort_keys=True) for x in lines}) == 1
        for lines in copies
    ), "re-sends with another key order or spacing"
    assert any(len({json.dumps(orjson.loads(x), sort_keys=True) for x in lines}) > 1 for lines in copies), (
        "conflicting re-sends"
    )

    position = {(o["sender"]["code"], o["message_id"]): i for i, o in enumerate(objects) if o is not None}
    cancels = [(i, o) for i, o in enumerate(objects) if o is not None and o.get("status") == "cancel"]
    targets = [position.get((o["sender"]["code"], o["cancels_message_id"])) for _, o in cancels]
    assert any(t is not None and t < i for (i, _), t in zip(cancels, targets, strict=True)), (
        "cancel after its target"
    )
    assert any(t is not None and t > i for (i, _), t in zip(cancels, targets, strict=True)), (
        "cancel before its target"
    )

    created = [o["created_at"] for o in objects if o is not None and isinstance(o.get("created_at"), str)]
    assert created != sorted(created), "delivery order is not creation order"
    ends = [
        m for m in _accepted_messages() if m["message_type"] == "placement_ended" and m["status"] == "new"
    ]
    lags = [(date.fromisoformat(m["created_at"][:10]) - date.fromisoformat(m["end_date"])).days for m in ends]
    assert any(lag > 7 for lag in lags), "ends reported weeks late"


def test_perspectives_are_sometimes_late_and_sometimes_never() -> None:
    national = judged_year(YEAR).national
    assert national["perspective_in_time_12m"] < national["perspective_cohort_12m"]
    new = [m for m in _accepted_messages() if m["status"] == "new"]
    perspectives = [m for m in new if m["message_type"] == "perspective_determined"]
    assert {m["sender"]["kind"] for m in perspectives} == {"provider", "municipality"}
