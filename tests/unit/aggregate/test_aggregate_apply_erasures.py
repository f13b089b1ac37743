"""The apply stage leaves out validated messages of an erased youth (and, after a re-admission,
those received before it), so a re-read never brings an erased youth back."""

from __future__ import annotations

from datetime import UTC, datetime

from services.aggregate.apply import apply_batch
from services.privacy.erasure import ErasureSet, erasure_record
from tests.unit.aggregate.aggregate_support import TABLE, DictTable, Feed
from tests.unit.aggregate.test_aggregate_apply import rec


def test_messages_of_an_erased_youth_are_not_applied_and_after_readmission_only_new_ones() -> None:
    a, b = Feed("ya"), Feed("yb")
    old = a.start("11111111", "P1", "2026-01-05", created_at="2026-01-05T09:00:00Z")  # = received_at
    other = b.start("22222222", "P2", "2026-01-06")
    erasures = ErasureSet()
    erasures.apply("ya", erasure_record("ya", "k1", "erase", datetime(2026, 3, 1, tzinfo=UTC)))
    table = DictTable()

    batch = apply_batch(table, [rec(old, 0, 1), rec(other, 1, 1)], TABLE, erasures)
    assert set(table.data) == {"yb"}
    assert [key for key, _ in batch.facts] == [b"yb"]

    erasures.apply("ya", erasure_record("ya", "k1", "readmit", datetime(2026, 3, 2, tzinfo=UTC)))
    new = a.start("11111111", "P3", "2026-03-05", created_at="2026-03-05T09:00:00Z")
    batch = apply_batch(table, [rec(old, 0, 1), rec(new, 0, 2)], TABLE, erasures)
    assert [m["placement_id"] for m in table.data["ya"].values()] == ["P3"]
    assert [key for key, _ in batch.facts] == [b"ya"]
