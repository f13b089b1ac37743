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
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from types import FrameType
from typing import Any

from rich.console import Console, Group
from rich.live import Live
from rich.markup import escape

from hubdev.localkafka import jars, named
from hubdev.localkafka.admin import fetch_cluster_info
from hubdev.processes import Child, jeugdhub_argv, recovery_text
from hubdev.run.follower import SnapshotFollower
from hubdev.run.ports import DEFAULT_PORTS, choose
from hubdev.run.scrape import parse
from hubdev.run.view import Rates, feed_phase, rejects_by_rule, render, status_lines_note
from hubdev.simulate.position import FeedPosition, read_position
from services.contracts.regions import load_region_table
from services.contracts.topics import AGGREGATES
from services.ingest.tokens import configured_tokens_file
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


SERVICES = ("validate", "aggregate", "ingest")
POSITION_FILE = "simulator.json"
SIMULATOR_TOKENS_FILE = "simulator-tokens.json"


def _child(
    name: str, argv: list[str], env: dict[str, str], log_path: Path, web_port: int | None = None
) -> Child:
    """A child of ``run``: in its own process group, so Ctrl-C in the terminal reaches only `jeugdhub
    run`, which stops the children in order (simulator first, Kafka last). The parent-death signal
    (the local broker's mechanism) makes Linux SIGKILL the child if `run` dies without stopping it
    (SIGKILL, a crash), so no service is left running, adopted by PID 1. SIGKILL, not SIGTERM: a
    Kafka that `run` started gets its SIGTERM at the same moment, and a faust worker's graceful stop
    then waits ~40 s for a broker that is going away (measured); the services are at-least-once and
    lose nothing acknowledged by a kill."""
    return Child(name, argv, env, log_path, web_port, own_session=True, death_signal=signal.SIGKILL)


def wanted_ports(args: argparse.Namespace) -> dict[str, int]:
    """The default ports, each replaced by its ``--port NAME=PORT`` if given."""
    ports = dict(DEFAULT_PORTS)
    for item in getattr(args, "port", None) or []:
        name, _, number = item.partition("=")
        if name not in ports or not number.isdigit() or not 0 <= int(number) <= 65535:
            raise ValueError(f"--port {item}: expected NAME=PORT with NAME one of {', '.join(ports)}")
        ports[name] = int(number)
    return ports


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
        self.position_file = self.state_dir / POSITION_FILE
        self.console = Console(stderr=False)
        self.errors = Console(stderr=True)
        self.children: list[Child] = []
        self.started_kafka = False
        state_dir = getattr(args, "kafka_state_dir", None)
        self.kafka_state_dir: Path = (state_dir or named.DEFAULT_STATE_DIR).resolve()
        self.tokens_file = Path()
        self.ports: dict[str, int] = {}
        self.feed_note: str | None = None

    def say(self, text: str) -> None:
        # After SIGHUP the terminal may be gone (EIO): stopping must go on without it.
        with suppress(OSError):
            self.console.print(text, highlight=False, soft_wrap=True)

    def run(self) -> int:
        """Start everything, show it, and stop everything on Ctrl-C, SIGTERM, SIGHUP or an error.

        While stopping, further Ctrl-C/SIGTERM/SIGHUP are ignored so the cleanup completes; if
        ``run`` is killed outright, its children get SIGTERM from the kernel (parent-death signal).
        A port that is taken or a bad setting stops it before anything starts, with one line.
        """
        from pydantic import ValidationError

        regions_file = self.args.regions.resolve() if self.args.regions else None
        code = 0
        with _signals(_raise_stop, STOP_SIGNALS):
            try:
                load_region_table(regions_file)  # fail fast on a bad table, before anything starts
                self.tokens_file = configured_tokens_file().resolve()
                self.ports = self._choose_ports()
                bootstrap = self._kafka()
                self._services(bootstrap, regions_file)
                self._show(bootstrap)
            except StopSignal as stop:
                self.say(f"\n{signal.Signals(stop.signum).name}: stopping…")
            except KeyboardInterrupt:
                self.say("\nstopping…")
            except (RuntimeError, TimeoutError, OSError, ValueError, ValidationError) as exc:
                message = " ".join(str(exc).split()) if isinstance(exc, ValidationError) else str(exc)
                with suppress(OSError):
                    self.errors.print(
                        f"[red]jeugdhub run: {escape(message)}[/red]", highlight=False, soft_wrap=True
                    )
                code = 1
            finally:
                with _signals(signal.SIG_IGN, (signal.SIGINT, *STOP_SIGNALS)):
                    self._stop()
        return code

    def _choose_ports(self) -> dict[str, int]:
        """Every port before anything starts: the defaults (or ``--port``), each checked, or with
        ``--free-ports`` free ones. Kafka's only when this run starts a Kafka."""
        wanted = wanted_ports(self.args)
        if self.args.kafka_bootstrap or named.running_state(self.kafka_state_dir) is not None:
            wanted.pop("kafka")
            wanted.pop("kafka-controller")
        return choose(wanted, self.args.free_ports)

    def _kafka(self) -> str:
        prefix = self.args.topic_prefix
        if self.args.kafka_bootstrap:
            self.say(f"Kafka at {self.args.kafka_bootstrap} (not started here)")
            create_hub_topics(self.args.kafka_bootstrap, prefix)
            return str(self.args.kafka_bootstrap)
        state = named.running_state(self.kafka_state_dir)
        if state is None:
            self.say(f"starting Kafka{_jars_note()}…")
            # Dies with this process (parent-death signal) if `run` is killed before stopping it.
            state = named.start(
                self.kafka_state_dir,
                port=self.ports["kafka"],
                controller_port=self.ports["kafka-controller"],
                die_with_parent=True,
            )
            self.started_kafka = True
        else:
            self.say(f"Kafka already running (state in {self.kafka_state_dir}); using it")
        self.say(f"Kafka {state.kafka_version} on {state.bootstrap}")
        create_hub_topics(state.bootstrap, prefix)
        return state.bootstrap

    def _services(self, bootstrap: str, regions_file: Path | None) -> None:
        base = {k: v for k, v in os.environ.items() if not k.startswith("JEUGDHUB_")}
        base.update(
            {
                "JEUGDHUB_KAFKA_BOOTSTRAP": bootstrap,
                "JEUGDHUB_KEYRING_FILE": str(local_keyring(self.state_dir / "keyring.json")),
                # the file `jeugdhub tokens add` writes by default: a token added by hand works here
                "JEUGDHUB_INGEST_TOKENS_FILE": str(self.tokens_file),
                "JEUGDHUB_TOPIC_PREFIX": self.args.topic_prefix,
            }
        )
        if regions_file is not None:
            base["JEUGDHUB_REGIONS_FILE"] = str(regions_file)
        for name in SERVICES:
            env = dict(base)
            if name == "ingest":
                env["JEUGDHUB_INGEST_PORT"] = str(self.ports[name])
            else:
                env["JEUGDHUB_WEB_PORT"] = str(self.ports[name])
            child = _child(name, jeugdhub_argv(name), env, self.logs / f"{name}.log", self.ports[name])
            child.start()
            self.children.append(child)
        for child in self.children:
            self.say(f"waiting for {child.name}…")
            child.wait_ready(120, progress=self.say)
        for child in self.children:
            self.say(f"{child.name:9} ready: {child.url('/metrics')}  (log {child.log_path})")
        self.say(
            f"ingest API: http://127.0.0.1:{self.ports['ingest']}/v1/messages  "
            f"API tokens: {self.tokens_file} (`jeugdhub tokens add` writes there)"
        )
        if not self.args.no_simulator:
            self._simulator(base, bootstrap)

    def _feed(self, bootstrap: str) -> tuple[int, date, date, str] | None:
        """Seed, period and resume tag of the simulated feed; None when there is nothing to post.

        By default the feed of the last run continues where it stopped (its position is in
        ``simulator.json`` under the state dir) if it went to this same Kafka cluster and topic
        prefix: posting the same seed again would only make duplicates. ``--seed N`` (another)
        or ``--from-start`` begin a feed at its first line; a new Kafka begins a new feed.
        """
        try:
            cluster = fetch_cluster_info(bootstrap).cluster_id
        except Exception:  # kafka-python's errors are no OSError; the topics were just created,
            cluster = bootstrap  # so this is unlikely, and the address still tells clusters apart
        tag = f"{cluster}/{self.args.topic_prefix}"
        previous = read_position(self.position_file)
        seed = self.args.seed
        same = previous is not None and previous.feed.get("tag") == tag
        if self.args.from_start:
            self.position_file.unlink(missing_ok=True)
            self.feed_note = "posting the feed from its first line again (--from-start)"
        elif previous is not None and same and seed in (None, previous.feed.get("seed")):
            seed = int(previous.feed["seed"])
            if previous.complete:
                self.feed_note = (
                    f"the feed (seed {seed}, {previous.start}…{previous.end}) was posted in full before: "
                    "nothing new to post; --seed N posts another feed, --from-start this one again"
                )
                return None
            self.feed_note = (
                f"continuing the feed of the last run (seed {seed}, {previous.start}…{previous.end}) "
                f"after line {previous.lines:,}; --from-start posts it again, --seed N another feed"
            )
            return seed, previous.start, previous.end, tag
        today = datetime.now(UTC).astimezone().date()  # the machine's local date, as date.today()
        # the twelve months up to today, so the figures as of today move while it runs
        return (1 if seed is None else seed), today - timedelta(days=364), today, tag

    def _simulator(self, env: dict[str, str], bootstrap: str) -> None:
        feed = self._feed(bootstrap)
        if self.feed_note:
            self.say(self.feed_note)
        if feed is None:
            return
        seed, start, end, tag = feed
        argv = jeugdhub_argv(
            "simulate",
            "--post",
            f"http://127.0.0.1:{self.ports['ingest']}",
            "--register-tokens",
            str(self.tokens_file),
            # the simulated senders' tokens, kept so that the next run reuses them (no pile-up)
            "--tokens",
            str(self.state_dir / SIMULATOR_TOKENS_FILE),
            "--resume",
            str(self.position_file),
            "--resume-tag",
            tag,
            "--rate",
            str(self.args.rate),
            "--seed",
            str(seed),
            "--start",
            start.isoformat(),
            "--end",
            end.isoformat(),
        )
        if self.args.regions is not None:
            argv += ["--regions", str(self.args.regions.resolve())]
        child = _child("simulator", argv, env, self.logs / "simulator.log")
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
            phase = self._phase(rates)
            self.say(
                f"{time.monotonic() - started:6.0f} s  this run: accepted {rates.totals.get('accepted', 0):,.0f} "
                f"rejected {rates.totals.get('rejected', 0):,.0f} duplicates "
                f"{rates.totals.get('duplicates', 0):,.0f}  topic totals: NL occupancy "
                f"{nl.get('occupancy', '–')}, transfers 12m {nl.get('transfers_12m', '–')}"
                + (f"  | {phase}" if phase else "")
            )

    def _position(self) -> FeedPosition | None:
        return None if self.args.no_simulator else read_position(self.position_file)

    def _phase(self, rates: Rates) -> str | None:
        simulator = next((c for c in self.children if c.name == "simulator"), None)
        return feed_phase(
            self._position(),
            rates,
            simulator_running=simulator is not None and simulator.alive,
            note=self.feed_note,
        )

    def _frame(self, follower: SnapshotFollower, rates: Rates, started: float) -> Group:
        merged: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
        for child in self.children:
            answer = child.answer("/metrics")
            if answer is not None and answer[0] == 200:
                for name, samples in parse(answer[1].decode()).items():
                    merged.setdefault(name, {}).update(samples)
        rates.update(merged)
        snapshots = follower.latest()
        as_of = next(iter(snapshots.values()))["as_of"] if snapshots else None
        services = [(c.name, c.alive, c.url("/metrics"), self._recovery(c)) for c in self.children]
        return render(
            snapshots,
            rates,
            rejects_by_rule(merged),
            services,
            as_of,
            time.monotonic() - started,
            phase=self._phase(rates),
        )

    @staticmethod
    def _recovery(child: Child) -> str | None:
        """A worker's recovery progress while it restores state after a rebalance or restart."""
        if child.name not in ("validate", "aggregate") or not child.alive:
            return None
        ready, body = child.readiness()
        return None if ready else recovery_text(body) or "not ready"

    def _check_children(self) -> None:
        for child in self.children:
            if not child.alive and child.name != "simulator":
                raise RuntimeError(f"{child.name} stopped (exit {child.exit_code}); see {child.log_path}")

    def _stop(self) -> None:
        for child in reversed(self.children):
            with suppress(Exception):
                child.stop(20.0)
        if self.started_kafka:
            with suppress(Exception):
                named.stop(self.kafka_state_dir)
        if self.args.kafka_bootstrap:
            self.say(f"stopped. Logs: {self.logs}  Kafka: {self.args.kafka_bootstrap}, left running")
            return
        self.say(f"stopped. Logs: {self.logs}  Kafka data: {self.kafka_state_dir / 'data'}")
        if not self.started_kafka:
            self.say("Kafka was already running before and is left running (jeugdhub kafka stop).")
