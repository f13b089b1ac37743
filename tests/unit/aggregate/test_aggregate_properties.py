"""Property tests: order, duplication and cancels never change the figures, and the figures agree
with a naive batch computation written straight from metrics.md, independently of the module."""

from __future__ import annotations

import json
import statistics
from collections import defaultdict
from datetime import date, timedelta
from itertools import pairwise
from typing import Any

from dateutil.relativedelta import relativedelta
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.aggregate.facts import YouthFacts
from services.aggregate.figures import region_figures
from services.contracts.regions import RegionTable
from tests.unit.aggregate.aggregate_support import TABLE, Msg, facts_of, figures_by_region

PROVIDERS = ["10000001", "10000002"]
PLACEMENT_IDS = ["P1", "P2", "P3"]
LOCATIONS = ["L1", "L2"]
CARE_TYPES = ["gesloten", "gesloten", "open_residentieel"]
MUNICIPALITIES = ["0363", "0363", "0599", "0014", "9999"]  # 9999: not in the table
DESTINATIONS = ["thuis", "residentieel", "onbekend", "pleeggezin"]
MEASURE_KINDS = ["separatie", "fixatie", "afzondering", "voogdij"]
STAMPS = ["2026-01-01T00:00:00Z", "2026-01-02T00:00:00Z", "2026-01-03T00:00:00Z"]
BASE = date(2025, 1, 1)

PROPERTY_SETTINGS = settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)


# --- random timelines --------------------------------------------------------------------------------


@st.composite
def youth_messages(draw: st.DrawFn, youth_index: int) -> list[Msg]:
    """A few stays in a chain (with transfers, gaps, overlaps, corrections), measures, perspectives
    and cancels for one youth; small value pools so that keys and created_at collide often."""
    ids = iter(draw(st.permutations(range(64))))
    youth = f"youth-{youth_index}"
    messages: list[Msg] = []

    def envelope(message_type: str, sender: str, **body: Any) -> Msg:
        stamp = draw(st.sampled_from(STAMPS))
        message: Msg = {
            "message_id": f"{next(ids):08x}-{youth_index:04x}-4000-8000-000000000000",
            "message_type": message_type,
            "status": "new",
            "cancels_message_id": None,
            "sender": {"kind": "provider", "code": sender},
            "created_at": stamp,
            "received_at": stamp,
            "youth_pseudonym": youth,
            "pseudonym_key_id": "test",
            "birth_year": 2010,
            "municipality_code": draw(st.sampled_from(MUNICIPALITIES)),
        }
        message.update(body)
        messages.append(message)
        return message

    def day(offset: int) -> str:
        return (BASE + timedelta(days=offset)).isoformat()

    offset = draw(st.integers(0, 300))
    previous: tuple[str, str] | None = None
    for _ in range(draw(st.integers(1, 4))):
        provider = draw(st.sampled_from(PROVIDERS))
        placement_id = draw(st.sampled_from(PLACEMENT_IDS))
        location = draw(st.sampled_from(LOCATIONS))
        care_type = draw(st.sampled_from(CARE_TYPES))
        how = draw(st.sampled_from(["start", "transfer", "both"])) if previous else "start"
        if how in ("transfer", "both") and previous is not None:
            envelope(
                "transfer",
                previous[0],
                from_placement_id=previous[1],
                transfer_date=day(offset),
                to_provider_agb=provider,
                to_placement_id=placement_id,
                to_location_code=location,
                to_care_type=care_type,
                to_legal_basis="machtiging",
                transfer_reason="other",
            )
        if how in ("start", "both"):
            envelope(
                "placement_started",
                provider,
                placement_id=placement_id,
                provider_agb=provider,
                location_code=draw(st.sampled_from(LOCATIONS)) if how == "both" else location,
                care_type=care_type,
                legal_basis="machtiging",
                start_date=day(offset),
            )
        length = draw(st.integers(0, 250))
        for _ in range(draw(st.sampled_from([0, 1, 1, 2]))):
            envelope(
                "placement_ended",
                provider,
                placement_id=placement_id,
                end_date=day(offset + length + draw(st.sampled_from([0, 0, 3]))),
                reason="31",
                destination=draw(st.sampled_from(DESTINATIONS)),
            )
        previous = (provider, placement_id)
        gap = draw(st.sampled_from([-3, -1, 0, 1, 6, 7, 8, 10]))
        offset += length + gap if draw(st.booleans()) else draw(st.integers(0, 200))

    for _ in range(draw(st.integers(0, 2))):
        sender = draw(st.sampled_from(PROVIDERS))
        envelope(
            "measure",
            sender,
            measure_id=draw(st.sampled_from(["M1", "M2"])),
            kind=draw(st.sampled_from(MEASURE_KINDS)),
            start_date=day(draw(st.integers(0, 800))),
            end_date=None,
            placement_id=None,
        )
    for _ in range(draw(st.integers(0, 2))):
        envelope(
            "perspective_determined",
            "0363",
            determined_date=day(draw(st.integers(0, 800))),
            perspective="thuis",
        )

    targets = draw(st.lists(st.sampled_from(list(messages)), max_size=3, unique_by=id))
    cancels = [cancel_of(envelope, target) for target in targets]
    if draw(st.booleans()) and cancels:
        cancel_of(envelope, cancels[0])  # a cancel of a cancel: no effect
    if draw(st.booleans()):
        stray = dict(messages[0], message_id=f"{next(ids):08x}-{youth_index:04x}-4000-8000-ffffffffffff")
        cancel_of(envelope, stray)  # names a message that never arrived
    return messages


def cancel_of(envelope: Any, target: Msg) -> Msg:
    cancel: Msg = envelope(target["message_type"], target["sender"]["code"])
    cancel["status"] = "cancel"
    cancel["cancels_message_id"] = target["message_id"]
    return cancel


@st.composite
def message_sets(draw: st.DrawFn) -> list[Msg]:
    count = draw(st.integers(1, 3))
    return [m for i in range(count) for m in draw(youth_messages(i))]


as_of_dates = st.integers(0, 900).map(lambda n: BASE + timedelta(days=n))


@st.composite
def edge_as_of(draw: st.DrawFn, messages: list[Msg]) -> date:
    """An as-of date on an edge of some message's date: the window, the deadline, open/closed."""
    dates = sorted(
        {
            m[key]
            for m in messages
            for key in ("start_date", "end_date", "transfer_date", "determined_date")
            if m.get(key) is not None
        }
    )
    if not dates or draw(st.booleans()):
        return draw(as_of_dates)
    anchor = date.fromisoformat(draw(st.sampled_from(dates)))
    shift = draw(
        st.sampled_from(
            [
                relativedelta(days=0),
                relativedelta(days=-1),
                relativedelta(days=364),
                relativedelta(days=365),
                relativedelta(months=6),
                relativedelta(months=6, days=1),
                relativedelta(months=6, days=364),
                relativedelta(months=6, days=365),
            ]
        )
    )
    result: date = anchor + shift
    return result


# --- naive reference ---------------------------------------------------------------------------------


def reference_figures(messages: list[Msg], as_of: date, table: RegionTable) -> dict[str, dict[str, Any]]:
    """metrics.md computed the slow, obvious way (no code shared with services.aggregate)."""
    unique: dict[tuple[str, str], Msg] = {}
    for m in messages:
        unique.setdefault((m["sender"]["code"], m["message_id"]), m)
    cancelled = {
        (m["sender"]["code"], m["cancels_message_id"]) for m in unique.values() if m["status"] == "cancel"
    }
    live = [m for key, m in unique.items() if m["status"] == "new" and key not in cancelled]
    per_youth: dict[str, list[Msg]] = defaultdict(list)
    for m in live:
        per_youth[m["youth_pseudonym"]].append(m)
    # every youth, even one whose every message was cancelled
    for m in messages:
        per_youth.setdefault(m["youth_pseudonym"], [])

    youth = [reference_youth(ms, table, as_of) for ms in per_youth.values()]
    lo, d = as_of - timedelta(days=364), as_of

    def in_window(x: date | None) -> bool:
        return x is not None and lo <= x <= d

    rows: dict[str, dict[str, Any]] = {}
    for region in [*table.region_codes, "NL"]:

        def here(r: str | None, region: str = region) -> bool:
            return region == "NL" or r == region

        row: dict[str, Any] = {"region": region}
        row["occupancy"] = sum(1 for y in youth if y["occ"] is not None and here(y["occ"]["region"]))
        row["occupancy_residential"] = sum(
            1 for y in youth if y["res"] is not None and here(y["res"]["region"])
        )
        started = [
            (i, p)
            for i, y in enumerate(youth)
            for p in y["placements"]
            if p["care_type"] == "gesloten" and in_window(p["start"]) and here(p["region"])
        ]
        row["placements_started_12m"] = len(started)
        row["youth_placed_12m"] = len({i for i, _ in started})
        transfers = [t for y in youth for t in y["transfers"] if in_window(t["date"]) and here(t["region"])]
        row["transfers_12m"] = len(transfers)
        row["transfers_between_providers_12m"] = sum(1 for t in transfers if t["between"])
        row["transfers_within_provider_12m"] = sum(1 for t in transfers if not t["between"])
        episodes = [e for y in youth for e in y["episodes"] if here(e["region"])]
        cohort = [e for e in episodes if in_window(e["deadline"])]
        row["perspective_cohort_12m"] = len(cohort)
        row["perspective_in_time_12m"] = sum(1 for e in cohort if e["in_time"])
        row["perspective_in_time_rate"] = (
            round(row["perspective_in_time_12m"] / len(cohort), 4) if cohort else None
        )
        row["overdue_without_perspective"] = sum(
            1
            for y in youth
            for e in y["episodes"]
            if here(e["region"])
            and any(is_open(p, d) for p in e["members"])
            and e["deadline"] < d
            and not any(e["start"] <= x <= d for x in y["perspectives"])
        )
        ended = [e for e in episodes if in_window(e["end"])]
        row["episodes_ended_12m"] = len(ended)
        row["median_length_of_stay_days_12m"] = (
            float(statistics.median((e["end"] - e["start"]).days for e in ended)) if ended else None
        )
        kinds = ["afzondering", "separatie", "fixatie", "insluiting_eigen_kamer"]
        row["restrictive_measures_12m"] = {
            k: sum(
                1
                for y in youth
                for m in y["measures"]
                if m["kind"] == k and in_window(m["start"]) and here(m["region"])
            )
            for k in kinds
        }
        rows[region] = row
    return rows


def is_open(p: dict[str, Any], day: date) -> bool:
    return bool(p["start"] <= day and (p["end"] is None or p["end"] > day))


def reference_youth(messages: list[Msg], table: RegionTable, as_of: date) -> dict[str, Any]:
    def order(m: Msg) -> tuple[str, str, str]:
        return (m["created_at"], m["message_id"], m["sender"]["code"])

    start_writes: dict[tuple[str, str], list[tuple[Msg, dict[str, Any]]]] = defaultdict(list)
    end_writes: dict[tuple[str, str], list[tuple[Msg, dict[str, Any]]]] = defaultdict(list)
    measure_writes: dict[tuple[str, str], list[Msg]] = defaultdict(list)
    perspectives: list[date] = []
    for m in messages:
        sender = m["sender"]["code"]
        if m["message_type"] == "placement_started":
            start_writes[(m["provider_agb"], m["placement_id"])].append(
                (m, {"start": m["start_date"], "location": m["location_code"], "care_type": m["care_type"]})
            )
        elif m["message_type"] == "placement_ended":
            end_writes[(sender, m["placement_id"])].append(
                (m, {"end": m["end_date"], "dest": m["destination"]})
            )
        elif m["message_type"] == "transfer":
            end_writes[(sender, m["from_placement_id"])].append(
                (m, {"end": m["transfer_date"], "dest": "residentieel"})
            )
            start_writes[(m["to_provider_agb"], m["to_placement_id"])].append(
                (
                    m,
                    {
                        "start": m["transfer_date"],
                        "location": m["to_location_code"],
                        "care_type": m["to_care_type"],
                    },
                )
            )
        elif m["message_type"] == "measure":
            measure_writes[(sender, m["measure_id"])].append(m)
        elif m["message_type"] == "perspective_determined":
            perspectives.append(date.fromisoformat(m["determined_date"]))

    placements = []
    for key, writes in start_writes.items():
        start_msg, start = max(writes, key=lambda w: order(w[0]))
        end = max(end_writes[key], key=lambda w: order(w[0]))[1] if end_writes.get(key) else None
        placements.append(
            {
                "provider": key[0],
                "pid": key[1],
                "start": date.fromisoformat(start["start"]),
                "location": start["location"],
                "care_type": start["care_type"],
                "region": table.region_of(start_msg["municipality_code"]),
                "end": date.fromisoformat(end["end"]) if end else None,
                "dest": end["dest"] if end else None,
            }
        )
    placements.sort(key=lambda p: (p["start"], p["provider"], p["pid"]))

    transfers = []
    for q, p in pairwise(placements):
        close = is_open(q, p["start"]) or (q["end"] is not None and (p["start"] - q["end"]).days <= 7)
        if close and (q["provider"], q["location"]) != (p["provider"], p["location"]):
            transfers.append(
                {"date": p["start"], "region": p["region"], "between": q["provider"] != p["provider"]}
            )

    runs: list[list[dict[str, Any]]] = []
    for p in (p for p in placements if p["care_type"] == "gesloten"):
        if runs:
            run = runs[-1]
            ends = [q["end"] for q in run if q["end"] is not None]
            if any(is_open(q, p["start"]) for q in run) or (ends and 0 <= (p["start"] - max(ends)).days <= 7):
                run.append(p)
                continue
        runs.append([p])
    episodes = []
    for run in runs:
        start = run[0]["start"]
        deadline = start + relativedelta(months=6)
        end = None if any(q["end"] is None for q in run) else max(q["end"] for q in run)
        finals = [q for q in run if end is not None and q["end"] == end]
        in_time = any(start <= x <= deadline for x in perspectives) or (
            end is not None
            and end <= deadline
            and finals[-1]["dest"]
            in {"thuis", "pleeggezin", "gezinshuis", "kleinschalig_wonen", "zelfstandig"}
        )
        episodes.append(
            {
                "start": start,
                "end": end,
                "deadline": deadline,
                "region": run[0]["region"],
                "in_time": in_time,
                "members": run,
            }
        )

    def latest_open(care: str | None) -> dict[str, Any] | None:
        candidates = [p for p in placements if is_open(p, as_of) and (care is None or p["care_type"] == care)]
        return max(candidates, key=lambda p: (p["start"], p["provider"], p["pid"])) if candidates else None

    measures = []
    for versions in measure_writes.values():
        winner = max(versions, key=order)
        if winner["kind"] in ("afzondering", "separatie", "fixatie", "insluiting_eigen_kamer"):
            measures.append(
                {
                    "kind": winner["kind"],
                    "start": date.fromisoformat(winner["start_date"]),
                    "region": table.region_of(winner["municipality_code"]),
                }
            )
    return {
        "placements": placements,
        "transfers": transfers,
        "episodes": episodes,
        "perspectives": perspectives,
        "measures": measures,
        "occ": latest_open("gesloten"),
        "res": latest_open(None),
    }


def reference(messages: list[Msg], as_of: date) -> dict[str, dict[str, Any]]:
    return reference_figures(messages, as_of, TABLE)


def figures(messages: list[Msg], as_of: date) -> dict[str, dict[str, Any]]:
    return figures_by_region(region_figures(facts_of(messages), as_of, TABLE))


def facts_by_youth(messages: list[Msg]) -> dict[str, dict[str, Any]]:
    return {f.youth: f.to_dict() for f in facts_of(messages)}


# --- properties --------------------------------------------------------------------------------------


@PROPERTY_SETTINGS
@given(messages=message_sets(), as_of=as_of_dates, data=st.data())
def test_arrival_order_and_duplicates_do_not_change_facts_or_figures(
    messages: list[Msg], as_of: date, data: st.DataObject
) -> None:
    shuffled = data.draw(st.permutations(messages))
    duplicates = data.draw(st.lists(st.sampled_from(messages), max_size=6))
    replayed = list(shuffled) + [json.loads(json.dumps(m)) for m in duplicates]
    replayed = data.draw(st.permutations(replayed))
    assert facts_by_youth(replayed) == facts_by_youth(messages)
    assert figures(replayed, as_of) == figures(messages, as_of)


@PROPERTY_SETTINGS
@given(messages=message_sets(), data=st.data())
def test_figures_agree_with_the_naive_reference(messages: list[Msg], data: st.DataObject) -> None:
    as_of = data.draw(edge_as_of(messages))
    assert figures(messages, as_of) == reference(messages, as_of)


@PROPERTY_SETTINGS
@given(messages=message_sets(), extra=message_sets(), as_of=as_of_dates, data=st.data())
def test_a_cancelled_message_is_as_if_it_never_arrived(
    messages: list[Msg], extra: list[Msg], as_of: date, data: st.DataObject
) -> None:
    news = [
        m for m in extra if m["status"] == "new" and m["youth_pseudonym"] == messages[0]["youth_pseudonym"]
    ]
    if not news:
        return
    target = dict(data.draw(st.sampled_from(news)), message_id="ffffffff-ffff-4fff-8fff-ffffffffffff")
    envelope_keys = ("message_type", "sender", "created_at", "received_at", "youth_pseudonym")
    cancel = {key: target[key] for key in envelope_keys} | {
        "message_id": "eeeeeeee-ffff-4fff-8fff-ffffffffffff",
        "status": "cancel",
        "cancels_message_id": target["message_id"],
        "pseudonym_key_id": "test",
        "birth_year": 2010,
        "municipality_code": target["municipality_code"],
    }
    with_pair = data.draw(st.permutations([*messages, target, cancel]))
    # The cancel itself stays in the set (it names a real message), the target is gone.
    expected = figures(messages, as_of)
    assert figures(with_pair, as_of) == expected


@PROPERTY_SETTINGS
@given(messages=message_sets())
def test_facts_survive_a_json_round_trip(messages: list[Msg]) -> None:
    for facts in facts_of(messages):
        assert YouthFacts.from_dict(json.loads(json.dumps(facts.to_dict()))) == facts
