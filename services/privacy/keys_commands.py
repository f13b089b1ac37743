"""``jeugdhub keys status``: how far a pseudonymisation key rotation has linked the youth.

Reads the aggregate's youth-messages table (its compacted changelog topic, newest value per youth)
and counts youth linked during the rotation and youth still known only under the old key
(:class:`services.privacy.rotation.LinkStatus`). It needs no keyring and sees no BSN: the links are
the table's keys (anchors) next to the messages' own pseudonyms. Runs with the aggregate's Kafka user.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from services.cli import reads_settings
from services.privacy.rotation import LinkStatus

BOOTSTRAP_TIMEOUT_MS = 10_000


def register(sub: Any) -> None:
    keys = sub.add_parser(
        "keys",
        help="pseudonymisation key rotation: status",
        description="Key rotation (docs/privacy.md, Key rotation). 'status' prints, as JSON, how many "
        "youth in the aggregate's state are linked to their new pseudonym and how many are known only "
        "under the old key, and whether the old key may be retired.",
    )
    actions = keys.add_subparsers(dest="keys_action", metavar="ACTION", required=True)
    status = actions.add_parser("status", help="linked and unlinked youth; whether the old key may go")
    reads_settings(
        status, "services.aggregate.settings:AggregateSettings", ("kafka_bootstrap", "topic_prefix", "app_id")
    )
    status.set_defaults(func=run_status)


def changelog_topic(prefix: str, app_id: str) -> str:
    """The youth-messages table's changelog (faust: ``<prefix><app id>-<table>-changelog``)."""
    return f"{prefix}{app_id}-youth-messages-changelog"


def run_status(args: argparse.Namespace) -> int:
    from services.aggregate.settings import AggregateSettings
    from services.output import write_json_document

    settings = AggregateSettings()
    topic = changelog_topic(settings.topic_prefix, settings.app_id)
    status = read_link_status(settings.kafka_bootstrap, topic)
    if isinstance(status, str):
        print(f"jeugdhub keys: {status}", file=sys.stderr)
        return 1
    write_json_document({"table": topic, **status.to_dict()}, None)
    return 0


def read_link_status(bootstrap: str, topic: str) -> LinkStatus | str:
    """The :class:`LinkStatus` of the table on ``topic`` up to its current end, or why not (a str).

    Keeps one summary per youth, not its messages, so a national table fits in memory.
    """
    import orjson
    from kafka import KafkaConsumer, TopicPartition

    # Raises a kafka.errors.KafkaError when nothing answers (cli.main: one line, exit 1).
    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap,
        enable_auto_commit=False,
        isolation_level="read_committed",
        bootstrap_timeout_ms=BOOTSTRAP_TIMEOUT_MS,
    )
    try:
        partitions = consumer.partitions_for_topic(topic)
        if not partitions:
            return f"topic {topic} does not exist on {bootstrap} (or this user may not read it)"
        tps = [TopicPartition(topic, p) for p in sorted(partitions)]
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        ends = consumer.end_offsets(tps)
        latest: dict[bytes, LinkStatus | None] = {}
        while any(consumer.position(tp) < ends[tp] for tp in tps):
            for records in consumer.poll(timeout_ms=1000, max_records=10_000).values():
                for record in records:
                    if record.value is None:
                        latest[record.key] = None  # the youth left the state (retention, erasure)
                        continue
                    youth = LinkStatus()
                    youth.add(str(orjson.loads(record.key)), orjson.loads(record.value))
                    latest[record.key] = youth
    finally:
        consumer.close()
    total = LinkStatus()
    for summary in latest.values():
        if summary is not None:
            total.merge(summary)
    return total
