"""A posted feed continues where it stopped, and repeated runs reuse the simulated senders' tokens
(issue 13, items 3 and 6): a second ``jeugdhub run`` re-posted the same feed (every message a
duplicate, nothing moved) and added a new token per simulated sender each time."""

from __future__ import annotations

import argparse
import itertools
from dataclasses import replace
from datetime import date
from pathlib import Path

from hubdev.simulate.__main__ import main
from hubdev.simulate.commands import FeedCursor, register
from hubdev.simulate.feed import Simulation, SimulationConfig
from hubdev.simulate.output import read_token_map
from hubdev.simulate.position import read_position
from services.contracts.regions import load_region_table
from services.ingest.tokens import hash_token, read_token_file, write_token_file

CONFIG = SimulationConfig(
    start=date(2023, 1, 1), end=date(2023, 3, 31), history_days=30, scale=0.05, other_care_scale=0.02
)


def _args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers())
    return parser.parse_args(["simulate", "-q", *argv])


def _cursor(path: Path, tag: str = "cluster/prefix.", config: SimulationConfig = CONFIG) -> FeedCursor:
    simulation = Simulation(config, load_region_table(None))
    return FeedCursor(simulation, _args("--resume", str(path), "--resume-tag", tag), "regions.csv")


def test_a_stopped_feed_continues_after_its_last_posted_line(tmp_path: Path) -> None:
    path = tmp_path / "simulator.json"
    whole = [line.payload for line in _cursor(tmp_path / "none.json").lines()]
    assert len(whole) > 350

    first = _cursor(path)
    posted = [line.payload for line in itertools.islice(first.lines(), 300)]
    first.record()  # a window of 300 lines went out, then the run was stopped
    position = read_position(path)
    assert position is not None and position.lines == 300 and not position.complete
    assert position.day is not None and position.feed["seed"] == 1

    second = _cursor(path)
    assert second.skip == 300
    rest = [line.payload for line in second.lines()]
    second.record(complete=True)
    assert posted + rest == whole  # nothing twice, nothing left out
    done = read_position(path)
    assert done is not None and done.complete and done.lines == len(whole)


def test_another_seed_or_kafka_starts_the_feed_at_its_first_line(tmp_path: Path) -> None:
    path = tmp_path / "simulator.json"
    first = _cursor(path)
    list(itertools.islice(first.lines(), 100))
    first.record()
    assert _cursor(path).skip == 100
    assert _cursor(path, tag="another-cluster/prefix.").skip == 0
    assert _cursor(path, config=replace(CONFIG, seed=2)).skip == 0


def test_registering_again_reuses_the_tokens_instead_of_piling_them_up(tmp_path: Path) -> None:
    ingest_file, plain_file = tmp_path / "ingest-tokens.json", tmp_path / "sim-tokens.json"
    argv = ["--providers", "10", "--register-tokens", str(ingest_file), "--tokens", str(plain_file), "-q"]
    assert main(argv) == 0
    first_hashes, first_plain = read_token_file(ingest_file), read_token_map(plain_file)
    assert main(argv) == 0
    assert read_token_file(ingest_file) == first_hashes  # 31 senders, 31 tokens, after two runs
    assert read_token_map(plain_file) == first_plain

    # a token revoked in between (or a lost hash) gets a new one, for that sender only
    revoked = "provider:" + next(k.split(":")[1] for k in first_plain if k.startswith("provider:"))
    hashes = dict(first_hashes)
    del hashes[hash_token(first_plain[revoked])]
    write_token_file(ingest_file, hashes)
    assert main(argv) == 0
    plain = read_token_map(plain_file)
    assert plain[revoked] != first_plain[revoked]
    assert {k: v for k, v in plain.items() if k != revoked} == {
        k: v for k, v in first_plain.items() if k != revoked
    }
    assert len(read_token_file(ingest_file)) == len(first_hashes)
