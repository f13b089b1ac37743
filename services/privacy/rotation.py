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

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple, Protocol

from services.privacy.pseudonym import KeyRotationError, ensure_key_matches_state


class Tail(NamedTuple):
    """The newest validated record of one partition: its key id and whether it is anchored."""

    key_id: str
    anchored: bool


def record_is_anchored(record_key: bytes | None, youth_pseudonym: str) -> bool:
    """Whether a validated record was keyed by an anchor other than its own pseudonym."""
    return record_key is not None and record_key != youth_pseudonym.encode()


def check_start(
    active: str,
    previous: str | None,
    tails: Iterable[Tail],
    linked: Collection[tuple[str, str]] = (),
) -> None:
    """Raise :class:`KeyRotationError` unless a validate worker with this keyring may start.

    Allowed: no state yet; the state's key is the active one (no rotation); a rotation's start or
    continuation: ``previous`` names the key of the state, and records already written during the
    rotation name the active key; the old key's retirement: no ``previous``, and the links topic
    (``linked``: the (old key id, new key id) pairs of the links read) holds links from the
    state's old key to the active one. Refused: an unexplained key change (every youth would get a
    second identity: the data-loss case), dropping ``previous`` while no link from it was read,
    and a second rotation while one is unfinished.
    """
    retired_from = {old for old, new in linked if new == active}
    for tail in tails:
        if tail.anchored:
            if previous is None:
                if tail.key_id == active and retired_from:
                    continue  # retired: the links topic keeps linked youth on their anchors
                raise KeyRotationError(
                    f"a key rotation to {tail.key_id!r} is in progress: the hub's state is keyed by "
                    "the previous key's pseudonyms, and the links topic holds no link from it to "
                    f"{active!r} (missing or empty). Keep 'previous' in the keyring (jeugdhub keys "
                    "status; docs/privacy.md, Key rotation)."
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
        elif tail.key_id not in retired_from:
            ensure_key_matches_state(active, tail.key_id)


@dataclass
class LinkStatus:
    """How far a rotation has linked the youth held in the aggregate's state.

    ``linked``: youth with at least one message written during the rotation (anchored: their new
    pseudonym is known, and the links topic holds the link). ``unlinked``: youth known only under a
    key older than the one they would be linked to; nothing can link them until validate sees one
    of their BSNs again while it still holds the old key. ``current``: youth known only under the
    rotation's new key (first seen after the old key was retired). ``key_ids``: how many stored
    messages carry each key id.
    """

    youth: int = 0
    linked: int = 0
    key_ids: dict[str, int] = field(default_factory=dict)
    new_key_ids: set[str] = field(default_factory=set)
    """Key ids of the new pseudonyms of linked youth: the keys rotated to."""
    single_key: dict[str, int] = field(default_factory=dict)
    """Youth not linked, by the key id of their messages."""

    def add(self, anchor: str, messages: Mapping[str, Mapping[str, Any]]) -> None:
        self.youth += 1
        new_keys: set[str] = set()
        own_key: str | None = None
        for message in messages.values():
            key_id = str(message.get("pseudonym_key_id"))
            self.key_ids[key_id] = self.key_ids.get(key_id, 0) + 1
            if message.get("youth_pseudonym") != anchor:
                new_keys.add(key_id)
            else:
                own_key = key_id
        if new_keys:
            self.linked += 1
            self.new_key_ids |= new_keys
        else:
            key = own_key or "?"
            self.single_key[key] = self.single_key.get(key, 0) + 1

    def merge(self, other: LinkStatus) -> None:
        """Add another count (e.g. one youth's) to this one."""
        self.youth += other.youth
        self.linked += other.linked
        self.new_key_ids |= other.new_key_ids
        for key_id, count in other.key_ids.items():
            self.key_ids[key_id] = self.key_ids.get(key_id, 0) + count
        for key_id, count in other.single_key.items():
            self.single_key[key_id] = self.single_key.get(key_id, 0) + count

    @property
    def unlinked(self) -> int:
        return sum(n for key, n in self.single_key.items() if key not in self.new_key_ids)

    @property
    def current(self) -> int:
        return sum(n for key, n in self.single_key.items() if key in self.new_key_ids)

    @property
    def rotating(self) -> bool:
        """Whether the state holds messages written during a rotation (some youth is linked)."""
        return self.linked > 0

    @property
    def retirable(self) -> bool:
        """Whether retiring the old key loses no identity: no rotation, or every youth is linked."""
        if not self.rotating:
            return len(self.key_ids) <= 1
        return self.unlinked == 0

    def verdict(self) -> str:
        """What the operator may do with the old key, in one sentence."""
        if not self.rotating:
            if len(self.key_ids) > 1:
                return (
                    "no linked youth, yet messages under several key ids: a rotation has not linked "
                    "anyone yet, or the state predates this check; keep every key"
                )
            return "no rotation in progress"
        if self.unlinked == 0:
            return (
                f"safe to retire the old key: all {self.linked} youth known under it are linked (the "
                "links topic keeps them on their anchors); remove 'previous' and the old key"
            )
        return (
            f"keep the old key as 'previous': {self.unlinked} youth are known only under it (they link "
            "when validate sees their BSN again, or leave the state at the retention horizon); "
            f"{self.linked} youth are linked. Retiring it now is possible, but an unlinked youth who "
            "sends again afterwards is counted as a new youth (docs/privacy.md, Key rotation)"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "youth": self.youth,
            "linked": self.linked,
            "unlinked": self.unlinked,
            "current": self.current,
            "messages_by_key_id": dict(sorted(self.key_ids.items())),
            "old_key_retirable": self.retirable,
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


class YouthLink(NamedTuple):
    """A youth's new pseudonym's link to its anchor (the ``YouthLink`` record on the links topic)."""

    anchor_pseudonym: str
    anchor_key_id: str
    new_key_id: str
    linked_at: str
    """received_at of the message that made it (``YYYY-MM-DDTHH:MM:SSZ``): deterministic."""


class LinkLookup(Protocol):
    """What validate asks of the links read so far (:class:`LinkSet`)."""

    def anchor_of(self, pseudonym: str) -> str | None: ...


class LinkSet:
    """The links topic in memory: new pseudonym -> anchor, and which rotations made links.

    One entry per linked youth (two 64-character strings): a national population fits easily.
    """

    __slots__ = ("_anchors", "_rotations")

    def __init__(self) -> None:
        self._anchors: dict[str, YouthLink] = {}
        self._rotations: dict[tuple[str, str], int] = {}

    def anchor_of(self, pseudonym: str) -> str | None:
        link = self._anchors.get(pseudonym)
        return None if link is None else link.anchor_pseudonym

    def link_of(self, pseudonym: str) -> YouthLink | None:
        return self._anchors.get(pseudonym)

    def apply(self, pseudonym: str, link: YouthLink | None) -> None:
        """A record of the links topic (``None``: a tombstone) or a link validate just wrote."""
        if link is None:
            self._anchors.pop(pseudonym, None)
            return
        if pseudonym not in self._anchors:
            pair = (link.anchor_key_id, link.new_key_id)
            self._rotations[pair] = self._rotations.get(pair, 0) + 1
        self._anchors[pseudonym] = link

    def rotations(self) -> frozenset[tuple[str, str]]:
        """The (anchor key id, new key id) pairs of the rotations that linked someone."""
        return frozenset(self._rotations)

    def __len__(self) -> int:
        return len(self._anchors)


def link_for(
    pseudonym: str,
    key_id: str,
    anchor: str,
    anchor_key_id: str,
    received_at: str,
    links: LinkLookup | None,
) -> tuple[str, YouthLink | None]:
    """The validated record's key (the youth's anchor) and the link to write, if any.

    During a rotation (``anchor`` differs from ``pseudonym``): the anchor is the previous key's
    pseudonym, and a link is due when ``links`` does not know the youth yet (once per youth).
    Outside one (after the old key was retired, or no rotation ever): the anchor is the linked one
    when the youth was linked during the rotation, else the pseudonym itself (a youth first seen
    after the rotation started, or never seen during it: it starts a new identity). ``links`` None:
    no links topic (replay), the anchor as computed.
    """
    if links is None:
        return anchor, None
    if anchor != pseudonym:
        if links.anchor_of(pseudonym) is None:
            return anchor, YouthLink(anchor, anchor_key_id, key_id, received_at)
        return anchor, None
    return links.anchor_of(pseudonym) or pseudonym, None
