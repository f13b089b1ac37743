"""Token buckets keyed by sender or client address, with bounded memory.

A bucket holds up to ``capacity`` tokens and refills at ``rate`` per second; a request costing
``n`` tokens passes when ``n`` are there. The answer to a refused request is how long to wait,
which becomes the Retry-After header. The clock is injected so tests need no sleeping.
A tiny class instead of a library: the per-key table and the "seconds until" answer are the parts
we need, and they are a dozen lines.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable


class TokenBucket:
    __slots__ = ("capacity", "rate", "tokens", "updated")

    def __init__(self, rate: float, capacity: float, now: float) -> None:
        if rate <= 0 or capacity <= 0:
            raise ValueError("rate and capacity must be positive")
        self.rate = rate
        self.capacity = capacity
        self.tokens = capacity
        self.updated = now

    def _refill(self, now: float) -> None:
        if now > self.updated:
            self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
            self.updated = now

    def take(self, cost: float, now: float) -> float:
        """Take *cost* tokens: 0.0 when granted, else the seconds until they would be there."""
        self._refill(now)
        if cost > self.capacity:
            return math.inf
        if self.tokens >= cost:
            self.tokens -= cost
            return 0.0
        return (cost - self.tokens) / self.rate

    def wait_for(self, cost: float, now: float) -> float:
        """Seconds until *cost* tokens are there, without taking any."""
        self._refill(now)
        if cost > self.capacity:
            return math.inf
        return max(0.0, (cost - self.tokens) / self.rate)


class KeyedLimiter:
    """One bucket per key; the least recently used buckets are forgotten beyond ``max_keys``.

    Forgetting a bucket refills it, so ``max_keys`` must exceed the number of keys active within
    one refill period (senders: a few thousand; client addresses: set it generously).
    """

    def __init__(
        self,
        rate: float,
        capacity: float,
        *,
        max_keys: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rate = rate
        self.capacity = capacity
        self.max_keys = max_keys
        self._clock = clock
        self._buckets: OrderedDict[str, TokenBucket] = OrderedDict()

    def __len__(self) -> int:
        return len(self._buckets)

    def _bucket(self, key: str, now: float) -> TokenBucket:
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = TokenBucket(self.rate, self.capacity, now)
            self._buckets[key] = bucket
            while len(self._buckets) > self.max_keys:
                self._buckets.popitem(last=False)
        else:
            self._buckets.move_to_end(key)
        return bucket

    def take(self, key: str, cost: float = 1.0) -> float:
        now = self._clock()
        return self._bucket(key, now).take(cost, now)

    def wait_for(self, key: str, cost: float = 1.0) -> float:
        now = self._clock()
        bucket = self._buckets.get(key)
        return 0.0 if bucket is None else bucket.wait_for(cost, now)


def retry_after_seconds(wait: float) -> int:
    """Whole seconds for the Retry-After header (at least 1)."""
    if math.isinf(wait):
        return 3600
    return max(1, math.ceil(wait))
