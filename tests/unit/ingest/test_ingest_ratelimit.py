"""Token buckets with an injected clock: grant, refuse with the wait, refill, forget old keys."""

from __future__ import annotations

import math

import pytest

from services.ingest.ratelimit import KeyedLimiter, TokenBucket, retry_after_seconds


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_bucket_grants_up_to_capacity_then_says_how_long_to_wait() -> None:
    bucket = TokenBucket(rate=10.0, capacity=5.0, now=0.0)
    assert [bucket.take(1, 0.0) for _ in range(5)] == [0.0] * 5
    assert bucket.take(1, 0.0) == pytest.approx(0.1)
    assert bucket.take(3, 0.0) == pytest.approx(0.3)
    assert bucket.take(1, 0.1) == 0.0  # refilled one token
    assert bucket.wait_for(5, 0.1) == pytest.approx(0.5)


def test_refill_never_exceeds_capacity() -> None:
    bucket = TokenBucket(rate=100.0, capacity=2.0, now=0.0)
    bucket.take(2, 0.0)
    assert bucket.take(2, 60.0) == 0.0
    assert bucket.take(1, 60.0) > 0


def test_a_cost_larger_than_the_bucket_can_never_pass() -> None:
    bucket = TokenBucket(rate=1.0, capacity=5.0, now=0.0)
    assert math.isinf(bucket.take(6, 0.0))
    assert bucket.take(5, 0.0) == 0.0  # the refusal took nothing


def test_invalid_bucket() -> None:
    with pytest.raises(ValueError, match="must be positive"):
        TokenBucket(rate=0, capacity=1, now=0)


def test_keys_have_their_own_buckets() -> None:
    clock = Clock()
    limiter = KeyedLimiter(rate=1.0, capacity=2.0, clock=clock)
    assert limiter.take("a") == 0.0
    assert limiter.take("a") == 0.0
    assert limiter.take("a") == pytest.approx(1.0)
    assert limiter.take("b") == 0.0
    clock.now += 1.0
    assert limiter.take("a") == 0.0


def test_wait_for_does_not_take_and_is_zero_for_unknown_keys() -> None:
    clock = Clock()
    limiter = KeyedLimiter(rate=1.0, capacity=1.0, clock=clock)
    assert limiter.wait_for("x") == 0.0
    limiter.take("x")
    assert limiter.wait_for("x") == pytest.approx(1.0)
    assert limiter.wait_for("x") == pytest.approx(1.0)
    assert len(limiter) == 1


def test_least_recently_used_keys_are_forgotten_beyond_max_keys() -> None:
    clock = Clock()
    limiter = KeyedLimiter(rate=1.0, capacity=1.0, max_keys=2, clock=clock)
    limiter.take("a")
    limiter.take("b")
    limiter.take("a")  # a is now the most recently used
    limiter.take("c")  # forgets b
    assert len(limiter) == 2
    assert limiter.wait_for("b") == 0.0
    assert limiter.wait_for("a") > 0


@pytest.mark.parametrize(("wait", "header"), [(0.01, 1), (1.0, 1), (1.2, 2), (59.5, 60), (math.inf, 3600)])
def test_retry_after_is_whole_seconds_at_least_one(wait: float, header: int) -> None:
    assert retry_after_seconds(wait) == header
