"""Types of the contract's records in their canonical-JSON form, as the code passes them around:
the validated message, the retour and the rejection.

These are the dicts ``services/contracts/canonical.py`` converts to and from Avro; the ``.avsc``
files stay the definition (the codec checks every record against them), so these types only tell
the type checker which keys a record has and what their values are. Timestamps are canonical-JSON
strings (``"2026-03-02T09:30:00Z"``), dates ``"YYYY-MM-DD"``.
"""

# No `from __future__ import annotations`: NotRequired must be visible at run time
# (``__required_keys__``, tests/unit/contracts/test_contracts_records.py).
from typing import Literal, NotRequired, TypedDict

from services.contracts.vocabulary import SenderKind

RetourStatus = Literal["accepted", "rejected", "duplicate"]
"""The symbols of the RetourStatus enum."""


class SenderJSON(TypedDict):
    kind: SenderKind
    code: str


class ViolationJSON(TypedDict):
    """A RuleViolation: the rule's code (``JH010``, ``SCHEMA``, ...), the field and a safe message."""

    code: str
    field: str
    message: str


class RetourJSON(TypedDict):
    """The answer to the sender, one per raw record (the retour topic, ``GET /v1/retour``)."""

    message_id: str | None
    sender: SenderJSON | None
    received_at: str | None
    status: RetourStatus
    errors: list[ViolationJSON]


class RejectionJSON(TypedDict):
    """A rejected message for the operators (the rejected topic): its errors and a redacted payload."""

    message_id: str | None
    sender: SenderJSON | None
    message_type: str | None
    received_at: str | None
    errors: list[ViolationJSON]
    payload_redacted: str | None
    source_partition: int | None
    source_offset: int | None


class ValidatedJSON(TypedDict):
    """An accepted message without BSN or birth date: the envelope, then the fields of its body
    (flat, as in the inbound message); which body fields are present depends on ``message_type``,
    and a cancel carries none."""

    message_id: str
    message_type: str
    status: Literal["new", "cancel"]
    cancels_message_id: NotRequired[str | None]
    sender: SenderJSON
    created_at: str
    received_at: str
    youth_pseudonym: str
    pseudonym_key_id: str
    birth_year: int
    municipality_code: str
    # placement_started (and placement_ended, measure: placement_id)
    placement_id: NotRequired[str | None]
    provider_agb: NotRequired[str]
    location_code: NotRequired[str]
    care_type: NotRequired[str]
    legal_basis: NotRequired[str]
    start_date: NotRequired[str]
    # placement_ended (and measure: end_date)
    end_date: NotRequired[str | None]
    reason: NotRequired[str]
    destination: NotRequired[str]
    # transfer
    from_placement_id: NotRequired[str]
    transfer_date: NotRequired[str]
    to_provider_agb: NotRequired[str]
    to_placement_id: NotRequired[str]
    to_location_code: NotRequired[str]
    to_care_type: NotRequired[str]
    to_legal_basis: NotRequired[str]
    transfer_reason: NotRequired[str]
    # measure
    measure_id: NotRequired[str]
    kind: NotRequired[str]
    # perspective_determined
    determined_date: NotRequired[str]
    perspective: NotRequired[str]
