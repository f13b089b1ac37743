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

from collections.abc import Iterable, MutableMapping
from dataclasses import dataclass, field
from typing import Any

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
