"""Retiring the old key after a rotation, on the real broker, with validate and aggregate as real
processes: a third of the worked example under k0, a third with k1 active and k0 previous (validate
writes each youth's link), then validate restarted with k1 only (k0 removed from the keyring) and
the rest of the feed sent for youth linked in the rotation and youth never seen before. The
published figures equal ``jeugdhub replay`` of everything fed (one key: one identity per BSN), no
youth is counted twice, and the records after the retirement are keyed by the linked youth's k0
anchor, a new youth's by its k1 pseudonym."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from services.contracts.codec import decode
from services.contracts.regions import load_region_table
from services.contracts.topics import LINKS, RAW, RETOUR, VALIDATED, YOUTH_FACTS
from services.privacy.pseudonym import Keyring, pseudonymise
from services.replay.offline import judge_lines
from services.streaming.topic_admin import create_hub_topics
from tests.integration.hub_processes import produce, read_all, running, service_env
from tests.integration.messages_support import raw_records
from tests.integration.test_key_rotation import (
    AS_OF,
    EXAMPLES,
    SECRETS,
    _json_or_none,
    _keyring_file,
    _keys_status,
    _published_rows,
    _replay_rows,
    _wait_for,
)

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not EXAMPLES.is_dir(), reason="worked example not available"),
]


def _bsn(line: bytes) -> str | None:
    message = _json_or_none(line)
    value = message.get("bsn") if isinstance(message, dict) else None
    return value if isinstance(value, str) else None


def test_retiring_the_old_key_keeps_every_figure_and_every_youth_once(
    kafka_bootstrap: str, unique_prefix: str, tmp_path: Path
) -> None:
    create_hub_topics(kafka_bootstrap, unique_prefix)
    lines = (EXAMPLES / "feed.jsonl").read_bytes().splitlines()
    third = len(lines) // 3
    first, second = lines[:third], lines[third : 2 * third]
    base = {"JEUGDHUB_REGIONS_FILE": str(EXAMPLES / "regions.csv"), "JEUGDHUB_AS_OF": AS_OF}
    old_env = service_env(
        kafka_bootstrap,
        unique_prefix,
        {**base, "JEUGDHUB_KEYRING_FILE": str(_keyring_file(tmp_path / "k0.json", "k0"))},
    )
    rotating = {**old_env, "JEUGDHUB_KEYRING_FILE": str(_keyring_file(tmp_path / "k1.json", "k1", "k0"))}
    only_k1 = tmp_path / "retired.json"
    only_k1.write_text(json.dumps({"active": "k1", "keys": {"k1": SECRETS["k1"]}}))
    retired = {**old_env, "JEUGDHUB_KEYRING_FILE": str(only_k1)}
    ring = Keyring.from_mapping({"active": "k1", "keys": SECRETS})
    links_topic = LINKS.full_name(unique_prefix)

    produce(kafka_bootstrap, RAW.full_name(unique_prefix), raw_records(first))
    with running("aggregate", old_env, tmp_path / "aggregate.log"):
        expected = _replay_rows(first)
        with running("validate", old_env, tmp_path / "validate-k0.log"):
            assert _wait_for(kafka_bootstrap, unique_prefix, expected) == expected
        expected = _replay_rows(first + second)
        with running("validate", rotating, tmp_path / "validate-rotating.log"):
            produce(kafka_bootstrap, RAW.full_name(unique_prefix), raw_records(second))
            read_all(kafka_bootstrap, RETOUR.full_name(unique_prefix), expect=len(first) + len(second))
            assert _wait_for(kafka_bootstrap, unique_prefix, expected) == expected

        # The links validate wrote during the rotation: one per youth, keyed by its k1 pseudonym,
        # anchored on its k0 pseudonym.
        link_records = read_all(kafka_bootstrap, links_topic, timeout_s=10)
        by_new = {pseudonymise(b, ring, "k1")[0]: b for b in filter(None, map(_bsn, lines))}
        linked = {by_new[r.key.decode()] for r in link_records}
        assert len(link_records) == len(linked) > 0
        for record in link_records:
            link = decode("YouthLink", record.value)
            assert (link["anchor_key_id"], link["new_key_id"]) == ("k0", "k1")
            assert link["anchor_pseudonym"] == pseudonymise(by_new[record.key.decode()], ring, "k0")[0]

        # The rest of the feed, without the youth known only under k0 (they would be counted twice
        # after the retirement: documented, and what keys status warns about).
        seen = {b for b in map(_bsn, first + second) if b}
        rest = [line for line in lines[2 * third :] if _bsn(line) in linked or _bsn(line) not in seen]
        newcomers = {b for b in map(_bsn, rest) if b and b not in seen}
        assert newcomers, "some youth must be first seen after the retirement"
        assert linked & {_bsn(line) for line in rest} & {_bsn(line) for line in first}, (
            "some youth known before the rotation, linked in it, must send after the retirement"
        )
        fed = first + second + rest
        expected = _replay_rows(fed)
        with running("validate", retired, tmp_path / "validate-retired.log"):
            assert _published_rows(kafka_bootstrap, unique_prefix) == _replay_rows(first + second)
            produce(kafka_bootstrap, RAW.full_name(unique_prefix), raw_records(rest))
            read_all(kafka_bootstrap, RETOUR.full_name(unique_prefix), expect=len(fed))
            assert _wait_for(kafka_bootstrap, unique_prefix, expected) == expected
        status = _keys_status(old_env)

    assert len(read_all(kafka_bootstrap, links_topic, timeout_s=10)) == len(link_records)  # none new

    _check_validated_keys(kafka_bootstrap, unique_prefix, ring, by_new, seen, newcomers)
    accepted = _check_facts(kafka_bootstrap, unique_prefix, fed, ring, seen, newcomers)

    # keys status after the retirement: the linked youth, the unlinked ones (known only under k0)
    # and the newcomers (k1 only).
    assert status["linked"] == len(linked)
    assert status["current"] == len(accepted & newcomers)
    assert status["unlinked"] == len(accepted) - len(linked) - len(accepted & newcomers) > 0
    assert status["old_key_retirable"] is False and "counted as a new youth" in status["verdict"]


def _check_validated_keys(
    bootstrap: str, prefix: str, ring: Keyring, by_new: dict[str, str], seen: set[str], newcomers: set[str]
) -> None:
    """Every validated record is keyed by the k0 pseudonym for a youth seen before the retirement
    (the anchor, also after it), by its k1 pseudonym for a youth first seen after it."""
    by_old = {pseudonymise(b, ring, "k0")[0]: b for b in seen | newcomers}
    keyed_new = 0
    for record in read_all(bootstrap, VALIDATED.full_name(prefix)):
        message = decode("ValidatedMessage", record.value)
        pseudonym = str(message["youth_pseudonym"])
        bsn = by_new.get(pseudonym) or by_old[pseudonym]
        anchor_key = "k0" if bsn in seen else "k1"
        keyed_new += anchor_key == "k1"
        assert record.key.decode() == pseudonymise(bsn, ring, anchor_key)[0]
    assert keyed_new > 0


def _check_facts(
    bootstrap: str, prefix: str, fed: list[bytes], ring: Keyring, seen: set[str], newcomers: set[str]
) -> set[str]:
    """One youth-facts key per youth of replay (no youth twice); returns the BSNs of those youth."""
    facts: dict[bytes, Any] = {}
    for record in read_all(bootstrap, YOUTH_FACTS.full_name(prefix)):
        facts[record.key] = record.value
    regions = load_region_table(EXAMPLES / "regions.csv")
    replay = judge_lines(fed, Keyring.from_mapping({"active": "k0", "keys": SECRETS}), regions)
    live = {k.decode() for k, v in facts.items() if v is not None}
    assert len(live) == len(replay.by_youth)
    accepted = {b for b in seen | newcomers if pseudonymise(b, ring, "k0")[0] in replay.by_youth}
    assert live == {pseudonymise(b, ring, "k0" if b in seen else "k1")[0] for b in accepted}
    return accepted
