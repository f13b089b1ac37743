"""The aggregate joins the erasures and the key rotation's links: an erased pseudonym with a link
(new pseudonym -> anchor) erases its anchor, whichever of the two records is read first, so a worker
that starts again knows the anchor of a youth erased after the old key's retirement without finding
it in its table (docs/privacy.md, "Erasure after the retirement")."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any, cast

from hypothesis import given
from hypothesis import strategies as st

from services.aggregate.erasures import ErasureSweep
from services.aggregate.forget import erased_youths
from services.privacy.erasure import ErasureEntry, ErasureSet, erasure_record
from services.privacy.rotation import LinkSet, YouthLink

AT = datetime(2026, 4, 1, tzinfo=UTC)


def _sweep() -> tuple[ErasureSweep, ErasureSet, LinkSet]:
    erasures, links = ErasureSet(), LinkSet()
    follower = SimpleNamespace(erasures=erasures, loaded=asyncio.Event())
    link_follower = SimpleNamespace(links=links, loaded=asyncio.Event())
    sweep = ErasureSweep(cast(Any, None), cast(Any, follower), "", asyncio.Lock(), cast(Any, link_follower))
    return sweep, erasures, links


def _link(anchor: str) -> YouthLink:
    return YouthLink(anchor, "k0", "k1", "2026-02-01T00:00:00Z")


def _erasure(erasures: ErasureSet, sweep: ErasureSweep, pseudonym: str, action: str, at: datetime) -> None:
    entry = erasures.apply(pseudonym, erasure_record(pseudonym, "k1", action, at))  # type: ignore[arg-type]
    sweep.on_record(pseudonym, entry)


def _link_read(links: LinkSet, sweep: ErasureSweep, pseudonym: str, anchor: str) -> None:
    links.apply(pseudonym, _link(anchor))
    sweep.on_link(pseudonym, _link(anchor))


@given(st.booleans(), st.booleans())
def test_the_anchor_of_an_erased_linked_pseudonym_is_left_out_in_either_order(
    link_first: bool, unrelated_link: bool
) -> None:
    sweep, erasures, links = _sweep()
    if unrelated_link:
        _link_read(links, sweep, "b1", "b0")
    if link_first:
        _link_read(links, sweep, "a1", "a0")
        _erasure(erasures, sweep, "a1", "erase", AT)
    else:
        _erasure(erasures, sweep, "a1", "erase", AT)
        _link_read(links, sweep, "a1", "a0")

    assert erasures.anchors == {"a0": "a1"}
    assert erasures.leaves_out("a0", "2026-01-01T00:00:00Z")  # a re-read k0-era record
    assert not erasures.leaves_out("b0", "2026-01-01T00:00:00Z")
    assert "a1" in sweep._pending  # swept at the next tick


def test_the_anchor_follows_a_readmission_and_an_erasure_tombstone() -> None:
    sweep, erasures, links = _sweep()
    _link_read(links, sweep, "a1", "a0")
    _erasure(erasures, sweep, "a1", "erase", AT)
    _erasure(erasures, sweep, "a1", "readmit", AT.replace(month=5))
    assert erasures.leaves_out("a0", "2026-04-30T23:59:59Z")
    assert not erasures.leaves_out("a0", "2026-05-01T00:00:00Z")
    erasures.apply("a1", None)
    sweep.on_record("a1", None)
    assert not erasures.leaves_out("a0", "2026-01-01T00:00:00Z")


def test_a_link_of_a_pseudonym_never_erased_erases_nothing() -> None:
    sweep, erasures, links = _sweep()
    _link_read(links, sweep, "a1", "a0")
    assert erasures.anchors == {}
    assert not sweep._pending
    assert not erasures.erase_linked("a1", "a0")
    erasures.entries["a1"] = ErasureEntry("erase", AT)
    assert not erasures.erase_linked("a1", None)  # no link: nothing to join
    assert not erasures.erase_linked("a1", "a1")  # not anchored


def test_the_linked_anchor_is_selected_without_its_messages_carrying_the_pseudonym() -> None:
    """The link alone names the entry: even an anchor holding only its k0-era messages (the youth
    sent nothing since the rotation under this worker's eyes) is forgotten."""
    sweep, erasures, links = _sweep()
    _link_read(links, sweep, "a1", "a0")
    _erasure(erasures, sweep, "a1", "erase", AT)
    store = {"a0": {"m1": {"youth_pseudonym": "a0", "received_at": "2026-01-02T03:04:05Z"}}, "b0": {}}
    assert erased_youths(store, ["a1"], erasures) == ["a0"]
