"""S300 on the event date, with the shipped dated example (Eemsdelta, 1 January 2021).

Appingedam (0003), Delfzijl (0010) and Loppersum (0024) merged into Eemsdelta (1979) on 2021-01-01:
an old code is valid for events up to 2020-12-31, the new one from 2021-01-01.
"""

from __future__ import annotations

from typing import Any

import pytest

from services.contracts.regions import DATED_EXAMPLE_REGIONS_FILE, load_region_table
from services.validate.rules import check_rules

DATED = load_region_table(DATED_EXAMPLE_REGIONS_FILE)
UNDATED = load_region_table(None)
BEFORE, ON = "2020-12-31", "2021-01-01"
PROVIDER = {"kind": "provider", "code": "12345678"}

BODIES: dict[str, dict[str, Any]] = {
    "placement_started": {
        "placement_id": "P1",
        "provider_agb": "12345678",
        "location_code": "L1",
        "care_type": "gesloten",
        "legal_basis": "machtiging",
        "start_date": ON,
    },
    "placement_ended": {"placement_id": "P1", "end_date": ON, "reason": "31", "destination": "thuis"},
    "transfer": {
        "from_placement_id": "P1",
        "transfer_date": ON,
        "to_provider_agb": "87654321",
        "to_placement_id": "Q1",
        "to_location_code": "L9",
        "to_care_type": "gesloten",
        "to_legal_basis": "machtiging",
        "transfer_reason": "escalation",
    },
    "measure": {
        "measure_id": "M1",
        "kind": "separatie",
        "start_date": ON,
        "end_date": None,
        "placement_id": None,
    },
    "perspective_determined": {"determined_date": ON, "perspective": "thuis"},
}
EVENT_FIELD = {
    "placement_started": "start_date",
    "placement_ended": "end_date",
    "transfer": "transfer_date",
    "measure": "start_date",
    "perspective_determined": "determined_date",
}


def message(message_type: str, municipality: str, event: str, **overrides: Any) -> dict[str, Any]:
    msg: dict[str, Any] = {
        "message_id": "0f8fad5b-d9cb-469f-a165-70867728950e",
        "message_type": message_type,
        "status": "new",
        "cancels_message_id": None,
        "sender": dict(PROVIDER),
        "created_at": "2021-03-01T10:00:00Z",
        "bsn": "123456782",
        "birth_date": "2010-03-01",
        "municipality_code": municipality,
        **BODIES[message_type],
        EVENT_FIELD[message_type]: event,
    }
    msg.update(overrides)
    return msg


def s300(msg: dict[str, Any], table: Any = DATED) -> list[str]:
    return [v.field for v in check_rules(msg, table) if v.code == "S300"]


@pytest.mark.parametrize("message_type", sorted(BODIES))
@pytest.mark.parametrize("old", ["0003", "0010", "0024"])
def test_a_merged_away_code_is_valid_for_events_before_the_merger_only(message_type: str, old: str) -> None:
    assert check_rules(message(message_type, old, BEFORE), DATED) == []
    (violation,) = check_rules(message(message_type, old, ON), DATED)
    assert (violation.code, violation.field) == ("S300", "municipality_code")
    assert f"{old!r} is not valid in the region reference table on the event date" in violation.message
    assert EVENT_FIELD[message_type] in violation.message


@pytest.mark.parametrize("message_type", sorted(BODIES))
def test_the_new_code_is_valid_from_the_merger_date(message_type: str) -> None:
    assert s300(message(message_type, "1979", BEFORE)) == ["municipality_code"]
    assert check_rules(message(message_type, "1979", ON), DATED) == []


def test_a_measure_is_judged_on_its_start_not_its_end() -> None:
    spanning = message("measure", "0010", BEFORE, end_date="2021-02-01")
    assert check_rules(spanning, DATED) == []


def test_a_municipality_sender_is_judged_on_the_same_date() -> None:
    sender = {"kind": "municipality", "code": "0010"}
    assert check_rules(message("perspective_determined", "0010", BEFORE, sender=sender), DATED) == []
    assert s300(message("perspective_determined", "0010", ON, sender=sender)) == [
        "municipality_code",
        "sender.code",
    ]


def test_a_cancel_with_a_merged_away_code_is_accepted_after_the_merger() -> None:
    """It withdraws a message from before the merger and repeats its envelope; refusing it would
    keep the wrong message counted."""
    cancel = message("placement_started", "0010", BEFORE, status="cancel")
    for field in BODIES["placement_started"]:
        del cancel[field]
    cancel |= {
        "cancels_message_id": "1f8fad5b-d9cb-469f-a165-70867728950e",
        "created_at": "2022-06-01T10:00:00Z",
    }
    assert check_rules(cancel, DATED) == []
    assert s300(cancel | {"municipality_code": "9999"}) == ["municipality_code"]


def test_an_unknown_code_keeps_the_plain_message() -> None:
    (violation,) = check_rules(message("placement_started", "9999", BEFORE), DATED)
    assert violation.message == "municipality_code '9999' is not in the region reference table"


@pytest.mark.parametrize("code", ["0010", "1979"])
@pytest.mark.parametrize("event", [BEFORE, ON])
def test_the_undated_default_table_knows_neither_side(code: str, event: str) -> None:
    assert s300(message("placement_started", code, event), UNDATED) == ["municipality_code"]
    assert check_rules(message("placement_started", "0014", event), UNDATED) == []
