"""A local Kafka cluster of three (or more) KRaft nodes, each broker and controller, as child JVMs.

Why: replication, leader election, ISR shrinking and a controller fail-over only happen with more
than one broker; the fault tests (tests/faults/) kill the leader of a partition and need the
topics to survive it. Every node is a :class:`~hubdev.localkafka.broker.Broker` with its own
data directory and log under ``<root>/node-<id>/``, its own free ports on 127.0.0.1, a small heap,
the same cluster id and a static quorum of all nodes. Internal topics get one replica per node
and ``min.insync.replicas`` 2 (of 3), as does every topic created without its own settings.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Any, Self, cast

from hubdev.localkafka.admin import admin_client, fetch_cluster_info, quiet_kafka_logging
from hubdev.localkafka.broker import Broker, BrokerError, free_port
from hubdev.localkafka.config import new_cluster_id, quorum_voters
from hubdev.localkafka.jars import Progress, stderr_progress

DEFAULT_NODES = 3
CLUSTER_HEAP = ("128m", "384m")
"""Three JVMs share the machine with the services: 384 MiB each is plenty for test volumes."""


class Cluster:
    """``with Cluster(tmp) as c: use(c.bootstrap)``; nodes are numbered 1..n (Kafka node ids).

    ``stop_node(i)`` / ``kill_node(i)`` / ``start_node(i)`` take one node down and bring it back on
    the same ports and data, as a broker crash and restart would.
    """

    def __init__(
        self,
        root: Path | str,
        *,
        nodes: int = DEFAULT_NODES,
        min_insync_replicas: int | None = None,
        ports: Mapping[int, tuple[int, int]] | None = None,
        auto_create_topics: bool = False,
        extra_properties: Mapping[str, str] | None = None,
        heap: tuple[str, str] = CLUSTER_HEAP,
        startup_timeout_s: float = 120.0,
        progress: Progress | None = stderr_progress,
        die_with_parent: bool = True,
        cluster_id: str | None = None,
    ) -> None:
        if nodes < 1:
            raise ValueError("a cluster needs at least one node")
        self.root = Path(root).resolve()
        self.min_insync_replicas = min_insync_replicas or min(2, nodes)
        chosen = dict(ports or {})
        taken: set[int] = {p for pair in chosen.values() for p in pair}
        for node in range(1, nodes + 1):
            if node not in chosen:
                pair = (_fresh_port(taken), _fresh_port(taken))
                chosen[node] = pair
        self.ports = {node: chosen[node] for node in range(1, nodes + 1)}
        voters = quorum_voters({node: pair[1] for node, pair in self.ports.items()})
        self.cluster_id = cluster_id or _stored_cluster_id(self.root) or new_cluster_id()
        self.nodes: dict[int, Broker] = {
            node: Broker(
                self.node_dir(node),
                port=port,
                controller_port=cport,
                auto_create_topics=auto_create_topics,
                extra_properties=extra_properties,
                heap=heap,
                startup_timeout_s=startup_timeout_s,
                progress=progress,
                die_with_parent=die_with_parent,
                node_id=node,
                quorum_voters=voters,
                cluster_id=self.cluster_id,
                replication_factor=nodes,
                min_insync_replicas=self.min_insync_replicas,
            )
            for node, (port, cport) in self.ports.items()
        }
        self._progress = progress

    # -- views -----------------------------------------------------------------------------------
    @property
    def size(self) -> int:
        return len(self.nodes)

    @property
    def replication_factor(self) -> int:
        return self.size

    @property
    def bootstrap(self) -> str:
        """Every node's client address, comma-separated, for any Kafka client."""
        return ",".join(f"127.0.0.1:{port}" for port, _ in self.ports.values())

    def node_dir(self, node: int) -> Path:
        return self.root / f"node-{node}"

    def node(self, node: int) -> Broker:
        try:
            return self.nodes[node]
        except KeyError:
            raise BrokerError(f"no node {node} in this cluster (nodes {sorted(self.nodes)})") from None

    def running_nodes(self) -> list[int]:
        return [node for node, broker in self.nodes.items() if broker.running]

    # -- lifecycle -------------------------------------------------------------------------------
    def start(self) -> Self:
        """Launch every node that is not running, then wait for each (a quorum forms only together)."""
        self.root.mkdir(parents=True, exist_ok=True)
        (self.root / "cluster.id").write_text(self.cluster_id + "\n", encoding="utf-8")
        launched = {node: broker.launch() for node, broker in self.nodes.items() if not broker.running}
        try:
            for node, started in launched.items():
                self.nodes[node].wait_ready(started)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self, timeout_s: float = 30.0) -> None:
        """Stop every node (SIGTERM, controlled shutdown; SIGKILL after *timeout_s*).

        All nodes are signalled at once: stopped one after the other, the last ones lose their
        controller quorum and wait out their shutdown retries (about 10 s each).
        """
        errors = []
        for broker in self.nodes.values():
            broker.request_stop()
        for broker in self.nodes.values():
            try:
                broker.stop(timeout_s)
            except BrokerError as exc:
                errors.append(str(exc))
        if errors:
            raise BrokerError("; ".join(errors))

    def stop_node(self, node: int, timeout_s: float = 30.0) -> None:
        """A clean shutdown of one node: it hands its leaderships over first."""
        self.node(node).stop(timeout_s)

    def kill_node(self, node: int) -> None:
        """SIGKILL one node: a crash; its partitions move once the controller fences it."""
        self.node(node).kill()

    def start_node(self, node: int) -> float:
        """Start one node again (same ports, same data); returns seconds until it was ready."""
        broker = self.node(node)
        started = broker.launch()
        broker.wait_ready(started)
        return time.monotonic() - started

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- questions for tests ---------------------------------------------------------------------
    def _any_bootstrap(self) -> str:
        running = [f"127.0.0.1:{self.ports[n][0]}" for n in self.running_nodes()]
        if not running:
            raise BrokerError("no node of the cluster is running")
        return ",".join(running)

    def partitions(self, topic: str, timeout_s: float = 15.0) -> dict[int, dict[str, Any]]:
        """``{partition: {"leader": id, "replicas": [...], "isr": [...]}}`` from a running node.

        Retried until *timeout_s*: right after a node died a client may still pick it and fail.
        """
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                return self._describe(topic)
            except Exception:
                if time.monotonic() >= deadline:
                    raise
                time.sleep(0.25)

    def _describe(self, topic: str) -> dict[int, dict[str, Any]]:
        with quiet_kafka_logging(), admin_client(self._any_bootstrap(), 5.0) as admin:
            described = cast(list[Mapping[str, Any]], admin.describe_topics([topic]))
        out: dict[int, dict[str, Any]] = {}
        for entry in described:
            if entry.get("error_code") not in (0, None):
                raise BrokerError(f"describe {topic}: error {entry.get('error_code')}")
            for part in cast(list[Mapping[str, Any]], entry.get("partitions") or []):
                # kafka-python 3 names the fields as the protocol does; older ones used short names
                index = part.get("partition_index", part.get("partition"))
                leader = part.get("leader_id", part.get("leader"))
                replicas = part.get("replica_nodes", part.get("replicas")) or []
                isr = part.get("isr_nodes", part.get("isr")) or []
                out[int(index)] = {
                    "leader": int(leader if leader is not None else -1),
                    "replicas": [int(r) for r in replicas],
                    "isr": [int(r) for r in isr],
                }
        return out

    def leader_of(self, topic: str, partition: int = 0) -> int:
        """The node id leading *partition* of *topic* (-1 while it has none)."""
        return int(self.partitions(topic)[partition]["leader"])

    def wait_in_sync(self, topic: str, timeout_s: float = 60.0) -> float:
        """Wait until every partition of *topic* has all replicas in its ISR; returns seconds waited."""
        started = time.monotonic()
        deadline = started + timeout_s
        last: object = None
        while time.monotonic() < deadline:
            try:
                last = self._describe(topic)
                if last and all(sorted(p["isr"]) == sorted(p["replicas"]) for p in last.values()):
                    return time.monotonic() - started
            except Exception as exc:  # a node still starting answers with errors: not yet
                last = exc
            time.sleep(0.25)
        raise BrokerError(f"{topic} not fully in sync after {timeout_s:.0f} s: {last}")

    def broker_ids(self) -> tuple[int, ...]:
        """Unfenced brokers, as a running node reports them."""
        with quiet_kafka_logging():
            return fetch_cluster_info(self._any_bootstrap()).broker_ids


def _fresh_port(taken: set[int]) -> int:
    port = free_port()
    while port in taken:
        port = free_port()
    taken.add(port)
    return port


def _stored_cluster_id(root: Path) -> str | None:
    """The id the nodes' storage was formatted with (a restarted cluster must keep it)."""
    try:
        return (root / "cluster.id").read_text(encoding="utf-8").strip() or None
    except FileNotFoundError:
        return None
