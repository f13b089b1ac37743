"""Erasure on request (AVG art. 17), pure: which pseudonyms a BSN has, and what the erasure topic says.

A BSN has one pseudonym per key of the keyring (``services.privacy.pseudonym``); messages made under
an older key still carry the old one. An erasure therefore names the youth under **every** key, one
record per pseudonym on ``jeugdhub.erasures.v1`` (compacted, keyed by the pseudonym): the hub never
stores the BSN, so the pseudonyms are the only handle it can keep on the youth.

Each record says what holds for the youth from its ``requested_at`` on:

* ``erase``: every message of the youth is gone from the figures and validate refuses new ones
  (rule ``JH050``) until a later ``readmit``;
* ``readmit``: new messages are accepted again; messages *received before* ``requested_at`` stay
  erased. The cut-off is needed because the topic is compacted: once a ``readmit`` replaced the
  ``erase`` record, a reader that starts from the beginning (``jeugdhub rebuild``, a worker after a
  rebalance) must still leave the old messages out. It compares whole seconds (``received_at`` has
  no more), so a message received in the second of the re-admission counts as after it.

The BSN is validated (11-proef) and never kept, logged or put in an exception message: errors show
it masked (``******782``).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, NamedTuple

from services.contracts.bsn import is_valid_bsn
from services.privacy.masking import mask_bsn, safe_text
from services.privacy.pseudonym import Keyring, pseudonymise

ErasureAction = Literal["erase", "readmit"]
ACTIONS: tuple[ErasureAction, ...] = ("erase", "readmit")
REFERENCE_LIMIT = 200
"""Longest case reference kept (the schema's ``maxLength``)."""
ERASED_RULE = "JH050"
"""validate's rule code for a message about an erased youth (docs/contract.md)."""
ERASED_MESSAGE = "the youth was erased on request; messages are refused until the youth is re-admitted"

_WHITESPACE = re.compile(r"\s+")
# Digits with separators that together hold 8+ digits ("123 456 782", "123.456.782"): a BSN written
# for humans. mask_digit_runs catches unbroken runs only.
_SPACED_DIGITS = re.compile(r"\d(?:[ .\-_/]?\d){7,}")
_UNSAFE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})


class ErasureError(ValueError):
    """The request cannot be carried out; the message never holds the BSN unmasked."""


def checked_bsn(bsn: str) -> str:
    """The BSN without whitespace when it passes the 11-proef (CS002), else :class:`ErasureError`."""
    normal = _WHITESPACE.sub("", bsn)
    if not is_valid_bsn(normal):
        raise ErasureError(f"bsn {mask_bsn(normal)} is not a valid BSN (9 digits passing the 11-proef)")
    return normal


def pseudonyms_of(bsn: str, keyring: Keyring) -> dict[str, str]:
    """key id -> the youth's pseudonym under that key, for every key of the keyring (sorted by id)."""
    normal = checked_bsn(bsn)
    return {key_id: pseudonymise(normal, keyring, key_id)[0] for key_id in keyring.key_ids}


def clean_reference(text: str | None) -> str | None:
    """A case reference fit to keep: control and invisible characters replaced, anything that could
    be a BSN or a date masked, cut to :data:`REFERENCE_LIMIT`; None for nothing but whitespace."""
    if text is None:
        return None
    cleaned = "".join(_safe_char(c) for c in text)
    cleaned = _SPACED_DIGITS.sub(lambda m: mask_bsn(re.sub(r"\D", "", m.group())), cleaned).strip()
    if not cleaned:
        return None
    return safe_text(cleaned, REFERENCE_LIMIT)


def _safe_char(char: str) -> str:
    """Every kind of space becomes ' ' and control or invisible characters U+FFFD."""
    category = unicodedata.category(char)
    if category == "Zs":
        return " "
    return "\ufffd" if category in _UNSAFE_CATEGORIES else char


def erasure_record(
    pseudonym: str,
    key_id: str,
    action: ErasureAction,
    requested_at: datetime,
    reference: str | None = None,
) -> dict[str, Any]:
    """The ``ErasureRecord`` value (Avro-ready) for one pseudonym; ``requested_at`` in whole ms, UTC."""
    if action not in ACTIONS:
        raise ErasureError(f"action must be one of {ACTIONS}")
    at = requested_at.astimezone(UTC)
    return {
        "youth_pseudonym": pseudonym,
        "pseudonym_key_id": key_id,
        "action": action,
        "requested_at": at.replace(microsecond=at.microsecond // 1000 * 1000),
        "reference": clean_reference(reference),
    }


class ErasureEntry(NamedTuple):
    """What holds for one pseudonym: the latest record's action and time."""

    action: ErasureAction
    requested_at: datetime


def _as_utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _received_at(value: str | datetime) -> datetime:
    if isinstance(value, datetime):
        return _as_utc(value)
    return _as_utc(datetime.fromisoformat(value.replace("Z", "+00:00")))


@dataclass
class ErasureSet:
    """The erasure topic read into memory: the latest record per pseudonym (what compaction keeps).

    Small: one entry per erased youth per key, without the BSN. Shared by validate (refuse new
    messages), the aggregate (leave messages out, forget the youth) and ``rebuild``/``history``.
    """

    entries: dict[str, ErasureEntry]
    anchors: dict[str, str]
    """anchor -> an erased pseudonym of the youth kept under that anchor: after a key rotation's old
    key is retired an erasure names only the youth's new pseudonym, while its state and later
    records are keyed by its old-key anchor. The aggregate learns it from the links topic
    (:meth:`erase_linked`, at every start, so a restarted worker still leaves the anchor's re-read
    records out) and, for a pseudonym without link, from the anchor's stored messages
    (:func:`services.aggregate.forget.erased_youths`)."""

    def __init__(self) -> None:
        self.entries = {}
        self.anchors = {}

    def erase_anchor(self, anchor: str, pseudonym: str) -> None:
        """Treat ``anchor`` as erased with ``pseudonym``'s record (erase or re-admit, and its time)."""
        if anchor != pseudonym:
            self.anchors[anchor] = pseudonym

    def erase_linked(self, pseudonym: str, anchor: str | None) -> bool:
        """A link (``pseudonym`` -> ``anchor``) or an erasure record of ``pseudonym`` was read: when
        the pseudonym has an erasure record and a link, its anchor is treated like it
        (:meth:`erase_anchor`). Either may arrive first; whichever comes second joins them.
        Returns whether an anchor was registered."""
        if anchor is None or anchor == pseudonym or pseudonym not in self.entries:
            return False
        self.erase_anchor(anchor, pseudonym)
        return True

    def __len__(self) -> int:
        return len(self.entries)

    def apply(self, pseudonym: str, value: Mapping[str, Any] | None) -> ErasureEntry | None:
        """One decoded record (None: a tombstone, which forgets the entry); returns the new entry."""
        if value is None:
            self.entries.pop(pseudonym, None)
            return None
        action = value["action"]
        if action not in ACTIONS:
            raise ErasureError(f"unknown erasure action {safe_text(str(action), 32)!r}")
        entry = ErasureEntry(action, _as_utc(value["requested_at"]))
        self.entries[pseudonym] = entry
        return entry

    def refuses(self, pseudonym: str) -> bool:
        """Whether validate must refuse a new message of this youth (erased, not re-admitted)."""
        entry = self.entries.get(pseudonym)
        return entry is not None and entry.action == "erase"

    def leaves_out(self, pseudonym: str, received_at: str | datetime) -> bool:
        """Whether an accepted message of this youth, received at ``received_at``, is erased; for an
        anchor found for an erased pseudonym (:meth:`erase_anchor`) that pseudonym's record holds."""
        if self._leaves_out(self.entries.get(pseudonym), received_at):
            return True
        via = self.anchors.get(pseudonym)
        return via is not None and self._leaves_out(self.entries.get(via), received_at)

    @staticmethod
    def _leaves_out(entry: ErasureEntry | None, received_at: str | datetime) -> bool:
        if entry is None:
            return False
        if entry.action == "erase":
            return True
        cutoff = entry.requested_at.replace(microsecond=0)
        return _received_at(received_at) < cutoff

    def erased(self) -> set[str]:
        """Pseudonyms whose erasure is in force (no re-admission after it)."""
        return {p for p, entry in self.entries.items() if entry.action == "erase"}
