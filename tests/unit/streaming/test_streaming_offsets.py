"""A batch's last offset per partition, whatever order its records come in."""

from __future__ import annotations

from dataclasses import dataclass

from services.streaming.offsets import highest_offsets


@dataclass
class Rec:
    partition: int
    offset: int


def test_the_highest_offset_of_each_partition_that_occurs() -> None:
    records = [Rec(0, 5), Rec(3, 9), Rec(0, 7), Rec(3, 2), Rec(0, 6)]
    assert highest_offsets(records) == {0: 7, 3: 9}
    assert highest_offsets([]) == {}
