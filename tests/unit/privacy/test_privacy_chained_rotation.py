"""Chained key rotations: k0, k0->k1, k1 (k0 retired), k1->k2, k2 (k1 retired). During the second
rotation a youth's anchor is its k1 pseudonym resolved through the first rotation's links; after
the second retirement its k2 pseudonym leads to that same anchor. Figures equal replay throughout."""

from __future__ import annotations

import json
from datetime import date

import pytest

from services.aggregate.apply import apply_batch, facts_records
from services.aggregate.facts import YouthFacts
from services.aggregate.figures import region_figures
from services.contracts.codec import decode
from services.contracts.regions import load_region_table
from services.privacy.pseudonym import Keyring, KeyRotationError, pseudonymise
from services.privacy.rotation import (
    LinkSet,
    Tail,
    YouthLink,
    check_start,
    link_for,
    link_status,
    record_is_anchored,
)
from services.replay.offline import figures_document, judge_lines
from tests.unit.aggregate.aggregate_support import DictTable
from tests.unit.privacy.test_privacy_links import (
    EXAMPLES,
    K0,
    K1,
    OLD,
    RETIRED,
    ROTATING,
    Rec,
    _bsn,
    _validated,
)

K2 = b"2" * 32
SECOND = Keyring("k2", {"k1": K1, "k2": K2}, previous="k1")
ONLY_K2 = Keyring("k2", {"k2": K2})
ALL = Keyring("k0", {"k0": K0, "k1": K1, "k2": K2})
T = "2026-01-02T03:04:05Z"


def test_a_second_rotation_anchors_a_linked_youth_on_its_first_anchor() -> None:
    links = LinkSet()
    links.apply("a1", YouthLink("a0", "k0", "k1", T))
    # rotating k1 -> k2: the k1 pseudonym resolves to the k0 anchor, the new link leads there too
    assert link_for("a2", "k2", "a1", "k1", T, links) == ("a0", YouthLink("a0", "k0", "k2", T))
    # a youth first seen after k0's retirement is anchored on its k1 pseudonym
    assert link_for("b2", "k2", "b1", "k1", T, links) == ("b1", YouthLink("b1", "k1", "k2", T))
    links.apply("a2", YouthLink("a0", "k0", "k2", T))
    links.apply("b2", YouthLink("b1", "k1", "k2", T))
    assert link_for("a2", "k2", "a1", "k1", T, links) == ("a0", None)  # once per youth
    # k1 retired: the k2 pseudonym leads to the anchor
    assert link_for("a2", "k2", "a2", "k2", T, links) == ("a0", None)
    assert link_for("b2", "k2", "b2", "k2", T, links) == ("b1", None)
    assert link_for("c2", "k2", "c2", "k2", T, links) == ("c2", None)


FIRST = frozenset({("k0", "k1")})
BOTH = FIRST | {("k0", "k2"), ("k1", "k2")}


@pytest.mark.parametrize(
    ("previous", "tails", "linked"),
    [
        ("k1", [Tail("k1", True)], FIRST),  # second rotation starts after k0's retirement
        ("k1", [Tail("k0", False), Tail("k1", True), Tail("k1", False)], FIRST),
        ("k1", [Tail("k2", True), Tail("k1", True), Tail("k0", False)], BOTH),  # it continues
        (None, [Tail("k2", True), Tail("k1", True), Tail("k0", False), Tail("k2", False)], BOTH),
    ],
)
def test_a_chained_rotation_starts_and_retires(
    previous: str | None, tails: list[Tail], linked: frozenset[tuple[str, str]]
) -> None:
    check_start("k2", previous, tails, linked)


@pytest.mark.parametrize(
    ("active", "previous", "tails", "linked"),
    [
        ("k2", "k1", [Tail("k1", True)], frozenset()),  # the first rotation is unfinished
        ("k2", "k1", [Tail("k0", False)], frozenset()),
        ("k2", None, [Tail("k1", True)], FIRST),  # no rotation into k2: unexplained
        ("k2", None, [Tail("k0", False)], FIRST),
        ("k3", None, [Tail("k2", True)], BOTH),
        ("k3", "k2", [Tail("k1", True)], FIRST),  # k1 was never retired into k2
        ("k2", "k1", [Tail("k2", False)], BOTH),
    ],
)
def test_unexplained_key_changes_are_still_refused(
    active: str, previous: str | None, tails: list[Tail], linked: frozenset[tuple[str, str]]
) -> None:
    with pytest.raises(KeyRotationError):
        check_start(active, previous, tails, linked)


@pytest.mark.skipif(not EXAMPLES.is_dir(), reason="worked example not available")
def test_the_worked_example_across_two_chained_rotations_equals_replay() -> None:
    """The feed in five parts through validate's and the aggregate's batch logic (one table): after
    each part the figures equal replay of the lines fed so far. After a retirement only youth that
    were linked in the rotation, or never seen, send (an unlinked youth would split: documented)."""
    regions = load_region_table(EXAMPLES / "regions.csv")
    lines = (EXAMPLES / "feed.jsonl").read_bytes().splitlines()
    size = len(lines) // 5
    parts = [lines[n * size : (n + 1) * size] for n in range(4)] + [lines[4 * size :]]
    dedup, links, table = DictTable(), LinkSet(), DictTable()
    written: list[tuple[bytes, bytes]] = []
    fed: list[bytes] = []
    records: list[Rec] = []
    seen: set[str] = set()
    as_of = date(2026, 3, 31)

    def pseudo(bsn: str, key_id: str) -> str:
        return pseudonymise(bsn, ALL, key_id)[0]

    def run(part: list[bytes], keyring: Keyring) -> list[Rec]:
        # the key check validate makes at start, on the newest records so far (all partitions: 0)
        tails = [_tail(r) for r in records[-40:]]
        check_start(keyring.active_key_id, keyring.previous_key_id, tails, links.rotations())
        out = _validated(part, keyring, dedup, links, written)
        fed.extend(part)
        seen.update(_bsn(line) for line in part)
        records.extend(out)
        apply_batch(table, out, regions)
        facts = {  # every youth's facts as the youth-facts topic holds them
            key: YouthFacts.from_dict(json.loads(decode("YouthFactsRecord", value)["facts_json"]))
            for key, value in facts_records(table, list(table.data), regions)
        }
        replay = judge_lines(fed, OLD, regions)
        assert len(facts) == len(replay.by_youth)
        assert (
            region_figures(facts.values(), as_of, regions)
            == figures_document(replay, as_of, regions)["regions"]
        )
        return out

    run(parts[0], OLD)
    first_seen = set(seen)
    run(parts[1], ROTATING)
    linked1 = {b for b in seen if b.isdigit() and links.link_of(pseudo(b, "k1")) is not None}
    run([line for line in parts[2] if _bsn(line) in linked1 or _bsn(line) not in seen], RETIRED)
    reachable = {b for b in seen if b in linked1 or b not in first_seen}
    run([line for line in parts[3] if _bsn(line) in reachable or _bsn(line) not in seen], SECOND)
    linked2 = {b for b in seen if b.isdigit() and links.link_of(pseudo(b, "k2")) is not None}
    after = run([line for line in parts[4] if _bsn(line) in linked2 or _bsn(line) not in seen], ONLY_K2)

    # a youth of the first part, linked in both rotations and sending at the end, keeps its k0
    # anchor as record key and table key: one youth through two key changes
    by_k2 = {pseudo(b, "k2"): b for b in seen if b.isdigit()}
    assert {str(decode("ValidatedMessage", r.value)["pseudonym_key_id"]) for r in after} == {"k2"}
    chained = {by_k2[_youth(r)] for r in after} & first_seen & linked1 & linked2
    assert chained, "the feed must hold a youth through both rotations"
    for record in after:
        bsn = by_k2[_youth(record)]
        if bsn in chained:
            assert record.key.decode() == pseudo(bsn, "k0") in table.data
    assert {
        link.anchor_key_id for link in map(links.link_of, map(lambda b: pseudo(b, "k2"), linked2)) if link
    } == {
        "k0",
        "k1",
    }
    assert links.rotations() == BOTH
    assert len(written) == len(links)


def _tail(record: Rec) -> Tail:
    message = decode("ValidatedMessage", record.value)
    return Tail(
        str(message["pseudonym_key_id"]), record_is_anchored(record.key, str(message["youth_pseudonym"]))
    )


def _youth(record: Rec) -> str:
    return str(decode("ValidatedMessage", record.value)["youth_pseudonym"])


def _m(pseudonym: str, key_id: str, at: str) -> dict[str, str]:
    return {"youth_pseudonym": pseudonym, "pseudonym_key_id": key_id, "received_at": at}


def test_keys_status_counts_against_the_newest_rotation() -> None:
    table = [
        ("a0", {"1": _m("a0", "k0", "T1"), "2": _m("a1", "k1", "T2"), "3": _m("a2", "k2", "T4")}),
        ("b1", {"4": _m("b1", "k1", "T3"), "5": _m("b2", "k2", "T4")}),  # first seen under k1
        ("c0", {"6": _m("c0", "k0", "T1"), "7": _m("c1", "k1", "T2")}),  # linked in the first only
        ("d1", {"8": _m("d1", "k1", "T3")}),
        ("e2", {"9": _m("e2", "k2", "T5")}),  # first seen after k1's retirement
    ]
    status = link_status(table)
    assert (status.target, status.linked, status.unlinked, status.current) == ("k2", 2, 2, 1)
    assert status.retirable is False and "2 youth are known only under it" in status.verdict()
    first_only = link_status(table[2:4])
    assert (first_only.target, first_only.linked, first_only.unlinked, first_only.current) == ("k1", 1, 0, 1)
    assert first_only.retirable
