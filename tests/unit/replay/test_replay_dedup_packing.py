"""Replay's duplicate table packs each entry into 41 bytes (services/replay/offline.py): the entry
read back is the one stored, so duplicates, conflicts and re-sends are judged as by the worker."""

from __future__ import annotations

import hashlib

import orjson
from hypothesis import given
from hypothesis import strategies as st

from hubdev.paths import SPEC_EXAMPLES
from services.contracts.regions import load_region_table
from services.privacy.pseudonym import ephemeral_keyring
from services.replay import offline
from services.validate.dedup import DedupEntry


@given(
    st.binary(min_size=32, max_size=32),
    st.sampled_from(["accepted", "rejected"]),
    st.one_of(st.none(), st.integers(min_value=0, max_value=2**63 - 1)),
)
def test_a_packed_entry_unpacks_to_the_same_entry(digest: bytes, outcome: str, line: int | None) -> None:
    entry = DedupEntry(hashlib.sha256(digest).hexdigest(), outcome, line)  # type: ignore[arg-type]
    packed = offline._pack_entry(entry)
    assert len(packed) == 41
    assert offline._unpack_entry(packed) == entry


def test_resends_and_conflicts_are_judged_with_packed_entries() -> None:
    """The example's first accepted line sent again (a duplicate) and changed (a JH030 conflict)."""
    lines = (SPEC_EXAMPLES / "feed.jsonl").read_bytes().splitlines()
    regions = load_region_table(SPEC_EXAMPLES / "regions.csv")
    first = offline.judge_lines(lines, ephemeral_keyring(), regions)
    accepted = next(
        line for line in lines if offline.judge_lines([line], ephemeral_keyring(), regions).accepted
    )
    changed = orjson.loads(accepted)
    changed["created_at"] = "2025-01-01T00:00:00Z"
    rejections: list[str] = []
    again = offline.judge_lines(
        [*lines, accepted, orjson.dumps(changed)],
        ephemeral_keyring(),
        regions,
        lambda r: rejections.extend(e["code"] for e in r["errors"]),
    )
    assert again.duplicates == first.duplicates + 1
    assert again.rejected == first.rejected + 1 and "JH030" in rejections
    assert again.accepted == first.accepted
