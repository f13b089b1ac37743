"""The public form (metrics.md, "Public figures"): never a count from 1 to 4, rounding to 5 at its
boundaries, rates and medians hidden on small exact cohorts, ``suppressed`` naming what was hidden,
a function of the exact figures only (also over a reordered feed), and encodable as
PublicRegionSnapshot."""

from __future__ import annotations

import copy
import io
import json
import random
from collections import defaultdict
from datetime import UTC, date, datetime
from functools import cache
from typing import Any

import pytest
from fastavro import schemaless_writer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hubdev.simulate.feed import Simulation, SimulationConfig
from services.aggregate.figures import FIGURE_KEYS
from services.aggregate.snapshots import snapshot
from services.contracts.canonical import record_from_json, record_to_json
from services.contracts.codec import MARKER, _fast_encoder, _schema, decode, encode
from services.contracts.regions import RegionTable, load_region_table
from services.contracts.vocabulary import RESTRICTIVE_MEASURE_KINDS
from services.privacy.pseudonym import Keyring
from services.regulator.public import COUNT_KEYS, PUBLIC_KEYS, public_count, public_document, public_row
from services.replay.offline import figures_document, judge_lines

KINDS = tuple(RESTRICTIVE_MEASURE_KINDS)
MEASURE_FIELDS = tuple(f"restrictive_measures_12m.{kind}" for kind in KINDS)


def _counts(row: dict[str, Any]) -> dict[str, Any]:
    """Every count of a row by its public field name (restrictive kinds as ``restrictive_measures_12m.<kind>``)."""
    out = {key: row[key] for key in COUNT_KEYS}
    out.update({f"restrictive_measures_12m.{k}": row["restrictive_measures_12m"][k] for k in KINDS})
    return out


# --- public_count --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("exact", "public"),
    [(0, 0), (1, None), (2, None), (3, None), (4, None), (5, 5), (6, 5), (7, 5), (8, 10), (9, 10), (10, 10),
     (12, 10), (13, 15), (17, 15), (18, 20), (1002, 1000), (1003, 1005)],
)  # fmt: skip
def test_public_count_at_the_boundaries(exact: int, public: int | None) -> None:
    assert public_count(exact) == public


@pytest.mark.parametrize("bad", [-1, True, 2.0, "3", None])
def test_public_count_refuses_what_is_not_a_count(bad: Any) -> None:
    with pytest.raises(ValueError, match="count"):
        public_count(bad)


@given(st.integers(0, 10**9))
def test_public_count_is_zero_null_or_the_nearest_multiple_of_five(c: int) -> None:
    p = public_count(c)
    if 1 <= c <= 4:
        assert p is None
    else:
        assert p is not None and p % 5 == 0 and abs(p - c) <= 2
        assert (p == 0) == (c == 0)


# --- rows ----------------------------------------------------------------------------------------------

small = st.one_of(st.integers(0, 12), st.integers(0, 400))


@st.composite
def exact_rows(draw: st.DrawFn) -> dict[str, Any]:
    """A consistent exact row: in-time ≤ cohort, the rate null exactly when the cohort is 0, the
    median null exactly when no episode ended."""
    cohort = draw(small)
    in_time = draw(st.integers(0, cohort))
    ended = draw(small)
    between, within = draw(small), draw(small)
    row: dict[str, Any] = {
        "region": draw(st.sampled_from(["R01", "R02", "NL"])),
        "occupancy": draw(small),
        "occupancy_residential": draw(small),
        "placements_started_12m": draw(small),
        "youth_placed_12m": draw(small),
        "transfers_12m": between + within,
        "transfers_between_providers_12m": between,
        "transfers_within_provider_12m": within,
        "perspective_cohort_12m": cohort,
        "perspective_in_time_12m": in_time,
        "perspective_in_time_rate": round(in_time / cohort, 4) if cohort else None,
        "overdue_without_perspective": draw(small),
        "episodes_ended_12m": ended,
        "median_length_of_stay_days_12m": draw(st.integers(0, 2000)) / 2 if ended else None,
        "restrictive_measures_12m": {kind: draw(small) for kind in KINDS},
    }
    assert tuple(row) == FIGURE_KEYS
    return row


@given(exact_rows())
def test_public_row_never_shows_a_count_from_one_to_four(row: dict[str, Any]) -> None:
    public = public_row(row)
    for name, value in _counts(public).items():
        assert value is None or value == 0 or (value >= 5 and value % 5 == 0), (name, value)
    assert public["region"] == row["region"]


@given(exact_rows())
def test_public_row_follows_the_spec_field_by_field(row: dict[str, Any]) -> None:
    public = public_row(row)
    assert tuple(public) == PUBLIC_KEYS
    exact_counts, public_counts = _counts(row), _counts(public)
    assert public_counts == {name: public_count(c) for name, c in exact_counts.items()}
    rate_shown = row["perspective_cohort_12m"] >= 10
    assert public["perspective_in_time_rate"] == (row["perspective_in_time_rate"] if rate_shown else None)
    median_shown = row["episodes_ended_12m"] >= 10
    assert public["median_length_of_stay_days_12m"] == (
        row["median_length_of_stay_days_12m"] if median_shown else None
    )
    # suppressed: exactly the fields nulled although their exact value was not null, in field order
    order = [*COUNT_KEYS[:9], "perspective_in_time_rate", *COUNT_KEYS[9:], "median_length_of_stay_days_12m"]
    order += list(MEASURE_FIELDS)
    flat_exact = {
        **exact_counts,
        **{k: row[k] for k in ("perspective_in_time_rate", "median_length_of_stay_days_12m")},
    }
    flat_public = {
        **public_counts,
        **{k: public[k] for k in ("perspective_in_time_rate", "median_length_of_stay_days_12m")},
    }
    nulled = [name for name in order if flat_public[name] is None and flat_exact[name] is not None]
    assert public["suppressed"] == nulled


@given(exact_rows())
def test_public_row_is_a_function_of_the_exact_row_only(row: dict[str, Any]) -> None:
    before = copy.deepcopy(row)
    first = public_row(row)
    assert row == before  # the exact row is not touched
    assert public_row(copy.deepcopy(row)) == first
    # equal exact rows give equal public rows, whatever dict order they were built in
    assert public_row(dict(reversed(list(row.items())))) == first


def _row(**changes: Any) -> dict[str, Any]:
    row: dict[str, Any] = dict.fromkeys(FIGURE_KEYS, 0)
    row.update(region="R01", perspective_in_time_rate=None, median_length_of_stay_days_12m=None)
    row["restrictive_measures_12m"] = dict.fromkeys(KINDS, 0)
    row.update(changes)
    return row


def test_rate_and_median_shown_from_an_exact_cohort_of_ten() -> None:
    shown = public_row(_row(perspective_cohort_12m=10, perspective_in_time_12m=7, perspective_in_time_rate=0.7,
                            episodes_ended_12m=10, median_length_of_stay_days_12m=120.5))  # fmt: skip
    assert shown["perspective_in_time_rate"] == 0.7
    assert shown["median_length_of_stay_days_12m"] == 120.5
    assert shown["perspective_cohort_12m"] == 10 and shown["perspective_in_time_12m"] == 5
    assert shown["suppressed"] == []
    # 9 rounds to a public 10, but the rule reads the exact cohort
    hidden = public_row(_row(perspective_cohort_12m=9, perspective_in_time_12m=9, perspective_in_time_rate=1.0,
                             episodes_ended_12m=9, median_length_of_stay_days_12m=30.0))  # fmt: skip
    assert hidden["perspective_cohort_12m"] == 10 and hidden["episodes_ended_12m"] == 10
    assert hidden["perspective_in_time_rate"] is None
    assert hidden["median_length_of_stay_days_12m"] is None
    assert hidden["suppressed"] == ["perspective_in_time_rate", "median_length_of_stay_days_12m"]


def test_a_rate_undefined_in_the_exact_row_is_not_listed_as_suppressed() -> None:
    public = public_row(_row())
    assert public["perspective_in_time_rate"] is None and public["median_length_of_stay_days_12m"] is None
    assert public["suppressed"] == []


def test_suppressed_names_restrictive_kinds_with_their_object() -> None:
    measures = {"afzondering": 3, "separatie": 0, "fixatie": 8, "insluiting_eigen_kamer": 1}
    public = public_row(_row(occupancy=2, restrictive_measures_12m=measures))
    assert public["restrictive_measures_12m"] == {
        "afzondering": None, "separatie": 0, "fixatie": 10, "insluiting_eigen_kamer": None
    }  # fmt: skip
    assert public["suppressed"] == [
        "occupancy", "restrictive_measures_12m.afzondering", "restrictive_measures_12m.insluiting_eigen_kamer"
    ]  # fmt: skip


@pytest.mark.parametrize(
    "row",
    [
        {k: v for k, v in _row().items() if k != "occupancy"},
        {**_row(), "as_of": "2026-03-31"},
        _row(restrictive_measures_12m={"afzondering": 1}),
        _row(restrictive_measures_12m={**dict.fromkeys(KINDS, 0), "voogdij": 3}),
    ],
    ids=["missing figure", "unknown key", "missing kind", "unknown kind"],
)
def test_public_row_refuses_anything_but_a_figures_row(row: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match=r"figures row|restrictive_measures_12m"):
        public_row(row)


# --- documents over a feed and over the same feed reordered ---------------------------------------------


@cache
def _regions() -> RegionTable:
    return load_region_table()


@cache
def _feed(seed: int, scale: float) -> tuple[bytes, ...]:
    """A small simulated year (with invalid lines, duplicates and conflicting re-sends)."""
    config = SimulationConfig(
        start=date(2025, 1, 1), end=date(2025, 12, 31), seed=seed, scale=scale, other_care_scale=0.01
    )
    return tuple(line.payload for line in Simulation(config, _regions()).lines())


def _reordered(lines: tuple[bytes, ...], rng: random.Random) -> list[bytes]:
    """A random order of the lines in which the copies of one message id keep their order: "first
    to arrive" decides between conflicting re-sends (JH030), so only their order must stay."""
    order = list(range(len(lines)))
    rng.shuffle(order)
    groups: dict[str, list[int]] = defaultdict(list)
    for index, line in enumerate(lines):
        try:
            message = json.loads(line)
        except ValueError:
            continue
        if isinstance(message, dict) and isinstance(message.get("message_id"), str):
            groups[message["message_id"]].append(index)
    position = {index: slot for slot, index in enumerate(order)}
    for indices in groups.values():  # the group's slots, given to its lines in file order
        for slot_line, slot in zip(indices, sorted(position[i] for i in indices), strict=True):
            order[slot] = slot_line
    return [lines[i] for i in order]


def _public_doc(lines: list[bytes] | tuple[bytes, ...], as_of: date) -> dict[str, Any]:
    keyring = Keyring("k1", {"k1": b"k" * 32})
    return public_document(figures_document(judge_lines(lines, keyring, _regions()), as_of, _regions()))


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(1, 4),
    scale=st.sampled_from([0.01, 0.03, 0.1]),
    shuffle=st.randoms(use_true_random=False),
    as_of=st.sampled_from([date(2025, 6, 30), date(2025, 12, 31)]),
)
def test_public_document_is_the_same_for_a_reordered_feed(
    seed: int, scale: float, shuffle: random.Random, as_of: date
) -> None:
    lines = _feed(seed, scale)
    reordered = _reordered(lines, shuffle)
    assert sorted(reordered) == sorted(lines)
    original = _public_doc(lines, as_of)
    assert _public_doc(reordered, as_of) == original
    assert [r["region"] for r in original["regions"]][-1] == "NL"
    for row in original["regions"]:
        for name, value in _counts(row).items():
            assert value is None or value == 0 or (value >= 5 and value % 5 == 0), (name, value)


def test_public_document_keeps_the_provenance_and_maps_every_region() -> None:
    keyring = Keyring("k1", {"k1": b"k" * 32})
    exact = figures_document(judge_lines(_feed(1, 0.03), keyring, _regions()), date(2025, 12, 31), _regions())
    public = public_document(exact)
    assert {k: public[k] for k in ("as_of", "accepted", "rejected", "duplicates")} == {
        k: exact[k] for k in ("as_of", "accepted", "rejected", "duplicates")
    }
    assert public["regions"] == [public_row(row) for row in exact["regions"]]
    assert any(row["suppressed"] for row in public["regions"])  # a small feed has small counts


# --- Avro ------------------------------------------------------------------------------------------------


@given(exact_rows())
def test_public_row_encodes_as_public_region_snapshot(row: dict[str, Any]) -> None:
    public = snapshot(public_row(row), date(2026, 3, 31), datetime(2026, 3, 31, 23, 59, tzinfo=UTC))
    record = record_from_json("PublicRegionSnapshot", public)
    data = encode("PublicRegionSnapshot", record)
    assert record_to_json("PublicRegionSnapshot", decode("PublicRegionSnapshot", data)) == public
    # the generated encoder writes fastavro's bytes for the nullable ints (or leaves them to it)
    fast = _fast_encoder("PublicRegionSnapshot")
    assert fast is not None
    buffer = io.BytesIO()
    buffer.write(MARKER + _schema("PublicRegionSnapshot").fingerprint)
    schemaless_writer(buffer, _schema("PublicRegionSnapshot").parsed, record, strict_allow_default=True)
    assert fast(record) == buffer.getvalue() == data
