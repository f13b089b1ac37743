"""Masking of personal data for rejection records, retour messages and logs.

The contract allows no BSN, birth date or name after the validate step except a masked BSN that
keeps at most its last 3 digits. Rejected input can be anything a sender posts: a BSN in the
wrong field, a birth date under a misspelt key, a name in an extra field, junk nested hundreds of
levels deep. So redaction is a *positive list*: :func:`redact_payload` keeps only the fields the
contract defines (derived from the Avro schemas, so it cannot drift from them), masks every digit
run that could be a BSN in what it keeps, and drops everything else. Text that quotes a value
(rule messages, unknown-field paths, a malformed ``message_id``) goes through :func:`safe_text`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import cache
from typing import Any

from services.contracts.canonical import BODY_RECORDS
from services.contracts.schemas import registry

MASK_PREFIX = "******"
_TRAILING_DIGITS = 3
_ASCII_DIGITS = re.compile(r"[0-9]+")
# Any run of 8 or more digits (Unicode digits too: "１２３…" is a BSN to a reader): a BSN, a BSN
# that lost its leading zero, or a longer number a BSN could hide in. Never shown in our output.
_DIGIT_RUN = re.compile(r"\d{8,}")
# Anything shaped like a date (2009-07-13, 13-07-2009, 13/7/2009, 2009.07.13): a birth date in the
# wrong field must not come back either. Contract date fields keep their exact YYYY-MM-DD value.
_DATE_LIKE = re.compile(r"\d{1,4}[-/.]\d{1,2}[-/.]\d{1,4}")
DATE_MASK = "****-**-**"
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_TIMESTAMP = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z")
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
# Values of these contract fields are shown as they are when they have the field's exact form.
_AGB = re.compile(r"[0-9]{8}")
_CODE_FORMS: dict[str, re.Pattern[str]] = {
    "message_id": _UUID,
    "cancels_message_id": _UUID,
    "code": _AGB,  # sender.code: an AGB code (8 digits) or a gemeentecode (4 digits, never masked)
    "provider_agb": _AGB,
    "from_provider_agb": _AGB,
    "to_provider_agb": _AGB,
    "created_at": _TIMESTAMP,
}
_DROPPED = frozenset({"birth_date"})
STRING_LIMIT = 200
"""Longest string kept in a redacted payload (the contract's longest free value has 36 characters)."""


def mask_bsn(bsn: object) -> str:
    """Mask a (possibly malformed) BSN, keeping at most its last 3 digits: ``"******782"``.

    The prefix has a fixed length, so the mask does not reveal the value's length either. Values
    whose last 3 characters are not all ASCII digits, or that have 3 or fewer characters (showing
    those would show the whole value), are masked completely.
    """
    if isinstance(bsn, bool) or not isinstance(bsn, str | int):
        return MASK_PREFIX
    text = str(bsn).strip()
    tail = text[-_TRAILING_DIGITS:]
    if len(text) > _TRAILING_DIGITS and _ASCII_DIGITS.fullmatch(tail):
        return MASK_PREFIX + tail
    return MASK_PREFIX


def mask_digit_runs(text: str) -> str:
    """Every run of 8 or more digits masked like a BSN (``"... ******782 ..."``)."""
    return _DIGIT_RUN.sub(lambda match: mask_bsn(match.group(0)), text)


def mask_dates(text: str) -> str:
    """Every date-shaped value masked: ``"born ****-**-**"``."""
    return _DATE_LIKE.sub(DATE_MASK, text)


def safe_text(text: str, limit: int, *, dates: bool = True) -> str:
    """``text`` fit to quote in a retour, a rejection record or a log: digit runs (and, unless
    ``dates`` is false, date-shaped values) masked first, so a cut can never leave part of a BSN
    showing, then cut to ``limit`` characters."""
    masked = mask_digit_runs(text)
    if dates:
        masked = mask_dates(masked)
    if len(masked) <= limit:
        return masked
    return masked[: max(0, limit - 1)] + "…"


def is_uuid(value: str) -> bool:
    """A lower-case UUID, the contract's form of a ``message_id``."""
    return _UUID.fullmatch(value) is not None


def public_identifier(value: str, limit: int = 64) -> str:
    """A sender's identifier (``message_id``) as we may repeat it: as sent when it is a well-formed
    UUID, otherwise masked and cut (a BSN sent as ``message_id`` must not come back in the retour)."""
    return value if is_uuid(value) else safe_text(value, limit)


# -- the positive list ------------------------------------------------------------------------------
FieldTree = Mapping[str, "FieldTree | None"]
"""Allowed keys of a JSON object; the value is the allowed keys of a nested object, None for a leaf."""


def _tree_of(type_: Any) -> FieldTree | None:
    node = registry().resolve(type_)
    if isinstance(node, list):
        branches = [_tree_of(branch) for branch in node if branch != "null"]
        trees = [tree for tree in branches if tree is not None]
        return trees[0] if trees else None
    if isinstance(node, dict) and node.get("type") == "record":
        return {fld["name"]: _tree_of(fld["type"]) for fld in node["fields"]}
    if isinstance(node, dict) and node.get("type") == "array":
        return _tree_of(node["items"])
    return None


@cache
def message_fields() -> FieldTree:
    """The fields of a canonical-JSON message (flat: envelope and every body type's fields)."""
    envelope = registry().named["nl.jeugdhub.v1.InboundMessage"]["fields"]
    tree: dict[str, FieldTree | None] = {
        f["name"]: _tree_of(f["type"]) for f in envelope if f["name"] != "body"
    }
    for record in BODY_RECORDS.values():
        for fld in registry().named[record]["fields"]:
            tree.setdefault(fld["name"], _tree_of(fld["type"]))
    return tree


def _redact_leaf(key: str, value: Any) -> Any:
    if key == "bsn":
        return None if value is None else mask_bsn(value)
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str):
        form = _CODE_FORMS.get(key) or (_DATE if key.endswith("_date") else None)
        if form is not None and form.fullmatch(value):
            return value
        return safe_text(value, STRING_LIMIT)
    if isinstance(value, int):
        return mask_bsn(value) if abs(value) >= 10**7 else value
    if isinstance(value, float):
        return mask_bsn(int(value)) if abs(value) >= 1e7 else value
    # an object or array where the contract has a single value: its content is not kept
    return f"({'array' if isinstance(value, list) else 'object'} not kept)"


def _redact_object(obj: Mapping[Any, Any], allowed: FieldTree) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in obj.items():
        if not isinstance(key, str) or key not in allowed or key in _DROPPED:
            continue
        subtree = allowed[key]
        if subtree is None:
            out[key] = _redact_leaf(key, value)
        elif isinstance(value, Mapping):
            out[key] = _redact_object(value, subtree)
        elif isinstance(value, list):
            out[key] = f"(array of {len(value)} not kept)"
        else:
            out[key] = _redact_leaf(key, value)
    return out


def redact_payload(obj: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of a message JSON object that is safe to keep in a rejection record.

    Only the contract's fields are kept (``birth_date`` never; a misspelt ``birth_dat``, a name or
    any other unknown field is dropped with its value), ``bsn`` is masked to its last 3 digits, and
    every other kept string has its runs of 8+ digits and its date-shaped values masked and is cut
    to :data:`STRING_LIMIT` characters, except identifiers, codes and dates in their exact contract
    form (a UUID ``message_id``, an 8-digit AGB code, a ``start_date``). The walk follows the schema, never the input, so its depth and its output
    size are bounded whatever arrives. The input is not modified.
    """
    return _redact_object(obj, message_fields())
