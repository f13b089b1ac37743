"""Retour cursors and the sender's partition (the producer's default partitioner, exactly)."""

from __future__ import annotations

import pytest
from aiokafka.partitioner import DefaultPartitioner
from aiokafka.partitioner import murmur2 as aiokafka_murmur2
from hypothesis import given
from hypothesis import strategies as st

from services.ingest.cursor import Cursor, CursorError, decode_cursor, murmur2, partition_for


@given(st.binary(max_size=200))
def test_murmur2_equals_aiokafkas(data: bytes) -> None:
    assert murmur2(data) == aiokafka_murmur2(data)


@given(st.binary(min_size=1, max_size=60), st.integers(min_value=1, max_value=64))
def test_partition_is_what_the_default_partitioner_picks(key: bytes, partitions: int) -> None:
    everything = list(range(partitions))
    assert partition_for(key, partitions) == DefaultPartitioner()(key, everything, everything)


def test_known_partition_values() -> None:
    # Kafka's Java client maps these keys the same way (murmur2, positive, modulo).
    assert murmur2(b"") == 275646681
    assert partition_for(b"12345678", 6) == partition_for(b"12345678", 6)
    with pytest.raises(ValueError, match="at least one partition"):
        partition_for(b"x", 0)


def test_cursor_round_trip() -> None:
    cursor = Cursor(6, 4, 123456789)
    text = cursor.encode()
    assert "=" not in text and len(text) <= 64
    assert decode_cursor(text, partitions=6, partition=4) == cursor


@pytest.mark.parametrize(
    "text",
    ["", "!!!!", "djEuNi40", "x" * 65, Cursor(6, 4, 1).encode() + "A", "dj"],
)
def test_malformed_cursors_are_refused(text: str) -> None:
    with pytest.raises(CursorError):
        decode_cursor(text, partitions=6, partition=4)


def test_a_cursor_of_another_partition_or_layout_is_refused() -> None:
    with pytest.raises(CursorError, match="another sender"):
        decode_cursor(Cursor(6, 3, 10).encode(), partitions=6, partition=4)
    with pytest.raises(CursorError, match="older topic layout"):
        decode_cursor(Cursor(3, 1, 10).encode(), partitions=6, partition=1)
