"""The hub on a three-broker Kafka cluster, under faults, with two workers per service.

One cluster for the module (``hubdev.localkafka.cluster``: KRaft, three combined nodes, every
topic replicated three times with ``min.insync.replicas`` 2). Each scenario gets its own topic
prefix, starts ingest + two validate + two aggregate workers (one consumer group per service, six
partitions) as real processes, posts a seeded simulated feed over HTTP and injects its fault
mid-feed:

(a) SIGKILL the broker leading raw partition 0, restart it 10 s later;
(b) SIGKILL one validate and one aggregate worker (the other one takes their partitions), restart;
(c) SIGKILL every service, ingest included, twice each at seeded random moments;
(d) a consumer of the aggregates topic (a consumer group) disconnects and reconnects.

After each: every acknowledged message (HTTP 202) has exactly one retour status, de-duplicated by
(sender, message_id), accepted ones a validated record, the figures on the aggregates topic equal
``jeugdhub replay``'s over exactly the acknowledged messages, and no reader of the aggregates topic
ever saw a region's figures go back in time. Ready-again times are recorded in a JSON report
(``JEUGDHUB_FAULTS_REPORT``, default: the pytest temp dir) that docs/reliability.md quotes.
"""

from __future__ import annotations

import json
import os
import random
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from hubdev.localkafka.cluster import Cluster
from services.contracts.regions import load_region_table
from services.contracts.topics import RAW
from services.streaming.topic_admin import create_hub_topics
from tests.faults.hub_harness import (
    FeedLine,
    FeedPoster,
    Hub,
    ReadinessMonitor,
    SnapshotWatcher,
    aggregate_diagnosis,
    check_outcomes,
    expected_outcomes,
    figure_differences,
    published_figures,
    register_tokens,
    retour_statuses,
    simulated_feed,
    validated_keys,
)

pytestmark = [pytest.mark.integration, pytest.mark.faults, pytest.mark.timeout(600)]

SEED = 12
YEAR = 2023
AS_OF = date(YEAR, 12, 31)
SCALE = 0.05  # about 1,500 lines: ~25 s of feed at 60 messages/s
RATE = 60.0
CONVERGE_S = 180.0
REPORT: dict[str, Any] = {}


def _progress(line: str) -> None:
    print(f"localkafka: {line}", flush=True)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    with Cluster(tmp_path_factory.mktemp("cluster"), progress=_progress) as started:
        yield started


@pytest.fixture(scope="module")
def feed() -> tuple[list[FeedLine], list[dict[str, str]]]:
    return simulated_feed(SEED, SCALE, YEAR, load_region_table(None))


@pytest.fixture(scope="module", autouse=True)
def report(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    yield REPORT
    target = Path(os.environ.get("JEUGDHUB_FAULTS_REPORT") or tmp_path_factory.getbasetemp() / "faults.json")
    target.parent.mkdir(parents=True, exist_ok=True)
    previous: dict[str, Any] = {}
    if target.exists():  # a run of some scenarios updates theirs and keeps the others'
        try:
            previous = json.loads(target.read_text())
        except ValueError:
            previous = {}
    target.write_text(json.dumps({**previous, **REPORT}, indent=2, default=str) + "\n")
    print(f"faults report: {target}")


@dataclass
class Ctx:
    cluster: Cluster
    hub: Hub
    monitor: ReadinessMonitor
    poster: FeedPoster
    prefix: str
    rng: random.Random
    notes: dict[str, Any] = field(default_factory=dict)
    started: float = field(default_factory=time.monotonic)

    def wait_progress(self, share: float, timeout_s: float = 120.0) -> None:
        deadline = time.monotonic() + timeout_s
        while self.poster.progress() < share and not self.poster.done:
            if time.monotonic() > deadline:
                raise TimeoutError(f"the feed did not reach {share:.0%} in {timeout_s:.0f} s")
            time.sleep(0.1)

    def kill(self, name: str) -> None:
        self.monitor.down(name, "SIGKILL")
        self.hub.service(name).kill()
        self.event(f"SIGKILL {name}")

    def restart(self, name: str) -> None:
        self.hub.service(name).start()
        self.monitor.restarted(name)
        self.event(f"start {name}")

    def event(self, what: str) -> None:
        self.notes.setdefault("events", []).append([round(time.monotonic() - self.started, 2), what])


Fault = Callable[[Ctx], None]


def run_scenario(
    name: str,
    cluster: Cluster,
    feed: tuple[list[FeedLine], list[dict[str, str]]],
    workdir: Path,
    fault: Fault,
    *,
    rate: float = RATE,
    extra_watcher: SnapshotWatcher | None = None,
) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """Start a hub, post the feed while *fault* runs, wait until it settles, check and record.

    Returns the recorded result and replay's figures per region."""
    lines, senders = feed
    prefix = f"f{uuid.uuid4().hex[:8]}."
    create_hub_topics(
        cluster.bootstrap, prefix, replication_factor=cluster.replication_factor, min_insync_replicas=2
    )
    tokens = register_tokens(senders, workdir / "ingest-tokens.json")
    hub = Hub(
        cluster.bootstrap,
        prefix,
        workdir,
        as_of=AS_OF,
        tokens_file=workdir / "ingest-tokens.json",
        replication_factor=cluster.replication_factor,
        min_insync_replicas=2,
    )
    result: dict[str, Any] = {"feed_lines": len(lines), "rate": rate}
    monitor: ReadinessMonitor | None = None
    watcher = SnapshotWatcher(cluster.bootstrap, prefix)
    try:
        result["startup_s"] = hub.start()
        monitor = ReadinessMonitor(hub).start()
        watcher.start()
        poster = FeedPoster(hub.url, tokens, lines, rate=rate).start()
        ctx = Ctx(cluster, hub, monitor, poster, prefix, random.Random(SEED))
        if extra_watcher is not None:
            ctx.notes["extra_watcher"] = extra_watcher
        started = time.monotonic()
        fault(ctx)
        poster.join(CONVERGE_S)
        result["post_s"] = round(time.monotonic() - started, 1)
        result["post"] = {
            "requests": poster.stats.requests,
            "acknowledged": poster.stats.acknowledged,
            "refused": dict(poster.stats.refused),
            "retried": dict(poster.stats.retried),
            "unanswered": poster.stats.unanswered,
            "resent_keys": len(poster.resent),
        }
        assert monitor.wait_all_ready(CONVERGE_S), f"not every service ready again: {monitor.summary()}"
        expected = expected_outcomes(poster.acks, AS_OF)
        deadline = time.monotonic() + CONVERGE_S
        seen = retour_statuses(cluster.bootstrap, prefix)
        while any(not seen.get(k) for k in expected.statuses) and time.monotonic() < deadline:
            time.sleep(2)
            seen = retour_statuses(cluster.bootstrap, prefix)
        published = published_figures(cluster.bootstrap, prefix)
        while figure_differences(expected.figures, published) and time.monotonic() < deadline:
            time.sleep(2)
            published = published_figures(cluster.bootstrap, prefix)
        result["settled_s"] = round(time.monotonic() - started, 1)
        outcome = check_outcomes(
            expected, seen, validated_keys(cluster.bootstrap, prefix), poster.resent, poster.acks
        )
        diffs = figure_differences(expected.figures, published)
        if diffs:
            result["aggregate_diagnosis"] = aggregate_diagnosis(cluster.bootstrap, prefix)
        time.sleep(1.5)  # let the watchers read the last snapshots
    finally:
        watcher_error: BaseException | None = None
        try:
            watcher.stop()
        except RuntimeError as exc:
            watcher_error = exc
        if monitor is not None:
            monitor.stop()
        hub.stop()
    result.update(
        {
            "outcomes": outcome.to_dict(),
            "replay_counts": expected.counts,
            "figures_equal_replay": not diffs,
            "figure_differences": diffs,
            "not_ready_episodes": monitor.summary() if monitor is not None else [],
            "snapshots_read": watcher.records,
            "figures_went_back": [r.to_dict() for r in watcher.regressions[:10]],
            "accepted_went_down": watcher.accepted_went_down(),
            **{k: v for k, v in ctx.notes.items() if k != "extra_watcher"},
        }
    )
    REPORT[name] = result
    assert watcher_error is None, watcher_error
    assert outcome.ok, f"{name}: acknowledged messages without exactly one outcome: {outcome.to_dict()}"
    assert not diffs, (
        f"{name}: published figures differ from replay over the acknowledged messages: {diffs}; "
        f"per validated partition: {result.get('aggregate_diagnosis')}"
    )
    assert watcher.records > 0
    assert not watcher.regressions, f"{name}: figures went back in time: {result['figures_went_back']}"
    return result, expected.figures


def _ready_again(ctx: Ctx, names: list[str]) -> dict[str, dict[str, float | None]]:
    """Seconds from each kill (and from the restart) to ready, as the readiness monitor saw it."""
    out: dict[str, dict[str, float | None]] = {}
    for episode in ctx.monitor.episodes:
        if episode.service in names and "SIGKILL" in episode.cause and episode.seconds is not None:
            restart = (
                None
                if episode.restarted_at is None or episode.up_at is None
                else episode.up_at - episode.restarted_at
            )
            out.setdefault(
                episode.service,
                {
                    "kill_to_ready_s": round(episode.seconds, 2),
                    "start_to_ready_s": None if restart is None else round(restart, 2),
                },
            )
    return out


def test_a_partition_leader_broker_killed_mid_feed_and_restarted(
    cluster: Cluster, feed: tuple[list[FeedLine], list[dict[str, str]]], tmp_path: Path
) -> None:
    def fault(ctx: Ctx) -> None:
        ctx.wait_progress(0.3)
        raw = RAW.full_name(ctx.prefix)
        leader = ctx.cluster.leader_of(raw, 0)
        killed_at = time.monotonic()
        ctx.cluster.kill_node(leader)
        ctx.event(f"SIGKILL broker {leader}")
        new_leader = -1
        while new_leader in (-1, leader) and time.monotonic() - killed_at < 60:
            try:
                new_leader = ctx.cluster.leader_of(raw, 0)
            except Exception:  # the admin client may pick the dead node first
                new_leader = -1
            time.sleep(0.2)
        failover_s = time.monotonic() - killed_at
        time.sleep(max(0.0, 10.0 - failover_s))
        ctx.event(f"start broker {leader}")
        restart_s = ctx.cluster.start_node(leader)
        in_sync_s = ctx.cluster.wait_in_sync(raw)
        ctx.notes["broker"] = {
            "killed_node": leader,
            "new_leader": new_leader,
            "leader_failover_s": round(failover_s, 2),
            "down_s": round(time.monotonic() - killed_at - in_sync_s, 1),
            "restart_ready_s": round(restart_s, 2),
            "back_in_isr_s": round(in_sync_s, 2),
        }

    result, _ = run_scenario("a_broker_leader_killed", cluster, feed, tmp_path, fault)
    assert result["broker"]["new_leader"] not in (-1, result["broker"]["killed_node"])


def test_b_one_worker_of_each_service_killed_and_restarted(
    cluster: Cluster, feed: tuple[list[FeedLine], list[dict[str, str]]], tmp_path: Path
) -> None:
    victims = ["validate-1", "aggregate-1"]

    def fault(ctx: Ctx) -> None:
        ctx.wait_progress(0.3)
        for name in victims:
            ctx.kill(name)
        time.sleep(3)
        for name in victims:
            ctx.restart(name)
        ctx.monitor.wait_all_ready(120)
        ctx.notes["ready_again_s"] = _ready_again(ctx, victims)

    run_scenario("b_worker_per_service_killed", cluster, feed, tmp_path, fault)


def test_c_every_service_killed_repeatedly_at_random_moments(
    cluster: Cluster, feed: tuple[list[FeedLine], list[dict[str, str]]], tmp_path: Path
) -> None:
    def fault(ctx: Ctx) -> None:
        kills: list[dict[str, Any]] = []
        names = list(ctx.hub.services)
        ctx.wait_progress(0.1)
        for round_ in range(2):
            order = names[:]
            ctx.rng.shuffle(order)
            for name in order:
                time.sleep(ctx.rng.uniform(0.5, 3.0))
                ctx.kill(name)
                down = ctx.rng.uniform(0.0, 1.5)
                time.sleep(down)
                ctx.restart(name)
                kills.append({"round": round_, "service": name, "down_s": round(down, 2)})
        last_start = time.monotonic()
        ctx.monitor.wait_all_ready(150)
        ctx.notes["all_ready_after_last_start_s"] = round(time.monotonic() - last_start, 2)
        ctx.notes["kills"] = kills
        ready: dict[str, list[float | None]] = {}
        for episode in ctx.monitor.episodes:
            if "SIGKILL" in episode.cause:
                ready.setdefault(episode.service, []).append(
                    None if episode.seconds is None else round(episode.seconds, 2)
                )
        ctx.notes["kill_to_ready_s"] = ready

    run_scenario("c_every_service_killed_repeatedly", cluster, feed, tmp_path, fault, rate=40.0)


def test_d_aggregates_consumer_disconnects_and_reconnects(
    cluster: Cluster, feed: tuple[list[FeedLine], list[dict[str, str]]], tmp_path: Path
) -> None:
    readers: list[SnapshotWatcher] = []

    def fault(ctx: Ctx) -> None:
        reader = SnapshotWatcher(ctx.cluster.bootstrap, ctx.prefix, group=f"{ctx.prefix}jeugdautoriteit")
        readers.append(reader)
        reader.start()
        ctx.wait_progress(0.4)
        deadline = time.monotonic() + 60
        while reader.records < 5 and time.monotonic() < deadline:  # it has joined and is reading
            time.sleep(0.2)
        reader.disconnect()
        away_from = reader.records
        time.sleep(8)
        reader.reconnect()
        ctx.poster.join(CONVERGE_S)
        ctx.notes["reader"] = {"records_before_disconnect": away_from}

    _, expected = run_scenario("d_aggregates_consumer_reconnects", cluster, feed, tmp_path, fault)
    reader = readers[0]
    deadline = time.monotonic() + 60  # a group member that joined late under load catches up
    while reader.latest != expected and time.monotonic() < deadline:
        time.sleep(0.5)
    reader.stop()
    REPORT["d_aggregates_consumer_reconnects"]["reader"].update(
        {
            "records_total": reader.records,
            "reconnects": reader.reconnects,
            "view_equals_replay": reader.latest == expected,
            "figures_went_back": [r.to_dict() for r in reader.regressions[:10]],
        }
    )
    assert reader.reconnects == 1
    assert reader.latest == expected, figure_differences(expected, reader.latest)
    assert not reader.regressions, [r.to_dict() for r in reader.regressions[:10]]
