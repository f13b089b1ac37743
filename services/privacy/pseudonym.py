"""Pseudonymisation of the BSN: keyed HMAC-SHA256, so the hub can follow one youth without a BSN.

A keyed hash (not a plain hash) because the BSN space is small (10^9, ~10^8 valid): an unkeyed hash
is reversed by trying every BSN. The key id travels with every pseudonym so a reader knows which key
made it.

Key rotation: the pseudonym is the only thing that ties the messages about one youth together in
the streaming state (placements, episodes, measures). A new key gives every youth a new pseudonym,
and HMAC pseudonyms are one-way: an old pseudonym can be linked to the new one only while a message
with the youth's clear BSN passes validate with both keys at hand. So a rotation is a *migration*
(:mod:`services.privacy.rotation`, docs/privacy.md "Key rotation"): the keyring names the new
``active`` key and the ``previous`` one; validate writes new pseudonyms with the active key and
keys each validated record by the youth's *anchor*, its pseudonym under the previous key, so a
youth's old and new messages stay in one partition and one state entry. A service whose stored
state was built with another key than ``active`` or ``previous`` refuses to start
(:func:`services.privacy.rotation.check_start`). Older keys may stay in the keyring so pseudonyms
made under them can still be recomputed (``pseudonymise(..., key_id=...)``); only the active key
makes new pseudonyms.

Keyring format (a file, or the same JSON in an environment setting)::

    {"active": "k1", "keys": {"k1": "<secret>", "k0": "<older secret>"}}
    {"active": "k1", "previous": "k0", "keys": {"k1": "<secret>", "k0": "<older secret>"}}

The second form is a rotation in progress: ``previous`` must be another key of the keyring.

A secret is hex or base64 (standard or URL-safe alphabet), optionally prefixed ``hex:`` or
``base64:`` to say which; unprefixed, a string of an even number of hex digits is read as hex. It
must decode to at least 32 bytes. Secrets never appear in ``repr``/``str`` or error messages.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
import secrets
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any

# Re-exported (as-imports): the errors live in keyerrors because mypyc cannot compile them here.
from services.privacy.keyerrors import KeyringError as KeyringError
from services.privacy.keyerrors import KeyRotationError as KeyRotationError
from services.privacy.masking import mask_bsn

MIN_KEY_BYTES = 32
EPHEMERAL_PREFIX = "ephemeral-"
_KEY_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_HEX = re.compile(r"(?:[0-9a-fA-F]{2})+")
_WHITESPACE = re.compile(r"\s+")
_NINE_DIGITS = re.compile(r"[0-9]{9}")
_URLSAFE_TO_STANDARD = str.maketrans("-_", "+/")


class Keyring:
    """Pseudonymisation keys by key id, one of them active. The secrets are never shown."""

    __slots__ = ("_active", "_keys", "_pads", "_previous")

    def __init__(
        self,
        active: str,
        keys: Mapping[str, bytes],
        *,
        previous: str | None = None,
        source: str = "keyring",
    ) -> None:
        if not keys:
            raise KeyringError(f"{source}: no keys")
        for key_id, secret in keys.items():
            if not isinstance(key_id, str) or not _KEY_ID.fullmatch(key_id):
                raise KeyringError(
                    f"{source}: key id {key_id!r} must be 1-64 characters of letters, digits, '.', '_', '-'"
                )
            if len(secret) < MIN_KEY_BYTES:
                raise KeyringError(
                    f"{source}: key {key_id!r} is {len(secret)} bytes, at least {MIN_KEY_BYTES} are needed"
                )
        if active not in keys:
            raise KeyringError(f"{source}: active key {active!r} is not among the keys {sorted(keys)}")
        if previous is not None and previous not in keys:
            raise KeyringError(f"{source}: previous key {previous!r} is not among the keys {sorted(keys)}")
        if previous == active:
            raise KeyringError(f"{source}: previous key {previous!r} must differ from the active key")
        self._active = active
        self._previous = previous
        self._keys: Mapping[str, bytes] = MappingProxyType(dict(keys))
        self._pads = {key_id: _hmac_pads(secret) for key_id, secret in self._keys.items()}

    @property
    def active_key_id(self) -> str:
        return self._active

    @property
    def previous_key_id(self) -> str | None:
        """The key being rotated away from (a migration in progress), else ``None``."""
        return self._previous

    @property
    def anchor_key_id(self) -> str:
        """The key of a youth's identity in the hub's state: ``previous`` during a migration, so a
        youth's messages from before and after the switch share one key; else the active key."""
        return self._active if self._previous is None else self._previous

    @property
    def key_ids(self) -> tuple[str, ...]:
        return tuple(sorted(self._keys))

    def hmac_hex(self, data: bytes, key_id: str | None = None) -> str:
        """Hex HMAC-SHA256 of ``data`` under ``key_id`` (default: the active key)."""
        chosen = self._active if key_id is None else key_id
        pads = self._pads.get(chosen)
        if pads is None:
            raise KeyError(f"no key {chosen!r} in the keyring (keys: {list(self.key_ids)})")
        inner, outer = pads[0].copy(), pads[1].copy()
        inner.update(data)
        outer.update(inner.digest())
        pseudonym: str = outer.hexdigest()
        return pseudonym

    def __repr__(self) -> str:
        previous = "" if self._previous is None else f", previous={self._previous!r}"
        return f"Keyring(active={self._active!r}{previous}, key_ids={list(self.key_ids)!r})"

    def __str__(self) -> str:  # not ``__str__ = __repr__``: mypyc's native classes cannot alias
        return self.__repr__()

    def __reduce__(self) -> Any:
        raise TypeError("a Keyring is not picklable: its secrets must not leave the process")

    @classmethod
    def from_mapping(cls, data: object, *, source: str = "keyring") -> Keyring:
        """Build from the parsed JSON form ``{"active": ..., "keys": {...}}`` (``"previous"``
        optional: a rotation in progress)."""
        if not isinstance(data, Mapping):
            raise KeyringError(f"{source}: must be a JSON object with 'active' and 'keys'")
        unknown = sorted(set(data) - {"active", "keys", "previous"})
        if unknown:
            raise KeyringError(
                f"{source}: unknown field(s) {unknown}; expected 'active', 'keys' and optionally 'previous'"
            )
        active = data.get("active")
        previous = data.get("previous")
        raw_keys = data.get("keys")
        if not isinstance(active, str):
            raise KeyringError(f"{source}: 'active' must be a key id (string)")
        if previous is not None and not isinstance(previous, str):
            raise KeyringError(f"{source}: 'previous' must be a key id (string) or null")
        if not isinstance(raw_keys, Mapping) or not raw_keys:
            raise KeyringError(f"{source}: 'keys' must be a non-empty object of key id -> secret")
        keys = {key_id: _decode_secret(secret, key_id, source) for key_id, secret in raw_keys.items()}
        return cls(active, keys, previous=previous, source=source)

    @classmethod
    def from_json(cls, text: str, *, source: str = "keyring JSON") -> Keyring:
        """Parse the JSON form, e.g. from an environment setting (``source`` names it in errors)."""
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            # The decoder's message holds a position only, never the document.
            raise KeyringError(
                f"{source}: not valid JSON ({exc.msg} at line {exc.lineno} col {exc.colno})"
            ) from None
        return cls.from_mapping(data, source=source)

    @classmethod
    def from_file(cls, path: Path | str) -> Keyring:
        file = Path(path)
        try:
            text = file.read_text(encoding="utf-8")
        except OSError as exc:
            raise KeyringError(f"{file}: cannot read keyring file ({exc.strerror})") from None
        return cls.from_json(text, source=str(file))


def _hmac_pads(secret: bytes) -> tuple[Any, Any]:
    """SHA-256 states after the HMAC key pads (RFC 2104), so each HMAC costs two hash copies.

    ``hmac.new(secret, data, "sha256").hexdigest()`` computes exactly this, setting the key up anew
    on every call; tests/unit/privacy/test_privacy_hmac_pads.py compares both.
    """
    block = 64  # SHA-256 block size
    key = hashlib.sha256(secret).digest() if len(secret) > block else secret
    key = key.ljust(block, b"\0")
    return (
        hashlib.sha256(bytes(b ^ 0x36 for b in key)),
        hashlib.sha256(bytes(b ^ 0x5C for b in key)),
    )


def _decode_secret(secret: object, key_id: object, source: str) -> bytes:
    if not isinstance(secret, str):
        raise KeyringError(f"{source}: key {key_id!r} must be a string (hex or base64)")
    text = secret.strip()
    kind, sep, rest = text.partition(":")
    try:
        if sep and kind == "hex":
            return bytes.fromhex(rest)
        if sep and kind == "base64":
            return _b64(rest)
        if _HEX.fullmatch(text):
            return bytes.fromhex(text)
        return _b64(text)
    except (ValueError, binascii.Error):
        raise KeyringError(f"{source}: key {key_id!r} is neither valid hex nor valid base64") from None


def _b64(text: str) -> bytes:
    """Strict base64; the URL-safe alphabet is mapped to the standard one first."""
    return base64.b64decode(text.translate(_URLSAFE_TO_STANDARD), validate=True)


def load_keyring(file: Path | str | None = None, json_text: str | None = None) -> Keyring | None:
    """The configured keyring from a file or a JSON string (not both), or ``None`` when neither is set."""
    if file is not None and json_text is not None:
        raise KeyringError("keyring: configure either a keyring file or keyring JSON, not both")
    if file is not None:
        return Keyring.from_file(file)
    if json_text is not None:
        return Keyring.from_json(json_text)
    return None


def ephemeral_keyring() -> Keyring:
    """A random one-off key, for a replay run without a configured key.

    Its pseudonyms are consistent within the run and meaningless after it, which is all a replay
    that only prints figures needs.
    """
    key_id = EPHEMERAL_PREFIX + secrets.token_hex(8)
    return Keyring(key_id, {key_id: secrets.token_bytes(MIN_KEY_BYTES)}, source="ephemeral keyring")


def normalise_bsn(bsn: str) -> str:
    """The BSN without any whitespace; it must then be 9 ASCII digits (``ValueError`` otherwise)."""
    if _NINE_DIGITS.fullmatch(bsn):
        return bsn
    normal = _WHITESPACE.sub("", bsn)
    if not _NINE_DIGITS.fullmatch(normal):
        raise ValueError(f"cannot pseudonymise bsn {mask_bsn(bsn)}: not 9 digits")
    return normal


def pseudonymise(bsn: str, keyring: Keyring, key_id: str | None = None) -> tuple[str, str]:
    """``(pseudonym_hex, key_id)``: HMAC-SHA256 of the normalised BSN under the active key.

    ``key_id`` selects an older key, to recompute pseudonyms made before a rotation.
    """
    chosen = keyring.active_key_id if key_id is None else key_id
    return keyring.hmac_hex(normalise_bsn(bsn).encode("ascii"), chosen), chosen


def ensure_key_matches_state(active_key_id: str, state_key_id: str | None) -> None:
    """Refuse to run when stored state was built under another key (``None``: fresh state, fine).

    Without a rotation in progress; :func:`services.privacy.rotation.check_start` decides with one.
    """
    if state_key_id is not None and state_key_id != active_key_id:
        raise KeyRotationError(
            f"the active pseudonymisation key is {active_key_id!r} but the stored state was built with "
            f"{state_key_id!r}: a key rotation gives every youth a new pseudonym and would split their "
            "histories. Rebuild the state from the raw input under the new key (or activate "
            f"{state_key_id!r} again) before starting."
        )


def to_validated(msg: Mapping[str, Any], keyring: Keyring) -> dict[str, Any]:
    """The validated flat form of a checked, accepted message: no BSN, no birth date.

    Same keys as ``msg`` minus ``bsn`` and ``birth_date``, plus ``youth_pseudonym``,
    ``pseudonym_key_id`` and ``birth_year`` (int). Nested objects are copied, so the result shares
    nothing mutable with ``msg``. The caller adds ``received_at``.
    """
    return to_validated_with_anchor(msg, keyring)[0]


def to_validated_with_anchor(msg: Mapping[str, Any], keyring: Keyring) -> tuple[dict[str, Any], str]:
    """:func:`to_validated` and the youth's anchor: the validated record's key (its partition) and
    the youth's key in the aggregate's state.

    The anchor is the pseudonym under :attr:`Keyring.anchor_key_id`: the new pseudonym itself
    outside a rotation, the previous key's pseudonym during one. A record whose anchor differs from
    its ``youth_pseudonym`` is the link between the youth's old and new pseudonym.
    """
    pseudonym, key_id = pseudonymise(msg["bsn"], keyring)
    anchor_key = keyring.anchor_key_id
    anchor = pseudonym if anchor_key == key_id else pseudonymise(msg["bsn"], keyring, anchor_key)[0]
    out: dict[str, Any] = {}
    for key, value in msg.items():
        if key == "bsn" or key == "birth_date":
            continue
        if value is None or type(value) is str:  # nearly every value: skip the Mapping ABC check
            out[key] = value
        elif type(value) is dict:
            out[key] = value.copy()
        else:
            out[key] = dict(value) if isinstance(value, Mapping) else value
    out["youth_pseudonym"] = pseudonym
    out["pseudonym_key_id"] = key_id
    out["birth_year"] = int(msg["birth_date"][:4])
    return out, anchor
