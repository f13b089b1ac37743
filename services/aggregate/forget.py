"""Forgetting youth, pure: remove them from the youth-messages state and say which tombstones to write.

The aggregate keeps a youth in two places: its accepted messages in the ``youth-messages`` table
(local store + compacted changelog) and its facts on the compacted youth-facts topic, from which
every worker's :class:`~services.aggregate.state.FiguresState` is built. Forgetting a youth means
removing it from the local store and writing a tombstone (a record with a null value) with the
youth's key on both topics; compaction then removes every older record of the key, and
``FactsFollower`` takes the youth's contribution out of the figures when it reads the tombstone.
The figures are then exactly those without the youth's messages.

Used by the erasure on request (``services/aggregate/service.py``) and meant for the retention
sweep, which forgets youth whose care ended long ago. The caller sends the records in this order:
**facts tombstones first, acknowledged, then the changelog tombstones**. A crash in between leaves
the youth in the changelog, so the restarted worker finds it in its table and forgets it again;
the other order could leave facts on the topic with no state left to find them by.

No Kafka, no faust: ``store`` is any mutable mapping (the faust table's store, ``table.data``, in
the worker; a dict in tests).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, MutableMapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from services.streaming.changelog import faust_json

FactsTombstone = tuple[bytes, None]
"""(youth key, None) for the youth-facts topic."""
ChangelogTombstone = tuple[bytes, bytes, None]
"""(partition key, table key as faust's json codec writes it, None) for the table's changelog:
partitioned by the youth's UTF-8 bytes like the validated topic and :class:`ChangelogWriter`."""


@dataclass(frozen=True)
class Forgotten:
    """What a forget left to send; ``youths`` are the ones that were held and are now removed."""

    youths: tuple[str, ...] = ()
    facts: list[FactsTombstone] = field(default_factory=list)
    changelog: list[ChangelogTombstone] = field(default_factory=list)
    messages: int = 0
    """Accepted messages the removed youths held (for logs and metrics)."""

    def __bool__(self) -> bool:
        return bool(self.youths)


def tombstones(youths: Iterable[str]) -> Forgotten:
    """The tombstones of *youths* without touching any state (e.g. for youth this worker does not
    hold but whose facts must go: a repair)."""
    chosen = tuple(dict.fromkeys(youths))
    return Forgotten(
        chosen,
        [(youth.encode("utf-8"), None) for youth in chosen],
        [(youth.encode("utf-8"), faust_json(youth), None) for youth in chosen],
    )


def forget_youths(store: MutableMapping[str, Any], youths: Iterable[str]) -> Forgotten:
    """Remove every youth of *youths* that *store* holds; their tombstones, in the order given.

    Youths the store does not hold are skipped: this worker does not own their partition, or they
    were forgotten already (forgetting twice writes nothing twice).
    """
    held: list[str] = []
    messages = 0
    for youth in dict.fromkeys(youths):
        stored = store.pop(youth, None)
        if stored is None:
            continue
        held.append(youth)
        messages += len(stored) if hasattr(stored, "__len__") else 0
    found = tombstones(held)
    return Forgotten(found.youths, found.facts, found.changelog, messages)


class ErasureView(Protocol):
    """What :func:`erased_youths` asks of the erasures (:class:`services.privacy.erasure.ErasureSet`)."""

    def refuses(self, pseudonym: str) -> bool: ...

    def leaves_out(self, pseudonym: str, received_at: str) -> bool: ...

    def erase_anchor(self, anchor: str, pseudonym: str) -> None: ...

    @property
    def anchors(self) -> Mapping[str, str]: ...


def erased_youths(
    store: Mapping[str, Mapping[str, Mapping[str, Any]]], pseudonyms: Iterable[str], erasures: ErasureView
) -> list[str]:
    """The table keys to forget for these erased (or re-admitted) pseudonyms, in sorted order.

    A pseudonym that is a key of the table is its own entry. One that is not may still be a youth
    this worker holds under another key: after a key rotation's old key was retired, ``jeugdhub
    erase`` names only the youth's new pseudonym, while its entry is keyed by its old-key anchor and
    its messages since the rotation carry the new one. The worker knows most such anchors from the
    links topic (``erasures.anchors``, filled by ``ErasureSet.erase_linked``); the pseudonyms still
    missing are looked for in the stored
    messages (``youth_pseudonym``) in **one pass over the table**: erasures are rare, and a pass over
    a national table takes well under a second (docs/privacy.md, "Erasure after the retirement").
    Every anchor found is registered with ``erasures.erase_anchor`` so the apply stage leaves out the
    anchor's later records too. An entry is forgotten when its pseudonym is refused (erased, not
    re-admitted) or every message it holds predates the re-admission.
    """
    wanted = set(pseudonyms)
    entries: dict[str, str] = {p: p for p in wanted if p in store}
    entries.update((a, p) for a, p in erasures.anchors.items() if p in wanted and a in store)
    missing = wanted - set(entries.values())
    if missing:
        for anchor, stored in store.items():
            if anchor in entries:
                continue
            for message in stored.values():
                pseudonym = message.get("youth_pseudonym")
                if pseudonym in missing:
                    entries[anchor] = str(pseudonym)
                    erasures.erase_anchor(anchor, str(pseudonym))
                    break
    chosen = []
    for anchor in sorted(entries):
        pseudonym = entries[anchor]
        if erasures.refuses(pseudonym) or all(
            erasures.leaves_out(anchor, str(m.get("received_at"))) for m in store[anchor].values()
        ):
            chosen.append(anchor)
    return chosen
