"""Where a batch of consumed records ends, per partition (for the lag gauge after the batch)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol


class Consumed(Protocol):
    """A consumed record's place (aiokafka's ``ConsumerRecord`` has these attributes)."""

    @property
    def partition(self) -> int: ...

    @property
    def offset(self) -> int: ...


def highest_offsets(records: Iterable[Consumed]) -> dict[int, int]:
    """partition -> the highest offset among *records* (only partitions that occur)."""
    highest: dict[int, int] = {}
    for record in records:
        partition, offset = record.partition, record.offset
        if offset > highest.get(partition, -1):
            highest[partition] = offset
    return highest
