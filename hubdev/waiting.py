"""One way to wait for something the tests and benchmarks cannot be told about: ask again until
the answer is good or the time is up."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_until(
    read: Callable[[], T],
    done: Callable[[T], object] = bool,
    timeout_s: float = 60.0,
    interval_s: float = 0.5,
) -> T:
    """Call *read* every *interval_s* until ``done(answer)`` holds or *timeout_s* has passed, and
    return the last answer: it is read at least once, and the caller asserts on it (with a message
    that says what was expected), so a timeout fails where the expectation is written."""
    deadline = time.monotonic() + timeout_s
    while True:
        answer = read()
        if done(answer) or time.monotonic() >= deadline:
            return answer
        time.sleep(interval_s)
