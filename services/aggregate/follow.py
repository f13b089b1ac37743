"""The figures stage's reading of the youth-facts topic, without Kafka: one record into the state.

The worker's ``follow_facts`` task only fetches records (services/aggregate/service.py) and hands
each to :meth:`FactsFollower.apply`.
"""

from __future__ import annotations

import logging
from typing import Any

import orjson

from services.aggregate.facts import FACTS_VERSION, YouthFacts
from services.aggregate.state import FiguresState
from services.contracts.codec import decode
from services.contracts.errors import ContractError

log = logging.getLogger("jeugdhub.aggregate")

WARN_AT = (1, 100, 10_000)
"""Unusable records are logged at these counts, not each one (a whole topic of an old version)."""


class FactsFollower:
    """Applies youth-facts records to a :class:`FiguresState`, counting the unusable ones.

    ``loading=True`` (a worker's start, reading the topic from its beginning): each youth's records
    are folded as they come, keeping only the record the state would end with, and the facts are
    derived once per youth in :meth:`loaded`. Until the log cleaner has run, the topic holds a
    record per batch that touched a youth (about three per youth after a backfill); deriving facts
    (JSON, dates, the youth's contribution) is most of a record's cost, so a start derives each
    youth's once. The state at :meth:`loaded` is the one record-by-record application gives:
    the fold keeps upsert's rule (facts from fewer messages than those held are refused) and
    a tombstone clears what came before.
    """

    def __init__(self, state: FiguresState, *, loading: bool = False) -> None:
        self.state = state
        self.stale = 0
        """Records skipped because their facts could not be read (another ``FACTS_VERSION``)."""
        self._held: dict[str, dict[str, Any] | None] | None = {} if loading else None

    def apply(self, partition: int, offset: int, key: bytes, value: bytes | None) -> None:
        """A tombstone removes the youth; facts replace its facts; either way the offset is read."""
        self.state.read_up_to(partition, offset)
        youth = key.decode()
        held = self._held
        if value is None:
            if held is not None:
                held[youth] = None
            else:
                self.state.remove(youth)
            return
        try:
            record = decode("YouthFactsRecord", value)
            if held is not None:
                if record["facts_version"] != FACTS_VERSION:
                    raise ValueError(
                        f"youth facts version {record['facts_version']!r}, expected {FACTS_VERSION}"
                    )
                before = held.get(youth)
                if before is None or record["messages_applied"] >= before["messages_applied"]:
                    held[youth] = record
                return
            facts = YouthFacts.from_dict(orjson.loads(record["facts_json"]))
        except (ContractError, ValueError) as exc:
            self._unusable(exc)
            return
        self.state.upsert(youth, facts, record["messages_applied"])

    def loaded(self) -> None:
        """The start's read is complete: derive the facts of every youth held; then follow."""
        held, self._held = self._held, None
        for youth, record in (held or {}).items():
            if record is None:
                self.state.remove(youth)
                continue
            try:
                facts = YouthFacts.from_dict(orjson.loads(record["facts_json"]))
            except ValueError as exc:
                self._unusable(exc)
                continue
            self.state.upsert(youth, facts, record["messages_applied"])

    def _unusable(self, exc: Exception) -> None:
        self.stale += 1
        if self.stale in WARN_AT:
            log.warning(
                "youth facts not usable (run jeugdhub rebuild --publish)",
                extra={"error": str(exc), "count": self.stale},
            )
