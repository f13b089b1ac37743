"""One raw message in, exactly one outcome out: the validate step as a pure function.

The faust worker and ``jeugdhub replay`` both call :func:`process`, so a message is judged the same
way online and offline. Errors are data: an undecodable payload, a schema mismatch, broken business
rules and a conflicting re-send all become a rejection with every violation listed; nothing raises.
The outcome depends only on its inputs (no wall clock), so a record processed again after a crash
yields byte-identical outputs.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Literal, NamedTuple

import orjson

from services.contracts.canonical import check_inbound, inbound_to_json, parse_timestamp
from services.contracts.codec import decode
from services.contracts.errors import ContractError
from services.contracts.regions import RegionTable
from services.privacy.masking import redact_payload
from services.privacy.pseudonym import Keyring, to_validated
from services.validate.dedup import Decision, DedupEntry, content_hash, decide
from services.validate.rules import Violation, check_rules

Status = Literal["accepted", "rejected", "duplicate"]
PayloadFormat = Literal["json", "avro"]


class RawInput(NamedTuple):
    """A raw message as the validate step sees it (the RawMessage record, or a replay line).

    Named tuples (immutable, like the frozen dataclasses they replace) are several times cheaper to
    create, and one of each is made per message.
    """

    payload: bytes
    format: PayloadFormat
    sender: Mapping[str, str] | None  # authenticated sender; None in replay (the message's own is used)
    received_at: str | None  # YYYY-MM-DDTHH:MM:SSZ; None in replay (created_at is used)
    source_partition: int | None = None
    source_offset: int | None = None


class Outcome(NamedTuple):
    """Everything the validate step emits for one message.

    ``validated`` xor ``rejection`` is set unless the status is ``duplicate`` (then neither);
    ``retour`` is always set. ``dedup_key``/``dedup_entry`` tell the caller what to store (``None``:
    store nothing: an unreadable message, a duplicate, a conflict or a replay).
    """

    status: Status
    retour: dict[str, Any]
    validated: dict[str, Any] | None = None
    rejection: dict[str, Any] | None = None
    dedup_key: str | None = None
    dedup_entry: DedupEntry | None = None


def identity(raw: RawInput) -> tuple[Any, str | None, dict[str, str] | None, str | None]:
    """Decode the payload just far enough for routing: (object or None, key, sender, error text)."""
    obj: Any
    try:
        if raw.format == "avro":
            obj = inbound_to_json(decode("InboundMessage", raw.payload))
        else:
            obj = orjson.loads(raw.payload)
    except ContractError as exc:
        return None, None, _sender_of(raw, None), f"payload is not a decodable InboundMessage: {exc}"
    except orjson.JSONDecodeError as exc:
        return None, None, _sender_of(raw, None), f"payload is not JSON: {exc}"
    sender = _sender_of(raw, obj)
    message_id = obj.get("message_id") if isinstance(obj, dict) else None
    key = None
    if sender is not None and isinstance(message_id, str):
        key = f"{sender['code']}:{message_id}"
    return obj, key, sender, None


DedupLookup = Callable[[str], DedupEntry | None]


def process(raw: RawInput, lookup: DedupLookup, keyring: Keyring, regions: RegionTable) -> Outcome:
    """Judge one raw message; ``lookup`` reads the duplicate table (the caller stores the result)."""
    obj, key, sender, decode_error = identity(raw)
    received_at = raw.received_at
    if received_at is None and isinstance(obj, dict) and isinstance(obj.get("created_at"), str):
        received_at = obj["created_at"]
    if decode_error is not None or not isinstance(obj, dict):
        error = decode_error or "a message must be a JSON object"
        violation = Violation("SCHEMA", "", error)
        return _rejected(
            raw, obj if isinstance(obj, dict) else None, sender, received_at, [violation], None, None
        )

    message_id = obj.get("message_id") if isinstance(obj.get("message_id"), str) else None
    digest = content_hash(obj)
    decision = decide(lookup(key), digest, raw.source_offset) if key is not None else Decision.NEW
    if decision is Decision.DUPLICATE:
        retour = _retour(message_id, sender, received_at, "duplicate", [])
        return Outcome("duplicate", retour)

    violations: list[Violation] = []
    if decision is Decision.CONFLICT:
        violations.append(
            Violation(
                "JH030",
                "message_id",
                f"message_id {message_id} was already received from this sender with different content",
            )
        )
    checked: dict[str, Any] | None = None
    try:
        checked = check_inbound(obj)
    except ContractError as exc:
        violations.append(Violation("SCHEMA", exc.field, exc.message))
    if checked is not None:
        violations.extend(check_rules(checked, regions))
        violations.extend(_sender_mismatch(raw, checked))

    store_key = key if decision is Decision.NEW else None
    if violations or checked is None:
        entry = DedupEntry(digest, "rejected", raw.source_offset) if store_key else None
        return _rejected(raw, obj, sender, received_at, violations, store_key, entry)
    validated = to_validated(checked, keyring)
    validated["received_at"] = received_at
    entry = DedupEntry(digest, "accepted", raw.source_offset) if store_key else None
    retour = _retour(message_id, sender, received_at, "accepted", [])
    return Outcome("accepted", retour, validated=validated, dedup_key=store_key, dedup_entry=entry)


def unreadable_raw(reason: str, partition: int | None, offset: int | None) -> Outcome:
    """A raw-topic record that is not a RawMessage at all: nobody to answer, recorded all the same."""
    raw = RawInput(b"", "json", None, None, partition, offset)
    return _rejected(raw, None, None, None, [Violation("SCHEMA", "", reason)], None, None)


def _sender_of(raw: RawInput, obj: Any) -> dict[str, str] | None:
    if raw.sender is not None:
        return {"kind": str(raw.sender["kind"]), "code": str(raw.sender["code"])}
    claimed = obj.get("sender") if isinstance(obj, dict) else None
    if (
        isinstance(claimed, dict)
        and claimed.get("kind") in ("provider", "municipality")
        and isinstance(claimed.get("code"), str)
    ):
        return {"kind": claimed["kind"], "code": claimed["code"]}
    return None


def _sender_mismatch(raw: RawInput, checked: Mapping[str, Any]) -> list[Violation]:
    """Ingest refuses these with 403; a raw record written by anything else is still judged."""
    if raw.sender is None:
        return []
    claimed, authenticated = checked["sender"], raw.sender
    if type(claimed) is not dict:
        claimed = dict(claimed)
    if type(authenticated) is not dict:
        authenticated = dict(authenticated)
    if claimed == authenticated:
        return []
    return [Violation("JH020", "sender", "sender differs from the authenticated sender of the request")]


def _retour(
    message_id: str | None,
    sender: Mapping[str, str] | None,
    received_at: str | None,
    status: Status,
    errors: list[Violation],
) -> dict[str, Any]:
    return {
        "message_id": message_id,
        "sender": dict(sender) if sender is not None else None,
        "received_at": received_at,
        "status": status,
        "errors": [v.to_dict() for v in errors],
    }


def _rejected(
    raw: RawInput,
    obj: dict[str, Any] | None,
    sender: Mapping[str, str] | None,
    received_at: str | None,
    violations: list[Violation],
    store_key: str | None,
    entry: DedupEntry | None,
) -> Outcome:
    message_id = obj.get("message_id") if obj is not None and isinstance(obj.get("message_id"), str) else None
    message_type = (
        obj.get("message_type") if obj is not None and isinstance(obj.get("message_type"), str) else None
    )
    redacted = (
        orjson.dumps(redact_payload(obj), option=orjson.OPT_SORT_KEYS).decode() if obj is not None else None
    )
    received = received_at if _is_timestamp(received_at) else None
    rejection: dict[str, Any] = {
        "message_id": message_id,
        "sender": dict(sender) if sender is not None else None,
        "message_type": message_type,
        "received_at": received,
        "errors": [v.to_dict() for v in violations],
        "payload_redacted": redacted,
        "source_partition": raw.source_partition,
        "source_offset": raw.source_offset,
    }
    retour = _retour(message_id, sender, received, "rejected", violations)
    return Outcome("rejected", retour, rejection=rejection, dedup_key=store_key, dedup_entry=entry)


def _is_timestamp(value: str | None) -> bool:
    if value is None:
        return False
    try:
        parse_timestamp(value)
    except ValueError:
        return False
    return True
