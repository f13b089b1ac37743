"""Masking of personal data for rejection records, retour messages and logs.

The contract allows no BSN, birth date or name after the validate step except a masked BSN that
keeps at most its last 3 digits. Rejected input may be malformed (a BSN sent as a number, under a
misspelt key, a ``naam`` field that is not in the contract), so redaction is deliberately broad:
it works on whatever JSON object arrived, not only on schema-valid messages.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

MASK_PREFIX = "******"
_TRAILING_DIGITS = 3
_ASCII_DIGITS = re.compile(r"[0-9]+")
# A run of exactly 9 digits not touching other digits: what a BSN looks like inside free text.
_BSN_IN_TEXT = re.compile(r"(?<![0-9])[0-9]{9}(?![0-9])")

# Keys are compared after lower-casing and dropping "_", "-", " " and ".".
_BSN_KEYS = frozenset({"bsn", "burgerservicenummer", "sofinummer", "citizenservicenumber"})
_BIRTH_DATE_KEYS = frozenset({"birthdate", "geboortedatum", "dateofbirth", "dob", "birthday"})
_NAME_KEYS = frozenset({"initials", "initialen", "voorletters", "tussenvoegsel", "tussenvoegsels"})
_NAME_PARTS = ("name", "naam", "voornam")
# Identifiers that may legitimately contain 9-digit runs and are never personal data.
_ID_KEYS = frozenset({"messageid", "cancelsmessageid"})


def _normal_key(key: str) -> str:
    return re.sub(r"[\s_.\-]", "", key).lower()


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


def _is_name_key(normal: str) -> bool:
    return normal in _NAME_KEYS or any(part in normal for part in _NAME_PARTS)


def _redact_value(value: Any) -> Any:
    if isinstance(value, Mapping):
        return _redact_mapping(value)
    if isinstance(value, list):
        return [_redact_value(item) for item in value]
    if isinstance(value, str):
        return _BSN_IN_TEXT.sub(lambda match: mask_bsn(match.group(0)), value)
    if isinstance(value, int) and not isinstance(value, bool) and 10**7 <= abs(value) < 10**9:
        # A BSN sent as a JSON number (a leading zero makes it 8 digits).
        return mask_bsn(value)
    return value


def _redact_mapping(obj: Mapping[Any, Any]) -> dict[Any, Any]:
    out: dict[Any, Any] = {}
    for key, value in obj.items():
        normal = _normal_key(key) if isinstance(key, str) else ""
        if normal in _BSN_KEYS:
            out[key] = None if value is None else mask_bsn(value)
        elif normal in _BIRTH_DATE_KEYS or _is_name_key(normal):
            continue
        elif normal in _ID_KEYS:
            out[key] = value
        else:
            out[key] = _redact_value(value)
    return out


def redact_payload(obj: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of a message JSON object that is safe to keep in a rejection record.

    ``bsn`` (and look-alike keys) is masked, ``birth_date`` (and look-alikes) and every field named
    like a person's name (``name``, ``naam``, ``first_name``, ``achternaam``, ...) are removed, at
    any depth. 9-digit runs in other string values, and 8-9 digit numbers, are masked too, since a
    BSN may arrive under a misspelt key. ``message_id`` and ``cancels_message_id`` are kept as is.
    The input is not modified.
    """
    return _redact_mapping(obj)
