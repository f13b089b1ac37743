"""``jeugdhub rebuild``: recompute every youth's facts from the aggregate's complete state.

After a definition is corrected (``FACTS_VERSION`` bumped) or the region table changes, every
youth's facts must be derived again. The input is every accepted message of every youth the hub
still holds: the youth-messages changelog plus the validated records the aggregate has not applied
yet (:mod:`services.aggregate.state_source`; the validated topic alone is bounded by retention and
misses the early messages of long stays). Facts are derived per youth (its anchor, one identity
during a key rotation) with the same functions as the worker and replay, optionally republished as
upserts on the youth-facts topic (the running aggregate picks them up), and the figures document is
returned.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from kafka import KafkaProducer

from services.aggregate.facts import build_youth_facts
from services.aggregate.figures import region_figures
from services.aggregate.records import facts_record
from services.aggregate.state_source import Progress, StateRead, read_state
from services.contracts.regions import RegionTable
from services.contracts.topics import YOUTH_FACTS
from services.privacy.rotation import as_one_youth


def rebuild(
    bootstrap: str,
    prefix: str,
    app_id: str,
    regions: RegionTable,
    as_of: date,
    publish: bool,
    progress: Progress | None = None,
) -> tuple[dict[str, Any], StateRead]:
    """The figures document as of ``as_of`` and the state it was computed from."""
    state = read_state(bootstrap, prefix, app_id, progress)
    facts = {
        youth: build_youth_facts(as_one_youth(youth, messages.values()), regions)
        for youth, messages in state.by_youth.items()
    }
    if publish:
        producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True)
        try:
            for youth, youth_facts in facts.items():
                value = facts_record(youth, youth_facts, len(state.by_youth[youth]))
                producer.send(YOUTH_FACTS.full_name(prefix), key=youth.encode(), value=value)
            producer.flush()
        finally:
            producer.close()
    document = {
        "as_of": as_of.isoformat(),
        "accepted": state.accepted,
        "youth": len(facts),
        "regions": region_figures(facts.values(), as_of, regions),
    }
    return document, state
