"""Starts and stops the local hub for ``jeugdhub run`` (imperative shell around the services)."""

from __future__ import annotations

import argparse
import json
import os
import secrets
import signal
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from datetime import date, timedelta
from pathlib import Path
from types import FrameType
from typing import Any

from rich.console import Console, Group
from rich.live import Live

from services.contracts.regions import load_region_table
from services.contracts.topics import AGGREGATES
from services.localkafka import jars, named
from services.localkafka.broker import free_port, port_is_free
from services.run.follower import SnapshotFollower
from services.run.processes import Child, jeugdhub_argv
from services.run.scrape import parse
from services.run.view import Rates, rejects_by_rule, render, status_lines_note
from services.streaming.topic_admin import create_hub_topics

SignalHandler = Callable[[int, FrameType | None], Any] | int | signal.Handlers | None

STOP_SIGNALS = (signal.SIGTERM, signal.SIGHUP)
"""Stop the hub like Ctrl-C: a service manager's stop, a closed terminal or SSH session."""


class StopSignal(KeyboardInterrupt):
    """SIGTERM or SIGHUP, raised in the main thread where Ctrl-C would raise KeyboardInterrupt.

    A KeyboardInterrupt so that it unwinds through everything Ctrl-C does (library code that
    treats ``Exception`` as "not ready yet" must not swallow it) into :meth:`Hub.run`'s cleanup.
    """

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def _jars_note() -> str:
    """Say that Maven fetches Kafka's jars only when they are really missing (once per version)."""
    try:
        present = jars.is_complete(jars.jar_dir(jars.kafka_version()))
    except Exception:  # only a hint: an unreadable pom fails properly when the broker starts
        present = False
    return "" if present else " (its jars are not here yet: Maven fetches them once, a minute or two)"


def _raise_stop(signum: int, _frame: FrameType | None) -> None:
    raise StopSignal(signum)


@contextmanager
def _signals(handler: SignalHandler, signums: tuple[int, ...]) -> Iterator[None]:
    """Install *handler* for *signums* (main thread only) and put the previous handlers back."""
    previous = {signum: signal.signal(signum, handler) for signum in signums}
    try:
        yield
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old)


def _port(preferred: int, any_free: bool = False) -> int:
    return preferred if not any_free and port_is_free(preferred) else free_port()


def _two_free_ports() -> tuple[int, int]:
    first, second = free_port(), free_port()
    while second == first:
        second = free_port()
    return first, second


def local_keyring(path: Path) -> Path:
    """A keyring for this machine only, made once (0600); a deployment mounts a Secret instead."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"active": "local-1", "keys": {"local-1": secrets.token_hex(32)}}))
        path.chmod(0o600)
    return path


class Hub:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.state_dir: Path = args.state_dir.resolve()
        self.logs = self.state_dir / "logs"
        self.console = Console(stderr=False)
        self.children: list[Child] = []
        self.started_kafka = False
        state_dir = getattr(args, "kafka_state_dir", None)
        self.kafka_state_dir: Path = (state_dir or named.DEFAULT_STATE_DIR).resolve()

    def say(self, text: str) -> None:
        # After SIGHUP the terminal may be gone (EIO): stopping must go on without it.
        with suppress(OSError):
            self.console.print(text, highlight=False, soft_wrap=True)

    def run(self) -> int:
        """Start everything, show it, and stop everything on Ctrl-C, SIGTERM, SIGHUP or an error.

        While stopping, further Ctrl-C/SIGTERM/SIGHUP are ignored so the cleanup completes; if
        ``run`` is killed outright, its children get SIGTERM from the kernel (parent-death signal).
        """
        regions_file = self.args.regions.resolve() if self.args.regions else None
        load_region_table(regions_file)  # fail fast on a bad table, before anything starts
        code = 0
        with _signals(_raise_stop, STOP_SIGNALS):
            try:
                bootstrap = self._kafka()
                self._services(bootstrap, regions_file)
                self._show(bootstrap)
            except StopSignal as stop:
                self.say(f"\n{signal.Signals(stop.signum).name}: stopping…")
            except KeyboardInterrupt:
                self.say("\nstopping…")
            except (RuntimeError, TimeoutError, OSError) as exc:
                self.say(f"[red]jeugdhub run: {exc}[/red]")
                code = 1
            finally:
                with _signals(signal.SIG_IGN, (signal.SIGINT, *STOP_SIGNALS)):
                    self._stop()
        return code

    def _kafka(self) -> str:
        prefix = self.args.topic_prefix
        if self.args.kafka_bootstrap:
            self.say(f"Kafka at {self.args.kafka_bootstrap} (not started here)")
            create_hub_topics(self.args.kafka_bootstrap, prefix)
            return str(self.args.kafka_bootstrap)
        state = named.running_state(self.kafka_state_dir)
        if state is None:
            self.say(f"starting Kafka{_jars_note()}…")
            port, controller_port = _two_free_ports() if self.args.free_ports else (None, None)
            # Dies with this process (parent-death signal) if `run` is killed before stopping it.
            state = named.start(
                self.kafka_state_dir, port=port, controller_port=controller_port, die_with_parent=True
            )
            self.started_kafka = True
        self.say(f"Kafka {state.kafka_version} on {state.bootstrap}")
        create_hub_topics(state.bootstrap, prefix)
        return state.bootstrap

    def _services(self, bootstrap: str, regions_file: Path | None) -> None:
        base = {k: v for k, v in os.environ.items() if not k.startswith("JEUGDHUB_")}
        base.update(
            {
                "JEUGDHUB_KAFKA_BOOTSTRAP": bootstrap,
                "JEUGDHUB_KEYRING_FILE": str(local_keyring(self.state_dir / "keyring.json")),
                "JEUGDHUB_INGEST_TOKENS_FILE": str(self.state_dir / "ingest-tokens.json"),
                "JEUGDHUB_TOPIC_PREFIX": self.args.topic_prefix,
            }
        )
        if regions_file is not None:
            base["JEUGDHUB_REGIONS_FILE"] = str(regions_file)
        free = self.args.free_ports
        ports = {"ingest": _port(8080, free), "validate": _port(6066, free), "aggregate": _port(6067, free)}
        for name in ("validate", "aggregate", "ingest"):
            env = dict(base)
            if name == "ingest":
                env["JEUGDHUB_INGEST_PORT"] = str(ports[name])
            else:
                env["JEUGDHUB_WEB_PORT"] = str(ports[name])
            child = Child(name, jeugdhub_argv(name), env, self.logs / f"{name}.log", ports[name])
            child.start()
            self.children.append(child)
        for child in self.children:
            self.say(f"waiting for {child.name}…")
            child.wait_ready(120)
        for child in self.children:
            self.say(f"{child.name:9} ready: {child.url('/metrics')}  (log {child.log_path})")
        if not self.args.no_simulator:
            self._simulator(base, ports["ingest"])

    def _simulator(self, env: dict[str, str], ingest_port: int) -> None:
        argv = jeugdhub_argv(
            "simulate",
            "--post",
            f"http://127.0.0.1:{ingest_port}",
            "--register-tokens",
            env["JEUGDHUB_INGEST_TOKENS_FILE"],
            "--rate",
            str(self.args.rate),
            "--seed",
            str(self.args.seed),
            # the twelve months up to today, so the figures as of today move while it runs
            "--start",
            (date.today() - timedelta(days=364)).isoformat(),
            "--end",
            date.today().isoformat(),
        )
        if self.args.regions is not None:
            argv += ["--regions", str(self.args.regions.resolve())]
        child = Child("simulator", argv, env, self.logs / "simulator.log")
        child.start()
        self.children.append(child)
        self.say(f"simulator posting {self.args.rate:g} messages/s to ingest (log {child.log_path})")

    def _show(self, bootstrap: str) -> None:
        follower = SnapshotFollower(bootstrap, AGGREGATES.full_name(self.args.topic_prefix))
        follower.start()
        rates = Rates()
        started = time.monotonic()
        deadline = None if self.args.duration is None else started + self.args.duration
        try:
            if self.args.no_view or not sys.stdout.isatty():
                self.say(status_lines_note(self.args.no_view))
                self._status_lines(follower, rates, started, deadline)
            else:
                with Live(
                    self._frame(follower, rates, started), console=self.console, refresh_per_second=2
                ) as live:
                    while deadline is None or time.monotonic() < deadline:
                        time.sleep(1.0)
                        self._check_children()
                        live.update(self._frame(follower, rates, started))
        finally:
            follower.stop()

    def _status_lines(
        self, follower: SnapshotFollower, rates: Rates, started: float, deadline: float | None
    ) -> None:
        while deadline is None or time.monotonic() < deadline:
            time.sleep(5.0)
            self._check_children()
            self._frame(follower, rates, started)
            nl = follower.latest().get("NL", {})
            self.say(
                f"{time.monotonic() - started:6.0f} s  accepted {rates.totals.get('accepted', 0):,.0f} "
                f"rejected {rates.totals.get('rejected', 0):,.0f}  NL occupancy {nl.get('occupancy', '–')}, "
                f"transfers 12m {nl.get('transfers_12m', '–')}"
            )

    def _frame(self, follower: SnapshotFollower, rates: Rates, started: float) -> Group:
        merged: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
        for child in self.children:
            answer = child.get("/metrics") if child.web_port else None
            if answer is not None and answer[0] == 200:
                for name, samples in parse(answer[1].decode()).items():
                    merged.setdefault(name, {}).update(samples)
        rates.update(merged)
        snapshots = follower.latest()
        as_of = next(iter(snapshots.values()))["as_of"] if snapshots else None
        services = [(c.name, c.alive, c.url("/metrics")) for c in self.children]
        return render(snapshots, rates, rejects_by_rule(merged), services, as_of, time.monotonic() - started)

    def _check_children(self) -> None:
        for child in self.children:
            if not child.alive and child.name != "simulator":
                raise RuntimeError(f"{child.name} stopped (exit {child.exit_code}); see {child.log_path}")

    def _stop(self) -> None:
        for child in reversed(self.children):
            with suppress(Exception):
                child.stop()
        if self.started_kafka:
            with suppress(Exception):
                named.stop(self.kafka_state_dir)
        if self.args.kafka_bootstrap:
            self.say(f"stopped. Logs: {self.logs}  Kafka: {self.args.kafka_bootstrap}, left running")
            return
        self.say(f"stopped. Logs: {self.logs}  Kafka data: {self.kafka_state_dir / 'data'}")
        if not self.started_kafka:
            self.say("Kafka was already running before and is left running (jeugdhub kafka stop).")
