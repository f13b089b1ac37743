"""The hub under faults: real service processes, a seeded feed posted over HTTP, and what was seen.

Shared by the three-broker scenarios (``test_cluster_faults.py``) and the soak (``bench/soak.py``):

- :class:`Hub` starts ingest, N validate and M aggregate workers as ``jeugdhub <command>``
  processes (own log, own web port, parent-death signal), and SIGKILLs / restarts any of them;
- :class:`ReadinessMonitor` polls every ``/readyz`` and records each not-ready episode (how long a
  service takes to be ready again after a kill, a rebalance or a broker loss);
- :class:`FeedPoster` posts a seeded simulated feed as the senders would (one request at a time per
  sender, ``429``/``503``/no answer retried with the same body) and records every message that got
  ``202``, in order: the *acknowledged* messages the checks are about;
- :class:`SnapshotWatcher` reads the aggregates topic throughout and records, per region, every
  snapshot whose position does not cover the one before it (figures going back in time);
- :func:`check_outcomes` / :func:`expected_figures`: exactly one retour status per acknowledged
  message, and ``jeugdhub replay``'s figures over exactly the acknowledged messages.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import secrets
import signal
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence, Sized
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import orjson
from kafka import KafkaConsumer, TopicPartition

from hubdev.localkafka.broker import free_port
from hubdev.processes import JEUGDHUB, Child
from services.aggregate.ordering import Position, position_of
from services.contracts.canonical import record_to_json
from services.contracts.codec import decode
from services.contracts.regions import RegionTable, load_region_table
from services.contracts.topics import AGGREGATES, RETOUR, VALIDATED, YOUTH_FACTS
from services.privacy.masking import public_identifier
from services.privacy.pseudonym import Keyring, ephemeral_keyring
from services.replay.offline import figures_document, judge_lines
from services.validate.dedup import DedupEntry
from services.validate.pipeline import RawInput, process
from tests.integration.hub_processes import read_all

VALIDATE_APP_ID = "jeugdhub-validate"
AGGREGATE_APP_ID = "jeugdhub-aggregate"

Key = tuple[str, str]
"""(sender code, message_id): the raw topic's key, the unit of "exactly one outcome"."""


# -- service processes ------------------------------------------------------------------------------
@dataclass
class Service(Child):
    """One ``jeugdhub <command>`` process of the harness: hubdev's :class:`Child` (own log, the
    parent-death signal, SIGKILL / SIGTERM), started again after a kill, with its memory."""

    starts: int = 0

    @classmethod
    def of(cls, name: str, command: str, env: dict[str, str], log_path: Path, port: int) -> Service:
        return cls(
            name,
            [JEUGDHUB, command],
            env,
            log_path,
            web_port=port,
            death_signal=signal.SIGTERM,  # a killed test leaves no worker behind
            tail_lines=40,
        )

    def start(self) -> Service:
        super().start()
        self.starts += 1
        return self

    @property
    def running_pid(self) -> int | None:
        return self.pid if self.alive else None

    def seconds_to_ready(self, timeout_s: float = 120.0) -> float:
        """Seconds until ``/readyz`` answers 200; raises with the log's tail if it never does."""
        started = time.monotonic()
        self.wait_ready(timeout_s)
        return time.monotonic() - started

    def rss_bytes(self) -> int | None:
        """Resident memory of the process (``VmRSS``), None when it does not run."""
        pid = self.running_pid
        if pid is None:
            return None
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
        except OSError:
            return None
        return None


def write_keyring(path: Path, key_id: str = "faults") -> Path:
    path.write_text(json.dumps({"active": key_id, "keys": {key_id: secrets.token_hex(32)}}))
    return path


class Hub:
    """Ingest, ``validators`` validate and ``aggregators`` aggregate workers on one topic prefix."""

    def __init__(
        self,
        bootstrap: str,
        prefix: str,
        workdir: Path,
        *,
        as_of: date,
        tokens_file: Path,
        validators: int = 2,
        aggregators: int = 2,
        replication_factor: int = 1,
        min_insync_replicas: int | None = None,
        extra_env: Mapping[str, str] | None = None,
    ) -> None:
        self.bootstrap = bootstrap
        self.prefix = prefix
        self.workdir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        base = {k: v for k, v in os.environ.items() if not k.startswith("JEUGDHUB_")}
        base.update(
            {
                "JEUGDHUB_KAFKA_BOOTSTRAP": bootstrap,
                "JEUGDHUB_TOPIC_PREFIX": prefix,
                "JEUGDHUB_REPLICATION_FACTOR": str(replication_factor),
                "JEUGDHUB_KEYRING_FILE": str(write_keyring(workdir / "keyring.json")),
                "JEUGDHUB_AS_OF": as_of.isoformat(),
                "JEUGDHUB_SESSION_TIMEOUT_S": "6",
                "JEUGDHUB_REBALANCE_TIMEOUT_S": "6",
                "JEUGDHUB_BATCH_SIZE": "100",
                "JEUGDHUB_LOG_LEVEL": "INFO",
                "JEUGDHUB_INGEST_TOKENS_FILE": str(tokens_file),
                # app ids: ingest puts JEUGDHUB_TOPIC_PREFIX in front, as the workers do (a prefix
                # here too named groups nobody uses, and ingest refused every sender after 300 s)
                "JEUGDHUB_INGEST_VALIDATE_GROUP": VALIDATE_APP_ID,
                "JEUGDHUB_INGEST_AGGREGATE_GROUP": AGGREGATE_APP_ID,
            }
        )
        if min_insync_replicas is not None:
            base["JEUGDHUB_MIN_INSYNC_REPLICAS"] = str(min_insync_replicas)
        base.update(extra_env or {})
        self.ingest_port = free_port()
        self.services: dict[str, Service] = {}
        self._add("ingest", "ingest", base, {"JEUGDHUB_INGEST_PORT": str(self.ingest_port)}, self.ingest_port)
        for kind, count in (("validate", validators), ("aggregate", aggregators)):
            for i in range(1, count + 1):
                port = free_port()
                own = {"JEUGDHUB_WEB_PORT": str(port), "JEUGDHUB_DATA_DIR": str(workdir / f"{kind}-{i}-data")}
                self._add(f"{kind}-{i}", kind, base, own, port)

    def _add(
        self, name: str, command: str, base: Mapping[str, str], own: Mapping[str, str], port: int
    ) -> None:
        env = {**base, **own}
        self.services[name] = Service.of(name, command, env, self.workdir / f"{name}.log", port)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.ingest_port}"

    def service(self, name: str) -> Service:
        return self.services[name]

    def start(self, timeout_s: float = 180.0) -> dict[str, float]:
        """Start the workers, then ingest; returns each one's seconds to ready."""
        order = [n for n in self.services if n != "ingest"] + ["ingest"]
        for name in order:
            self.services[name].start()
        return {name: round(self.services[name].seconds_to_ready(timeout_s), 2) for name in order}

    def stop(self) -> None:
        for service in reversed(list(self.services.values())):
            with contextlib.suppress(Exception):
                service.stop()

    def rss(self) -> dict[str, int | None]:
        return {name: service.rss_bytes() for name, service in self.services.items()}


# -- readiness ---------------------------------------------------------------------------------------
@dataclass
class Episode:
    service: str
    down_at: float
    up_at: float | None = None
    cause: str = ""
    restarted_at: float | None = None

    @property
    def seconds(self) -> float | None:
        return None if self.up_at is None else self.up_at - self.down_at


class ReadinessMonitor:
    """Polls every service's ``/readyz`` (every 0.25 s) and keeps its not-ready episodes.

    A kill is announced with :meth:`down` (the episode starts at the kill, not at the next poll).
    """

    def __init__(self, hub: Hub, interval_s: float = 0.25) -> None:
        self.hub = hub
        self.interval_s = interval_s
        self.episodes: list[Episode] = []
        self._open: dict[str, Episode] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="readiness", daemon=True)

    def start(self) -> ReadinessMonitor:
        self._thread.start()
        return self

    def down(self, name: str, cause: str) -> None:
        with self._lock:
            if name not in self._open:
                self._open[name] = Episode(name, time.monotonic(), cause=cause)
                self.episodes.append(self._open[name])
            else:
                self._open[name].cause += f"; {cause}"

    def restarted(self, name: str) -> None:
        """The killed service's process was started again (ready-again is also counted from here)."""
        with self._lock:
            episode = self._open.get(name)
            if episode is not None and episode.restarted_at is None:
                episode.restarted_at = time.monotonic()

    def _run(self) -> None:
        while not self._stop.is_set():
            for name, service in self.hub.services.items():
                ok = service.ready()
                now = time.monotonic()
                with self._lock:
                    if ok and name in self._open:
                        self._open.pop(name).up_at = now
                    elif not ok and name not in self._open:
                        self._open[name] = Episode(name, now, cause="not ready")
                        self.episodes.append(self._open[name])
            self._stop.wait(self.interval_s)

    def all_ready(self) -> bool:
        with self._lock:
            return not self._open

    def wait_all_ready(self, timeout_s: float = 120.0) -> bool:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.all_ready():
                return True
            time.sleep(0.25)
        return False

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)

    def summary(self) -> list[dict[str, Any]]:
        with self._lock:
            return [
                {
                    "service": e.service,
                    "cause": e.cause,
                    "seconds": None if e.seconds is None else round(e.seconds, 2),
                    "start_to_ready_s": None
                    if e.up_at is None or e.restarted_at is None
                    else round(e.up_at - e.restarted_at, 2),
                }
                for e in self.episodes
            ]


# -- the feed ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class FeedLine:
    payload: bytes
    sender: tuple[str, str]  # (kind, code)


def simulated_feed(
    seed: int, scale: float, year: int, regions: RegionTable
) -> tuple[list[FeedLine], list[dict[str, str]]]:
    """A seeded feed (``jeugdhub simulate``'s generator) and every sender in its world."""
    from hubdev.simulate.feed import Simulation, SimulationConfig

    config = SimulationConfig(
        start=date(year, 1, 1), end=date(year, 12, 31), seed=seed, scale=scale, other_care_scale=0.05
    )
    simulation = Simulation(config, regions)
    lines = [
        FeedLine(line.payload, (line.sender["kind"], line.sender["code"])) for line in simulation.lines()
    ]
    senders = [dict(p.sender) for p in simulation.world.providers]
    senders += [dict(s) for s in simulation.world.municipality_senders.values()]
    return lines, senders


def endless_feed(
    seed: int, scale: float, first_year: int, regions: RegionTable
) -> tuple[Iterator[FeedLine], list[dict[str, str]]]:
    """The feeds of ``ENDLESS_ROUNDS`` consecutive seeds, one after the other: lines for a long soak
    without repeating a message id. Every round's senders are collected up front (their tokens must
    be registered before ingest starts)."""
    from hubdev.simulate.feed import Simulation, SimulationConfig

    rounds = [
        Simulation(
            SimulationConfig(
                start=date(first_year, 1, 1),
                end=date(first_year, 12, 31),
                seed=seed + i,
                scale=scale,
                other_care_scale=0.05,
            ),
            regions,
        )
        for i in range(ENDLESS_ROUNDS)
    ]
    senders: dict[tuple[str, str], dict[str, str]] = {}
    for simulation in rounds:
        for sender in [p.sender for p in simulation.world.providers] + list(
            simulation.world.municipality_senders.values()
        ):
            senders[(sender["kind"], sender["code"])] = dict(sender)

    def lines() -> Iterator[FeedLine]:
        for simulation in rounds:
            for line in simulation.lines():
                yield FeedLine(line.payload, (line.sender["kind"], line.sender["code"]))

    return lines(), list(senders.values())


ENDLESS_ROUNDS = 40


def register_tokens(senders: Iterable[Mapping[str, str]], tokens_file: Path) -> dict[tuple[str, str], str]:
    """A token per sender, its hash in ingest's tokens file (read by ingest at start)."""
    from hubdev.simulate.output import issue_tokens

    made = issue_tokens(senders, tokens_file, None)
    out: dict[tuple[str, str], str] = {}
    for key, token in made.items():
        kind, code = key.split(":", 1)
        out[(kind, code)] = token
    return out


@dataclass(frozen=True)
class Ack:
    key: Key
    payload: bytes
    at: float


RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


@dataclass
class PostStats:
    requests: int = 0
    acknowledged: int = 0
    refused: Counter[str] = field(default_factory=Counter)
    retried: Counter[str] = field(default_factory=Counter)
    unanswered: int = 0
    """Attempts that got no answer (connection lost, timeout): their messages may be in Kafka."""


class FeedPoster:
    """Posts a feed like a well-behaved sender, in a thread of its own, and records every 202.

    Per sender one request at a time in feed order, so a message's copies reach the raw topic in
    the order replay sees them; a request without an answer, a 429 or a 5xx is retried with the
    same body until ``give_up_s``. ``acks`` is in acknowledgement order.
    """

    def __init__(
        self,
        url: str,
        tokens: Mapping[tuple[str, str], str],
        lines: Iterable[FeedLine],
        *,
        rate: float,
        batch_size: int = 50,
        concurrency: int = 16,
        give_up_s: float = 180.0,
        total: int | None = None,
        keep_acks: bool = True,
        on_ack: Callable[[Key, float], None] | None = None,
    ) -> None:
        self.url = url.rstrip("/") + "/v1/messages"
        self.tokens = dict(tokens)
        self.lines = lines
        self.total = total if total is not None else (len(lines) if isinstance(lines, Sized) else None)
        self.keep_acks = keep_acks
        """False for long runs (the soak): only ``on_ack`` and the counters see the messages."""
        self.on_ack = on_ack
        self.rate = rate
        self.batch_size = batch_size
        self.concurrency = concurrency
        self.give_up_s = give_up_s
        self.acks: list[Ack] = []
        self.resent: set[Key] = set()
        """Keys of a request that got no answer and was sent again: a second copy may exist."""
        self.stats = PostStats()
        self.error: BaseException | None = None
        self.sent = 0
        self._thread = threading.Thread(target=self._main, name="poster", daemon=True)

    def start(self) -> FeedPoster:
        self._thread.start()
        return self

    def join(self, timeout_s: float | None = None) -> None:
        self._thread.join(timeout_s)
        if self._thread.is_alive():
            raise TimeoutError("the feed poster did not finish in time")
        if self.error is not None:
            raise RuntimeError(f"posting failed: {self.error!r}") from self.error

    @property
    def done(self) -> bool:
        return not self._thread.is_alive()

    def progress(self) -> float:
        return self.sent / self.total if self.total else 0.0

    def _main(self) -> None:
        try:
            asyncio.run(self._run())
        except BaseException as exc:  # reported by join()
            self.error = exc

    async def _run(self) -> None:
        """Hand the lines out at the rate to one queue per sender; each sender posts what it has
        (up to a batch) one request at a time, without waiting for the other senders."""
        import aiohttp

        semaphore = asyncio.Semaphore(self.concurrency)
        queues: dict[tuple[str, str], asyncio.Queue[bytes | None]] = {}
        tasks: list[asyncio.Task[None]] = []
        started = time.monotonic()
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=15)) as session:
            for index, line in enumerate(self.lines, start=1):
                queue = queues.get(line.sender)
                if queue is None:
                    queue = queues[line.sender] = asyncio.Queue()
                    tasks.append(asyncio.create_task(self._sender(session, semaphore, line.sender, queue)))
                queue.put_nowait(line.payload)
                self.sent = index
                ahead = index / self.rate - (time.monotonic() - started)
                if ahead > 0.01:
                    await asyncio.sleep(ahead)
                    for task in tasks:
                        error = task.exception() if task.done() else None
                        if error is not None:
                            raise error
            for queue in queues.values():
                queue.put_nowait(None)
            await asyncio.gather(*tasks)

    async def _sender(
        self,
        session: Any,
        semaphore: asyncio.Semaphore,
        sender: tuple[str, str],
        queue: asyncio.Queue[bytes | None],
    ) -> None:
        finished = False
        while not finished:
            payloads = [await queue.get()]
            while not queue.empty() and len(payloads) < self.batch_size:
                payloads.append(queue.get_nowait())
            if None in payloads:
                finished = True
                payloads = payloads[: payloads.index(None)]
            batch: list[bytes] = []
            for payload in payloads:
                assert payload is not None
                if payload.startswith(b"{") and payload.endswith(b"}"):
                    batch.append(payload)
                    continue
                # not a JSON object: ingest refuses the whole body, so it goes alone
                if batch:
                    await self._post(session, semaphore, sender, batch)
                    batch = []
                await self._post(session, semaphore, sender, [payload], single=True)
            if batch:
                await self._post(session, semaphore, sender, batch)

    async def _post(
        self,
        session: Any,
        semaphore: asyncio.Semaphore,
        sender: tuple[str, str],
        payloads: list[bytes],
        single: bool = False,
    ) -> None:
        import aiohttp

        body = payloads[0] if single else b"[" + b",".join(payloads) + b"]"
        headers = {"Authorization": f"Bearer {self.tokens[sender]}", "Content-Type": "application/json"}
        deadline = time.monotonic() + self.give_up_s
        unanswered = False
        while True:
            try:
                async with semaphore, session.post(self.url, data=body, headers=headers) as response:
                    status = response.status
                    retry_after = response.headers.get("Retry-After")
                    await response.read()
            except (TimeoutError, aiohttp.ClientError, OSError):
                self.stats.unanswered += 1
                unanswered = True
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.5)
                continue
            self.stats.requests += 1
            if status == 202:
                now = time.monotonic()
                for payload in payloads:
                    key = (sender[1], _message_id(payload))
                    if self.keep_acks:
                        self.acks.append(Ack(key, payload, now))
                    if self.on_ack is not None:
                        self.on_ack(key, now)
                    if unanswered:
                        self.resent.add(key)
                self.stats.acknowledged += len(payloads)
                return
            if status in RETRY_STATUSES and time.monotonic() < deadline:
                self.stats.retried[str(status)] += 1
                await asyncio.sleep(_retry_after(retry_after))
                continue
            self.stats.refused[str(status)] += len(payloads)
            return


def _message_id(payload: bytes) -> str:
    """The message id as the retour repeats it: as sent when it is a well-formed UUID, else masked
    (``public_identifier``: a message id that is not a UUID might hold a BSN)."""
    try:
        message = orjson.loads(payload)
    except orjson.JSONDecodeError:
        return ""
    value = message.get("message_id") if isinstance(message, dict) else None
    return public_identifier(value) if isinstance(value, str) else ""


def _retry_after(value: str | None) -> float:
    try:
        return max(0.1, min(5.0, float(value))) if value else 0.5
    except ValueError:
        return 0.5


# -- what the hub wrote --------------------------------------------------------------------------------
def read_topic(bootstrap: str, topic: str, timeout_s: float = 30.0) -> list[Any]:
    """Every committed record of *topic* up to its current end."""
    return read_all(bootstrap, topic, timeout_s=timeout_s)


def retour_statuses(bootstrap: str, prefix: str) -> dict[Key, Counter[str]]:
    """Every retour record, per (sender code, message_id): how often each status was written."""
    out: dict[Key, Counter[str]] = defaultdict(Counter)
    for record in read_topic(bootstrap, RETOUR.full_name(prefix)):
        retour = decode("Retour", record.value)
        sender = retour.get("sender") or {}
        out[(str(sender.get("code")), str(retour.get("message_id")))][str(retour["status"])] += 1
    return out


def validated_keys(bootstrap: str, prefix: str) -> Counter[Key]:
    """How many validated records each (sender code, message_id) has (at-least-once: >= 1)."""
    out: Counter[Key] = Counter()
    for record in read_topic(bootstrap, VALIDATED.full_name(prefix)):
        message = decode("ValidatedMessage", record.value)
        out[(str(message["sender"]["code"]), str(message["message_id"]))] += 1
    return out


def published_figures(bootstrap: str, prefix: str) -> dict[str, dict[str, Any]]:
    """The latest snapshot per region on the aggregates topic, without as_of/computed_at."""
    latest: dict[str, dict[str, Any]] = {}
    for record in read_topic(bootstrap, AGGREGATES.full_name(prefix)):
        latest[record.key.decode()] = figures_of(record.value)
    return latest


def figures_of(value: bytes) -> dict[str, Any]:
    snapshot = record_to_json("RegionSnapshot", decode("RegionSnapshot", value))
    return {k: v for k, v in snapshot.items() if k not in ("as_of", "computed_at")}


# -- what it should have written --------------------------------------------------------------------
@dataclass
class Expected:
    statuses: dict[Key, list[str]]
    """Per key, replay's status for each acknowledged copy, in order."""
    figures: dict[str, dict[str, Any]]
    counts: dict[str, int]


def expected_outcomes(acks: Sequence[Ack], as_of: date, regions: RegionTable | None = None) -> Expected:
    """``jeugdhub replay`` over exactly the acknowledged messages, in acknowledgement order."""
    table = regions or load_region_table(None)
    keyring: Keyring = ephemeral_keyring()
    payloads = [ack.payload for ack in acks]
    seen: dict[str, DedupEntry] = {}
    statuses: dict[Key, list[str]] = defaultdict(list)
    for line_no, ack in enumerate(acks, start=1):
        outcome = process(RawInput(ack.payload, "json", None, None, None, line_no), seen.get, keyring, table)
        if outcome.dedup_key is not None and outcome.dedup_entry is not None:
            seen[outcome.dedup_key] = outcome.dedup_entry
        statuses[ack.key].append(outcome.status)
    result = judge_lines(payloads, keyring, table)
    document = figures_document(result, as_of, table)
    figures = {row["region"]: row for row in document["regions"]}
    return Expected(
        dict(statuses),
        figures,
        {"accepted": result.accepted, "rejected": result.rejected, "duplicate": result.duplicates},
    )


@dataclass
class OutcomeReport:
    acknowledged_messages: int
    acknowledged_keys: int
    answered_keys: int
    status_counts: dict[str, int]
    lost: list[Key]
    unexpected: list[Key]
    wrong_status: list[tuple[Key, list[str], list[str]]]
    validated_missing: list[Key]
    duplicate_records: int
    """Retour records beyond one per acknowledged copy (at-least-once re-deliveries; consumers de-duplicate)."""

    @property
    def ok(self) -> bool:
        return not (self.lost or self.unexpected or self.wrong_status or self.validated_missing)

    def to_dict(self) -> dict[str, Any]:
        return {
            "acknowledged_messages": self.acknowledged_messages,
            "acknowledged_keys": self.acknowledged_keys,
            "answered_keys": self.answered_keys,
            "status_counts": self.status_counts,
            "lost": len(self.lost),
            "unexpected": len(self.unexpected),
            "wrong_status": len(self.wrong_status),
            "validated_missing": len(self.validated_missing),
            "duplicate_records": self.duplicate_records,
            "examples": {
                "lost": [list(k) for k in self.lost[:5]],
                "wrong_status": [[list(k), exp, got] for k, exp, got in self.wrong_status[:5]],
                "validated_missing": [list(k) for k in self.validated_missing[:5]],
            },
        }


def check_outcomes(
    expected: Expected,
    seen: Mapping[Key, Counter[str]],
    validated: Counter[Key],
    resent: set[Key],
    acks: Sequence[Ack],
) -> OutcomeReport:
    """Exactly one retour status per acknowledged message, de-duplicated by (sender, message_id).

    A key's set of statuses on the retour topic must be replay's (a key sent twice, e.g. an exact
    re-send in the feed, has its first status and ``duplicate``); a request that got no answer and
    was sent again may add one ``duplicate``. Every key replay accepts has a validated record.
    """
    lost = [key for key in expected.statuses if not seen.get(key)]
    unexpected = [key for key in seen if key not in expected.statuses]
    wrong: list[tuple[Key, list[str], list[str]]] = []
    extra = 0
    per_key_acks = Counter(ack.key for ack in acks)
    for key, want in expected.statuses.items():
        got = seen.get(key)
        if not got:
            continue
        allowed = set(want) | ({"duplicate"} if key in resent else set())
        if not set(want) <= set(got) or not set(got) <= allowed:
            wrong.append((key, sorted(set(want)), sorted(got)))
        extra += max(0, sum(got.values()) - per_key_acks[key])
    missing = [
        key for key, want in expected.statuses.items() if "accepted" in want and not validated.get(key)
    ]
    counts: Counter[str] = Counter()
    for key in seen:
        if key in expected.statuses:
            counts[expected.statuses[key][0]] += 1
    return OutcomeReport(
        acknowledged_messages=len(acks),
        acknowledged_keys=len(expected.statuses),
        answered_keys=sum(1 for key in expected.statuses if seen.get(key)),
        status_counts=dict(counts),
        lost=lost,
        unexpected=unexpected,
        wrong_status=wrong,
        validated_missing=missing,
        duplicate_records=extra,
    )


def figure_differences(
    expected: Mapping[str, Mapping[str, Any]], published: Mapping[str, Mapping[str, Any]]
) -> dict[str, Any]:
    """Region -> {field: (expected, published)} for every figure that differs (empty: equal)."""
    out: dict[str, Any] = {}
    for region in sorted(set(expected) | set(published)):
        want, got = expected.get(region), published.get(region)
        if want is None or got is None:
            out[region] = {"expected": want is not None, "published": got is not None}
            continue
        diff = {
            k: (want.get(k), got.get(k)) for k in sorted(set(want) | set(got)) if want.get(k) != got.get(k)
        }
        if diff:
            out[region] = diff
    return out


# -- figures going back in time ------------------------------------------------------------------------
@dataclass
class Regression:
    region: str
    offset: int
    before: Position | None
    after: Position | None

    def to_dict(self) -> dict[str, Any]:
        def show(p: Position | None) -> Any:
            return None if p is None else {"facts": list(p.facts), "accepted": p.accepted}

        return {
            "region": self.region,
            "offset": self.offset,
            "before": show(self.before),
            "after": show(self.after),
        }


class SnapshotWatcher:
    """Reads the aggregates topic (``read_committed``) in a thread and checks, per region, that
    every snapshot's position covers the previous one's (``services/aggregate/ordering.py``).

    With ``group`` it is a consumer group member that commits, and :meth:`disconnect` /
    :meth:`reconnect` close it and join again (it resumes from its committed offsets).
    """

    def __init__(self, bootstrap: str, prefix: str, group: str | None = None) -> None:
        self.bootstrap = bootstrap
        self.topic = AGGREGATES.full_name(prefix)
        self.group = group
        self.records = 0
        self.regressions: list[Regression] = []
        self.without_position = 0
        self.latest: dict[str, dict[str, Any]] = {}
        self._last: dict[str, Position] = {}
        self._accepted: dict[str, list[int]] = defaultdict(list)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.error: BaseException | None = None
        self.reconnects = 0

    def start(self) -> SnapshotWatcher:
        self._stop.clear()
        self._thread = threading.Thread(target=self._main, name="snapshots", daemon=True)
        self._thread.start()
        return self

    def _consumer(self) -> KafkaConsumer:
        consumer = KafkaConsumer(
            bootstrap_servers=self.bootstrap,
            group_id=self.group,
            enable_auto_commit=self.group is not None,
            auto_commit_interval_ms=500,
            auto_offset_reset="earliest",
            isolation_level="read_committed",
        )
        if self.group is None:
            deadline = time.monotonic() + 30
            partitions: set[int] = set()
            while not partitions and time.monotonic() < deadline:
                partitions = consumer.partitions_for_topic(self.topic) or set()
                time.sleep(0.2)
            tps = [TopicPartition(self.topic, p) for p in sorted(partitions)]
            consumer.assign(tps)
            consumer.seek_to_beginning(*tps)
        else:
            consumer.subscribe([self.topic])
        return consumer

    def _main(self) -> None:
        try:
            consumer = self._consumer()
            try:
                while not self._stop.is_set():
                    for batch in consumer.poll(timeout_ms=300).values():
                        for record in batch:
                            self._see(record)
            finally:
                consumer.close()  # commits the group's offsets (auto-commit) on the way out
        except BaseException as exc:  # reported by stop()
            self.error = exc

    def _see(self, record: Any) -> None:
        self.records += 1
        region = record.key.decode()
        position = position_of(record.headers)
        self.latest[region] = figures_of(record.value)
        if position is None:
            self.without_position += 1
            self.regressions.append(Regression(region, record.offset, self._last.get(region), None))
            return
        previous = self._last.get(region)
        if previous is not None and not position.covers(previous):
            self.regressions.append(Regression(region, record.offset, previous, position))
        self._last[region] = position if previous is None else previous.join(position)
        self._accepted[region].append(position.accepted)

    def accepted_went_down(self) -> dict[str, list[int]]:
        """Per region, the accepted-message counts seen, where they ever decreased."""
        return {r: seq for r, seq in self._accepted.items() if any(b < a for a, b in itertools.pairwise(seq))}

    def disconnect(self) -> None:
        self.stop()

    def reconnect(self) -> None:
        """Join again once the previous member has left (its ``close`` may outlast stop's 15 s under
        load; a second thread would then race the first for the group's partitions)."""
        if self._thread is not None:
            self._thread.join(60)
        self.reconnects += 1
        self.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(15)
        if self.error is not None:
            raise RuntimeError(f"snapshot watcher failed: {self.error!r}") from self.error


def group_lag(bootstrap: str, group: str, topic: str) -> int | None:
    """Offsets between the group's committed positions and the topic's end (None: no commits yet).

    A consumer carrying the group id only asks for the commits (OffsetFetch); it never joins."""
    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=group,
        enable_auto_commit=False,
        isolation_level="read_committed",
    )
    try:
        tps = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
        if not tps:
            return None
        committed = {tp: consumer.committed(tp) for tp in tps}
        if all(offset is None for offset in committed.values()):
            return None
        ends = consumer.end_offsets(tps)
        return int(sum(max(0, ends[tp] - (committed[tp] or 0)) for tp in tps))
    finally:
        consumer.close()


def committed_offsets(bootstrap: str, group: str, topic: str) -> dict[int, int | None]:
    """The group's committed offset per partition of *topic* (OffsetFetch only; never joins)."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
    try:
        tps = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
        return {tp.partition: consumer.committed(tp) for tp in tps}
    finally:
        consumer.close()


def aggregate_diagnosis(bootstrap: str, prefix: str) -> dict[str, Any]:
    """Where the aggregate stands, per validated partition, when its figures differ from replay's.

    Per partition: the topic's end, the aggregate group's commit, the youths whose messages are
    in it, and those whose latest youth-facts record counts fewer distinct messages than the
    validated topic holds for them (facts behind, or derived from an incomplete table)."""
    validated = read_topic(bootstrap, VALIDATED.full_name(prefix))
    committed = committed_offsets(bootstrap, f"{prefix}{AGGREGATE_APP_ID}", VALIDATED.full_name(prefix))
    messages: dict[str, set[Key]] = defaultdict(set)
    partition_of: dict[str, int] = {}
    ends: dict[int, int] = defaultdict(int)
    for record in validated:
        message = decode("ValidatedMessage", record.value)
        youth = str(message["youth_pseudonym"])
        messages[youth].add((str(message["sender"]["code"]), str(message["message_id"])))
        partition_of[youth] = record.partition
        ends[record.partition] = max(ends[record.partition], record.offset + 1)
    applied: dict[str, int] = {}
    for record in read_topic(bootstrap, YOUTH_FACTS.full_name(prefix)):
        if record.value is not None:
            applied[record.key.decode()] = int(decode("YouthFactsRecord", record.value)["messages_applied"])
    out: dict[str, Any] = {}
    for partition in sorted(set(committed) | set(ends)):
        youths = [y for y, p in partition_of.items() if p == partition]
        behind = [y for y in youths if applied.get(y, 0) < len(messages[y])]
        out[str(partition)] = {
            "last_offset_plus_one": ends.get(partition, 0),
            "aggregate_committed": committed.get(partition),
            "youths": len(youths),
            "youths_with_facts_behind": len(behind),
            "messages_missing_from_facts": sum(len(messages[y]) - applied.get(y, 0) for y in behind),
        }
    return out


@contextlib.contextmanager
def running_hub(hub: Hub) -> Iterator[Hub]:
    try:
        yield hub
    finally:
        hub.stop()
