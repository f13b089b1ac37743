"""BSN masking and redaction of rejected payloads."""

from __future__ import annotations

import re
from typing import Any

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from services.privacy.masking import mask_bsn, redact_payload


@pytest.mark.parametrize(
    ("value", "masked"),
    [
        ("123456782", "******782"),
        ("012345672", "******672"),
        (" 123456782 ", "******782"),
        ("12345", "******345"),
        ("1234567890123", "******123"),
        ("123", "******"),  # showing 3 of 3 would show everything
        ("", "******"),
        ("12345678a", "******"),
        ("abc", "******"),
        (123456782, "******782"),
        (None, "******"),
        (True, "******"),
        (12.5, "******"),
        (["123456782"], "******"),
    ],
)
def test_mask_bsn(value: object, masked: str) -> None:
    assert mask_bsn(value) == masked


@given(st.one_of(st.text(), st.integers(), st.none(), st.floats()))
def test_mask_never_reveals_more_than_three_trailing_digits(value: object) -> None:
    masked = mask_bsn(value)
    assert masked.startswith("******")
    shown = masked[len("******") :]
    assert len(shown) <= 3
    assert re.fullmatch(r"[0-9]*", shown)
    if shown:
        assert str(value).strip().endswith(shown)
        assert len(str(value).strip()) > 3


MESSAGE: dict[str, Any] = {
    "message_id": "0f8fad5b-d9cb-469f-a165-70867728950e",
    "message_type": "placement_started",
    "status": "new",
    "cancels_message_id": None,
    "sender": {"kind": "provider", "code": "12345678"},
    "created_at": "2026-02-20T10:00:00Z",
    "bsn": "123456782",
    "birth_date": "2010-03-01",
    "municipality_code": "0363",
    "placement_id": "P1",
    "provider_agb": "12345678",
    "location_code": "L1",
    "care_type": "gesloten",
    "legal_basis": "machtiging",
    "start_date": "2026-02-19",
}


def test_redact_masks_bsn_and_drops_birth_date() -> None:
    redacted = redact_payload(MESSAGE)
    assert redacted["bsn"] == "******782"
    assert "birth_date" not in redacted
    assert {k: v for k, v in redacted.items() if k != "bsn"} == {
        k: v for k, v in MESSAGE.items() if k not in ("bsn", "birth_date")
    }


def test_redact_does_not_modify_input() -> None:
    original = {**MESSAGE, "sender": dict(MESSAGE["sender"])}
    redact_payload(MESSAGE)
    assert original == MESSAGE


@pytest.mark.parametrize(
    "key",
    ["name", "naam", "first_name", "achternaam", "Voornaam", "voornamen", "last-name", "FullName", "surname"],
)
def test_redact_drops_name_fields(key: str) -> None:
    assert key not in redact_payload({**MESSAGE, key: "Jan Jansen"})


@pytest.mark.parametrize("key", ["BSN", "burgerservicenummer", "Burger_Service_Nummer"])
def test_redact_masks_bsn_look_alikes(key: str) -> None:
    assert redact_payload({key: "123456782"}) == {key: "******782"}


@pytest.mark.parametrize("key", ["birthDate", "geboortedatum", "date_of_birth", "DOB"])
def test_redact_drops_birth_date_look_alikes(key: str) -> None:
    assert redact_payload({key: "2010-03-01", "x": 1}) == {"x": 1}


def test_redact_works_at_any_depth_and_in_lists() -> None:
    payload = {
        "sender": {"kind": "provider", "naam": "Zorg BV"},
        "youth": [{"bsn": "123456782", "name": "J"}],
    }
    assert redact_payload(payload) == {"sender": {"kind": "provider"}, "youth": [{"bsn": "******782"}]}


def test_redact_masks_bsn_under_unknown_keys_and_as_number() -> None:
    redacted = redact_payload({"bsnn": "123456782", "note": "bsn 012345672 wrong", "bsn": 12345672, "n": 99})
    assert redacted == {"bsnn": "******782", "note": "bsn ******672 wrong", "bsn": "******672", "n": 99}


def test_redact_masks_numeric_bsn_under_unknown_key() -> None:
    assert redact_payload({"id": 123456782}) == {"id": "******782"}


def test_redact_keeps_message_ids_and_null_bsn() -> None:
    ids = {"message_id": "12345678-1234-1234-1234-123456789012", "cancels_message_id": None, "bsn": None}
    assert redact_payload(ids) == ids


def test_redact_keeps_dates_timestamps_and_codes() -> None:
    redacted = redact_payload(MESSAGE)
    for key in ("created_at", "start_date", "provider_agb", "municipality_code", "placement_id"):
        assert redacted[key] == MESSAGE[key]


@given(st.text(alphabet="0123456789", min_size=9, max_size=9))
def test_redacted_payload_never_contains_the_bsn(bsn: str) -> None:
    assume(bsn not in repr({k: v for k, v in MESSAGE.items() if k != "bsn"}))  # e.g. inside message_id
    redacted = redact_payload({**MESSAGE, "bsn": bsn, "bsn_copy": bsn, "nested": {"x": [bsn]}})
    assert bsn not in repr(redacted)
    assert "2010-03-01" not in repr(redacted)
