"""Erasure after a key rotation's old key was retired: ``jeugdhub erase`` names only the youth's new
pseudonym, the aggregate finds the entry (keyed by the old-key anchor) whose messages carry it,
forgets it, and leaves out the anchor's records when they are read again."""

from __future__ import annotations

import json
import time
from datetime import UTC, date, datetime
from typing import Any

import pytest

from services.aggregate.apply import apply_batch
from services.aggregate.facts import YouthFacts
from services.aggregate.figures import region_figures
from services.aggregate.forget import erased_youths, forget_youths
from services.contracts.codec import decode
from services.contracts.regions import load_region_table
from services.privacy.erasure import ErasureSet, erasure_record
from services.privacy.pseudonym import pseudonymise
from services.privacy.rotation import LinkSet
from services.replay.offline import figures_document, judge_lines
from tests.unit.aggregate.aggregate_support import DictTable
from tests.unit.privacy.test_privacy_links import (
    EXAMPLES,
    OLD,
    RETIRED,
    ROTATING,
    _accepted,
    _bsn,
    _validated,
)

AT = datetime(2026, 4, 1, tzinfo=UTC)


def _message(pseudonym: str, n: int, received_at: str = "2026-01-02T03:04:05Z") -> dict[str, Any]:
    return {"youth_pseudonym": pseudonym, "received_at": received_at, "n": n}


def test_an_erased_new_pseudonym_selects_the_anchor_entry_that_carries_it() -> None:
    store = {
        "a0": {"m1": _message("a0", 1), "m2": _message("a1", 2)},  # linked: old and new messages
        "b0": {"m3": _message("b0", 3)},
        "c1": {"m4": _message("c1", 4)},  # first seen after the retirement: its own key
    }
    erasures = ErasureSet()
    for pseudonym in ("a1", "c1", "z1"):  # z1: a youth this worker does not hold
        erasures.apply(pseudonym, erasure_record(pseudonym, "k1", "erase", AT))

    assert erased_youths(store, ["a1", "c1", "z1"], erasures) == ["a0", "c1"]
    assert erasures.anchors == {"a0": "a1"}
    # the anchor's own old-key messages are left out from now on, other youth are not
    assert erasures.leaves_out("a0", "2026-01-01T00:00:00Z")
    assert not erasures.leaves_out("b0", "2026-01-01T00:00:00Z")


def test_after_a_readmission_the_anchor_follows_the_new_pseudonyms_cut_off() -> None:
    store = {"a0": {"m1": _message("a0", 1), "m2": _message("a1", 2, "2026-05-01T00:00:00Z")}}
    erasures = ErasureSet()
    erasures.apply("a1", erasure_record("a1", "k1", "readmit", AT))
    # a message received after the re-admission is kept, so the entry is not forgotten
    assert erased_youths(store, ["a1"], erasures) == []
    assert erasures.leaves_out("a0", "2026-03-31T23:59:59Z")
    assert not erasures.leaves_out("a0", "2026-04-01T00:00:00Z")
    store["a0"].pop("m2")
    assert erased_youths(store, ["a1"], erasures) == ["a0"]


@pytest.mark.skipif(not EXAMPLES.is_dir(), reason="worked example not available")
def test_the_worked_example_erase_after_the_retirement_equals_replay_without_the_youth() -> None:
    """Thirds as in test_privacy_links: under k0, rotating, k1 only. Then the youth with most lines
    among those linked in the rotation and seen before it is erased with its k1 pseudonym only: the
    figures equal replay of the feed without its lines, also after every record is read again."""
    regions = load_region_table(EXAMPLES / "regions.csv")
    lines = (EXAMPLES / "feed.jsonl").read_bytes().splitlines()
    bsn = [_bsn(line) for line in lines]
    third = len(lines) // 3
    dedup, links = DictTable(), LinkSet()
    written: list[tuple[bytes, bytes]] = []
    before = _validated(lines[:third], OLD, dedup, links, written)
    during = _validated(lines[third : 2 * third], ROTATING, dedup, links, written)
    linked = {b for b in set(bsn[third : 2 * third]) if b.isdigit() and _accepted(b, during)}
    seen = set(bsn[:third])
    rest = [n for n in range(2 * third, len(lines)) if bsn[n] in linked or bsn[n] not in seen]
    after = _validated([lines[n] for n in rest], RETIRED, dedup, links, written)
    fed = [lines[n] for n in [*range(2 * third), *rest]]
    records = before + during + after
    table = DictTable()
    apply_batch(table, records, regions)

    candidates = [b for b in linked & seen if any(bsn[n] == b for n in rest)]
    youth = max(candidates, key=lambda b: sum(1 for line in fed if _bsn(line) == b))
    anchor, new = pseudonymise(youth, OLD)[0], pseudonymise(youth, RETIRED)[0]
    assert anchor in table.data and new not in table.data
    erasures = ErasureSet()
    erasures.apply(new, erasure_record(new, "k1", "erase", AT))  # the keyring holds k1 only

    forgotten = forget_youths(table.data, erased_youths(table.data, [new], erasures))
    assert forgotten.youths == (anchor,) and forgotten.facts == [(anchor.encode(), None)]

    again = apply_batch(table, records, regions, erasures)  # every record read again (a rebalance)
    assert anchor not in table.data
    facts = {key.decode(): YouthFacts.from_dict(json.loads(decode("YouthFactsRecord", value)["facts_json"]))
             for key, value in again.facts}  # fmt: skip
    without = [line for line in fed if _bsn(line) != youth]
    replay = judge_lines(without, OLD, regions)
    as_of = date(2026, 3, 31)
    assert len(facts) == len(replay.by_youth)
    assert (
        region_figures(facts.values(), as_of, regions) == figures_document(replay, as_of, regions)["regions"]
    )
    assert (
        region_figures(facts.values(), as_of, regions)
        != figures_document(judge_lines(fed, OLD, regions), as_of, regions)["regions"]
    )


def test_the_scan_of_a_national_size_table_takes_well_under_a_second() -> None:
    """150,000 youth with 4 messages each (the order of the youth a national hub holds within the
    retention horizon): one pass for a pseudonym held by no entry. Printed for docs/privacy.md."""
    store = {
        f"{n:064x}": {f"s:{m}": _message(f"{n:064x}" if m < 2 else f"{n:063x}1", m) for m in range(4)}
        for n in range(150_000)
    }
    erasures = ErasureSet()
    erasures.apply("absent", erasure_record("absent", "k1", "erase", AT))
    started = time.perf_counter()
    assert erased_youths(store, ["absent"], erasures) == []
    elapsed = time.perf_counter() - started
    print(f"scan of {len(store)} youth / {4 * len(store)} messages: {elapsed:.3f} s")
    assert elapsed < 5.0
