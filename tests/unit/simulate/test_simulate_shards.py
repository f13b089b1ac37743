"""The feed is made by shards, in this process or in forked workers: the same bytes either way."""

from __future__ import annotations

import multiprocessing
import random
import threading
from dataclasses import replace
from datetime import date

import orjson
import pytest

from hubdev.simulate import feed as feed_module
from hubdev.simulate.feed import FEED_SHARDS, Simulation, SimulationConfig
from hubdev.simulate.render import Renderer
from hubdev.simulate.world import BsnAllocator, Numbering, WorldError, build_world
from tests.unit.simulate.simulate_support import regions

SMALL = SimulationConfig(
    start=date(2023, 1, 1), end=date(2023, 4, 30), seed=5, history_days=90, scale=0.3, other_care_scale=0.1
)


def _feed(workers: int, config: SimulationConfig = SMALL) -> tuple[list[bytes], dict[str, object]]:
    simulation = Simulation(config, regions(), workers=workers)
    lines = [line.payload for line in simulation.lines()]
    return lines, simulation.stats.to_dict()


def test_any_number_of_worker_processes_gives_the_same_feed_and_counts() -> None:
    lines, stats = _feed(1)
    assert len(lines) > 2_000
    for workers in (2, 3):
        assert _feed(workers) == (lines, stats)
    assert stats["lines"] == len(lines)


def test_workers_far_ahead_of_the_merge_wait_and_lose_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tiny chunks and a one-chunk queue: the readers and workers block on every chunk (the memory
    bound), the feed stays the same, and closing it early leaves no process or reader thread."""
    lines, stats = _feed(1)
    monkeypatch.setattr(feed_module, "_CHUNK_LINES", 16)
    monkeypatch.setattr(feed_module, "_QUEUED_CHUNKS", 1)
    assert _feed(2) == (lines, stats)
    batches = Simulation(SMALL, regions(), workers=2).batches()
    assert next(batches)
    batches.close()
    assert not multiprocessing.active_children()
    assert not _reader_threads()


def test_the_feed_is_in_delivery_order_across_shards() -> None:
    """Delivery order is created_at order for most lines; per day the merge must keep lines sorted
    by the second they are delivered, which the lines themselves do not carry: check the days."""
    simulation = Simulation(SMALL, regions(), workers=2)
    seconds = [delivery for batch in simulation.batches() for delivery, _, _ in batch]
    assert seconds == sorted(seconds)


def test_ids_and_bsns_never_collide_between_shards() -> None:
    lines, _ = _feed(2, replace(SMALL, invalid_share=0.0))  # rule breaks change BSNs on purpose
    placements: dict[str, set[str]] = {}
    youth: dict[str, set[str]] = {}
    for line in lines:
        try:
            message = orjson.loads(line)
        except orjson.JSONDecodeError:
            continue
        if not isinstance(message, dict) or message.get("message_type") != "placement_started":
            continue
        bsn = message.get("bsn")
        if message.get("status") != "new" or not isinstance(bsn, str):
            continue
        key = f"{message.get('provider_agb')}/{message.get('placement_id')}"
        placements.setdefault(key, set()).add(bsn)
        youth.setdefault(bsn, set()).add(f"{message.get('birth_date')}/{message.get('municipality_code')}")
    assert len(placements) > 500
    # One provider reference belongs to one youth (a re-sent or corrected start names the same one),
    # and one BSN to one youth (the same birth date and municipality wherever it appears).
    assert all(len(bsns) == 1 for bsns in placements.values())
    assert all(len(who) == 1 for who in youth.values())


def test_numbering_lanes_hand_out_disjoint_numbers() -> None:
    world = build_world(random.Random("w"), 30, regions())
    provider = world.providers[0]
    lanes = [Numbering(lane, FEED_SHARDS + 1) for lane in range(FEED_SHARDS + 1)]
    ids = [numbering.placement_id(provider, "2023-01-01") for numbering in lanes for _ in range(500)]
    families = [numbering.foster_family(provider) for numbering in lanes for _ in range(500)]
    municipal = [numbering.municipal_measure_id("0363") for numbering in lanes for _ in range(500)]
    for values in (ids, families, municipal):
        assert len(set(values)) == len(values)
    with pytest.raises(ValueError, match="lane"):
        Numbering(FEED_SHARDS + 1, FEED_SHARDS + 1)


def test_bsn_lanes_are_disjoint_and_together_cover_the_single_order() -> None:
    single = BsnAllocator(3)
    order = [single.allocate() for _ in range(4_000)]
    lanes = [BsnAllocator(3, lane, 4) for lane in range(4)]
    drawn = [lane.allocate() for lane in lanes for _ in range(900)]
    assert len(set(drawn)) == len(drawn)
    assert set(drawn) <= set(order)


def test_a_failing_worker_stops_the_feed_with_its_error_and_leaves_no_process(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def fail(self: Renderer, career: object) -> None:
        raise WorldError("synthetic BSNs are exhausted (test)")

    monkeypatch.setattr(Renderer, "render", fail)
    simulation = Simulation(SMALL, regions(), workers=2)
    with pytest.raises(WorldError, match="exhausted"):
        list(simulation.batches())
    assert not multiprocessing.active_children()
    assert not _reader_threads()


def test_stopping_early_terminates_the_workers() -> None:
    simulation = Simulation(replace(SMALL, end=date(2023, 12, 31)), regions(), workers=2)
    batches = simulation.batches()
    assert next(batches)
    batches.close()
    assert not multiprocessing.active_children()
    assert not _reader_threads()


def test_counts_fill_as_the_feed_runs_in_this_process() -> None:
    """A caller that stops early (a failed post) still reports what was made so far."""
    simulation = Simulation(SMALL, regions(), workers=1)
    batches = simulation.batches()
    first = next(batches)
    assert simulation.stats.lines >= len(first) > 0
    batches.close()


def _reader_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("simulate-reader")]
