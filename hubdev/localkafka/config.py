"""Broker and logging configuration for the local KRaft broker (one node, or a node of a cluster).

Everything here is a pure function of ports and directories so it can be read (and tested)
without a JVM. docs/kafka.md explains each broker setting.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

HOST = "127.0.0.1"
NODE_ID = 1


@dataclass(frozen=True)
class Layout:
    """Where one broker keeps its files; all of it lives under ``root``."""

    root: Path

    @property
    def server_properties(self) -> Path:
        return self.root / "server.properties"

    @property
    def log4j_config(self) -> Path:
        return self.root / "log4j2.properties"

    @property
    def storage_dir(self) -> Path:
        """Kafka's ``log.dirs``: topic partitions and the KRaft metadata log."""
        return self.root / "storage"

    @property
    def logs_dir(self) -> Path:
        return self.root / "logs"

    @property
    def server_log(self) -> Path:
        """log4j2 output of the broker (INFO and up)."""
        return self.logs_dir / "server.log"

    @property
    def stdout_log(self) -> Path:
        """The JVM's own stdout/stderr: crashes before log4j starts, and ERRORs."""
        return self.logs_dir / "stdout.log"

    @property
    def formatted(self) -> bool:
        """True once ``StorageTool format`` has run for this storage dir."""
        return (self.storage_dir / "meta.properties").is_file()


@dataclass(frozen=True)
class BrokerSettings:
    """The knobs that differ between brokers; everything else is fixed in :func:`server_properties`."""

    port: int
    controller_port: int
    auto_create_topics: bool = False
    extra: Mapping[str, str] = field(default_factory=dict)
    node_id: int = NODE_ID
    quorum_voters: str | None = None
    """``id@host:cport,...`` of every controller; None: this node alone (a one-voter quorum)."""
    replication_factor: int = 1
    """Replicas of the internal topics and the default for new topics (the cluster's size)."""
    min_insync_replicas: int = 1

    @property
    def bootstrap(self) -> str:
        return f"{HOST}:{self.port}"


def new_cluster_id() -> str:
    """16 random bytes, base64url without padding: the form ``StorageTool format -t`` expects."""
    return base64.urlsafe_b64encode(os.urandom(16)).rstrip(b"=").decode("ascii")


def quorum_voters(nodes: Mapping[int, int]) -> str:
    """``controller.quorum.voters`` for controllers ``{node id: controller port}`` on 127.0.0.1."""
    return ",".join(f"{node}@{HOST}:{port}" for node, port in sorted(nodes.items()))


def server_properties(settings: BrokerSettings, layout: Layout) -> dict[str, str]:
    """The broker's server.properties as an ordered mapping."""
    rf, isr = str(settings.replication_factor), str(settings.min_insync_replicas)
    props: dict[str, str] = {
        # Every JVM is both a KRaft controller and a broker; a static quorum (one voter, or every
        # node of a local cluster) needs no `--standalone` format and no dynamic-quorum bootstrap.
        "process.roles": "broker,controller",
        "node.id": str(settings.node_id),
        "controller.quorum.voters": settings.quorum_voters
        or quorum_voters({settings.node_id: settings.controller_port}),
        "listeners": f"PLAINTEXT://{HOST}:{settings.port},CONTROLLER://{HOST}:{settings.controller_port}",
        "advertised.listeners": f"PLAINTEXT://{HOST}:{settings.port}",
        "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
        "controller.listener.names": "CONTROLLER",
        "inter.broker.listener.name": "PLAINTEXT",
        "log.dirs": str(layout.storage_dir),
        # A single node cannot hold the default three replicas of the internal topics; a cluster
        # gives them one replica per node and, like every topic, min.insync.replicas (2 of 3).
        "offsets.topic.replication.factor": rf,
        "transaction.state.log.replication.factor": rf,
        "transaction.state.log.min.isr": isr,
        "share.coordinator.state.topic.replication.factor": rf,
        "share.coordinator.state.topic.min.isr": isr,
        # One partition each instead of 50: the first consumer group / transaction is ready sooner.
        "offsets.topic.num.partitions": "1",
        "transaction.state.log.num.partitions": "1",
        # Let the first member of a group start at once instead of waiting 3 s for others.
        "group.initial.rebalance.delay.ms": "0",
        # Tests use sub-6 s sessions so a killed consumer's partitions move quickly.
        "group.min.session.timeout.ms": "1000",
        "num.partitions": "1",
        # Topics are declared (services/contracts/topics.py, faust internal topics); a typo'd
        # producer topic should fail here as it would on the real cluster.
        "auto.create.topics.enable": "true" if settings.auto_create_topics else "false",
    }
    if settings.replication_factor > 1:
        props.update(
            {
                "default.replication.factor": rf,
                "min.insync.replicas": isr,
                # A killed node is fenced (its partitions get new leaders) after 4 s without a
                # heartbeat instead of 9 s; a restarted one rejoins the ISR once it has caught up.
                "broker.session.timeout.ms": "4000",
                "broker.heartbeat.interval.ms": "1000",
            }
        )
    props.update(settings.extra)
    return props


def render_properties(props: Mapping[str, str]) -> str:
    """Java .properties text; values here never need escaping beyond backslashes."""
    lines = ["# Written by hubdev.localkafka; regenerated on every start."]
    lines += [f"{key}={value.replace(chr(92), chr(92) * 2)}" for key, value in props.items()]
    return "\n".join(lines) + "\n"


def log4j2_properties(layout: Layout) -> str:
    """log4j2 config: INFO and up to a size-capped file, only ERROR to the (captured) console."""
    log_file = str(layout.server_log).replace("\\", "/")
    pattern = "[%d] %p %m (%c)%n"
    return "\n".join(
        [
            "# Written by hubdev.localkafka; regenerated on every start.",
            "status = warn",
            # Kafka logs through its own shutdown; log4j must not close itself first.
            "shutdownHook = disable",
            "name = localkafka",
            "appender.console.type = Console",
            "appender.console.name = STDOUT",
            "appender.console.layout.type = PatternLayout",
            f"appender.console.layout.pattern = {pattern}",
            "appender.console.filter.threshold.type = ThresholdFilter",
            "appender.console.filter.threshold.level = error",
            "appender.file.type = RollingFile",
            "appender.file.name = FILE",
            f"appender.file.fileName = {log_file}",
            f"appender.file.filePattern = {log_file}.%i",
            "appender.file.layout.type = PatternLayout",
            f"appender.file.layout.pattern = {pattern}",
            "appender.file.policies.type = Policies",
            "appender.file.policies.size.type = SizeBasedTriggeringPolicy",
            "appender.file.policies.size.size = 20MB",
            "appender.file.strategy.type = DefaultRolloverStrategy",
            "appender.file.strategy.max = 3",
            "rootLogger.level = info",
            "rootLogger.appenderRef.console.ref = STDOUT",
            "rootLogger.appenderRef.file.ref = FILE",
            # Per-request and state-change chatter drowns the interesting lines.
            "logger.request.name = kafka.request.logger",
            "logger.request.level = warn",
            "logger.statechange.name = state.change.logger",
            "logger.statechange.level = warn",
            "logger.cleaner.name = kafka.log.LogCleaner",
            "logger.cleaner.level = warn",
            "",
        ]
    )
