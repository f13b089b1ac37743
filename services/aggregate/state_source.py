"""The accepted messages of every youth as the aggregate holds them, read from Kafka: the input of
``jeugdhub rebuild`` and ``jeugdhub history --from-topic``.

The validated topic is bounded by retention (docs/privacy.md, Retention): it loses the early
messages of long stays. The aggregate's youth-messages table is the complete state, and its
compacted changelog (``<prefix><app id>-youth-messages-changelog``; JSON key = the youth's anchor,
JSON value = ``{"<sender>:<message_id>": message}``) holds the newest value of every youth still in
the state; a tombstone means the youth expired or was erased. So the source is:

1. the changelog, newest value per anchor (:func:`read_table`, which ``jeugdhub keys status`` can
   use too), then
2. the validated topic from the aggregate's committed offsets (its consumer group
   ``<prefix><app id>``) to its current end: the messages the aggregate has not applied yet. Merged
   by message key like the worker does, so a record both in the changelog and the tail counts once.

The committed offsets are read **before** the changelog: the worker acknowledges a batch's changelog
records before it commits the batch's offsets, so whatever precedes them is in the changelog read
after. Without a changelog (the aggregate never ran) or without a committed offset (a partition it
never committed) the whole retained validated topic is read, which is what the topic alone can give.

Youth are grouped by the anchor (the changelog key, the validated record key), so a youth's
messages under the old and the new pseudonym of a key rotation are one youth; callers derive facts
with :func:`services.privacy.rotation.as_one_youth`. Messages of an erased youth are left out
(:func:`services.aggregate.apply.is_left_out`, the erasure topic read first), as the worker does.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import orjson
from kafka import KafkaConsumer, TopicPartition

from services.aggregate.apply import is_left_out, youth_of
from services.aggregate.records import message_key
from services.contracts.canonical import validated_to_json
from services.contracts.codec import decode
from services.contracts.topics import VALIDATED
from services.privacy.erasure_topic import read_erasures
from services.privacy.links import read_links

T = TypeVar("T")
Progress = Callable[[int], None]
Messages = dict[str, dict[str, Any]]
"""One youth's stored messages: message key -> validated message (canonical JSON)."""
POLL_MS = 1000
MAX_RECORDS = 10_000


def changelog_topic(prefix: str, app_id: str) -> str:
    """The youth-messages table's changelog (faust: ``<prefix><app id>-<table>-changelog``)."""
    return f"{prefix}{app_id}-youth-messages-changelog"


def read_table(
    consumer: KafkaConsumer, topic: str, fold: Callable[[str, Messages], T], progress: Progress | None = None
) -> dict[str, T] | None:
    """anchor -> ``fold(anchor, messages)`` of the newest value per key of a youth-messages changelog,
    up to its current end; tombstoned youth are absent. None when the topic does not exist.

    ``fold`` lets a caller keep a summary instead of the messages (``keys status`` keeps counts).
    """
    partitions = consumer.partitions_for_topic(topic)
    if not partitions:
        return None
    tps = [TopicPartition(topic, p) for p in sorted(partitions)]
    consumer.assign(tps)
    consumer.seek_to_beginning(*tps)
    ends = consumer.end_offsets(tps)
    latest: dict[str, T] = {}
    read = 0
    while any(consumer.position(tp) < ends[tp] for tp in tps):
        for records in consumer.poll(timeout_ms=POLL_MS, max_records=MAX_RECORDS).values():
            for record in records:
                anchor = str(orjson.loads(record.key))
                if record.value is None:
                    latest.pop(anchor, None)  # the youth left the state (retention, erasure)
                else:
                    latest[anchor] = fold(anchor, orjson.loads(record.value))
            read += len(records)
        if progress is not None:
            progress(read)
    return latest


@dataclass
class StateRead:
    """Every youth's accepted messages (anchor -> message key -> message) and where they came from."""

    by_youth: dict[str, Messages] = field(default_factory=dict)
    changelog_found: bool = False
    from_changelog: int = 0
    """Youth read from the changelog (after leaving out erased messages)."""
    tail_messages: int = 0
    """Validated records read after the aggregate's committed offsets (all of them without a changelog)."""

    @property
    def accepted(self) -> int:
        return sum(len(messages) for messages in self.by_youth.values())


def read_state(bootstrap: str, prefix: str, app_id: str, progress: Progress | None = None) -> StateRead:
    """The aggregate's state as it will be once it has applied the validated topic to its current end."""
    erasures = read_erasures(bootstrap, prefix)
    # After a key retirement an erasure names the youth's new pseudonym, while its older records are
    # keyed by the anchor: the links join the two, as in the aggregate (docs/privacy.md).
    links = read_links(bootstrap, prefix)
    if links is not None:
        for pseudonym in list(erasures.entries):
            erasures.erase_linked(pseudonym, links.anchor_of(pseudonym))
    validated = VALIDATED.full_name(prefix)
    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=f"{prefix}{app_id}",  # only to read its committed offsets: assign(), never commit
        enable_auto_commit=False,
        isolation_level="read_committed",
    )
    try:
        partitions = sorted(consumer.partitions_for_topic(validated) or set())
        tps = [TopicPartition(validated, p) for p in partitions]
        committed = {tp: consumer.committed(tp) for tp in tps}

        def kept(anchor: str, messages: Messages) -> Messages:
            return {k: m for k, m in messages.items() if not is_left_out(erasures, anchor, m)}

        table = read_table(consumer, changelog_topic(prefix, app_id), kept, progress)
        state = StateRead(changelog_found=table is not None)
        state.by_youth = {anchor: messages for anchor, messages in (table or {}).items() if messages}
        state.from_changelog = len(state.by_youth)
        if not tps:
            return state
        consumer.assign(tps)
        for tp in tps:
            start = committed[tp] if table is not None else None
            if start is None:
                consumer.seek_to_beginning(tp)
            else:
                consumer.seek(tp, start)
        ends = consumer.end_offsets(tps)
        while any(consumer.position(tp) < ends[tp] for tp in tps):
            for records in consumer.poll(timeout_ms=POLL_MS, max_records=MAX_RECORDS).values():
                for record in records:
                    message = validated_to_json(decode("ValidatedMessage", record.value))
                    youth = youth_of(record, message)
                    if not is_left_out(erasures, youth, message):
                        state.by_youth.setdefault(youth, {})[message_key(message)] = message
                state.tail_messages += len(records)
            if progress is not None:
                progress(state.tail_messages)
        return state
    finally:
        consumer.close()
