"""The generated server.properties: a single broker as before, a cluster node replicated."""

from __future__ import annotations

from pathlib import Path

from hubdev.localkafka.config import BrokerSettings, Layout, quorum_voters, server_properties


def test_single_broker_keeps_one_replica_and_its_own_quorum(tmp_path: Path) -> None:
    props = server_properties(BrokerSettings(9092, 9093), Layout(tmp_path))
    assert props["node.id"] == "1"
    assert props["controller.quorum.voters"] == "1@127.0.0.1:9093"
    assert props["offsets.topic.replication.factor"] == "1"
    assert props["transaction.state.log.min.isr"] == "1"
    assert "default.replication.factor" not in props
    assert "min.insync.replicas" not in props


def test_cluster_node_replicates_internal_topics_three_times_with_two_in_sync(tmp_path: Path) -> None:
    voters = quorum_voters({3: 9107, 1: 9103, 2: 9105})
    assert voters == "1@127.0.0.1:9103,2@127.0.0.1:9105,3@127.0.0.1:9107"
    settings = BrokerSettings(
        9106, 9107, node_id=3, quorum_voters=voters, replication_factor=3, min_insync_replicas=2
    )
    props = server_properties(settings, Layout(tmp_path))
    assert props["node.id"] == "3"
    assert props["controller.quorum.voters"] == voters
    assert props["listeners"] == "PLAINTEXT://127.0.0.1:9106,CONTROLLER://127.0.0.1:9107"
    for key in (
        "offsets.topic.replication.factor",
        "transaction.state.log.replication.factor",
        "share.coordinator.state.topic.replication.factor",
        "default.replication.factor",
    ):
        assert props[key] == "3", key
    for key in (
        "transaction.state.log.min.isr",
        "share.coordinator.state.topic.min.isr",
        "min.insync.replicas",
    ):
        assert props[key] == "2", key
