"""A long-lived local broker for development: ``jeugdhub kafka start|stop|status``.

Unlike the test fixture's broker, this one outlives the command that started it, so its pid,
ports and directories go into a state file that a later ``status`` or ``stop`` (another process)
reads. Its data persists in ``<state dir>/data`` across restarts, and it keeps its port (9092 by
default) so service configs can hard-code the bootstrap address.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from services.localkafka.admin import fetch_cluster_info, quiet_kafka_logging
from services.localkafka.broker import (
    Broker,
    BrokerError,
    free_port,
    pid_alive,
    port_is_free,
    terminate_group,
)
from services.localkafka.config import HOST, Layout
from services.localkafka.jars import REPO_ROOT, JarResolutionError, kafka_version

DEFAULT_STATE_DIR = REPO_ROOT / "var" / "localkafka"
DEFAULT_PORT = 9092
DEFAULT_CONTROLLER_PORT = 9093
STATE_FILE = "broker.json"

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
) -> BrokerState:
    """Start the named broker (or return the one already running) and record it in the state file."""
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
        die_with_parent=False,
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


# -- CLI glue: `jeugdhub kafka start|stop|status` (services/cli.py) and `python -m services.localkafka`


def add_arguments(parser: argparse.ArgumentParser, command: str) -> None:
    """Add the options that ``cli_<command>`` reads to an argparse (sub)parser."""
    parser.add_argument(
        "--state-dir",
        type=Path,
        default=DEFAULT_STATE_DIR,
        help="where the broker's state file, data and logs live (default: %(default)s)",
    )
    if command == "start":
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
    except BrokerError as exc:
        print(f"kafka stop failed: {exc}", file=sys.stderr)
        return EXIT_ERROR
    print(f"stopped Kafka (pid {state.pid})" if state else "Kafka was not running")
    return EXIT_OK


def cli_status(args: argparse.Namespace) -> int:
    """Exit 0 if running and answering, 1 if running but not answering, 3 if not running."""
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
