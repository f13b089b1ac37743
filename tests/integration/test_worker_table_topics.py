"""The workers create their table changelog topics before they join their consumer group.

In CI (three-broker scenario b) a worker's first assignment held the validated partitions but no
changelog partition: the just-declared changelog topic was not in the consumer's metadata yet, so no
table partition was recovered, and a restarted aggregate published facts from empty message lists.
``run_worker`` now creates the changelog topics first (and waits for their leaders).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from hubdev.localkafka.admin import admin_client
from services.aggregate.service import create_app as create_aggregate
from services.aggregate.settings import AggregateSettings
from services.contracts.regions import load_region_table
from services.contracts.topics import VALIDATED
from services.streaming.worker import create_table_topics_if_asked

pytestmark = pytest.mark.integration


def _described(bootstrap: str, name: str) -> tuple[int, bool, str | None]:
    """(partitions, every partition has a leader, cleanup.policy) of *name* on the broker."""
    from kafka.admin import ConfigResource, ConfigResourceType

    with admin_client(bootstrap) as admin:
        (topic,) = admin.describe_topics([name])
        partitions = topic["partitions"]
        configs = admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, name)])
    # {resource type: {resource name: {config key: {config data}}}} (kafka-python 3)
    (by_name,) = configs.values()
    policy = by_name[name].get("cleanup.policy") or {}
    value = policy.get("value") if isinstance(policy, dict) else policy
    return len(partitions), all(p["leader_id"] >= 0 for p in partitions), value


def test_the_aggregate_changelog_exists_before_the_worker_joins(
    kafka_bootstrap: str, unique_prefix: str, tmp_path: Path
) -> None:
    settings = AggregateSettings(
        kafka_bootstrap=kafka_bootstrap, topic_prefix=unique_prefix, data_dir=tmp_path, replication_factor=1
    )
    service = create_aggregate(settings, load_region_table(None))
    created = create_table_topics_if_asked(service.app, settings)
    assert created == [f"{unique_prefix}jeugdhub-aggregate-youth-messages-changelog"]
    partitions, led, policy = _described(kafka_bootstrap, created[0])
    assert (partitions, led, policy) == (VALIDATED.partitions, True, "compact")
    assert create_table_topics_if_asked(service.app, settings) == created  # an existing topic is kept


def test_nothing_is_created_when_topics_are_managed_elsewhere(
    kafka_bootstrap: str, unique_prefix: str, tmp_path: Path
) -> None:
    settings = AggregateSettings(
        kafka_bootstrap=kafka_bootstrap, topic_prefix=unique_prefix, data_dir=tmp_path, create_topics=False
    )
    service = create_aggregate(settings, load_region_table(None))
    assert create_table_topics_if_asked(service.app, settings) == []
