"""Each stateless rule with accepted and rejected examples, plus all-violations reporting."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from services.contracts.regions import RegionTable
from services.validate.rules import Violation, check_rules

REGIONS = RegionTable(
    municipality_region={"0363": "R01", "0384": "R01", "0599": "R02", "0014": "R03"},
    region_names={"R01": "Noord", "R02": "Zuid", "R03": "Oost"},
)
PROVIDER = {"kind": "provider", "code": "12345678"}
MUNICIPALITY = {"kind": "municipality", "code": "0363"}
VALID_BSN = "123456782"

BODIES: dict[str, dict[str, Any]] = {
    "placement_started": {
        "placement_id": "P1",
        "provider_agb": "12345678",
        "location_code": "L1",
        "care_type": "gesloten",
        "legal_basis": "machtiging",
        "start_date": "2026-02-19",
    },
    "placement_ended": {
        "placement_id": "P1",
        "end_date": "2026-02-19",
        "reason": "31",
        "destination": "thuis",
    },
    "transfer": {
        "from_placement_id": "P1",
        "transfer_date": "2026-02-19",
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
        "start_date": "2026-02-19",
        "end_date": None,
        "placement_id": None,
    },
    "perspective_determined": {"determined_date": "2026-02-19", "perspective": "thuis"},
}


def message(message_type: str = "placement_started", **overrides: Any) -> dict[str, Any]:
    """A valid checked canonical dict of ``message_type``; ``overrides`` replace fields."""
    msg: dict[str, Any] = {
        "message_id": "0f8fad5b-d9cb-469f-a165-70867728950e",
        "message_type": message_type,
        "status": "new",
        "cancels_message_id": None,
        "sender": dict(PROVIDER),
        "created_at": "2026-02-20T10:00:00Z",
        "bsn": VALID_BSN,
        "birth_date": "2010-03-01",
        "municipality_code": "0363",
        **BODIES[message_type],
    }
    msg.update(overrides)
    return msg


def cancel(message_type: str = "placement_started", **overrides: Any) -> dict[str, Any]:
    """A valid cancel (envelope only)."""
    msg: dict[str, Any] = {
        "message_id": "1f8fad5b-d9cb-469f-a165-70867728950e",
        "message_type": message_type,
        "status": "cancel",
        "cancels_message_id": "0f8fad5b-d9cb-469f-a165-70867728950e",
        "sender": dict(PROVIDER),
        "created_at": "2026-02-20T10:00:00Z",
        "bsn": VALID_BSN,
        "birth_date": "2010-03-01",
        "municipality_code": "0363",
    }
    msg.update(overrides)
    return msg


def codes(msg: dict[str, Any]) -> list[str]:
    return [v.code for v in check_rules(msg, REGIONS)]


def only(msg: dict[str, Any]) -> Violation:
    violations = check_rules(msg, REGIONS)
    assert len(violations) == 1, violations
    return violations[0]


# --- valid messages -------------------------------------------------------------------------------


@pytest.mark.parametrize("message_type", sorted(BODIES))
def test_valid_message_of_every_type_passes(message_type: str) -> None:
    assert check_rules(message(message_type), REGIONS) == []


@pytest.mark.parametrize("message_type", sorted(BODIES))
def test_valid_cancel_of_every_type_passes(message_type: str) -> None:
    assert check_rules(cancel(message_type), REGIONS) == []


def test_valid_messages_from_municipality_pass() -> None:
    assert codes(message("perspective_determined", sender=dict(MUNICIPALITY))) == []
    legal = message("measure", sender=dict(MUNICIPALITY), kind="voogdij")
    assert codes(legal) == []


def test_violation_to_dict() -> None:
    assert Violation("CS002", "bsn", "x").to_dict() == {"code": "CS002", "field": "bsn", "message": "x"}


# --- CS002 ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("bsn", ["123456789", "992540599", "999999999"])
def test_cs002_elfproef_failure(bsn: str) -> None:
    violation = only(message(bsn=bsn))
    assert (violation.code, violation.field) == ("CS002", "bsn")
    assert "11-proef" in violation.message
    assert bsn not in violation.message
    assert "******" + bsn[-3:] in violation.message


@pytest.mark.parametrize("bsn", ["12345", "1234567820", "12345678a", "", "１２３４５６７８２", " 23456782"])
def test_cs002_not_nine_digits(bsn: str) -> None:
    violation = only(message(bsn=bsn))
    assert (violation.code, violation.field) == ("CS002", "bsn")
    assert "9 digits" in violation.message
    if len(bsn) > 3:
        assert bsn not in violation.message


@pytest.mark.parametrize("bsn", ["012345672", "000000012", "111222333"])
def test_cs002_accepts_valid_bsns_including_leading_zeros(bsn: str) -> None:
    assert codes(message(bsn=bsn)) == []


# --- RS036 ----------------------------------------------------------------------------------------


def test_rs036_sender_code_and_provider_agb() -> None:
    msg = message(sender={"kind": "provider", "code": "1000001"}, provider_agb="1000001")
    violations = check_rules(msg, REGIONS)
    assert [(v.code, v.field) for v in violations] == [("RS036", "sender.code"), ("RS036", "provider_agb")]
    assert "'1000001'" in violations[0].message
    assert "8 digits" in violations[0].message


@pytest.mark.parametrize("agb", ["1234567", "123456789", "1234567a", "", "1234 678"])
def test_rs036_to_provider_agb(agb: str) -> None:
    violation = only(message("transfer", to_provider_agb=agb))
    assert (violation.code, violation.field) == ("RS036", "to_provider_agb")


def test_rs036_not_applied_to_municipality_sender_code() -> None:
    # A municipality's code is a gemeentecode (4 digits), not an AGB code.
    assert codes(message("perspective_determined", sender=dict(MUNICIPALITY))) == []


def test_rs036_agb_with_leading_zeros_is_fine() -> None:
    msg = message(sender={"kind": "provider", "code": "00000001"}, provider_agb="00000001")
    assert codes(msg) == []


# --- RS035 and S300 -------------------------------------------------------------------------------


@pytest.mark.parametrize("code", ["363", "03630", "036a", "", " 363"])
def test_rs035_municipality_code_not_four_digits(code: str) -> None:
    violation = only(message(municipality_code=code))
    assert (violation.code, violation.field) == ("RS035", "municipality_code")
    assert repr(code) in violation.message


def test_rs035_municipality_sender_code() -> None:
    msg = message("perspective_determined", sender={"kind": "municipality", "code": "363"})
    assert [(v.code, v.field) for v in check_rules(msg, REGIONS)] == [
        ("RS035", "sender.code"),
        ("JH020", "sender.code"),  # "363" is not the responsible municipality "0363"
    ]


def test_s300_unknown_municipality_code() -> None:
    violation = only(message(municipality_code="9999"))
    assert (violation.code, violation.field) == ("S300", "municipality_code")
    assert "'9999'" in violation.message


def test_s300_unknown_municipality_sender() -> None:
    msg = message("perspective_determined", sender={"kind": "municipality", "code": "9999"})
    assert [(v.code, v.field) for v in check_rules(msg, REGIONS)] == [
        ("S300", "sender.code"),
        ("JH020", "sender.code"),
    ]


def test_s300_not_repeated_for_malformed_code() -> None:
    assert codes(message(municipality_code="363")) == ["RS035"]


def test_s300_uses_the_given_table() -> None:
    other = RegionTable({"9999": "X"}, {"X": "Elders"})
    assert [v.code for v in check_rules(message(municipality_code="9999"), other)] == []
    assert [v.code for v in check_rules(message(), other)] == ["S300"]


# --- TR018 ----------------------------------------------------------------------------------------


def test_tr018_end_before_start() -> None:
    violation = only(message("measure", start_date="2026-02-19", end_date="2026-02-18"))
    assert (violation.code, violation.field) == ("TR018", "end_date")
    assert "2026-02-18" in violation.message
    assert "2026-02-19" in violation.message


@pytest.mark.parametrize("end_date", ["2026-02-19", "2026-02-20", None])
def test_tr018_end_on_or_after_start_or_open(end_date: str | None) -> None:
    assert codes(message("measure", start_date="2026-02-19", end_date=end_date)) == []


# --- TR134 ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("message_type", "field"),
    [
        ("placement_started", "start_date"),
        ("placement_ended", "end_date"),
        ("transfer", "transfer_date"),
        ("measure", "start_date"),
        ("perspective_determined", "determined_date"),
    ],
)
def test_tr134_event_date_after_created_at(message_type: str, field: str) -> None:
    violation = only(message(message_type, **{field: "2026-02-21"}))
    assert (violation.code, violation.field) == ("TR134", field)
    assert "2026-02-21" in violation.message
    assert "2026-02-20" in violation.message


def test_tr134_measure_end_date_after_created_at() -> None:
    violation = only(message("measure", end_date="2026-03-01"))
    assert (violation.code, violation.field) == ("TR134", "end_date")


def test_tr134_birth_date_after_created_at_does_not_show_it() -> None:
    msg = message(birth_date="2026-02-21", start_date="2026-02-21")
    violations = check_rules(msg, REGIONS)
    assert ("TR134", "birth_date") in [(v.code, v.field) for v in violations]
    assert all("2026-02-21" not in v.message for v in violations if v.field == "birth_date")


@pytest.mark.parametrize("created_at", ["2026-02-19T00:00:00Z", "2026-02-19T23:59:59Z"])
def test_tr134_date_equal_to_created_at_date_is_accepted(created_at: str) -> None:
    assert codes(message(start_date="2026-02-19", created_at=created_at)) == []
    assert (
        codes(message("measure", start_date="2026-02-19", end_date="2026-02-19", created_at=created_at)) == []
    )


def test_tr134_birth_date_on_created_at_date_is_tr002_only_when_after_event() -> None:
    # Born on the day of sending, event on that same day: age 0, nothing wrong as far as dates go.
    assert codes(message(birth_date="2026-02-20", start_date="2026-02-20")) == []


# --- TR002 ----------------------------------------------------------------------------------------


def test_tr002_birth_after_event_date() -> None:
    violation = only(message(birth_date="2026-02-15", start_date="2026-02-10"))
    assert (violation.code, violation.field) == ("TR002", "birth_date")
    assert "start_date 2026-02-10" in violation.message
    assert "2026-02-15" not in violation.message


def test_tr002_birth_on_event_date_is_fine() -> None:
    assert codes(message(birth_date="2026-02-10", start_date="2026-02-10")) == []


def test_tr002_and_tr134_together() -> None:
    # The worked example's case: born after created_at and after the event date.
    assert sorted(codes(message(birth_date="2026-02-22", start_date="2026-02-19"))) == ["TR002", "TR134"]


def test_tr002_more_than_120_years_before_created_at() -> None:
    msg = message("perspective_determined", birth_date="1906-02-19")
    assert ("TR002", "birth_date") in [(v.code, v.field) for v in check_rules(msg, REGIONS)]
    assert "JH010" in codes(msg)  # such a person is also far older than 23


def test_tr002_exactly_120_years_is_not_more_than_120() -> None:
    msg = cancel(birth_date="1906-02-20")  # a cancel, so JH010 does not muddy the picture
    assert codes(msg) == []
    assert codes(cancel(birth_date="1906-02-19")) == ["TR002"]


def test_tr002_on_cancel_uses_created_at_date() -> None:
    assert sorted(codes(cancel(birth_date="2026-02-21"))) == ["TR002", "TR134"]
    assert codes(cancel(birth_date="2026-02-20")) == []


# --- JH010 ----------------------------------------------------------------------------------------


def test_jh010_turning_23_on_the_event_date_is_rejected() -> None:
    violation = only(message(birth_date="2003-02-19", start_date="2026-02-19"))
    assert (violation.code, violation.field) == ("JH010", "birth_date")
    assert "2003-02-19" not in violation.message
    assert "start_date 2026-02-19" in violation.message


def test_jh010_the_day_before_turning_23_is_accepted() -> None:
    assert codes(message(birth_date="2003-02-20", start_date="2026-02-19")) == []


def test_jh010_29_february_birthday() -> None:
    # dateutil: someone born on 29 February 2004 turns 23 on 28 February 2027 (a common year).
    msg = message("perspective_determined", birth_date="2004-02-29", created_at="2027-03-01T00:00:00Z")
    assert codes({**msg, "determined_date": "2027-02-28"}) == ["JH010"]
    assert codes({**msg, "determined_date": "2027-02-27"}) == []


def test_29_february_birth_date_in_a_leap_year_is_fine() -> None:
    assert codes(message(birth_date="2012-02-29")) == []


@pytest.mark.parametrize(
    ("message_type", "field"),
    [
        ("placement_started", "start_date"),
        ("placement_ended", "end_date"),
        ("transfer", "transfer_date"),
        ("measure", "start_date"),
        ("perspective_determined", "determined_date"),
    ],
)
def test_jh010_uses_the_event_date_of_each_type(message_type: str, field: str) -> None:
    # 22 on 2026-02-18, 23 on 2026-02-19.
    young = message(message_type, birth_date="2003-02-19", **{field: "2026-02-18"})
    old = message(message_type, birth_date="2003-02-19", **{field: "2026-02-19"})
    assert codes(young) == []
    assert codes(old) == ["JH010"]


def test_jh010_measure_end_date_is_not_the_event_date() -> None:
    msg = message("measure", birth_date="2003-02-19", start_date="2026-02-18", end_date="2026-02-20")
    assert codes(msg) == []


def test_jh010_not_applied_to_a_cancel() -> None:
    assert codes(cancel(birth_date="2000-01-01")) == []


# --- CS058 ----------------------------------------------------------------------------------------


def test_cs058_cancel_without_target() -> None:
    violation = only(cancel(cancels_message_id=None))
    assert (violation.code, violation.field) == ("CS058", "cancels_message_id")
    assert "cancel" in violation.message


def test_cs058_new_with_target() -> None:
    target = "6918e002-4c65-4654-9db4-53d6921f7130"
    violation = only(message(cancels_message_id=target))
    assert (violation.code, violation.field) == ("CS058", "cancels_message_id")
    assert target in violation.message


# --- JH020 ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("message_type", ["placement_started", "placement_ended", "transfer"])
def test_jh020_municipality_may_not_send_provider_types(message_type: str) -> None:
    violation = only(message(message_type, sender=dict(MUNICIPALITY)))
    assert (violation.code, violation.field) == ("JH020", "sender.kind")
    assert message_type in violation.message


@pytest.mark.parametrize("kind", ["afzondering", "separatie", "fixatie", "insluiting_eigen_kamer"])
def test_jh020_municipality_may_not_send_restrictive_measures(kind: str) -> None:
    violation = only(message("measure", sender=dict(MUNICIPALITY), kind=kind))
    assert (violation.code, violation.field) == ("JH020", "sender.kind")
    assert kind in violation.message


@pytest.mark.parametrize(
    "kind",
    [
        "machtiging_gesloten_jeugdhulp",
        "voorlopige_machtiging",
        "spoedmachtiging",
        "ondertoezichtstelling",
        "voogdij",
    ],
)
def test_jh020_legal_measures_from_either_kind(kind: str) -> None:
    assert codes(message("measure", sender=dict(MUNICIPALITY), kind=kind)) == []
    assert codes(message("measure", kind=kind)) == []


def test_jh020_perspective_from_provider_or_responsible_municipality() -> None:
    assert codes(message("perspective_determined")) == []
    assert codes(message("perspective_determined", sender=dict(MUNICIPALITY))) == []


def test_jh020_municipality_sending_for_another_municipality() -> None:
    msg = message("perspective_determined", sender={"kind": "municipality", "code": "0599"})
    violation = only(msg)
    assert (violation.code, violation.field) == ("JH020", "sender.code")
    assert "'0599'" in violation.message
    assert "'0363'" in violation.message


def test_jh020_provider_may_send_about_any_municipality() -> None:
    assert codes(message(municipality_code="0599")) == []


def test_jh020_provider_agb_differs_from_sender() -> None:
    violation = only(message(provider_agb="87654321"))
    assert (violation.code, violation.field) == ("JH020", "provider_agb")
    assert "'87654321'" in violation.message
    assert "'12345678'" in violation.message


def test_jh020_transfer_to_another_or_the_same_provider_is_fine() -> None:
    assert codes(message("transfer", to_provider_agb="87654321")) == []
    assert codes(message("transfer", to_provider_agb="12345678")) == []


def test_jh020_municipality_placement_reports_type_and_not_agb_mismatch() -> None:
    # The type is not allowed; provider_agb vs a gemeentecode is not a second, separate problem.
    msg = message(sender=dict(MUNICIPALITY))
    assert [(v.code, v.field) for v in check_rules(msg, REGIONS)] == [("JH020", "sender.kind")]


def test_jh020_on_cancels() -> None:
    assert codes(cancel("placement_started", sender=dict(MUNICIPALITY))) == ["JH020"]
    assert codes(cancel("measure", sender=dict(MUNICIPALITY))) == []  # kind unknown on a cancel
    assert codes(cancel("perspective_determined", sender=dict(MUNICIPALITY))) == []
    assert codes(cancel("perspective_determined", sender={"kind": "municipality", "code": "0599"})) == [
        "JH020"
    ]


# --- all violations -------------------------------------------------------------------------------


def test_three_broken_rules_are_all_reported() -> None:
    msg = message(bsn="123456789", provider_agb="1234", sender={"kind": "provider", "code": "1234"})
    msg["municipality_code"] = "9999"
    assert [(v.code, v.field) for v in check_rules(msg, REGIONS)] == [
        ("CS002", "bsn"),
        ("RS036", "sender.code"),
        ("RS036", "provider_agb"),
        ("S300", "municipality_code"),
    ]


def test_everything_wrong_at_once() -> None:
    msg = message(
        "measure",
        bsn="12",
        sender={"kind": "municipality", "code": "599"},
        municipality_code="9999",
        kind="fixatie",
        start_date="2026-02-25",
        end_date="2026-02-24",
        birth_date="1890-01-01",
        cancels_message_id="6918e002-4c65-4654-9db4-53d6921f7130",
    )
    found = {v.code for v in check_rules(msg, REGIONS)}
    assert found == {"CS002", "RS035", "S300", "TR018", "TR134", "TR002", "JH010", "CS058", "JH020"}


def test_input_is_not_modified() -> None:
    msg = message(bsn="123456789")
    before = {**msg, "sender": dict(msg["sender"])}
    check_rules(msg, REGIONS)
    assert msg == before


# --- privacy of messages --------------------------------------------------------------------------

_dates = st.dates(min_value=date(1880, 1, 1), max_value=date(2030, 12, 31))


@given(bsn=st.text(alphabet="0123456789a ", min_size=5, max_size=12), birth=_dates, start=_dates)
def test_messages_never_show_bsn_or_birth_date(bsn: str, birth: date, start: date) -> None:
    # 5+ characters without "-" cannot occur inside a date, so a hit would be a real leak.
    assume(len(bsn.strip()) >= 5)
    assume(birth not in (start, date(2026, 2, 20)))
    msg = message(bsn=bsn, birth_date=birth.isoformat(), start_date=start.isoformat())
    for violation in check_rules(msg, REGIONS):
        assert bsn.strip() not in violation.message
        assert birth.isoformat() not in violation.message
