"""``jeugdhub run`` leaves nothing running: SIGTERM and SIGHUP stop everything like Ctrl-C, and if
``run`` is SIGKILLed its children die with it (issue 12, defect 10).

Before, SIGTERM/SIGHUP killed ``run`` alone: Kafka, ingest, validate and aggregate were adopted by
PID 1 and kept their ports. Two tests let ``run`` start a Kafka of its own (``--kafka-state-dir``
in the test's directory, ``--free-ports``), so the broker is among the processes that must go.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from hubdev.localkafka.broker import pid_alive, set_parent_death_signal
from hubdev.processes import JEUGDHUB

pytestmark = pytest.mark.integration


class RunProcess:
    """``jeugdhub run --no-view --free-ports`` with its output in a file."""

    def __init__(self, tmp_path: Path, *args: str) -> None:
        self.out_path = tmp_path / "run.out"
        env = {k: v for k, v in os.environ.items() if not k.startswith("JEUGDHUB_")}
        with self.out_path.open("wb") as out:
            self.proc = subprocess.Popen(
                [JEUGDHUB, "run", "--free-ports", "--no-view", "--state-dir", str(tmp_path / "run"), *args],
                cwd=tmp_path,  # faust's data dir (var/faust) lands here
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # signals go to `run` alone, as from a service manager
                preexec_fn=set_parent_death_signal,  # and nothing outlives a crashed pytest
            )

    @property
    def output(self) -> str:
        return self.out_path.read_text(errors="replace")

    def wait_for(self, pattern: str, timeout_s: float) -> re.Match[str]:
        deadline = time.monotonic() + timeout_s
        while True:
            match = re.search(pattern, self.output)
            if match:
                return match
            assert self.proc.poll() is None, f"run exited with {self.proc.returncode}:\n{self.output}"
            assert time.monotonic() < deadline, f"no {pattern!r} after {timeout_s} s:\n{self.output}"
            time.sleep(0.2)

    def ports(self) -> set[int]:
        """The services' ports and, when ``run`` started Kafka, the broker's client port."""
        ports = {int(p) for p in re.findall(r"ready: http://127\.0\.0\.1:(\d+)/metrics", self.output)}
        kafka = re.search(r"Kafka \S+ on 127\.0\.0\.1:(\d+)", self.output)
        return ports | ({int(kafka.group(1))} if kafka else set())

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


@pytest.fixture
def runs() -> Iterator[list[RunProcess]]:
    started: list[RunProcess] = []
    yield started
    for run in started:  # a failed test must not leave a hub behind either
        pids = descendants(run.proc.pid)
        run.kill()
        for pid in pids:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)


def descendants(pid: int) -> set[int]:
    """Every live process below *pid* (children, grandchildren, …), from /proc."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    found: set[int] = set()
    frontier = {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return {p for p in found if pid_alive(p)}


def _commands(pids: set[int]) -> list[str]:
    commands = []
    for pid in sorted(pids):
        try:
            commands.append(Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode())
        except OSError:
            commands.append(f"{pid} (gone)")
    return commands


def _names(pids: set[int]) -> list[str]:
    """Short forms for assertion messages: the JVM's command line is kilobytes long."""
    return ["kafka.Kafka" if " kafka.Kafka " in c else c[-60:] for c in _commands(pids)]


def _wait_gone(pids: set[int], timeout_s: float) -> set[int]:
    deadline = time.monotonic() + timeout_s
    alive = {p for p in pids if pid_alive(p)}
    while alive and time.monotonic() < deadline:
        time.sleep(0.1)
        alive = {p for p in alive if pid_alive(p)}
    return alive


def _refused(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    except ConnectionRefusedError:
        return True
    return False


def test_sigterm_stops_every_child_and_the_kafka_it_started(runs: list[RunProcess], tmp_path: Path) -> None:
    run = RunProcess(tmp_path, "--kafka-state-dir", str(tmp_path / "kafka"), "--rate", "20")
    runs.append(run)
    run.wait_for(r"simulator posting", 240)
    children = descendants(run.proc.pid)
    ports = run.ports()
    assert "kafka.Kafka" in _names(children) and len(children) >= 5, _names(children)
    assert len(ports) == 4, run.output

    run.proc.send_signal(signal.SIGTERM)
    assert run.proc.wait(120) == 0, run.output
    assert "SIGTERM: stopping" in run.output and "stopped. Logs:" in run.output
    assert not _wait_gone(children, 5), _names(children)
    assert all(_refused(port) for port in ports), ports


def test_sighup_while_starting_stops_the_children(
    runs: list[RunProcess], kafka_bootstrap: str, unique_prefix: str, tmp_path: Path
) -> None:
    run = RunProcess(
        tmp_path, "--kafka-bootstrap", kafka_bootstrap, "--topic-prefix", unique_prefix, "--no-simulator"
    )
    runs.append(run)
    run.wait_for(r"waiting for validate", 120)  # all three services started, none ready yet
    children = descendants(run.proc.pid)
    assert len(children) >= 3, _names(children)

    run.proc.send_signal(signal.SIGHUP)
    assert run.proc.wait(90) == 0, run.output
    assert "SIGHUP: stopping" in run.output
    assert not _wait_gone(children, 5), _names(children)


def test_children_die_when_run_is_sigkilled(runs: list[RunProcess], tmp_path: Path) -> None:
    run = RunProcess(tmp_path, "--kafka-state-dir", str(tmp_path / "kafka"), "--no-simulator")
    runs.append(run)
    run.wait_for(r"ingest\s+ready: ", 240)
    children = descendants(run.proc.pid)
    ports = run.ports()
    assert "kafka.Kafka" in _names(children) and len(children) >= 4, _names(children)

    killed = time.monotonic()
    run.kill()
    left = _wait_gone(children, 30)
    gone_after = time.monotonic() - killed
    assert not left, _names(left)
    print(f"every child of the SIGKILLed run gone after {gone_after:.1f} s")
    assert all(_refused(port) for port in ports), ports
