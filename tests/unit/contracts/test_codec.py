"""The single-object codec: exact bytes other parties decode, round trips, and a clear error each."""

from __future__ import annotations

import copy
import struct
from datetime import UTC, date, datetime
from typing import Any

import pytest
from fastavro.schema import fingerprint

from hubdev.records import placement
from services.contracts.canonical import (
    check_inbound,
    inbound_from_json,
    inbound_to_json,
    record_from_json,
    record_to_json,
    validated_from_json,
    validated_to_json,
)
from services.contracts.codec import decode, decode_any, encode
from services.contracts.errors import ContractError
from services.contracts.schemas import registry

PLACEMENT = placement()


def test_crc64_avro_matches_the_avro_specification_vector() -> None:
    # Avro's Java SchemaNormalization gives 0x63dd24e7cc258f8a for the schema "null"; SOE writes it LE.
    assert bytes.fromhex(fingerprint('"null"', "CRC-64-AVRO")) == struct.pack("<Q", 0x63DD24E7CC258F8A)


def test_exact_bytes_of_a_known_retour_record() -> None:
    record = record_from_json(
        "Retour",
        {
            "message_id": "m",
            "sender": {"kind": "provider", "code": "12345678"},
            "received_at": "2026-03-02T09:30:00Z",
            "status": "accepted",
            "errors": [],
        },
    )
    fp = registry().record("Retour").fingerprint
    body = (
        b"\x02"  # union branch 1: string
        + b"\x02m"  # "m"
        + b"\x02"  # union branch 1: Sender
        + b"\x00"  # SenderKind provider (index 0)
        + b"\x1012345678"  # "12345678"
        + b"\x02"  # union branch 1: timestamp-millis
        + _zigzag(int(datetime(2026, 3, 2, 9, 30, tzinfo=UTC).timestamp() * 1000))
        + b"\x00"  # RetourStatus accepted (index 0)
        + b"\x00"  # empty array
    )
    assert encode("Retour", record) == b"\xc3\x01" + fp + body


def _zigzag(n: int) -> bytes:
    z = (n << 1) ^ (n >> 63)
    out = bytearray()
    while z & ~0x7F:
        out.append((z & 0x7F) | 0x80)
        z >>= 7
    out.append(z)
    return bytes(out)


def test_fingerprints_are_distinct_per_record() -> None:
    reg = registry()
    records = [n for n, s in reg.named.items() if s["type"] == "record"]
    prints = {reg.record(n).fingerprint for n in records}
    assert len(prints) == len(records)


@pytest.mark.parametrize(
    "message",
    [
        PLACEMENT,
        {**PLACEMENT, "status": "cancel", "cancels_message_id": "1f8fad5b-d9cb-469f-a165-70867728950e"},
        {
            **{k: PLACEMENT[k] for k in list(PLACEMENT)[:9]},
            "message_type": "placement_ended",
            "placement_id": "P1",
            "end_date": "2026-03-02",
            "reason": "38",
            "destination": "residentieel",
        },
        {
            **{k: PLACEMENT[k] for k in list(PLACEMENT)[:9]},
            "message_type": "transfer",
            "from_placement_id": "P1",
            "transfer_date": "2026-03-02",
            "to_provider_agb": "87654321",
            "to_placement_id": "Q9",
            "to_location_code": "L2",
            "to_care_type": "open_residentieel",
            "to_legal_basis": "vrijwillig",
            "transfer_reason": "planned_step_down",
        },
        {
            **{k: PLACEMENT[k] for k in list(PLACEMENT)[:9]},
            "message_type": "measure",
            "measure_id": "M1",
            "kind": "separatie",
            "start_date": "2026-03-01",
            "end_date": None,
            "placement_id": "P1",
        },
        {
            **{k: PLACEMENT[k] for k in list(PLACEMENT)[:9]},
            "message_type": "perspective_determined",
            "determined_date": "2026-03-01",
            "perspective": "pleeggezin",
        },
    ],
    ids=["placement_started", "cancel", "placement_ended", "transfer", "measure", "perspective"],
)
def test_inbound_round_trip_through_avro(message: dict[str, Any]) -> None:
    if message["status"] == "cancel":
        message = {k: v for k, v in message.items() if k in list(PLACEMENT)[:9]} | {
            "status": "cancel",
            "cancels_message_id": "1f8fad5b-d9cb-469f-a165-70867728950e",
        }
    data = encode("InboundMessage", inbound_from_json(message))
    assert data[:2] == b"\xc3\x01"
    assert inbound_to_json(decode("InboundMessage", data)) == message
    name, _ = decode_any(data)
    assert name == "InboundMessage"


def test_cancel_has_a_null_body_in_avro() -> None:
    cancel = {k: PLACEMENT[k] for k in list(PLACEMENT)[:9]} | {
        "status": "cancel",
        "cancels_message_id": "1f8fad5b-d9cb-469f-a165-70867728950e",
    }
    assert inbound_from_json(cancel)["body"] is None


def test_validated_round_trip() -> None:
    flat = {k: v for k, v in PLACEMENT.items() if k not in ("bsn", "birth_date")} | {
        "received_at": "2026-03-02T09:31:00Z",
        "youth_pseudonym": "ab" * 32,
        "pseudonym_key_id": "k1",
        "birth_year": 2010,
    }
    data = encode("ValidatedMessage", validated_from_json(flat))
    assert validated_to_json(decode("ValidatedMessage", data)) == flat


def test_validated_form_refuses_a_bsn() -> None:
    flat = {k: v for k, v in PLACEMENT.items() if k != "birth_date"} | {
        "received_at": "2026-03-02T09:31:00Z",
        "youth_pseudonym": "ab",
        "pseudonym_key_id": "k1",
        "birth_year": 2010,
    }
    with pytest.raises(ContractError) as err:
        validated_from_json(flat)
    assert err.value.field == "bsn"


def test_region_snapshot_round_trip() -> None:
    snapshot = {
        "region": "T01",
        "as_of": "2026-03-31",
        "computed_at": "2026-03-31T10:00:00Z",
        **dict.fromkeys(
            [
                "occupancy",
                "occupancy_residential",
                "placements_started_12m",
                "youth_placed_12m",
                "transfers_12m",
                "transfers_between_providers_12m",
                "transfers_within_provider_12m",
                "perspective_cohort_12m",
                "perspective_in_time_12m",
                "overdue_without_perspective",
                "episodes_ended_12m",
            ],
            3,
        ),
        "perspective_in_time_rate": 0.5833,
        "median_length_of_stay_days_12m": None,
        "restrictive_measures_12m": {
            "afzondering": 1,
            "separatie": 0,
            "fixatie": 2,
            "insluiting_eigen_kamer": 0,
        },
    }
    record = record_from_json("RegionSnapshot", snapshot)
    assert record["as_of"] == date(2026, 3, 31)
    assert (
        record_to_json("RegionSnapshot", decode("RegionSnapshot", encode("RegionSnapshot", record)))
        == snapshot
    )


# --- a clear error for each kind of bad input -------------------------------------------------


def test_truncated_bytes() -> None:
    data = encode("InboundMessage", inbound_from_json(PLACEMENT))
    with pytest.raises(ContractError, match="cannot decode InboundMessage"):
        decode("InboundMessage", data[:-5])
    with pytest.raises(ContractError, match="truncated"):
        decode("InboundMessage", data[:6])


def test_wrong_fingerprint_names_what_it_is() -> None:
    data = encode("InboundMessage", inbound_from_json(PLACEMENT))
    with pytest.raises(ContractError, match="is the fingerprint of InboundMessage, expected Retour"):
        decode("Retour", data)
    with pytest.raises(ContractError, match="unknown schema"):
        decode("InboundMessage", data[:2] + b"\x00" * 8 + data[10:])


def test_not_single_object_encoded() -> None:
    with pytest.raises(ContractError, match="marker"):
        decode("InboundMessage", b'{"message_id": "x", "status": "new"}')


def test_trailing_bytes() -> None:
    data = encode("InboundMessage", inbound_from_json(PLACEMENT))
    with pytest.raises(ContractError, match="trailing"):
        decode("InboundMessage", data + b"\x00")


@pytest.mark.parametrize(
    ("change", "field", "text"),
    [
        ({"start_date": 20260301}, "start_date", "must be a string"),
        ({"start_date": "2026-3-1"}, "start_date", "YYYY-MM-DD"),
        ({"start_date": "2023-02-29"}, "start_date", "day is out of range"),
        ({"created_at": "2026-03-02T09:30:00+01:00"}, "created_at", "YYYY-MM-DDTHH:MM:SSZ"),
        ({"bsn": 123456782}, "bsn", "must be a string"),
        ({"care_type": "halfopen"}, "care_type", "not one of"),
        ({"message_id": "0F8FAD5B-D9CB-469F-A165-70867728950E"}, "message_id", "does not match"),
        ({"placement_id": ""}, "placement_id", "at least 1"),
        ({"placement_id": "x" * 37}, "placement_id", "at most 36"),
        ({"sender": {"kind": "provider"}}, "sender.code", "is required"),
        ({"sender": {"kind": "provider", "code": "12345678", "x": 1}}, "sender.x", "unknown field"),
        ({"start_dat": "2026-03-01"}, "start_dat", "unknown field"),
        ({"status": "cancel"}, "placement_id", "a cancel carries no body"),
        ({"message_type": "overplaatsing"}, "message_type", "not one of"),
    ],
)
def test_schema_errors_name_the_field(change: dict[str, Any], field: str, text: str) -> None:
    message = copy.deepcopy(PLACEMENT) | change
    with pytest.raises(ContractError) as err:
        check_inbound(message)
    assert err.value.field == field
    assert text in err.value.message
    assert err.value.code == "SCHEMA"


def test_missing_required_field() -> None:
    message = {k: v for k, v in PLACEMENT.items() if k != "start_date"}
    with pytest.raises(ContractError) as err:
        check_inbound(message)
    assert err.value.field == "start_date"
    assert "required" in err.value.message


def test_optional_fields_may_be_left_out_or_null() -> None:
    base = {k: PLACEMENT[k] for k in list(PLACEMENT)[:9]} | {
        "message_type": "measure",
        "measure_id": "M1",
        "kind": "fixatie",
        "start_date": "2026-03-01",
    }
    checked = check_inbound({k: v for k, v in base.items() if k != "cancels_message_id"})
    assert checked["end_date"] is None
    assert checked["placement_id"] is None
    assert checked["cancels_message_id"] is None


def test_not_an_object() -> None:
    with pytest.raises(ContractError, match="must be a JSON object"):
        check_inbound([PLACEMENT])


def test_encode_of_wrong_type_is_a_contract_error() -> None:
    record = inbound_from_json(PLACEMENT)
    record["birth_date"] = "not a date"
    with pytest.raises(ContractError):
        encode("InboundMessage", record)


@pytest.mark.parametrize("bad", ["2010-5-17", "2010-02-30"])
def test_schema_error_on_birth_date_does_not_repeat_it(bad: str) -> None:
    with pytest.raises(ContractError) as err:
        check_inbound(PLACEMENT | {"birth_date": bad})
    assert err.value.field == "birth_date"
    assert bad not in str(err.value)
