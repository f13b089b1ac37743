"""One raw message in, exactly one outcome out: the validate step as a pure function.

The faust worker and ``jeugdhub replay`` both call :func:`process`, so a message is judged the same
way online and offline. Errors are data: an undecodable payload, a schema mismatch, broken business
rules and a conflicting re-send all become a rejection with every violation listed; nothing raises,
whatever bytes arrive (a bug in a rule becomes an ``UNPROCESSABLE`` rejection, never a lost
message). Every record it makes is bounded in size and quotes no personal value: identifiers,
rule messages and the redacted payload go through :mod:`services.privacy.masking`.
The outcome depends only on its inputs (no wall clock), so a record processed again after a crash
yields byte-identical outputs.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Callable, Mapping
from typing import Any, Literal, NamedTuple, cast

import orjson

from services.contracts.canonical import BODY_RECORDS, check_inbound, inbound_to_json, parse_timestamp
from services.contracts.codec import decode
from services.contracts.errors import ContractError
from services.contracts.records import (
    RejectionJSON,
    RetourJSON,
    RetourStatus,
    SenderJSON,
    ValidatedJSON,
    ViolationJSON,
)
from services.contracts.regions import RegionTable
from services.contracts.topics import dedup_key
from services.contracts.vocabulary import SENDER_KINDS, SenderKind
from services.privacy.masking import is_uuid, public_identifier, redact_payload, safe_text
from services.privacy.pseudonym import Keyring, to_validated_with_anchor
from services.privacy.rotation import LinkLookup, YouthLink, link_for
from services.validate.dedup import Decision, DedupEntry, content_hash, decide
from services.validate.erasures import Refusals, erased_violation
from services.validate.rules import Violation, check_rules

log = logging.getLogger("jeugdhub.validate")

Status = RetourStatus
PayloadFormat = Literal["json", "avro"]

MAX_DEPTH = 32
"""Deepest JSON nesting judged field by field (the contract needs 2); deeper is a SCHEMA rejection."""
MAX_ERRORS = 50
FIELD_LIMIT = 200
MESSAGE_LIMIT = 500
PAYLOAD_LIMIT = 64 * 1024
UNPROCESSABLE = "UNPROCESSABLE"
"""Rule code of a message the hub could not judge (docs/contract.md): rejected, never lost."""
_SAFE_SENDER_CODE = re.compile(r"[0-9]{1,16}")
# Rules checked on schema-valid messages only, quoting the message's own event dates (never birth_date).
_EVENT_DATE_RULES = frozenset({"TR018", "TR134", "TR002", "JH010"})
_SENDER_CODE = re.compile(r"[0-9]{4}|[0-9]{8}")  # a gemeentecode or an AGB code: never personal


class RawInput(NamedTuple):
    """A raw message as the validate step sees it (the RawMessage record, or a replay line).

    A named tuple (immutable) rather than a frozen dataclass: several times cheaper to create, and
    one of each is made per message.
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
    store nothing: an unreadable message, a duplicate, a conflict or a replay); ``dedup_route`` is
    the raw record's key, which decides the stored entry's changelog partition.
    """

    status: Status
    retour: RetourJSON
    validated: ValidatedJSON | None = None
    rejection: RejectionJSON | None = None
    dedup_key: str | None = None
    dedup_entry: DedupEntry | None = None
    dedup_route: str | None = None
    youth_key: str | None = None
    """The validated record's key: the youth's anchor (services/privacy/rotation.py)."""
    link: YouthLink | None = None
    """The link to write to the links topic, keyed by the validated ``youth_pseudonym``: the
    youth's first message during a key rotation (services/privacy/rotation.py, ``link_for``)."""


class Identity(NamedTuple):
    """The payload decoded just far enough for routing."""

    obj: Any
    key: str | None  # the duplicate table's key
    route: str | None  # "<sender code>:<message_id>", the raw topic's key
    sender: dict[str, str] | None
    error: str | None  # why the payload cannot be judged field by field


def identity(raw: RawInput) -> Identity:
    """Decode the payload far enough for routing; never raises."""
    obj: Any
    try:
        if raw.format == "avro":
            obj = inbound_to_json(decode("InboundMessage", raw.payload))
        else:
            obj = orjson.loads(raw.payload)
    except ContractError as exc:
        return Identity(
            None, None, None, _sender_of(raw, None), f"payload is not a decodable InboundMessage: {exc}"
        )
    except orjson.JSONDecodeError as exc:
        return Identity(None, None, None, _sender_of(raw, None), f"payload is not JSON: {exc}")
    sender = _sender_of(raw, obj)
    error = None
    if nests_deeper_than(obj, MAX_DEPTH):
        error = f"the message nests deeper than {MAX_DEPTH} levels"
    message_id = obj.get("message_id") if isinstance(obj, dict) else None
    key = route = None
    if sender is not None and isinstance(message_id, str):
        route = dedup_key(sender["code"], message_id)
        key = table_key(sender["code"], message_id)
    return Identity(obj, key, route, sender, error)


def table_key(sender_code: str, message_id: str) -> str:
    """The duplicate table's key: ``"<sender code>:<message_id>"`` for a well-formed pair, else a hash
    of it, so the state (and its changelog) holds neither an unbounded nor a personal value."""
    route = dedup_key(sender_code, message_id)
    if _SAFE_SENDER_CODE.fullmatch(sender_code) and is_uuid(message_id):
        return route
    return "#" + hashlib.sha256(route.encode("utf-8", "surrogatepass")).hexdigest()


def nests_deeper_than(obj: Any, limit: int) -> bool:
    """Whether a parsed JSON value has more than ``limit`` levels of arrays/objects.

    Recursive, but never deeper than ``limit + 1`` calls whatever the input's depth (the walk stops
    at the first container below the limit); no pair per child is made (it was 3 % of replay)."""
    return _deeper(obj, 1, limit)


def _deeper(value: Any, depth: int, limit: int) -> bool:
    if isinstance(value, dict):
        children: Any = value.values()
    elif isinstance(value, list):
        children = value
    else:
        return False
    if depth > limit:
        return True
    # a scalar child returns at once; mypyc compiles any() over a generator to a plain loop
    return any(_deeper(child, depth + 1, limit) for child in children)


DedupLookup = Callable[[str], DedupEntry | None]


def process(
    raw: RawInput,
    lookup: DedupLookup,
    keyring: Keyring,
    regions: RegionTable,
    erasures: Refusals | None = None,
    links: LinkLookup | None = None,
) -> Outcome:
    """Judge one raw message; ``lookup`` reads the duplicate table (the caller stores the result).

    ``links``: the key rotation's links read so far (None: replay, no links topic). Never raises: a
    message the rules cannot judge (a bug) gets an ``UNPROCESSABLE`` rejection.
    """
    try:
        return _process(raw, lookup, keyring, regions, erasures, links)
    except Exception as exc:  # every message gets an outcome, whatever a rule does with it
        log.exception(
            "message could not be judged; rejected as UNPROCESSABLE",
            extra={"partition": raw.source_partition, "offset": raw.source_offset},
        )
        return unprocessable(raw, type(exc).__name__)


def _process(
    raw: RawInput,
    lookup: DedupLookup,
    keyring: Keyring,
    regions: RegionTable,
    erasures: Refusals | None = None,
    links: LinkLookup | None = None,
) -> Outcome:
    found = identity(raw)
    obj, key, sender = found.obj, found.key, found.sender
    received_at = raw.received_at
    if received_at is None and isinstance(obj, dict) and isinstance(obj.get("created_at"), str):
        received_at = obj["created_at"]
    if not isinstance(obj, dict):
        error = found.error or "a message must be a JSON object"
        violation = Violation("SCHEMA", "", error)
        return _rejected(raw, None, sender, received_at, [violation], None, None, None)

    message_id = obj.get("message_id") if isinstance(obj.get("message_id"), str) else None
    digest = content_hash(obj) if found.error is None else _bytes_hash(raw.payload)
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
    if found.error is not None:
        violations.append(Violation("SCHEMA", "", found.error))
    else:
        try:
            checked = check_inbound(obj)
        except ContractError as exc:
            violations.append(Violation("SCHEMA", exc.field, exc.message))
    if checked is not None:
        violations.extend(check_rules(checked, regions))
        violations.extend(_sender_mismatch(raw, checked))

    store_key = key if decision is Decision.NEW else None
    route = found.route if store_key is not None else None
    if violations or checked is None:
        entry = DedupEntry(digest, "rejected", raw.source_offset) if store_key else None
        return _rejected(raw, obj, sender, received_at, violations, store_key, entry, route)
    flat, anchor = to_validated_with_anchor(checked, keyring)  # anchor: see Keyring.anchor_key_id
    validated = cast(ValidatedJSON, flat)
    received = cast(str, received_at)  # a checked message has its created_at at least
    pseudonym = validated["youth_pseudonym"]
    anchor, link = link_for(
        pseudonym, validated["pseudonym_key_id"], anchor, keyring.anchor_key_id, received, links
    )
    erased = erased_violation(erasures, pseudonym, anchor)
    if erased is not None:  # nothing stored: a re-send after a re-admission is judged anew
        return _rejected(raw, obj, sender, received_at, [erased], None, None, None)
    validated["received_at"] = received
    entry = DedupEntry(digest, "accepted", raw.source_offset) if store_key else None
    # Without a raw record's time (replay) received_at is the message's created_at, which
    # check_inbound has just found a valid timestamp (parse_timestamp's test): not parsed again.
    retour = _retour(message_id, sender, received_at, "accepted", [], checked=raw.received_at is None)
    return Outcome(
        "accepted",
        retour,
        validated=validated,
        dedup_key=store_key,
        dedup_entry=entry,
        dedup_route=route,
        youth_key=anchor,
        link=link,
    )


def unreadable_raw(reason: str, partition: int | None, offset: int | None) -> Outcome:
    """A raw-topic record that is not a RawMessage at all: nobody to answer, recorded all the same."""
    raw = RawInput(b"", "json", None, None, partition, offset)
    return _rejected(raw, None, None, None, [Violation("SCHEMA", "", reason)], None, None, None)


def unprocessable(raw: RawInput, what: str) -> Outcome:
    """The outcome of a message the hub failed to judge: an ``UNPROCESSABLE`` rejection and its
    retour, built from as little of the payload as can be read safely, nothing stored."""
    obj: dict[str, Any] | None = None
    sender = _sender_of(raw, None)
    received_at = raw.received_at
    try:
        found = identity(raw)
        if isinstance(found.obj, dict):
            message_id = found.obj.get("message_id")
            obj = {"message_id": message_id} if isinstance(message_id, str) else {}
        sender = found.sender
    except Exception:  # the fallback of the fallback: answer without the payload
        obj = None
    violation = Violation(
        UNPROCESSABLE, "", f"the hub could not judge this message ({what}); it was not accepted"
    )
    return _rejected(raw, obj, sender, received_at, [violation], None, None, None, keep_payload=False)


def _bytes_hash(payload: bytes) -> str:
    """Content identity of a payload too deep to canonicalise: its exact bytes."""
    return hashlib.sha256(b"raw:" + payload).hexdigest()


def _sender_of(raw: RawInput, obj: Any) -> dict[str, str] | None:
    if raw.sender is not None:
        return {"kind": str(raw.sender["kind"]), "code": str(raw.sender["code"])}
    claimed = obj.get("sender") if isinstance(obj, dict) else None
    if (
        isinstance(claimed, dict)
        and claimed.get("kind") in SENDER_KINDS
        and isinstance(claimed.get("code"), str)
    ):
        return {"kind": claimed["kind"], "code": claimed["code"]}
    return None


def _public_sender(sender: Mapping[str, str] | None) -> SenderJSON | None:
    """An authenticated sender as it is; a claimed one (replay) with its code made safe to repeat."""
    if sender is None:
        return None
    code = sender["code"]
    kind = cast(SenderKind, sender["kind"])  # the raw record's enum, or a claimed one in SENDER_KINDS
    return {"kind": kind, "code": code if _SENDER_CODE.fullmatch(code) else safe_text(code, 64)}


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


def public_errors(violations: list[Violation]) -> list[ViolationJSON]:
    """Violations as they leave the hub: at most :data:`MAX_ERRORS`, each text bounded and with
    every digit run that could be a BSN and every date masked (a rule may quote the offending
    value), except the event dates the date rules quote from a schema-valid message."""
    return [
        {
            "code": v.code,
            "field": safe_text(v.field, FIELD_LIMIT),
            "message": safe_text(v.message, MESSAGE_LIMIT, dates=v.code not in _EVENT_DATE_RULES),
        }
        for v in violations[:MAX_ERRORS]
    ]


def _retour(
    message_id: str | None,
    sender: Mapping[str, str] | None,
    received_at: str | None,
    status: Status,
    errors: list[Violation],
    *,
    checked: bool = False,
) -> RetourJSON:
    """``checked``: ``received_at`` is known to be a valid timestamp (it is not parsed again)."""
    return {
        "message_id": public_identifier(message_id) if message_id is not None else None,
        "sender": _public_sender(sender),
        "received_at": received_at if checked or _is_timestamp(received_at) else None,
        "status": status,
        "errors": public_errors(errors),
    }


def _rejected(
    raw: RawInput,
    obj: dict[str, Any] | None,
    sender: Mapping[str, str] | None,
    received_at: str | None,
    violations: list[Violation],
    store_key: str | None,
    entry: DedupEntry | None,
    route: str | None,
    *,
    keep_payload: bool = True,
) -> Outcome:
    message_id = obj.get("message_id") if obj is not None and isinstance(obj.get("message_id"), str) else None
    message_type = obj.get("message_type") if obj is not None else None
    if not isinstance(message_type, str):
        message_type = None
    redacted = None
    if obj is not None and keep_payload:
        redacted = orjson.dumps(redact_payload(obj), option=orjson.OPT_SORT_KEYS).decode()
        if len(redacted) > PAYLOAD_LIMIT:  # cannot happen with the contract's fields; a bound all the same
            redacted = None
    retour = _retour(message_id, sender, received_at, "rejected", violations)
    rejection: RejectionJSON = {
        "message_id": retour["message_id"],
        "sender": retour["sender"],
        "message_type": message_type if message_type in BODY_RECORDS else _other_text(message_type),
        "received_at": retour["received_at"],
        "errors": retour["errors"],
        "payload_redacted": redacted,
        "source_partition": raw.source_partition,
        "source_offset": raw.source_offset,
    }
    return Outcome(
        "rejected", retour, rejection=rejection, dedup_key=store_key, dedup_entry=entry, dedup_route=route
    )


def _other_text(value: Any) -> str | None:
    return safe_text(value, 64) if isinstance(value, str) else None


def _is_timestamp(value: str | None) -> bool:
    if value is None:
        return False
    try:
        parse_timestamp(value)
    except ValueError:
        return False
    return True
