"""validate + aggregate as real processes on the real broker give exactly replay's figures,
also after the aggregate worker is SIGKILLed mid-stream and restarted."""

from __future__ import annotations

import json
import time
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from kafka import KafkaAdminClient
from kafka.admin import ConfigResource, ConfigResourceType

from hubdev.localkafka.broker import free_port
from services.contracts.regions import load_region_table
from services.contracts.topics import COMPACTED_STATE_CONFIG, RAW, YOUTH_FACTS
from services.privacy.pseudonym import ephemeral_keyring
from services.replay.offline import figures_document, judge_lines
from services.streaming.topic_admin import create_hub_topics
from tests.integration.hub_processes import (
    example_env,
    produce,
    read_all,
    running,
    service_process,
    wait_for_published,
)
from tests.integration.messages_support import expand_feed, raw_records

EXAMPLES = Path(__file__).resolve().parents[2].parent / "shared" / "spec" / "examples"
pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not EXAMPLES.is_dir(), reason="worked example not available"),
]
AS_OF = "2026-03-31"


def _replay_rows(lines: list[bytes]) -> list[dict[str, Any]]:
    regions = load_region_table(EXAMPLES / "regions.csv")
    result = judge_lines(lines, ephemeral_keyring(), regions)
    rows: list[dict[str, Any]] = figures_document(result, date.fromisoformat(AS_OF), regions)["regions"]
    return rows


def test_streaming_figures_equal_replay_and_survive_sigkill(
    kafka_bootstrap: str, unique_prefix: str, tmp_path: Path
) -> None:
    create_hub_topics(kafka_bootstrap, unique_prefix)
    lines = expand_feed((EXAMPLES / "feed.jsonl").read_bytes().splitlines(), copies=4, seed=5)
    assert len(lines) > 3000
    first, second = lines[: len(lines) // 2], lines[len(lines) // 2 :]
    env = example_env(
        kafka_bootstrap,
        unique_prefix,
        tmp_path,
        {
            "JEUGDHUB_AS_OF": AS_OF,
            "JEUGDHUB_BATCH_SIZE": "50",
        },
    )
    produce(kafka_bootstrap, RAW.full_name(unique_prefix), raw_records(first))
    with running("validate", env, tmp_path / "validate.log"):
        with running("aggregate", env, tmp_path / "aggregate-1.log") as aggregate:
            expected_first = _replay_rows(first)
            assert wait_for_published(kafka_bootstrap, unique_prefix, expected_first, AS_OF) == expected_first
            status, metrics = aggregate.get("/metrics")
            assert status == 200 and b'jeugdhub_aggregate_occupancy{region="NL"}' in metrics

            produce(kafka_bootstrap, RAW.full_name(unique_prefix), raw_records(second))
            facts_before = len(read_all(kafka_bootstrap, YOUTH_FACTS.full_name(unique_prefix), timeout_s=5))
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:  # kill while the second half is being applied
                if (
                    len(read_all(kafka_bootstrap, YOUTH_FACTS.full_name(unique_prefix), timeout_s=5))
                    > facts_before
                ):
                    break
                time.sleep(0.05)
            aggregate.kill()

        port = free_port()
        restarted = service_process(
            "aggregate", {**env, "JEUGDHUB_WEB_PORT": str(port)}, tmp_path / "aggregate-2.log", port
        )
        restarted.start()
        try:
            restarted.wait_ready(90)
            expected_all = _replay_rows(lines)
            assert expected_all != expected_first
            assert wait_for_published(kafka_bootstrap, unique_prefix, expected_all, AS_OF) == expected_all
        finally:
            restarted.stop()
    # Every state topic read back from its beginning at a restart is compacted with small segments,
    # faust's table changelogs (created by the workers) as well as the youth-facts topic.
    state_topics = [
        f"{unique_prefix}jeugdhub-aggregate-youth-messages-changelog",
        f"{unique_prefix}jeugdhub-validate-dedup-changelog",
        YOUTH_FACTS.full_name(unique_prefix),
    ]
    configs = _topic_configs(kafka_bootstrap, state_topics)
    for topic in state_topics:
        assert configs[topic]["cleanup.policy"] == "compact", topic
        assert {k: configs[topic][k] for k in COMPACTED_STATE_CONFIG} == COMPACTED_STATE_CONFIG, topic


def _topic_configs(bootstrap: str, topics: list[str]) -> dict[str, dict[str, str]]:
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        described = admin.describe_configs(
            [ConfigResource(ConfigResourceType.TOPIC, topic) for topic in topics], config_filter="all"
        )
    finally:
        admin.close()
    by_topic = described["topic"]
    return {topic: {key: str(entry["value"]) for key, entry in by_topic[topic].items()} for topic in topics}


def test_rebuild_without_the_aggregate_reads_the_validated_topic_and_equals_replay(
    kafka_bootstrap: str, unique_prefix: str, tmp_path: Path
) -> None:
    """No aggregate has run, so no youth-messages changelog: rebuild falls back to the whole
    validated topic (the state-and-topic case is in test_history_from_topic.py)."""
    from services.aggregate.rebuild import rebuild

    create_hub_topics(kafka_bootstrap, unique_prefix)
    lines = (EXAMPLES / "feed.jsonl").read_bytes().splitlines()
    produce(kafka_bootstrap, RAW.full_name(unique_prefix), raw_records(lines))
    env = example_env(
        kafka_bootstrap,
        unique_prefix,
        tmp_path,
        {},
    )
    with running("validate", env, tmp_path / "validate.log"):
        read_all(kafka_bootstrap, f"{unique_prefix}jeugdhub.retour.v1", expect=len(lines))
    regions = load_region_table(EXAMPLES / "regions.csv")
    document, state = rebuild(
        kafka_bootstrap, unique_prefix, "jeugdhub-aggregate", regions, date.fromisoformat(AS_OF), publish=True
    )
    assert not state.changelog_found and state.tail_messages == document["accepted"]
    expected = json.loads((EXAMPLES / "expected-figures.json").read_text())
    assert document["accepted"] == expected["accepted"]
    assert document["regions"] == _replay_rows(lines)
    assert len(read_all(kafka_bootstrap, YOUTH_FACTS.full_name(unique_prefix))) == document["youth"]
