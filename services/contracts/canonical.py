"""The canonical JSON form of ``messages.md`` to and from Avro-ready records, checked by the schema.

The public entry: each function first tries the generated fast path
(:mod:`services.contracts.canonical_compiled`), which only accepts values it converts exactly as the
reference would, and otherwise takes the reference walk over the ``.avsc`` schema
(:mod:`services.contracts.canonical_reference`), which converts or raises the :class:`ContractError`
naming the first offending path. tests/unit/contracts/test_canonical_fast_path.py holds them equal.
"""

from __future__ import annotations

from typing import Any

from services.contracts.canonical_compiled import (
    fast_check_message,
    fast_message_from_avro,
    fast_message_to_avro,
    fast_record,
)
from services.contracts.canonical_reference import (
    BODY_RECORDS,
    avro_to_json,
    format_timestamp,
    message_from_json,
    message_to_json,
    parse_date,
    parse_timestamp,
    record_to_avro,
)
from services.contracts.schemas import NAMESPACE, registry

__all__ = [
    "BODY_RECORDS",
    "check_inbound",
    "format_timestamp",
    "inbound_from_json",
    "inbound_to_json",
    "parse_date",
    "parse_timestamp",
    "record_from_json",
    "record_to_json",
    "validated_from_json",
    "validated_to_json",
]


def inbound_from_json(obj: Any) -> dict[str, Any]:
    """Check a canonical JSON message against the contract; return the Avro-ready InboundMessage."""
    fast = fast_message_to_avro("InboundMessage", obj)
    return fast if fast is not None else message_from_json("InboundMessage", obj)


def inbound_to_json(record: dict[str, Any]) -> dict[str, Any]:
    """Avro InboundMessage (as decoded) -> flat canonical JSON, optional fields present as null."""
    fast = fast_message_from_avro("InboundMessage", record)
    return fast if fast is not None else message_to_json("InboundMessage", record)


def check_inbound(obj: Any) -> dict[str, Any]:
    """The checked canonical dict: the same JSON, every optional field present, or ContractError."""
    fast = fast_check_message("InboundMessage", obj)
    return fast if fast is not None else inbound_to_json(message_from_json("InboundMessage", obj))


def validated_from_json(obj: Any) -> dict[str, Any]:
    """The validated flat form (no BSN, no birth date) -> Avro-ready ValidatedMessage."""
    fast = fast_message_to_avro("ValidatedMessage", obj)
    return fast if fast is not None else message_from_json("ValidatedMessage", obj)


def validated_to_json(record: dict[str, Any]) -> dict[str, Any]:
    fast = fast_message_from_avro("ValidatedMessage", record)
    return fast if fast is not None else message_to_json("ValidatedMessage", record)


def record_from_json(record_name: str, obj: Any) -> dict[str, Any]:
    """Any other contract record (Rejection, Retour, RegionSnapshot, ...) from its JSON form."""
    node = fast_record(record_name)
    if node is not None and node.check(obj):
        result: dict[str, Any] = node.avro(obj)
        return result
    return record_to_avro(registry().resolve(f"{NAMESPACE}.{record_name}"), obj, "")


def record_to_json(record_name: str, record: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = avro_to_json(f"{NAMESPACE}.{record_name}", record)
    return result
