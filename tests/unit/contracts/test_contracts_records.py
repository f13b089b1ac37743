"""The TypedDicts of services/contracts/records.py name exactly the fields of the ``.avsc`` records
they type, so a field added to or removed from the contract fails here rather than in a reader."""

from __future__ import annotations

from typing import Any, get_args

from services.contracts.records import (
    RejectionJSON,
    RetourJSON,
    RetourStatus,
    SenderJSON,
    ValidatedJSON,
    ViolationJSON,
)
from services.contracts.schemas import NAMESPACE, registry
from services.contracts.vocabulary import enum_symbols

BODIES = ("PlacementStarted", "PlacementEnded", "Transfer", "Measure", "PerspectiveDetermined")


def fields(name: str) -> set[str]:
    schema: dict[str, Any] = registry().named[f"{NAMESPACE}.{name}"]
    return {field["name"] for field in schema["fields"]}


def test_retour_rejection_sender_and_violation_have_the_schemas_fields() -> None:
    assert set(RetourJSON.__annotations__) == fields("Retour")
    assert set(RejectionJSON.__annotations__) == fields("Rejection")
    assert set(SenderJSON.__annotations__) == fields("Sender")
    assert set(ViolationJSON.__annotations__) == fields("RuleViolation")
    assert set(get_args(RetourStatus)) == set(enum_symbols("RetourStatus"))


def test_validated_is_the_envelope_and_every_body_flat() -> None:
    envelope = fields("ValidatedMessage") - {"body"}
    bodies = set().union(*(fields(body) for body in BODIES))
    assert set(ValidatedJSON.__annotations__) == envelope | bodies
    assert ValidatedJSON.__required_keys__ == envelope - {"cancels_message_id"}
