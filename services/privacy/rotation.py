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


def explained(key_id: str, into: str, linked: Collection[tuple[str, str]]) -> bool:
    """Whether a state built under ``key_id`` fits youth identities of key ``into``: the same key,
    or the links topic shows a rotation into ``into`` and names ``key_id`` in its rotations (the
    keys this hub rotated through: their youth are linked or, if never seen in a rotation, known
    only under their old pseudonym, which ``jeugdhub keys status`` counts as unlinked)."""
    if key_id == into:
        return True
    return any(new == into for _, new in linked) and any(key_id in pair for pair in linked)


def check_start(
    active: str,
    previous: str | None,
    tails: Iterable[Tail],
    linked: Collection[tuple[str, str]] = (),
) -> None:
    """Raise :class:`KeyRotationError` unless a validate worker with this keyring may start.

    ``linked``: the (anchor key id, new key id) pairs of the links topic's links. Allowed: no state
    yet; the state's key is the active one (no rotation); a rotation's start or continuation:
    ``previous`` names the key of the state, or a key the links show was rotated into it (a second
    rotation after the first one's old key was retired: rotations chain), and records already
    written during the rotation name the active key; the old key's retirement: no ``previous``,
    and the links topic holds links into the active key. Refused: an unexplained key change (every
    youth would get a second identity: the data-loss case), dropping ``previous`` while no link
    into the active key was read, a rotation from a key that an unfinished rotation (no links into
    it) is still moving to, and ``previous`` naming the active state's key.
    """
    for tail in tails:
        if previous is None:
            if explained(tail.key_id, active, linked) and (
                not tail.anchored or any(new == active for _, new in linked)
            ):
                continue  # no rotation, or retired: the links topic keeps linked youth on their anchors
            if tail.anchored:
                raise KeyRotationError(
                    f"a key rotation to {tail.key_id!r} is in progress: the hub's state is keyed by "
                    "the previous key's pseudonyms, and the links topic holds no link from it to "
                    f"{active!r} (missing or empty). Keep 'previous' in the keyring (jeugdhub keys "
                    "status; docs/privacy.md, Key rotation)."
                )
            ensure_key_matches_state(active, tail.key_id)
        elif tail.key_id == active:
            if not tail.anchored:
                raise KeyRotationError(
                    f"the keyring says 'previous': {previous!r}, but the stored state was built with "
                    f"the active key {active!r}: anchoring on {previous!r} would give every youth a "
                    "second identity. Remove 'previous' from the keyring."
                )
        elif (tail.key_id == previous and not tail.anchored) or (
            explained(tail.key_id, previous, linked) and tail.key_id != previous
        ):
            continue  # the rotation starts (possibly from a key an earlier rotation retired into)
        elif tail.key_id == previous and any(new == previous for _, new in linked):
            continue  # anchored by the earlier rotation into 'previous', whose old key was retired
        elif tail.anchored:
            raise KeyRotationError(
                f"the stored state is in a rotation to {tail.key_id!r} (links topic: none into it), "
                f"but the keyring's active key is {active!r}: finish that rotation (retire its old "
                f"key once jeugdhub keys status allows) before starting another, or make "
                f"{tail.key_id!r} active again."
            )
        else:
            raise KeyRotationError(
                f"the keyring rotates from {previous!r} to {active!r}, but the stored state was "
                f"built with {tail.key_id!r}: 'previous' must name the key of the stored state."
            )


@dataclass
class LinkStatus:
    """How far the latest rotation has linked the youth held in the aggregate's state.

    The *target* key is the rotation's new key: of the keys seen in messages whose pseudonym differs
    from their youth's anchor (written during a rotation), the one of the most recently received
    message, so chained rotations (k0 -> k1, then k1 -> k2) count against the newest. ``linked``:
    youth with a message under the target key written during a rotation (its link is on the links
    topic). ``current``: youth anchored on a target-key pseudonym (first seen after the rotation's
    old key was retired). ``unlinked``: the others, known only under older keys; nothing links them
    until validate sees their BSN again while it holds the key they are known by. ``key_ids``: how
    many stored messages carry each key id.
    """

    youth: int = 0
    key_ids: dict[str, int] = field(default_factory=dict)
    new_key_seen: dict[str, str] = field(default_factory=dict)
    """Key id -> latest ``received_at`` of a message under it written during a rotation."""
    kinds: dict[tuple[str, frozenset[str]], int] = field(default_factory=dict)
    """Youth by (key id of their anchor's own messages, key ids of their rotation messages)."""

    def add(self, anchor: str, messages: Mapping[str, Mapping[str, Any]]) -> None:
        self.youth += 1
        new_keys: set[str] = set()
        own_key: str | None = None
        for message in messages.values():
            key_id = str(message.get("pseudonym_key_id"))
            self.key_ids[key_id] = self.key_ids.get(key_id, 0) + 1
            if message.get("youth_pseudonym") != anchor:
                new_keys.add(key_id)
                at = str(message.get("received_at") or "")
                self.new_key_seen[key_id] = max(self.new_key_seen.get(key_id, ""), at)
            else:
                own_key = key_id
        kind = (own_key or "?", frozenset(new_keys))
        self.kinds[kind] = self.kinds.get(kind, 0) + 1

    def merge(self, other: LinkStatus) -> None:
        """Add another count (e.g. one youth's) to this one."""
        self.youth += other.youth
        for key_id, at in other.new_key_seen.items():
            self.new_key_seen[key_id] = max(self.new_key_seen.get(key_id, ""), at)
        for key_id, count in other.key_ids.items():
            self.key_ids[key_id] = self.key_ids.get(key_id, 0) + count
        for kind, count in other.kinds.items():
            self.kinds[kind] = self.kinds.get(kind, 0) + count

    @property
    def target(self) -> str | None:
        """The newest key rotated to (None: no rotation in the state)."""
        if not self.new_key_seen:
            return None
        return max(self.new_key_seen, key=lambda k: (self.new_key_seen[k], k))

    @property
    def linked(self) -> int:
        return sum(n for (_, new), n in self.kinds.items() if self.target in new)

    @property
    def current(self) -> int:
        return sum(n for (own, new), n in self.kinds.items() if own == self.target and self.target not in new)

    @property
    def unlinked(self) -> int:
        return self.youth - self.linked - self.current if self.rotating else 0

    @property
    def rotating(self) -> bool:
        """Whether the state holds messages written during a rotation (some youth is linked)."""
        return self.target is not None

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

    def link_of(self, pseudonym: str) -> YouthLink | None: ...


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

    During a rotation (``anchor``, the previous key's pseudonym, differs from ``pseudonym``): the
    anchor is that pseudonym *resolved* through the links, so rotations chain. After an earlier
    rotation's old key was retired, a youth linked in it is keyed by that rotation's anchor (its
    previous-key pseudonym -> anchor, e.g. k1 -> k0); any other youth by its previous-key pseudonym.
    A link (new pseudonym -> resolved anchor) is due when ``links`` does not know the youth's new
    pseudonym yet (once per youth). Outside a rotation (after the old key was retired, or no
    rotation ever): the anchor is the linked one when the youth was linked during the last rotation,
    else the pseudonym itself (a youth first seen after the rotation started, or never seen during
    it: it starts a new identity). ``links`` None: no links topic (replay), the anchor as computed.
    """
    if links is None:
        return anchor, None
    if anchor != pseudonym:
        earlier = links.link_of(anchor)
        if earlier is not None:  # linked in an earlier, retired rotation: keep its anchor
            anchor, anchor_key_id = earlier.anchor_pseudonym, earlier.anchor_key_id
        if links.link_of(pseudonym) is None:
            return anchor, YouthLink(anchor, anchor_key_id, key_id, received_at)
        return anchor, None
    link = links.link_of(pseudonym)
    return (pseudonym if link is None else link.anchor_pseudonym), None
