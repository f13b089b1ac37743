"""Where the end-to-end latency goes, stage by stage (issue 18, item 4).

The suite's latency stage sends new-youth messages over HTTP; each gets an HTTP 202 from ingest once
its raw record is committed. Afterwards this module reads what the pipeline wrote and splits each
message's path at the records it left on the way, all timestamps being this machine's clock
(CreateTime, set by the producing process when it appended the record):

- ``raw_created_to_202``: the ingest producer appended the raw record -> the 202 (the group commit:
  the transaction's commit round trip and the wait for the slot's previous transaction);
- ``202_to_validated``: 202 -> validate appended the ValidatedMessage (validate's fetch wait, its
  batch window ``JEUGDHUB_BATCH_WITHIN_S`` and its work);
- ``validated_to_facts``: -> the aggregate appended the youth's facts record (the same for the
  aggregate's apply stage);
- ``facts_to_snapshot``: -> the first NL RegionSnapshot that reflects it (the facts follower's fetch,
  the publish timer's tick and the per-region publish interval ``JEUGDHUB_PUBLISH_INTERVAL_S``, the
  publish transaction). Matched by rank: the k-th facts record in time order against the first
  snapshot whose occupancy (above the step's base) reached k, since each new youth adds one.

Per message, joined on the message id (raw key ``sender:message_id``, the ValidatedMessage's
``message_id``) and the youth pseudonym (the facts record's key).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from bench import harness
from services.contracts.codec import decode
from services.contracts.topics import RAW, VALIDATED, YOUTH_FACTS


def _read(bootstrap: str, topic: str) -> list[Any]:
    """Every record of ``topic`` up to its current end (group-less, read_committed)."""
    consumer, tps = harness.consumer_for(bootstrap, topic)
    out: list[Any] = []
    try:
        ends = consumer.end_offsets(tps)
        while any(consumer.position(tp) < ends[tp] for tp in tps):
            for records in consumer.poll(timeout_ms=500, max_records=20_000).values():
                out.extend(records)
    finally:
        consumer.close()
    return out


def summary(values: list[float]) -> dict[str, float | None]:
    """p50/p95/p99/max in seconds, rounded to the millisecond."""
    values = sorted(values)
    if not values:
        return {"p50": None, "p95": None, "p99": None, "max": None}
    return {
        "p50": round(harness.percentile(values, 50), 3),
        "p95": round(harness.percentile(values, 95), 3),
        "p99": round(harness.percentile(values, 99), 3),
        "max": round(values[-1], 3),
    }


def facts_to_snapshot(facts_at: list[float], seen: Sequence[tuple[float, int]]) -> list[float]:
    """The k-th facts record (in time order) is reflected by the first snapshot whose count reached
    k: that snapshot's time minus the record's. Facts not reflected yet get no value."""
    out: list[float] = []
    j = 0
    for k, at_facts in enumerate(sorted(facts_at), start=1):
        while j < len(seen) and seen[j][1] < k:
            j += 1
        if j == len(seen):
            break
        out.append(seen[j][0] - at_facts)
    return out


def breakdown(
    bootstrap: str, prefix: str, accepted: Mapping[str, float], seen: Sequence[tuple[float, int]]
) -> dict[str, Any]:
    """The four legs for the messages of ``accepted`` (message id -> time of its 202);
    ``seen``: (snapshot time, NL occupancy above the step's base)."""
    raw_created: dict[str, float] = {}
    for record in _read(bootstrap, RAW.full_name(prefix)):
        message_id = record.key.decode().split(":", 1)[-1]
        if message_id in accepted:
            raw_created.setdefault(message_id, record.timestamp / 1000)
    validated: dict[str, tuple[float, bytes]] = {}
    for record in _read(bootstrap, VALIDATED.full_name(prefix)):
        message_id = str(decode("ValidatedMessage", record.value)["message_id"])
        if message_id in accepted:
            validated.setdefault(message_id, (record.timestamp / 1000, record.key))
    youth = {key for _, key in validated.values()}
    facts: dict[bytes, float] = {}
    for record in _read(bootstrap, YOUTH_FACTS.full_name(prefix)):
        if record.key in youth and record.value is not None:
            facts.setdefault(record.key, record.timestamp / 1000)
    legs: dict[str, list[float]] = {
        "raw_created_to_202": [],
        "202_to_validated": [],
        "validated_to_facts": [],
        "facts_to_snapshot": [],
    }
    for message_id, at_202 in accepted.items():
        if message_id in raw_created:
            legs["raw_created_to_202"].append(at_202 - raw_created[message_id])
        if message_id in validated:
            at_validated, key = validated[message_id]
            legs["202_to_validated"].append(at_validated - at_202)
            if key in facts:
                legs["validated_to_facts"].append(facts[key] - at_validated)
    legs["facts_to_snapshot"] = facts_to_snapshot(list(facts.values()), seen)
    return {
        "matched": {"raw": len(raw_created), "validated": len(validated), "facts": len(facts)},
        "legs_s": {name: summary(values) for name, values in legs.items()},
        "mean_s": {name: round(sum(v) / len(v), 3) if v else None for name, v in legs.items()},
    }
