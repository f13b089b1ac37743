"""The simulated feed as an iterator of lines in delivery order: pure generation, no I/O.

:class:`Simulation` plans the closed-care careers for the whole period (they are calibrated per
year), then hands the feed to :data:`FEED_SHARDS` independent shards. Each shard gets every
``FEED_SHARDS``-th closed career, draws its share of the other careers day by day, renders them
into messages with its own random streams and id numbers (:class:`~hubdev.simulate.world.Numbering`)
and releases the messages in order of delivery. A message is never delivered more than a day
before the first day of its career, so once a shard's careers have reached day *d*, its deliveries
before *d − 1* are final; memory holds only messages still to be delivered.

The shards' days are merged by (delivery second, shard), so the feed is the same whether the
shards run one after another in this process or side by side in ``workers`` forked processes:
the number of processes changes the speed, never a byte of the output.

The feed starts at the *origin*, ``--history-days`` before ``--start``: what happened before the
origin and still matters (stays running at the origin, their episodes and court measures) comes in
as an initial load at the origin, like a provider loading its open files when it connects.
"""

from __future__ import annotations

import contextlib
import gc
import heapq
import multiprocessing
import pickle
import queue
import random
import signal
import sys
import threading
from collections.abc import Generator, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from multiprocessing.connection import Connection
from operator import itemgetter
from typing import NamedTuple

from hubdev.simulate.plan import (
    CLOSED_HISTORY_YEARS,
    OTHER_HISTORY_YEARS,
    Calendar,
    Career,
    Planner,
    YearCalibration,
    other_careers,
    plan_closed,
)
from hubdev.simulate.render import Delivered, FeedStats, Outbox, Renderer
from hubdev.simulate.world import DEFAULT_PROVIDERS, Numbering, World, WorldError, build_world
from services.contracts.regions import RegionTable

FEED_SHARDS = 8
"""Part of what a seed means (changing it changes the feed); the most processes one feed can use."""
_CHUNK_LINES = 4_096
"""Lines a worker process gathers before handing them to the parent (one pickle per chunk)."""
_QUEUED_CHUNKS = 32
"""Chunks the parent takes in ahead of its merge, per worker (about 1.7 MB each). With only the
pipe as buffer a worker waited for the others' days 15 % of its time while a core stood idle."""

_delivery = itemgetter(0)
_day_and_shard = itemgetter(0, 1)
ShardDay = tuple[int, int, list[Delivered]]
"""(day, shard, that shard's lines delivered on that day in delivery order)."""


class Line(NamedTuple):
    """One output line (without its newline) and the sender it comes from (the token to post it with)."""

    payload: bytes
    sender: Mapping[str, str]


@dataclass(frozen=True, slots=True)
class SimulationConfig:
    """Everything that determines a feed: the same config gives byte-identical output."""

    start: date
    end: date
    seed: int = 1
    history_days: int = 365
    scale: float = 1.0
    other_care_scale: float = 1.0
    invalid_share: float = 0.02
    duplicate_share: float = 0.015
    providers: int = DEFAULT_PROVIDERS

    @property
    def origin(self) -> date:
        return self.start - timedelta(days=self.history_days)

    def check(self) -> None:
        if self.end < self.start:
            raise ValueError("--end lies before --start")
        if self.history_days < 0:
            raise ValueError("--history-days must not be negative")
        if self.scale <= 0 or self.other_care_scale < 0:
            raise ValueError("--scale must be positive and --other-care-scale not negative")
        if not 0 <= self.invalid_share < 1 or not 0 <= self.duplicate_share < 1:
            raise ValueError("--invalid-share and --duplicate-share must lie in [0, 1)")
        if self.origin.year < 1950 or self.end.year > 2200:
            raise ValueError("the period must lie between 1950 and 2200")


class Simulation:
    """One feed: call :meth:`batches` (or :meth:`lines`) once; :attr:`stats` is complete after it.

    ``workers`` > 1 makes the shards in that many forked processes (at most :data:`FEED_SHARDS`);
    the output is the same for any number. Use it only from a single-threaded program (forking a
    process with running threads is unsafe), e.g. when writing to a file.
    """

    def __init__(self, config: SimulationConfig, regions: RegionTable, workers: int = 1) -> None:
        config.check()
        if workers < 1:
            raise ValueError("--workers must be at least 1")
        self.config = config
        self.regions = regions
        self.workers = min(workers, FEED_SHARDS)
        self.world: World = build_world(random.Random(f"{config.seed}/world"), config.providers, regions)
        history = max(CLOSED_HISTORY_YEARS, *OTHER_HISTORY_YEARS.values()) + 1
        self.calendar = Calendar(config.origin.year - history - 2, config.end.year + 6)
        self.origin = config.origin.toordinal()
        self.last_day = config.end.toordinal()
        self.calibration: list[YearCalibration] = []
        self._stats: dict[int, FeedStats] = {}
        self._local: list[_Shard] = []

    @property
    def stats(self) -> FeedStats:
        """The counts so far: live for shards made in this process, at the end from workers."""
        parts = {**self._stats, **{shard.index: shard.stats for shard in self._local}}
        return FeedStats.total(parts[k] for k in sorted(parts))

    def _closed(self) -> list[Career]:
        """The calibrated closed-care careers (lane 0 of the id numbers is theirs)."""
        config = self.config
        planner = Planner(
            random.Random(f"{config.seed}/closed"), self.world, self.calendar, Numbering(0, FEED_SHARDS + 1)
        )
        closed, self.calibration = plan_closed(planner, self.origin, config.end.year, config.scale)
        return closed

    def _shard(self, index: int, closed: list[Career]) -> _Shard:
        return _Shard(self, index, closed[index::FEED_SHARDS])

    def careers(self) -> Iterator[Career]:
        """Every career of the feed (shard by shard), as the shards will render them."""
        closed = self._closed()
        for index in range(FEED_SHARDS):
            yield from self._shard(index, closed).careers()

    def batches(self) -> Generator[list[Delivered], None, None]:
        """The feed, a day of deliveries at a time, in delivery order: (second, line, sender)."""
        closed = self._closed()
        if self.workers == 1:
            self._local = [self._shard(index, closed) for index in range(FEED_SHARDS)]
            yield from _merge_days(shard.days() for shard in self._local)
            return
        workers = _Workers(self, closed)
        try:
            yield from _merge_days(workers.streams())
            self._stats = workers.stats
        finally:
            workers.stop()

    def lines(self) -> Iterator[Line]:
        for batch in self.batches():
            for _, payload, sender in batch:
                yield Line(payload[:-1], sender)


class _Shard:
    """One independent part of the feed: its careers, random streams, ids and delivery buckets."""

    def __init__(self, simulation: Simulation, index: int, closed: list[Career]) -> None:
        self.simulation = simulation
        self.index = index
        self.closed = closed
        config = simulation.config
        self.numbering = Numbering(index + 1, FEED_SHARDS + 1)
        self.outbox = Outbox(simulation.origin - 2)
        self.renderer = Renderer(
            seed=config.seed,
            world=simulation.world,
            calendar=simulation.calendar,
            origin=simulation.origin,
            last_day=simulation.last_day,
            invalid_share=config.invalid_share,
            duplicate_share=config.duplicate_share,
            outbox=self.outbox,
            numbering=self.numbering,
            shard=index,
            shards=FEED_SHARDS,
        )

    @property
    def stats(self) -> FeedStats:
        return self.renderer.stats

    def careers(self) -> Iterator[Career]:
        """This shard's careers, ordered by the first day each appears in the feed."""
        simulation, config = self.simulation, self.simulation.config
        others = other_careers(
            Planner(
                random.Random(f"{config.seed}/other/{self.index}"),
                simulation.world,
                simulation.calendar,
                self.numbering,
            ),
            simulation.origin,
            simulation.last_day,
            config.scale * config.other_care_scale / FEED_SHARDS,
        )
        return _by_first_day(self.closed, others)

    def days(self) -> Iterator[ShardDay]:
        """This shard's lines, a day at a time, in delivery order."""
        renderer = self.renderer
        index = self.index
        outbox = self.outbox
        for career in self.careers():
            while outbox.released_until < career.first_day - 2:
                day = outbox.released_until + 1
                lines = outbox.release(day)
                if lines:
                    yield day, index, lines
            renderer.render(career)
        for day in outbox.pending_days():
            lines = outbox.release(day)
            if lines:
                yield day, index, lines


def _by_first_day(closed: list[Career], others: Iterator[Career]) -> Iterator[Career]:
    """Both (each ordered by first day) as one, closed careers first on the same day."""
    i, n = 0, len(closed)
    for career in others:
        while i < n and closed[i].first_day <= career.first_day:
            yield closed[i]
            i += 1
        yield career
    while i < n:
        yield closed[i]
        i += 1


def _merge_days(streams: Iterable[Iterator[ShardDay]]) -> Iterator[list[Delivered]]:
    """Every shard's days as one feed: per day, by delivery second, then shard (a stable sort)."""
    current: int | None = None
    lines: list[Delivered] = []
    parts = 0
    for day, _, batch in heapq.merge(*streams, key=_day_and_shard):
        if day != current:
            if lines:
                if parts > 1:
                    lines.sort(key=_delivery)
                yield lines
            current, lines, parts = day, [], 0
        lines.extend(batch)
        parts += 1
    if lines:
        if parts > 1:
            lines.sort(key=_delivery)
        yield lines


class _Workers:
    """The shards made in forked processes; each sends its days to the parent through a pipe.

    Worker ``w`` makes shards ``w``, ``w + workers``, ...; a thread per worker takes its chunks
    in as they come, up to :data:`_QUEUED_CHUNKS` ahead of the merge, then the full queue (and
    pipe) blocks it, so memory stays bounded however far ahead it could run. A worker that fails
    sends its error instead.
    """

    def __init__(self, simulation: Simulation, closed: list[Career]) -> None:
        context = multiprocessing.get_context("fork")
        sys.stdout.flush()  # a child flushes the std streams as it exits: not the parent's buffer too
        sys.stderr.flush()
        self.stats: dict[int, FeedStats] = {}
        self._pipes: list[Connection] = []
        self._processes: list[multiprocessing.process.BaseProcess] = []
        self._stopping = threading.Event()
        self._queues: list[queue.Queue[bytes | None]] = []
        self._readers: list[threading.Thread] = []
        for worker in range(simulation.workers):
            receiver, sender = context.Pipe(duplex=False)
            shards = [simulation._shard(i, closed) for i in range(worker, FEED_SHARDS, simulation.workers)]
            process = context.Process(
                target=_work,
                args=(shards, sender, [*self._pipes, receiver]),
                daemon=True,
                name=f"simulate-{worker}",
            )
            try:
                process.start()
            except BaseException:
                self._pipes.append(receiver)
                self.stop()
                raise
            finally:
                sender.close()
            self._pipes.append(receiver)
            self._processes.append(process)
        # Threads only now that every worker is forked (forking a process with threads is unsafe).
        for worker, pipe in enumerate(self._pipes):
            chunks: queue.Queue[bytes | None] = queue.Queue(maxsize=_QUEUED_CHUNKS)
            reader = threading.Thread(
                target=self._read, args=(pipe, chunks), daemon=True, name=f"simulate-reader-{worker}"
            )
            self._queues.append(chunks)
            self._readers.append(reader)
            reader.start()

    def _read(self, pipe: Connection, chunks: queue.Queue[bytes | None]) -> None:
        """A reader thread: the worker's messages as they come, then None (its pipe closed)."""
        while True:
            item: bytes | None
            try:
                item = pipe.recv_bytes()
            except (EOFError, OSError):
                item = None
            while not self._stopping.is_set():
                try:
                    chunks.put(item, timeout=0.1)
                    break
                except queue.Full:
                    continue
            if item is None or self._stopping.is_set():
                return

    def streams(self) -> list[Iterator[ShardDay]]:
        return [self._receive(worker, chunks) for worker, chunks in enumerate(self._queues)]

    def _receive(self, worker: int, chunks: queue.Queue[bytes | None]) -> Iterator[ShardDay]:
        while True:
            data = chunks.get()
            if data is None:
                self._processes[worker].join(5.0)
                code = self._processes[worker].exitcode
                message = f"simulator worker {worker} stopped without finishing (exit code {code})"
                raise RuntimeError(message)
            kind, payload = pickle.loads(data)
            if kind == "days":
                yield from payload
            elif kind == "stats":
                self.stats.update(payload)
                return
            else:
                error, text = payload
                raise (
                    WorldError(text)
                    if error == "WorldError"
                    else RuntimeError(f"simulator worker {worker}: {text}")
                )

    def stop(self) -> None:
        self._stopping.set()
        for process in self._processes:
            if process.is_alive():
                process.terminate()
        for process in self._processes:
            process.join()
        for reader in self._readers:  # each sees its pipe's end (or the stop) within 0.1 s
            reader.join()
        for pipe in self._pipes:
            pipe.close()


def _work(shards: list[_Shard], pipe: Connection, parents_ends: list[Connection]) -> None:
    """A worker process: its shards' days in (day, shard) order, in chunks, then their stats.

    It first closes the read ends it inherited from the parent, so that when the parent dies
    (even by SIGKILL) no reader is left and its next send fails instead of blocking forever.
    """
    for end in parents_ends:
        end.close()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole group: the parent stops us
    # What the worker inherited (world, closed plan, calendar) is never garbage: keep the cyclic
    # collector from scanning it, and let it run less often; a message's objects are freed by
    # reference counting, and the few cycles wait a little longer. About 5 % of a worker's time.
    gc.freeze()
    gc.set_threshold(20_000, 20, 20)
    try:
        chunk: list[ShardDay] = []
        size = 0
        for item in heapq.merge(*(shard.days() for shard in shards), key=_day_and_shard):
            chunk.append(item)
            size += len(item[2])
            if size >= _CHUNK_LINES:
                pipe.send_bytes(pickle.dumps(("days", chunk), pickle.HIGHEST_PROTOCOL))
                chunk, size = [], 0
        if chunk:
            pipe.send_bytes(pickle.dumps(("days", chunk), pickle.HIGHEST_PROTOCOL))
        stats = {shard.index: shard.stats for shard in shards}
        pipe.send_bytes(pickle.dumps(("stats", stats), pickle.HIGHEST_PROTOCOL))
    except (BrokenPipeError, ConnectionResetError):
        pass  # the parent stopped reading (the feed was cut short, or it died): nothing to report
    except Exception as exc:  # reported to the parent, which raises it (if it is still there)
        with contextlib.suppress(OSError):
            pipe.send_bytes(pickle.dumps(("error", (type(exc).__name__, str(exc))), pickle.HIGHEST_PROTOCOL))
    finally:
        pipe.close()
