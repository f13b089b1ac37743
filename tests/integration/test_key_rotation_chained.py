"""Two chained key rotations on the real broker, with validate and aggregate as real processes: the
worked example in five parts, k0 / k0->k1 / k1 (k0 retired) / k1->k2 / k2 (k1 retired), validate
restarted with each part's keyring, the aggregate running throughout. After every part the
published figures equal ``jeugdhub replay`` of the lines fed so far (one key: one identity per BSN)
and the youth-facts topic holds one live key per youth of replay; at the end every youth is keyed
by its first anchor (k0, k1 or k2 by when it was first seen), and ``jeugdhub keys status`` counts
against the second rotation. After a retirement only youth linked in the rotation, or never seen,
send (an unlinked youth would be counted twice: documented, not this test's subject)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from services.contracts.codec import decode
from services.contracts.regions import load_region_table
from services.contracts.topics import LINKS, RAW, RETOUR, YOUTH_FACTS
from services.privacy.pseudonym import Keyring, pseudonymise
from services.replay.offline import judge_lines
from services.streaming.topic_admin import create_hub_topics
from tests.integration.hub_processes import produce, read_all, running, service_env
from tests.integration.messages_support import raw_records
from tests.integration.test_key_retirement import _bsn
from tests.integration.test_key_rotation import (
    AS_OF,
    EXAMPLES,
    SECRETS,
    _keys_status,
    _replay_rows,
    _wait_for,
)

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not EXAMPLES.is_dir(), reason="worked example not available"),
]

ALL_SECRETS = {**SECRETS, "k2": "c2" * 32}
PHASES: list[tuple[str, str, str | None, tuple[str, ...]]] = [
    ("k0", "k0", None, ("k0",)),
    ("k0->k1", "k1", "k0", ("k0", "k1")),
    ("k1", "k1", None, ("k1",)),  # k0 retired
    ("k1->k2", "k2", "k1", ("k1", "k2")),
    ("k2", "k2", None, ("k2",)),  # k1 retired
]
"""(name, active, previous, keys in the keyring) of each part."""


def _keyring(path: Path, active: str, previous: str | None, keys: tuple[str, ...]) -> Path:
    document: dict[str, Any] = {"active": active, "keys": {k: ALL_SECRETS[k] for k in keys}}
    if previous is not None:
        document["previous"] = previous
    path.write_text(json.dumps(document))
    return path


def test_two_chained_rotations_keep_every_figure_and_every_youth_once(
    kafka_bootstrap: str, unique_prefix: str, tmp_path: Path
) -> None:
    bootstrap, prefix = kafka_bootstrap, unique_prefix
    create_hub_topics(bootstrap, prefix)
    lines = (EXAMPLES / "feed.jsonl").read_bytes().splitlines()
    size = len(lines) // 5
    parts = [lines[n * size : (n + 1) * size] for n in range(4)] + [lines[4 * size :]]
    base = {"JEUGDHUB_REGIONS_FILE": str(EXAMPLES / "regions.csv"), "JEUGDHUB_AS_OF": AS_OF}
    envs = [
        service_env(
            bootstrap,
            prefix,
            {**base, "JEUGDHUB_KEYRING_FILE": str(_keyring(tmp_path / f"{n}.json", *p[1:]))},
        )
        for n, p in enumerate(PHASES)
    ]
    ring = Keyring.from_mapping({"active": "k0", "keys": ALL_SECRETS})
    by_key = {
        k: {pseudonymise(b, ring, k)[0]: b for b in filter(None, map(_bsn, lines))} for k in ALL_SECRETS
    }
    fed: list[bytes] = []
    seen_in: dict[str, int] = {}  # BSN -> the part it was first fed in
    linked: dict[str, set[str]] = {"k1": set(), "k2": set()}  # BSNs with a link of that new key

    started = time.monotonic()
    with running("aggregate", envs[0], tmp_path / "aggregate.log"):
        for n, (name, _active, _previous, _keys) in enumerate(PHASES):
            part = _sendable(parts[n], n, seen_in, linked)
            fed.extend(part)
            for bsn in filter(None, map(_bsn, part)):
                seen_in.setdefault(bsn, n)
            with running("validate", envs[n], tmp_path / f"validate-{n}.log"):
                produce(bootstrap, RAW.full_name(prefix), raw_records(part))
                read_all(bootstrap, RETOUR.full_name(prefix), expect=len(fed))
                expected = _replay_rows(fed)
                assert _wait_for(bootstrap, prefix, expected) == expected, name
            for record in read_all(bootstrap, LINKS.full_name(prefix), timeout_s=10):
                link = decode("YouthLink", record.value)
                linked[str(link["new_key_id"])].add(by_key[str(link["new_key_id"])][record.key.decode()])
            live = _live_facts(bootstrap, prefix)
            assert len(live) == len(_accepted(fed, ring)), name  # no youth twice
            print(f"{name}: {len(part)} lines, figures = replay at {time.monotonic() - started:.1f} s")
        status = _keys_status(envs[-1])

    accepted = _accepted(fed, ring)
    assert linked["k1"] and linked["k2"], "both rotations must link someone"
    chained = {b for b in linked["k2"] if seen_in[b] <= 1} & linked["k1"]
    assert chained & accepted, "some youth must be linked in both rotations"
    assert {seen_in[b] for b in accepted} == set(range(5)), "youth must be first seen in every part"

    # every youth is kept under its first anchor: k0 when first seen before k0's retirement, k1
    # when first seen after it and before k1's, k2 after that
    def anchor(bsn: str) -> str:
        return pseudonymise(bsn, ring, "k0" if seen_in[bsn] <= 1 else "k1" if seen_in[bsn] <= 3 else "k2")[0]

    assert _live_facts(bootstrap, prefix) == {anchor(b) for b in accepted}

    # keys status against the second rotation (k1 -> k2): linked in it, first seen after it, the rest
    assert status["linked"] == len(linked["k2"] & accepted)
    assert status["current"] == len({b for b in accepted if seen_in[b] == 4})
    assert status["unlinked"] == len(accepted) - status["linked"] - status["current"] > 0
    assert status["old_key_retirable"] is False


def _sendable(part: list[bytes], n: int, seen_in: dict[str, int], linked: dict[str, set[str]]) -> list[bytes]:
    """The lines of part *n* that may be sent: after a retirement (parts 2 and 4), those of youth
    linked in the rotation just finished or never seen; while rotating k1 -> k2 (part 3), those of
    youth the k1 keyring can still reach (linked in the first rotation or first seen after it)."""

    def reachable(bsn: str | None) -> bool:
        if bsn is None or bsn not in seen_in:
            return True
        if n == 2:
            return bsn in linked["k1"]
        if n == 3:
            return bsn in linked["k1"] or seen_in[bsn] >= 2
        if n == 4:
            return bsn in linked["k2"]
        return True

    return [line for line in part if reachable(_bsn(line))]


def _accepted(fed: list[bytes], ring: Keyring) -> set[str]:
    """The BSNs of replay's youth (one key: one youth per BSN)."""
    regions = load_region_table(EXAMPLES / "regions.csv")
    replay = judge_lines(fed, Keyring.from_mapping({"active": "k0", "keys": SECRETS}), regions)
    return {b for b in filter(None, map(_bsn, fed)) if pseudonymise(b, ring, "k0")[0] in replay.by_youth}


def _live_facts(bootstrap: str, prefix: str) -> set[str]:
    """The youth-facts keys whose latest record is not a tombstone."""
    facts: dict[bytes, Any] = {}
    for record in read_all(bootstrap, YOUTH_FACTS.full_name(prefix)):
        facts[record.key] = record.value
    return {k.decode() for k, v in facts.items() if v is not None}
