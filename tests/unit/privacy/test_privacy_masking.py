"""BSN masking and redaction of rejected payloads."""

from __future__ import annotations

import re
from typing import Any

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from hubdev.records import placement
from services.privacy.masking import STRING_LIMIT, mask_bsn, mask_digit_runs, redact_payload, safe_text


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


MESSAGE = placement(birth_date="2010-03-01")


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


@pytest.mark.parametrize(
    "key",
    ["BSN", "burgerservicenummer", "bsnn", "birth_dat", "birthDate", "geboortedatum", "DOB", "note", "id"],
)
def test_redact_keeps_only_the_contracts_fields(key: str) -> None:
    """A positive list: a misspelt or extra field is dropped with its value, whatever its name."""
    for value in ("123456782", "2010-03-01", 123456782, {"bsn": "123456782"}, ["2009-07-13"]):
        assert redact_payload({**MESSAGE, key: value}) == redact_payload(MESSAGE)


def test_redact_keeps_only_known_nested_fields() -> None:
    payload = {"sender": {"kind": "provider", "naam": "Zorg BV", "bsn": "123456782"}, "youth": [{"bsn": "1"}]}
    assert redact_payload(payload) == {"sender": {"kind": "provider"}}


def test_redact_masks_digit_runs_in_known_fields_and_numeric_bsns() -> None:
    """A BSN in the wrong field (gemeentecode, an enum, an id) is masked, as is one sent as a number."""
    redacted = redact_payload(
        {
            "municipality_code": "972308660",
            "care_type": "bsn 012345672 wrong",
            "provider_agb": "123456782",
            "placement_id": "P-1234567890",
            "bsn": 12345672,
            "message_id": "123456782",
        }
    )
    assert redacted == {
        "municipality_code": "******660",
        "care_type": "bsn ******672 wrong",
        "provider_agb": "******782",
        "placement_id": "P-******890",
        "bsn": "******672",
        "message_id": "******782",
    }


def test_redact_replaces_structure_where_a_value_belongs() -> None:
    deep: Any = "2009-07-13"
    for _ in range(5000):
        deep = [deep]
    redacted = redact_payload({**MESSAGE, "care_type": deep, "sender": [1, 2], "location_code": {"a": deep}})
    assert redacted["care_type"] == "(array not kept)"
    assert redacted["sender"] == "(array of 2 not kept)"
    assert redacted["location_code"] == "(object not kept)"


def test_redact_cuts_long_strings() -> None:
    redacted = redact_payload({**MESSAGE, "location_code": "x" * 100_000})
    assert len(redacted["location_code"]) == STRING_LIMIT


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
    redacted = redact_payload(
        {**MESSAGE, "bsn": bsn, "bsn_copy": bsn, "nested": {"x": [bsn]}, "location_code": f"at {bsn}"}
    )
    assert bsn not in repr(redacted)
    assert "2010-03-01" not in repr(redacted)


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        (
            "municipality_code '972308660' is not a gemeentecode",
            "municipality_code '******660' is not a gemeentecode",
        ),
        ("agb 12345678 and 1234567", "agb ******678 and 1234567"),
        ("fullwidth １２３４５６７８２", "fullwidth ******"),
        ("a 20-digit 12345678901234567890 run", "a 20-digit ******890 run"),
    ],
)
def test_mask_digit_runs(text: str, masked: str) -> None:
    assert mask_digit_runs(text) == masked


def test_safe_text_masks_before_it_cuts() -> None:
    """Cutting first could leave 7 of a BSN's 9 digits showing."""
    assert safe_text("x" * 10 + "123456782", 15) == "x" * 10 + "****…"
    assert safe_text("short", 15) == "short"
