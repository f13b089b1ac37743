"""A long-lived local broker for development: ``jeugdhub kafka start|stop|status``.

Unlike the test fixture's broker, this one outlives the command that started it, so its pid,
ports and directories go into a state file that a later ``status`` or ``stop`` (another process)
reads. Its data persists in ``<state dir>/data`` across restarts, and it keeps its port (9092 by
default) so service configs can hard-code the bootstrap address.

``start --brokers 3`` starts a cluster of three nodes instead (``hubdev.localkafka.cluster``):
data in ``<state dir>/cluster/node-<id>/``, state in ``<state dir>/cluster.json``, node *i* on
port 9092 + 2(i-1) (controller one above) when free. Only one of the two runs at a time.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from hubdev.localkafka.admin import fetch_cluster_info, quiet_kafka_logging
from hubdev.localkafka.broker import (
    Broker,
    BrokerError,
    free_port,
    pid_alive,
    port_is_free,
    terminate_group,
)
from hubdev.localkafka.cluster import Cluster
from hubdev.localkafka.config import HOST, Layout
from hubdev.localkafka.jars import REPO_ROOT, JarResolutionError, kafka_version

DEFAULT_STATE_DIR = REPO_ROOT / "var" / "localkafka"
DEFAULT_PORT = 9092
DEFAULT_CONTROLLER_PORT = 9093
STATE_FILE = "broker.json"
CLUSTER_STATE_FILE = "cluster.json"
CLUSTER_DIR = "cluster"

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_NOT_RUNNING = 3  # LSB `status` convention


@dataclass(frozen=True)
class BrokerState:
    """What ``start`` leaves behind for ``status``/``stop``."""

    pid: int
    port: int
    controller_port: int
    data_dir: str
    log_path: str
    kafka_version: str
    started_at: float

    @property
    def bootstrap(self) -> str:
        return f"{HOST}:{self.port}"


def state_path(state_dir: Path) -> Path:
    return state_dir / STATE_FILE


def read_state(state_dir: Path) -> BrokerState | None:
    """The last recorded broker of *state_dir*, running or not; None if never started."""
    try:
        raw = json.loads(state_path(state_dir).read_text(encoding="utf-8"))
        return BrokerState(**raw)
    except (FileNotFoundError, json.JSONDecodeError, TypeError):
        return None


def _write_state(state_dir: Path, state: BrokerState) -> None:
    tmp = state_path(state_dir).with_suffix(".tmp")
    tmp.write_text(json.dumps(asdict(state), indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, state_path(state_dir))


def is_our_broker(state: BrokerState) -> bool:
    """True if the recorded pid is alive *and* is the Kafka JVM for this data dir (not a reused pid)."""
    if not pid_alive(state.pid):
        return False
    try:
        cmdline = Path(f"/proc/{state.pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    props = str(Layout(Path(state.data_dir)).server_properties).encode()
    return b"kafka.Kafka" in cmdline and props in cmdline


def running_state(state_dir: Path) -> BrokerState | None:
    state = read_state(state_dir)
    return state if state is not None and is_our_broker(state) else None


def _pick_port(requested: int | None, previous: int | None, default: int, avoid: int | None = None) -> int:
    """Explicit port (must be free), else the port used last time, else *default*, else any free one."""
    if requested is not None:
        if not port_is_free(requested):
            raise BrokerError(f"port {requested} on {HOST} is in use")
        return requested
    for candidate in (previous, default):
        if candidate is not None and candidate != avoid and port_is_free(candidate):
            return candidate
    port = free_port()
    while port == avoid:
        port = free_port()
    return port


def start(
    state_dir: Path = DEFAULT_STATE_DIR,
    *,
    port: int | None = None,
    controller_port: int | None = None,
    auto_create_topics: bool = False,
    startup_timeout_s: float = 120.0,
    die_with_parent: bool = False,
) -> BrokerState:
    """Start the named broker (or return the one already running) and record it in the state file.

    ``die_with_parent``: the JVM gets SIGTERM when this process dies (``jeugdhub run``, which stops
    the broker it started); ``jeugdhub kafka start`` leaves it False, its broker outlives the command.
    """
    state_dir = state_dir.resolve()
    current = running_state(state_dir)
    if current is not None:
        return current
    state_dir.mkdir(parents=True, exist_ok=True)
    previous = read_state(state_dir)
    chosen = _pick_port(port, previous.port if previous else None, DEFAULT_PORT)
    chosen_c = _pick_port(
        controller_port, previous.controller_port if previous else None, DEFAULT_CONTROLLER_PORT, avoid=chosen
    )
    broker = Broker(
        state_dir / "data",
        port=chosen,
        controller_port=chosen_c,
        auto_create_topics=auto_create_topics,
        startup_timeout_s=startup_timeout_s,
        die_with_parent=die_with_parent,
    )
    broker.start()
    state = BrokerState(
        pid=broker.detach(),
        port=chosen,
        controller_port=chosen_c,
        data_dir=str(broker.data_dir),
        log_path=str(broker.log_path),
        kafka_version=kafka_version(),
        started_at=time.time(),
    )
    _write_state(state_dir, state)
    return state


def stop(state_dir: Path = DEFAULT_STATE_DIR, timeout_s: float = 30.0) -> BrokerState | None:
    """Stop the named broker; returns what was stopped, or None if nothing was running."""
    state = running_state(state_dir.resolve())
    if state is None:
        return None
    terminate_group(state.pid, timeout_s)
    return state


@dataclass(frozen=True)
class ClusterState:
    """What ``start --brokers N`` leaves behind: one :class:`BrokerState` per node."""

    cluster_id: str
    nodes: tuple[BrokerState, ...]

    @property
    def bootstrap(self) -> str:
        return ",".join(node.bootstrap for node in self.nodes)


def read_cluster_state(state_dir: Path) -> ClusterState | None:
    try:
        raw = json.loads((state_dir / CLUSTER_STATE_FILE).read_text(encoding="utf-8"))
        return ClusterState(raw["cluster_id"], tuple(BrokerState(**node) for node in raw["nodes"]))
    except (FileNotFoundError, json.JSONDecodeError, TypeError, KeyError):
        return None


def _write_cluster_state(state_dir: Path, state: ClusterState) -> None:
    tmp = (state_dir / CLUSTER_STATE_FILE).with_suffix(".tmp")
    document = {"cluster_id": state.cluster_id, "nodes": [asdict(node) for node in state.nodes]}
    tmp.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, state_dir / CLUSTER_STATE_FILE)


def running_cluster_nodes(state_dir: Path) -> list[BrokerState]:
    """The recorded cluster nodes whose JVM still runs (checked like :func:`is_our_broker`)."""
    state = read_cluster_state(state_dir)
    return [node for node in state.nodes if is_our_broker(node)] if state is not None else []


def start_cluster(
    state_dir: Path = DEFAULT_STATE_DIR,
    *,
    brokers: int = 3,
    port: int | None = None,
    auto_create_topics: bool = False,
    startup_timeout_s: float = 120.0,
) -> ClusterState:
    """Start the named cluster (or return the one already running) and record it."""
    state_dir = state_dir.resolve()
    previous = read_cluster_state(state_dir)
    running = running_cluster_nodes(state_dir)
    if previous is not None and len(running) == len(previous.nodes) == brokers:
        return previous
    if running:
        raise BrokerError(
            f"{len(running)} of the cluster's nodes run already (pids {[n.pid for n in running]}); "
            "`jeugdhub kafka stop` first"
        )
    if running_state(state_dir) is not None:
        raise BrokerError("the single local broker is running; `jeugdhub kafka stop` it first")
    state_dir.mkdir(parents=True, exist_ok=True)
    old = list(previous.nodes) if previous is not None and len(previous.nodes) == brokers else []
    ports: dict[int, tuple[int, int]] = {}
    avoid: set[int] = set()
    for node in range(1, brokers + 1):
        last = old[node - 1] if old else None
        chosen = _pick_port(
            port + 2 * (node - 1) if port is not None else None,
            last.port if last else None,
            DEFAULT_PORT + 2 * (node - 1),
        )
        while chosen in avoid:
            chosen = free_port()
        avoid.add(chosen)
        chosen_c = _pick_port(
            None, last.controller_port if last else None, DEFAULT_CONTROLLER_PORT + 2 * (node - 1), chosen
        )
        while chosen_c in avoid:
            chosen_c = free_port()
        avoid.add(chosen_c)
        ports[node] = (chosen, chosen_c)
    cluster = Cluster(
        state_dir / CLUSTER_DIR,
        nodes=brokers,
        ports=ports,
        auto_create_topics=auto_create_topics,
        startup_timeout_s=startup_timeout_s,
        die_with_parent=False,
    )
    cluster.start()
    started_at = time.time()
    nodes = tuple(
        BrokerState(
            pid=broker.detach(),
            port=broker.port,
            controller_port=ports[node][1],
            data_dir=str(broker.data_dir),
            log_path=str(broker.log_path),
            kafka_version=kafka_version(),
            started_at=started_at,
        )
        for node, broker in cluster.nodes.items()
    )
    state = ClusterState(cluster.cluster_id, nodes)
    _write_cluster_state(state_dir, state)
    return state


def stop_cluster(state_dir: Path = DEFAULT_STATE_DIR, timeout_s: float = 30.0) -> list[BrokerState]:
    """Stop every running node of the named cluster at once; returns what was stopped."""
    import signal

    nodes = running_cluster_nodes(state_dir.resolve())
    for node in nodes:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(node.pid, signal.SIGTERM)
    for node in nodes:
        terminate_group(node.pid, timeout_s)
    return nodes


# -- CLI glue: `jeugdhub kafka` (hubdev/localkafka/commands.py) and `python -m hubdev.localkafka`


def add_arguments(parser: argparse.ArgumentParser, command: str) -> None:
    """Add the options that ``cli_<command>`` reads to an argparse (sub)parser."""
    parser.add_argument(
        "--state-dir",
        type=Path,
        default=DEFAULT_STATE_DIR,
        help="where the broker's state file, data and logs live (default: %(default)s)",
    )
    if command == "start":
        parser.add_argument(
            "--brokers",
            type=int,
            default=1,
            help="1: one broker+controller (default); N > 1: a KRaft cluster of N combined nodes with "
            "replication factor N and min.insync.replicas 2 (docs/kafka.md)",
        )
        parser.add_argument("--port", type=int, default=None, help="client port (default: 9092 if free)")
        parser.add_argument("--controller-port", type=int, default=None, help="KRaft controller port")
        parser.add_argument(
            "--auto-create-topics",
            action="store_true",
            help="let producers create unknown topics (off: topics are declared, as in production)",
        )
        parser.add_argument("--timeout", type=float, default=120.0, help="seconds to wait for readiness")
    elif command == "stop":
        parser.add_argument("--timeout", type=float, default=30.0, help="seconds before SIGKILL")


def _state_dir(args: argparse.Namespace) -> Path:
    value = getattr(args, "state_dir", None)
    return Path(value) if value is not None else DEFAULT_STATE_DIR


def cli_start(args: argparse.Namespace) -> int:
    """Start (or find) the named broker; prints its bootstrap address. Exit 0 when it is up."""
    brokers = int(getattr(args, "brokers", 1) or 1)
    if brokers > 1:
        try:
            cluster = start_cluster(
                _state_dir(args),
                brokers=brokers,
                port=getattr(args, "port", None),
                auto_create_topics=bool(getattr(args, "auto_create_topics", False)),
                startup_timeout_s=float(getattr(args, "timeout", 120.0)),
            )
        except (BrokerError, JarResolutionError) as exc:
            print(f"kafka start failed: {exc}", file=sys.stderr)
            return EXIT_ERROR
        print(_describe_cluster(cluster))
        return EXIT_OK
    if brokers < 1:
        print("kafka start failed: --brokers must be at least 1", file=sys.stderr)
        return EXIT_ERROR
    if running_cluster_nodes(_state_dir(args).resolve()):
        print(
            "kafka start failed: the local cluster is running; `jeugdhub kafka stop` it first",
            file=sys.stderr,
        )
        return EXIT_ERROR
    try:
        state = start(
            _state_dir(args),
            port=getattr(args, "port", None),
            controller_port=getattr(args, "controller_port", None),
            auto_create_topics=bool(getattr(args, "auto_create_topics", False)),
            startup_timeout_s=float(getattr(args, "timeout", 120.0)),
        )
    except (BrokerError, JarResolutionError) as exc:
        print(f"kafka start failed: {exc}", file=sys.stderr)
        return EXIT_ERROR
    print(_describe(state))
    return EXIT_OK


def cli_stop(args: argparse.Namespace) -> int:
    """Stop the named broker. Exit 0 whether it was running or not (stop is idempotent)."""
    try:
        state = stop(_state_dir(args), float(getattr(args, "timeout", 30.0)))
        nodes = stop_cluster(_state_dir(args), float(getattr(args, "timeout", 30.0)))
    except BrokerError as exc:
        print(f"kafka stop failed: {exc}", file=sys.stderr)
        return EXIT_ERROR
    if nodes:
        print(f"stopped the Kafka cluster (pids {', '.join(str(n.pid) for n in nodes)})")
    if state:
        print(f"stopped Kafka (pid {state.pid})")
    if not state and not nodes:
        print("Kafka was not running")
    return EXIT_OK


def cli_status(args: argparse.Namespace) -> int:
    """Exit 0 if running and answering, 1 if running but not answering, 3 if not running."""
    cluster = read_cluster_state(_state_dir(args).resolve())
    nodes = running_cluster_nodes(_state_dir(args).resolve())
    if cluster is not None and nodes:
        bootstrap = ",".join(n.bootstrap for n in nodes)
        try:
            with quiet_kafka_logging():
                info = fetch_cluster_info(bootstrap, timeout_s=5.0)
        except Exception as exc:  # report, do not crash, on any client failure
            print(f"{_describe_cluster(cluster)}\nbut it does not answer: {type(exc).__name__}: {exc}")
            return EXIT_ERROR
        print(
            f"{_describe_cluster(cluster)}\nrunning nodes {len(nodes)} of {len(cluster.nodes)}; "
            f"cluster {info.cluster_id}, unfenced brokers {list(info.broker_ids)}"
        )
        return EXIT_OK if len(nodes) == len(cluster.nodes) else EXIT_ERROR
    state = running_state(_state_dir(args).resolve())
    if state is None:
        print("Kafka is not running")
        return EXIT_NOT_RUNNING
    try:
        with quiet_kafka_logging():
            info = fetch_cluster_info(state.bootstrap, timeout_s=5.0)
    except Exception as exc:  # report, do not crash, on any client failure
        print(f"{_describe(state)}\nbut it does not answer: {type(exc).__name__}: {exc}")
        return EXIT_ERROR
    print(f"{_describe(state)}\ncluster {info.cluster_id}, brokers {list(info.broker_ids)}")
    return EXIT_OK


def _describe(state: BrokerState) -> str:
    return (
        f"Kafka {state.kafka_version} running: bootstrap {state.bootstrap} (pid {state.pid})\n"
        f"data {state.data_dir}\nlog  {state.log_path}"
    )


def _describe_cluster(state: ClusterState) -> str:
    lines = [
        f"Kafka {state.nodes[0].kafka_version} cluster of {len(state.nodes)} nodes: bootstrap {state.bootstrap}"
    ]
    lines += [
        f"node {i}: pid {node.pid}, port {node.port}, log {node.log_path}"
        for i, node in enumerate(state.nodes, start=1)
    ]
    return "\n".join(lines)
