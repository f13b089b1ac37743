"""The figures stage's reading of the youth-facts topic, without Kafka: one record into the state.

The worker's ``follow_facts`` task only fetches records (services/aggregate/service.py) and hands
each to :meth:`FactsFollower.apply`.
"""

from __future__ import annotations

import logging

import orjson

from services.aggregate.facts import YouthFacts
from services.aggregate.state import FiguresState
from services.contracts.codec import decode
from services.contracts.errors import ContractError

log = logging.getLogger("jeugdhub.aggregate")

WARN_AT = (1, 100, 10_000)
"""Unusable records are logged at these counts, not each one (a whole topic of an old version)."""


class FactsFollower:
    """Applies youth-facts records to a :class:`FiguresState`, counting the unusable ones."""

    def __init__(self, state: FiguresState) -> None:
        self.state = state
        self.stale = 0
        """Records skipped because their facts could not be read (another ``FACTS_VERSION``)."""

    def apply(self, partition: int, offset: int, key: bytes, value: bytes | None) -> None:
        """A tombstone removes the youth; facts replace its facts; either way the offset is read."""
        self.state.read_up_to(partition, offset)
        youth = key.decode()
        if value is None:
            self.state.remove(youth)
            return
        try:
            record = decode("YouthFactsRecord", value)
            facts = YouthFacts.from_dict(orjson.loads(record["facts_json"]))
        except (ContractError, ValueError) as exc:
            self.stale += 1
            if self.stale in WARN_AT:
                log.warning(
                    "youth facts not usable (run jeugdhub rebuild --publish)",
                    extra={"error": str(exc), "count": self.stale},
                )
            return
        self.state.upsert(youth, facts, record["messages_applied"])
