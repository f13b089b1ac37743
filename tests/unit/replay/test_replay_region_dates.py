"""``jeugdhub replay`` with a dated region table: each message counts (or is refused, S300) by the
table as it was on its event date.

The real merger: Appingedam (0003), Delfzijl (0010) and Loppersum (0024) became Eemsdelta (1979) on
2021-01-01, all in the example's VB01 (services/contracts/data/regions-example-dated.csv).
"""

from __future__ import annotations

import itertools
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from services.cli import main
from services.contracts.bsn import is_valid_bsn
from services.contracts.regions import DATED_EXAMPLE_REGIONS_FILE, DEFAULT_REGIONS_FILE

AS_OF = "2021-06-30"
PROVIDER = "12345678"


def bsns() -> Iterator[str]:
    return (f"{n:09d}" for n in itertools.count(100000000) if is_valid_bsn(f"{n:09d}"))


def placement(bsn: str, municipality: str, start_date: str, placement_id: str = "P1") -> dict[str, Any]:
    return {
        "message_id": str(uuid.uuid4()),
        "message_type": "placement_started",
        "status": "new",
        "cancels_message_id": None,
        "sender": {"kind": "provider", "code": PROVIDER},
        "created_at": "2021-03-01T10:00:00Z",
        "bsn": bsn,
        "birth_date": "2008-05-17",
        "municipality_code": municipality,
        "placement_id": placement_id,
        "provider_agb": PROVIDER,
        "location_code": "L1",
        "care_type": "gesloten",
        "legal_basis": "machtiging",
        "start_date": start_date,
    }


def replay(tmp_path: Path, messages: list[dict[str, Any]], table: Path) -> dict[str, Any]:
    feed, out = tmp_path / "feed.jsonl", tmp_path / f"figures-{table.stem}.json"
    feed.write_text("".join(json.dumps(m) + "\n" for m in messages))
    assert main(["replay", str(feed), "--as-of", AS_OF, "--regions", str(table), "--output", str(out)]) == 0
    figures: dict[str, Any] = json.loads(out.read_text())
    return figures


def occupancy(figures: dict[str, Any]) -> dict[str, int]:
    return {row["region"]: row["occupancy"] for row in figures["regions"] if row["occupancy"]}


@pytest.fixture
def merger_feed() -> list[dict[str, Any]]:
    youth = bsns()
    return [
        placement(next(youth), "0010", "2020-12-31"),  # old code, the day before: accepted, VB01
        placement(next(youth), "0024", "2020-12-31"),  # idem
        placement(next(youth), "0010", "2021-01-01"),  # old code on the merger date: S300
        placement(next(youth), "1979", "2020-12-31"),  # new code before its start: S300
        placement(next(youth), "1979", "2021-01-01"),  # new code from its start: accepted, VB01
        placement(next(youth), "0363", "2021-02-01"),  # valid always: VB04
    ]


def test_both_sides_of_the_merger_date(tmp_path: Path, merger_feed: list[dict[str, Any]]) -> None:
    figures = replay(tmp_path, merger_feed, DATED_EXAMPLE_REGIONS_FILE)
    assert (figures["accepted"], figures["rejected"]) == (4, 2)
    assert occupancy(figures) == {"VB01": 3, "VB04": 1, "NL": 4}


def test_the_undated_default_table_refuses_both_sides(
    tmp_path: Path, merger_feed: list[dict[str, Any]]
) -> None:
    figures = replay(tmp_path, merger_feed, DEFAULT_REGIONS_FILE)
    assert (figures["accepted"], figures["rejected"]) == (1, 5)
    assert occupancy(figures) == {"VB04": 1, "NL": 1}


def test_a_code_that_changes_region_splits_one_youths_stays(tmp_path: Path) -> None:
    """Fictional table (0010 moves from R1 to R2 on 2021-01-01): a youth's stay before the change
    counts in R1, the next one in R2, and the region rows move with the as-of date."""
    table = tmp_path / "moving.csv"
    table.write_text(
        "gemeentecode,gemeentenaam,regio_code,regio_naam,geldig_vanaf,geldig_tot\n"
        "0010,Fictief,R2,Twee,2021-01-01,\n"
        "0010,Fictief,R1,Een,,2021-01-01\n"
    )
    youth = next(bsns())
    first = placement(youth, "0010", "2020-11-01", "P1")
    end = {
        **{k: first[k] for k in ("status", "cancels_message_id", "sender", "bsn", "birth_date")},
        "message_id": str(uuid.uuid4()),
        "message_type": "placement_ended",
        "created_at": "2021-03-01T10:00:00Z",
        "municipality_code": "0010",
        "placement_id": "P1",
        "end_date": "2021-01-20",
        "reason": "31",
        "destination": "thuis",
    }
    second = placement(youth, "0010", "2021-02-01", "P2")
    figures = replay(tmp_path, [first, end, second], table)
    assert figures["accepted"] == 3
    rows = {row["region"]: row for row in figures["regions"]}
    assert rows["R1"]["placements_started_12m"] == 1
    assert rows["R2"]["placements_started_12m"] == 1
    assert occupancy(figures) == {"R2": 1, "NL": 1}
