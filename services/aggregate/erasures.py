"""The aggregate's part of the erasure on request: forget an erased youth where this worker holds it.

Every aggregate worker reads the whole erasure topic (:class:`ErasureFollower`, no consumer group)
rather than co-partitioning it with the validated topic. Why: a youth's pseudonym differs per key,
and during a key rotation its validated records are keyed (and partitioned) by its *anchor*, the
old key's pseudonym (services/privacy/rotation.py), so the records of one erasure land in several
partitions and only one of them matches the youth's validated partition; a consumer group would
also commit the erasure offsets, and a restarted worker would then not know the erasures it must
keep applying to re-read validated messages. The topic is small (a few records per erased youth),
so every worker holds it whole, like the figures state holds the youth-facts topic.

What each worker does with it:

* the apply stage leaves out every validated message of an erased youth (``apply.py``,
  ``is_left_out``), so a message re-read after a rebalance, or accepted just before validate read
  the erasure, never brings the youth back;
* :class:`ErasureSweep` forgets the youth where this worker's ``youth-messages`` store holds it
  (the owner of its partition, or a worker with a stale copy), under the erased pseudonym or, after
  a key rotation's old key was retired, under its anchor: the one its link names (the links topic,
  ``jeugdhub.youth-links.v1``, is followed whole too, :class:`LinkFollower`), else the one whose
  stored messages carry it (``forget.py``, ``erased_youths``: a pass over the table). The anchor
  is then left out by the apply stage as well; the links are read at every start, so a restarted
  worker still leaves out an erased youth's re-read old-key records. ``forget.py`` removes it and gives
  the tombstones, written facts first (acknowledged), then the changelog. Each worker's
  ``FactsFollower`` then takes the youth out of the figures. It runs under the table lock the
  apply stage holds for a batch, so no batch's records for the youth can be queued after the
  tombstones (the agent's send awaits between building and queueing its records).

It sweeps every pseudonym of a new record as it arrives, and all of them again after each
partition assignment (a restarted or rebalanced worker may have restored a youth whose forgetting
it did not finish). A re-admitted youth is forgotten only when every message it holds predates the
re-admission (the others are new, accepted after it).
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any, cast

import faust

from services.aggregate.forget import erased_youths, forget_youths
from services.contracts.topics import YOUTH_FACTS
from services.privacy.erasure import ErasureEntry
from services.privacy.erasure_topic import ErasureFollower
from services.privacy.links import LinkFollower
from services.privacy.rotation import YouthLink
from services.streaming.batches import Record, Routed, send_record_batches
from services.streaming.changelog import send_changelog as send_table_changelog
from services.streaming.delivery import deliver
from services.streaming.producer import kafka_producer
from services.streaming.web import faust_is_ready

log = logging.getLogger("jeugdhub.aggregate")

TABLE = "youth-messages"


class ErasureSweep:
    """Forgets erased youth held by this worker's table; :meth:`tick` from a frequent timer."""

    def __init__(
        self,
        app: faust.App,
        follower: ErasureFollower,
        prefix: str,
        lock: asyncio.Lock,
        links: LinkFollower | None = None,
    ) -> None:
        self.app = app
        self.follower = follower
        self.links = links
        self.lock = lock
        self.facts_topic = YOUTH_FACTS.full_name(prefix)
        self._pending: set[str] = set()
        self._rescan = True
        self.forgotten = 0
        """Youth forgotten by this worker since it started (for tests and logs)."""
        self.last_forgotten_at: float | None = None

    def on_record(self, pseudonym: str, entry: ErasureEntry | None) -> None:
        """The erasure follower's callback: a new erasure record, to be swept at the next tick; a
        linked pseudonym's anchor is erased with it."""
        if self.links is not None:
            self.follower.erasures.erase_linked(pseudonym, self.links.links.anchor_of(pseudonym))
        if entry is not None:
            self._pending.add(pseudonym)

    def on_link(self, pseudonym: str, link: YouthLink | None) -> None:
        """The link follower's callback: a link of an erased pseudonym erases its anchor too (and
        the anchor's entry is swept)."""
        if link is not None and self.follower.erasures.erase_linked(pseudonym, link.anchor_pseudonym):
            self._pending.add(pseudonym)

    @property
    def loaded(self) -> bool:
        """The erasures and the links (when followed) are read to the end seen at start."""
        return self.follower.loaded.is_set() and (self.links is None or self.links.loaded.is_set())

    def on_partitions_assigned(self) -> None:
        self._rescan = True

    def _candidates(self) -> set[str]:
        if self._rescan:
            self._rescan = False
            self._pending.clear()
            return set(self.follower.erasures.entries)
        chosen, self._pending = self._pending, set()
        return chosen

    async def tick(self) -> None:
        if not (self.loaded and faust_is_ready(self.app)):
            return
        if not self._pending and not self._rescan:
            return
        await self.sweep(self._candidates())

    async def sweep(self, candidates: set[str]) -> None:
        table: Any = self.app.tables[TABLE]
        store = table.data  # the store faust recovers into; ChangelogWriter reads and writes it too
        erasures = self.follower.erasures
        async with self.lock:
            started = time.monotonic()
            chosen = erased_youths(store, candidates, erasures)
            scanned_s = time.monotonic() - started
            forgotten = forget_youths(store, chosen)
            if not forgotten:
                return
            producer = kafka_producer(self.app)
            facts = cast(list[Record], forgotten.facts)
            changelog = cast(list[Routed], forgotten.changelog)

            async def send_facts() -> list[Any]:
                return await send_record_batches(producer, self.facts_topic, facts)

            async def send_changelog() -> list[Any]:
                # acknowledged tombstones give the partition its store offset back (changelog.py)
                return await send_table_changelog(producer, table, changelog)

            # Facts first: a crash before the changelog's tombstones leaves the youth in the table,
            # and the rescan after the restart forgets it again (services/aggregate/forget.py).
            await deliver(send_facts, "aggregate erasure")
            await deliver(send_changelog, "aggregate erasure")
        self.forgotten += len(forgotten.youths)
        self.last_forgotten_at = time.time()
        log.info(
            "erased youth forgotten",
            extra={
                "youth": len(forgotten.youths),
                "messages": forgotten.messages,
                "table_entries": len(store),
                "selected_s": round(scanned_s, 3),
            },
        )


def install_erasure_sweep(
    app: faust.App,
    follower: ErasureFollower,
    prefix: str,
    lock: asyncio.Lock,
    links: LinkFollower | None = None,
) -> ErasureSweep:
    """Run *follower* (and *links*) as tasks of *app* and sweep what they read (every 0.25 s, and
    all of it after each partition assignment) under the table *lock*."""
    sweep = ErasureSweep(app, follower, prefix, lock, links)
    follower.on_record = sweep.on_record

    @app.task  # type: ignore[untyped-decorator]
    async def follow_erasures() -> None:
        await follower.run()

    if links is not None:
        links.on_record = sweep.on_link

        @app.task  # type: ignore[untyped-decorator]
        async def follow_links() -> None:
            await links.run()

    @app.timer(interval=0.25)  # type: ignore[untyped-decorator]
    async def forget_erased() -> None:
        await sweep.tick()

    def rescan(_sender: Any, /, *_args: Any, **_kwargs: Any) -> None:
        sweep.on_partitions_assigned()

    app.on_partitions_assigned.connect(rescan)
    return sweep
