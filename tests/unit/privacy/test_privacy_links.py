"""The key rotation's links: written once per youth during a rotation, used after the old key's retirement."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest

from hubdev.records import raw_records
from services.aggregate.apply import apply_batch
from services.aggregate.facts import YouthFacts
from services.aggregate.figures import region_figures
from services.contracts.codec import decode
from services.contracts.regions import load_region_table
from services.privacy.links import decode_link, encode_link
from services.privacy.pseudonym import Keyring, KeyRotationError, pseudonymise
from services.privacy.rotation import LinkSet, Tail, YouthLink, check_start, link_for
from services.replay.offline import figures_document, judge_lines
from services.validate.answer import OutputTopics, answer_batch
from tests.unit.aggregate.aggregate_support import DictTable

K0, K1 = b"0" * 32, b"1" * 32
OLD = Keyring("k0", {"k0": K0})
ROTATING = Keyring("k1", {"k0": K0, "k1": K1}, previous="k0")
RETIRED = Keyring("k1", {"k1": K1})
EXAMPLES = Path(__file__).resolve().parents[3].parent / "shared" / "spec" / "examples"
T = "2026-01-02T03:04:05Z"


def test_during_a_rotation_a_link_is_due_only_for_a_youth_not_linked_yet() -> None:
    links = LinkSet()
    anchor, link = link_for("new", "k1", "old", "k0", T, links)
    assert (anchor, link) == ("old", YouthLink("old", "k0", "k1", T))
    assert link is not None
    links.apply("new", link)
    assert link_for("new", "k1", "old", "k0", T, links) == ("old", None)


def test_after_the_retirement_a_linked_youth_keeps_its_anchor_and_others_their_pseudonym() -> None:
    links = LinkSet()
    links.apply("new", YouthLink("old", "k0", "k1", T))
    assert link_for("new", "k1", "new", "k1", T, links) == ("old", None)
    assert link_for("other", "k1", "other", "k1", T, links) == ("other", None)
    assert link_for("new", "k1", "new", "k1", T, None) == ("new", None)  # replay: no links


def test_the_link_set_follows_tombstones_and_names_the_rotations() -> None:
    links = LinkSet()
    links.apply("a1", YouthLink("a0", "k0", "k1", T))
    links.apply("a1", YouthLink("a0", "k0", "k1", T))  # written twice: one youth
    links.apply("b1", YouthLink("b0", "k0", "k1", T))
    assert (len(links), links.rotations()) == (2, frozenset({("k0", "k1")}))
    links.apply("a1", None)
    assert (len(links), links.anchor_of("a1"), links.anchor_of("b1")) == (1, None, "b0")


def test_a_link_record_round_trips_and_holds_no_bsn() -> None:
    link = YouthLink("a" * 64, "k0", "k1", T)
    value = encode_link(link)
    assert decode_link(value) == link
    assert set(decode("YouthLink", value)) == {"anchor_pseudonym", "anchor_key_id", "new_key_id", "linked_at"}


ANCHORED_K1, PLAIN_K0, PLAIN_K1 = Tail("k1", True), Tail("k0", False), Tail("k1", False)


@pytest.mark.parametrize("tails", [[ANCHORED_K1], [PLAIN_K0, ANCHORED_K1, PLAIN_K1], [PLAIN_K0]])
def test_the_retirement_starts_with_links_from_the_old_key(tails: list[Tail]) -> None:
    check_start("k1", None, tails, frozenset({("k0", "k1")}))


@pytest.mark.parametrize(
    "linked",
    [frozenset(), frozenset({("k0", "k2")}), frozenset({("k9", "k1")})],
)
def test_the_retirement_is_refused_without_links_to_the_active_key(
    linked: frozenset[tuple[str, str]],
) -> None:
    with pytest.raises(KeyRotationError):
        check_start("k1", None, [PLAIN_K0], linked)
    if not any(new == "k1" for _, new in linked):
        with pytest.raises(KeyRotationError, match="links topic holds no link"):
            check_start("k1", None, [ANCHORED_K1], linked)


@dataclass
class Rec:
    key: bytes
    value: bytes
    partition: int
    offset: int


def _validated(
    lines: list[bytes], keyring: Keyring, dedup: DictTable, links: LinkSet, written: list[tuple[bytes, bytes]]
) -> list[Rec]:
    out = OutputTopics("validated", "rejected", "retour", "links")
    raws = [Rec(key, value, 0, offset) for offset, (key, value) in enumerate(raw_records(lines))]
    batch = answer_batch(out, raws, dedup, keyring, load_region_table(EXAMPLES / "regions.csv"), None, links)
    written.extend(batch.records["links"])
    return [Rec(key, value, 0, n) for n, (key, value) in enumerate(batch.records["validated"])]


@pytest.mark.skipif(not EXAMPLES.is_dir(), reason="worked example not available")
def test_the_worked_example_across_a_rotation_and_the_retirement_counts_no_youth_twice() -> None:
    """A third under k0, a third during the rotation, the rest with k0 gone (only lines of youth
    linked in the rotation or never seen before): the figures equal replay of the whole feed."""
    regions = load_region_table(EXAMPLES / "regions.csv")
    lines = (EXAMPLES / "feed.jsonl").read_bytes().splitlines()
    bsn = [_bsn(line) for line in lines]
    third = len(lines) // 3
    seen_before = set(bsn[:third])
    linked_bsns = set(bsn[third : 2 * third])
    dedup, links = DictTable(), LinkSet()
    written: list[tuple[bytes, bytes]] = []
    before = _validated(lines[:third], OLD, dedup, links, written)
    assert written == []
    during = _validated(lines[third : 2 * third], ROTATING, dedup, links, written)
    linked_now = {b for b in linked_bsns if b.isdigit() and _accepted(b, during)}
    assert sorted(key for key, _ in written) == sorted(
        pseudonymise(b, RETIRED)[0].encode() for b in linked_now
    )
    assert len(written) == len(links)  # once per youth
    # youth linked in the rotation, or never seen before (an unlinked youth would split: by design)
    rest = [n for n in range(2 * third, len(lines)) if bsn[n] in linked_now or bsn[n] not in seen_before]
    fed = [lines[n] for n in [*range(2 * third), *rest]]
    after = _validated([lines[n] for n in rest], RETIRED, dedup, links, written)
    assert len(written) == len(links)  # nothing written after the retirement
    by_new = {pseudonymise(b, RETIRED)[0]: b for b in set(bsn) if b.isdigit()}
    assert after
    for record in after:  # a linked youth keeps its k0 anchor, any other youth its k1 pseudonym
        message = decode("ValidatedMessage", record.value)
        assert message["pseudonym_key_id"] == "k1"
        youth = by_new[message["youth_pseudonym"]]
        expected = pseudonymise(youth, OLD if youth in linked_now else RETIRED)[0]
        assert record.key == expected.encode()
    assert any(bsn[n] in linked_now and bsn[n] in seen_before for n in rest)
    assert any(bsn[n] not in seen_before and bsn[n] not in linked_bsns for n in rest)

    batch = apply_batch(DictTable(), before + during + after, regions)
    facts = {key.decode(): YouthFacts.from_dict(json.loads(decode("YouthFactsRecord", value)["facts_json"]))
             for key, value in batch.facts}  # fmt: skip
    replay = judge_lines(fed, OLD, regions)
    as_of = date(2026, 3, 31)
    assert len(facts) == len(replay.by_youth)
    assert (
        region_figures(facts.values(), as_of, regions) == figures_document(replay, as_of, regions)["regions"]
    )


def _bsn(line: bytes) -> str:
    """The line's BSN when it has a 9-digit one; else a marker of its own (never a youth)."""
    try:
        obj = json.loads(line)
    except ValueError:
        return "unreadable"
    value = obj.get("bsn") if isinstance(obj, dict) else None
    return value if isinstance(value, str) and len(value) == 9 and value.isdigit() else "no-bsn"


def _accepted(bsn: str, records: list[Rec]) -> bool:
    anchor = pseudonymise(bsn, OLD)[0].encode()
    return any(record.key == anchor for record in records)
