"""``hubdev.waiting.wait_until``: the one polling loop of the tests."""

from __future__ import annotations

import itertools
import time

from hubdev.waiting import wait_until


def test_returns_the_first_good_answer() -> None:
    counter = itertools.count()
    assert wait_until(lambda: next(counter), lambda n: n >= 3, timeout_s=5, interval_s=0) == 3


def test_returns_the_last_answer_when_the_time_is_up() -> None:
    started = time.monotonic()
    assert wait_until(lambda: 0, timeout_s=0.2, interval_s=0.05) == 0
    assert 0.2 <= time.monotonic() - started < 2


def test_reads_at_least_once() -> None:
    assert wait_until(lambda: "ready", timeout_s=0) == "ready"
