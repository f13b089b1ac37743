"""Key rotation as a migration: whether a keyring fits the stored state, and how far linking is.

Pure (no Kafka): ``services/validate/keycheck.py`` feeds :func:`check_start` the newest validated
record of every partition; ``jeugdhub keys status`` feeds :func:`link_status` the aggregate's
youth-messages table. docs/privacy.md "Key rotation" gives the procedure and the reasoning.

Terms. A validated record's *key* is the youth's **anchor**: its pseudonym under the keyring's
``previous`` key during a rotation, else under the active key. A record is *anchored* when its key
differs from its ``youth_pseudonym``: it was written during a rotation and links the youth's old
pseudonym (the key) to its new one (the value). HMAC pseudonyms are one-way, so that link can only
be made by validate while it holds the youth's BSN and both keys.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from services.privacy.pseudonym import KeyRotationError, ensure_key_matches_state


class Tail(NamedTuple):
    """The newest validated record of one partition: its key id and whether it is anchored."""

    key_id: str
    anchored: bool


def record_is_anchored(record_key: bytes | None, youth_pseudonym: str) -> bool:
    """Whether a validated record was keyed by an anchor other than its own pseudonym."""
    return record_key is not None and record_key != youth_pseudonym.encode()


def check_start(active: str, previous: str | None, tails: Iterable[Tail]) -> None:
    """Raise :class:`KeyRotationError` unless a validate worker with this keyring may start.

    Allowed: no state yet; the state's key is the active one (no rotation); a rotation's start or
    continuation: ``previous`` names the key of the state, and records already written during the
    rotation name the active key. Refused: an unexplained key change (every youth would get a
    second identity: the data-loss case), dropping ``previous`` while the state is still anchored
    on it, and a second rotation while one is unfinished.
    """
    for tail in tails:
        if tail.anchored:
            if previous is None:
                raise KeyRotationError(
                    f"a key rotation to {tail.key_id!r} is in progress: the hub's state is keyed by "
                    "the previous key's pseudonyms. Keep 'previous' in the keyring until the old key "
                    "can be retired (jeugdhub keys status; docs/privacy.md, Key rotation)."
                )
            if tail.key_id != active:
                raise KeyRotationError(
                    f"the stored state is in a rotation to {tail.key_id!r}, but the keyring's active "
                    f"key is {active!r}: finish that rotation before starting another (or make "
                    f"{tail.key_id!r} active again)."
                )
        elif previous is not None:
            if tail.key_id == active:
                raise KeyRotationError(
                    f"the keyring says 'previous': {previous!r}, but the stored state was built with "
                    f"the active key {active!r}: anchoring on {previous!r} would give every youth a "
                    "second identity. Remove 'previous' from the keyring."
                )
            if tail.key_id != previous:
                raise KeyRotationError(
                    f"the keyring rotates from {previous!r} to {active!r}, but the stored state was "
                    f"built with {tail.key_id!r}: 'previous' must name the key of the stored state."
                )
        else:
            ensure_key_matches_state(active, tail.key_id)


@dataclass
class LinkStatus:
    """How far a rotation has linked the youth held in the aggregate's state.

    ``linked``: youth with at least one message written during the rotation (anchored: their new
    pseudonym is known). ``unlinked``: youth known only by pseudonyms of their anchor; nothing can
    link them until validate sees one of their BSNs again. ``key_ids``: how many stored messages
    carry each key id.
    """

    youth: int = 0
    linked: int = 0
    unlinked: int = 0
    key_ids: dict[str, int] = field(default_factory=dict)

    def add(self, anchor: str, messages: Mapping[str, Mapping[str, Any]]) -> None:
        self.youth += 1
        pseudonyms = set()
        for message in messages.values():
            key_id = str(message.get("pseudonym_key_id"))
            self.key_ids[key_id] = self.key_ids.get(key_id, 0) + 1
            pseudonyms.add(message.get("youth_pseudonym"))
        if pseudonyms - {anchor}:
            self.linked += 1
        else:
            self.unlinked += 1

    def merge(self, other: LinkStatus) -> None:
        """Add another count (e.g. one youth's) to this one."""
        self.youth += other.youth
        self.linked += other.linked
        self.unlinked += other.unlinked
        for key_id, count in other.key_ids.items():
            self.key_ids[key_id] = self.key_ids.get(key_id, 0) + count

    @property
    def rotating(self) -> bool:
        """Whether the state holds messages written during a rotation (some youth is linked)."""
        return self.linked > 0

    def verdict(self) -> str:
        """What the operator may do with the old key, in one sentence."""
        if not self.rotating:
            if len(self.key_ids) > 1:
                return (
                    "no linked youth, yet messages under several key ids: a rotation has not linked "
                    "anyone yet, or the state predates this check; keep every key"
                )
            return "no rotation in progress"
        return (
            f"keep the old key as 'previous': {self.unlinked} youth are known only under it (they link "
            "when validate sees their BSN again, or leave the state at the retention horizon) and "
            f"{self.linked} linked youth are still keyed by it; re-keying them is not built yet "
            "(docs/privacy.md, Key rotation)"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "youth": self.youth,
            "linked": self.linked,
            "unlinked": self.unlinked,
            "messages_by_key_id": dict(sorted(self.key_ids.items())),
            "old_key_retirable": not self.rotating and len(self.key_ids) <= 1,
            "verdict": self.verdict(),
        }


def link_status(table: Iterable[tuple[str, Mapping[str, Mapping[str, Any]]]]) -> LinkStatus:
    """Count linked and unlinked youth over (anchor, stored messages) pairs of the state table."""
    status = LinkStatus()
    for anchor, messages in table:
        status.add(anchor, messages)
    return status


def as_one_youth(anchor: str, messages: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """A youth's stored messages with ``youth_pseudonym`` set to its anchor, for the facts.

    During a rotation a youth's messages carry old and new pseudonyms; the facts (one youth, one
    identity) are derived under the anchor, the key of its state. Unchanged messages are not copied.
    """
    return [m if m["youth_pseudonym"] == anchor else {**m, "youth_pseudonym": anchor} for m in messages]
