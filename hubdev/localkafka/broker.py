"""Run a real single-node Apache Kafka (KRaft, combined broker+controller) as a child JVM.

Why not a mock: faust talks to Kafka through group membership, CreateTopics, changelog reads and
offset commits, and which protocol versions a broker accepts changed in Kafka 4 (KIP-896). Only
the real broker proves the pinned client stack works. The JVM gets its own process group, binds
to 127.0.0.1 only and keeps every file under one data directory.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Self

from hubdev.localkafka.admin import fetch_cluster_info, quiet_kafka_logging
from hubdev.localkafka.config import (
    HOST,
    NODE_ID,
    BrokerSettings,
    Layout,
    log4j2_properties,
    new_cluster_id,
    render_properties,
    server_properties,
)
from hubdev.localkafka.jars import Progress, classpath, ensure_jars, stderr_progress

MIN_JAVA = 17
_PR_SET_PDEATHSIG = 1


class BrokerError(RuntimeError):
    """The local broker could not be started, reached or stopped."""


def free_port(host: str = HOST) -> int:
    """A TCP port the OS reports free right now (bind to port 0); racy only against other binders."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def port_is_free(port: int, host: str = HOST) -> bool:
    """True when *port* can be bound on *host* (so no broker of ours or anyone else holds it).

    With ``SO_REUSEADDR``, as every server here binds (aiohttp, faust's web, Kafka's acceptor): the
    connections of a stopped server linger in TIME_WAIT for a minute and must not make its port look
    taken, or a restart moves to another port.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
        return True


def find_java() -> str:
    """``$JAVA_HOME/bin/java`` or ``java`` on PATH, checked to be Java 17+ (Kafka 4 needs it)."""
    home = os.environ.get("JAVA_HOME")
    candidate = str(Path(home) / "bin" / "java") if home else shutil.which("java")
    if not candidate or not Path(candidate).exists():
        raise BrokerError("no `java` found (set JAVA_HOME or put Java 17+ on PATH)")
    out = subprocess.run([candidate, "-version"], capture_output=True, text=True, check=False)
    match = re.search(r'version "(\d+)(?:\.(\d+))?', out.stderr + out.stdout)
    major = int(match.group(1)) if match else 0
    if major == 1 and match and match.group(2):  # "1.8.0_x" style
        major = int(match.group(2))
    if major < MIN_JAVA:
        raise BrokerError(f"{candidate} is Java {major or '?'}; Kafka 4 needs Java {MIN_JAVA}+")
    return candidate


def tail(path: Path, lines: int = 40) -> str:
    """Last *lines* of a text file, or a note that it does not exist (for error messages)."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return f"({path} does not exist)"
    return "\n".join(text.splitlines()[-lines:])


def pid_alive(pid: int) -> bool:
    """True while *pid* exists and is not a zombie (reaps it if it is our own exited child)."""
    with contextlib.suppress(ChildProcessError, OSError):
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done == pid:
            return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"


def terminate_group(pid: int, timeout_s: float = 30.0, wait: Callable[[float], bool] | None = None) -> None:
    """SIGTERM the process group led by *pid*, wait up to *timeout_s*, then SIGKILL it.

    Kafka shuts down cleanly on SIGTERM (controlled shutdown, flushed logs), which keeps the
    next start from having to recover segments; SIGKILL is only the fallback.
    """
    waiter = wait or (lambda t: _poll_gone(pid, t))
    for sig, grace in ((signal.SIGTERM, timeout_s), (signal.SIGKILL, 10.0)):
        try:
            os.killpg(pid, sig)
        except ProcessLookupError:
            return
        if waiter(grace):
            return
    raise BrokerError(f"process group {pid} survived SIGKILL")


def _poll_gone(pid: int, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while pid_alive(pid):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.1)
    return True


def set_parent_death_signal(signum: int = signal.SIGTERM) -> None:  # pragma: no cover - in the child
    """``preexec_fn``: have Linux send *signum* to this child when its parent dies (no leaked JVMs).

    SIGTERM lets the JVM shut down cleanly; ``jeugdhub run`` passes SIGKILL for its services
    (``functools.partial``), whose graceful stop can hang on a broker that is dying with them. The
    signal is tied to the parent *thread* that forked, so start children from a long-lived thread
    (pytest's main thread is).
    """
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, int(signum), 0, 0, 0)


class Broker:
    """One local Kafka broker: ``with Broker(tmp) as b: use(b.bootstrap)``.

    Ports default to free ones picked at :meth:`start`. The data directory may be reused: storage
    is formatted only once, so topics and offsets survive a restart.
    """

    def __init__(
        self,
        data_dir: Path | str,
        *,
        port: int | None = None,
        controller_port: int | None = None,
        auto_create_topics: bool = False,
        extra_properties: Mapping[str, str] | None = None,
        heap: tuple[str, str] = ("256m", "512m"),
        startup_timeout_s: float = 90.0,
        jars: Path | None = None,
        progress: Progress | None = stderr_progress,
        die_with_parent: bool = True,
        node_id: int = NODE_ID,
        quorum_voters: str | None = None,
        cluster_id: str | None = None,
        replication_factor: int = 1,
        min_insync_replicas: int = 1,
    ) -> None:
        self.layout = Layout(Path(data_dir).resolve())
        self.node_id = node_id
        self._quorum_voters = quorum_voters
        self._cluster_id = cluster_id
        self._replication = (replication_factor, min_insync_replicas)
        self._requested_port = port
        self._requested_controller_port = controller_port
        self._auto_create_topics = auto_create_topics
        self._extra = dict(extra_properties or {})
        self._heap = heap
        self._startup_timeout_s = startup_timeout_s
        self._jars = jars
        self._progress = progress
        self._die_with_parent = die_with_parent
        self._settings: BrokerSettings | None = None
        self._proc: subprocess.Popen[bytes] | None = None

    # -- read-only views -------------------------------------------------------------------------
    @property
    def settings(self) -> BrokerSettings:
        if self._settings is None:
            raise BrokerError("broker not started yet")
        return self._settings

    @property
    def bootstrap(self) -> str:
        """``"127.0.0.1:<port>"`` for any Kafka client."""
        return self.settings.bootstrap

    @property
    def port(self) -> int:
        return self.settings.port

    @property
    def data_dir(self) -> Path:
        return self.layout.root

    @property
    def log_path(self) -> Path:
        """The broker's log4j2 log (INFO); JVM stdout/stderr is in :attr:`stdout_path`."""
        return self.layout.server_log

    @property
    def stdout_path(self) -> Path:
        return self.layout.stdout_log

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    # -- lifecycle -------------------------------------------------------------------------------
    def start(self) -> Self:
        """Resolve jars, write config, format storage once, launch the JVM and wait until ready."""
        if self.running:
            return self
        started = self.launch()
        self.wait_ready(started)
        return self

    def launch(self) -> float:
        """Everything of :meth:`start` but the wait; returns the start time for :meth:`wait_ready`.

        The nodes of a cluster are launched first and waited for afterwards: a node only becomes
        ready once a majority of the controller quorum runs.
        """
        say = self._progress or (lambda _line: None)
        java = find_java()
        jars = self._jars or ensure_jars(progress=self._progress)
        if self._settings is None:  # a restart keeps its ports (the other nodes know them)
            port = self._requested_port or free_port()
            cport = self._requested_controller_port or free_port()
            while cport == port:
                cport = free_port()
            self._settings = BrokerSettings(
                port,
                cport,
                self._auto_create_topics,
                self._extra,
                node_id=self.node_id,
                quorum_voters=self._quorum_voters,
                replication_factor=self._replication[0],
                min_insync_replicas=self._replication[1],
            )
        self._write_config()
        started = time.monotonic()
        if not self.layout.formatted:
            self._format(java, jars)
        say(f"starting Kafka broker {self.node_id} on {self.bootstrap} (data {self.data_dir})")
        self._launch(java, jars)
        return started

    def wait_ready(self, started: float) -> None:
        """Wait until this node serves as an unfenced broker with an active controller; stop it if not."""
        say = self._progress or (lambda _line: None)
        try:
            self._wait_ready(started)
        except BaseException:
            self.stop()
            raise
        say(f"Kafka broker {self.node_id} ready on {self.bootstrap} in {time.monotonic() - started:.1f} s")

    def request_stop(self) -> None:
        """SIGTERM without waiting (a cluster signals every node first, then waits for each)."""
        proc = self._proc
        if proc is not None and proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)

    def kill(self) -> None:
        """SIGKILL the JVM's process group: a crash, no controlled shutdown (fault tests)."""
        proc = self._proc
        if proc is None:
            return
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
        self._proc = None

    def stop(self, timeout_s: float = 30.0) -> None:
        """Graceful SIGTERM to the JVM's process group; SIGKILL if it has not exited in time."""
        proc = self._proc
        if proc is None:
            return
        if proc.poll() is None:

            def wait(grace: float) -> bool:
                try:
                    proc.wait(grace)
                except subprocess.TimeoutExpired:
                    return False
                return True

            terminate_group(proc.pid, timeout_s, wait)
        self._proc = None

    def detach(self) -> int:
        """Forget the running JVM without stopping it (for the CLI's long-lived broker); returns its pid."""
        if self._proc is None or self._proc.poll() is not None:
            raise BrokerError("no running broker to detach")
        pid = self._proc.pid
        _DETACHED.append(self._proc)  # keep Popen from warning about a running child at GC
        self._proc = None
        return pid

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- internals -------------------------------------------------------------------------------
    def _jvm(self, java: str, jars: Path, *heap: str) -> list[str]:
        return [
            java,
            *heap,
            "-Djava.awt.headless=true",
            "-XX:+ExitOnOutOfMemoryError",
            f"-Dlog4j2.configurationFile={self.layout.log4j_config}",
            f"-Dkafka.logs.dir={self.layout.logs_dir}",
            "-cp",
            classpath(jars),
        ]

    def _write_config(self) -> None:
        self.layout.root.mkdir(parents=True, exist_ok=True)
        self.layout.logs_dir.mkdir(exist_ok=True)
        props = server_properties(self.settings, self.layout)
        self.layout.server_properties.write_text(render_properties(props), encoding="utf-8")
        self.layout.log4j_config.write_text(log4j2_properties(self.layout), encoding="utf-8")

    def _format(self, java: str, jars: Path) -> None:
        # A static `controller.quorum.voters` quorum is formatted without --standalone.
        cmd = [
            *self._jvm(java, jars, "-Xmx256m"),
            "kafka.tools.StorageTool",
            "format",
            "--ignore-formatted",
            # one argument: an id that starts with "-" (1 in 32 of them) is otherwise taken for an option
            f"--cluster-id={self._cluster_id or new_cluster_id()}",
            "-c",
            str(self.layout.server_properties),
        ]
        out = subprocess.run(cmd, capture_output=True, text=True, check=False, stdin=subprocess.DEVNULL)
        if out.returncode != 0:
            raise BrokerError(f"StorageTool format failed ({out.returncode}):\n{out.stdout}\n{out.stderr}")

    def _launch(self, java: str, jars: Path) -> None:
        cmd = [
            *self._jvm(java, jars, f"-Xms{self._heap[0]}", f"-Xmx{self._heap[1]}"),
            "kafka.Kafka",
            str(self.layout.server_properties),
        ]
        use_pdeathsig = self._die_with_parent and sys.platform.startswith("linux")
        with self.layout.stdout_log.open("ab") as out:
            self._proc = subprocess.Popen(
                cmd,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=self.layout.root,
                start_new_session=True,  # own process group: terminal ^C does not reach it
                preexec_fn=set_parent_death_signal if use_pdeathsig else None,
            )

    def _wait_ready(self, started: float) -> None:
        """Poll until a client gets metadata naming this node as an unfenced broker and controller."""
        deadline = started + self._startup_timeout_s
        last_error = "no answer yet"
        with quiet_kafka_logging():
            while True:
                proc = self._proc
                if proc is None or proc.poll() is not None:
                    code = proc.returncode if proc is not None else None
                    self._proc = None
                    raise BrokerError(self._failure(f"Kafka JVM exited with code {code} during startup"))
                if time.monotonic() >= deadline:
                    raise BrokerError(
                        self._failure(
                            f"Kafka on {self.bootstrap} not ready after {self._startup_timeout_s:.0f} s "
                            f"(last probe: {last_error})"
                        )
                    )
                if self._listening():
                    try:
                        info = fetch_cluster_info(self.bootstrap, timeout_s=5.0)
                    except Exception as exc:  # any client error just means "not yet"
                        last_error = f"{type(exc).__name__}: {exc}"
                    else:
                        if self.node_id in info.broker_ids and info.controller_id >= 0:
                            return
                        last_error = f"metadata without an active broker/controller: {info}"
                time.sleep(0.25)

    def _listening(self) -> bool:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.settimeout(0.5)
            return sock.connect_ex((HOST, self.port)) == 0

    def _failure(self, headline: str) -> str:
        return (
            f"{headline}\n--- tail of {self.log_path} ---\n{tail(self.log_path)}"
            f"\n--- tail of {self.stdout_path} ---\n{tail(self.stdout_path, 20)}"
        )


_DETACHED: list[subprocess.Popen[bytes]] = []
