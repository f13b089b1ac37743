"""The cached partitioner picks exactly the partition aiokafka's default partitioner picks."""

from __future__ import annotations

import random

from aiokafka.partitioner import DefaultPartitioner
from aiokafka.partitioner import murmur2 as reference_murmur2

from services.streaming.partitioner import CachedPartitioner, murmur2


def test_murmur2_equals_the_reference_for_every_length() -> None:
    rng = random.Random(11)
    for length in range(0, 130):
        for _ in range(20):
            data = rng.randbytes(length)
            assert murmur2(data) == reference_murmur2(data)
    for data in (b"", b"a", b"12345678", b"10000001:0f8fad5b-d9cb-469f-a165-70867728950e", b"\xff" * 67):
        assert murmur2(data) == reference_murmur2(data)


def test_partition_choice_equals_the_default_partitioner() -> None:
    rng = random.Random(12)
    cached, default = CachedPartitioner(max_keys=50), DefaultPartitioner()
    keys = [rng.randbytes(rng.randrange(1, 80)) for _ in range(300)]
    for _ in range(3):  # again, from the cache (which is cleared when full)
        for key in keys:
            for count in (1, 3, 6, 7):
                partitions = list(range(count))
                assert cached(key, partitions, partitions) == default(key, partitions, partitions)
                assert cached(bytearray(key), partitions, []) == default(bytearray(key), partitions, [])
    assert cached(None, [0, 1, 2], [1]) == 1
