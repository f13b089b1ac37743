"""A faust worker's ``/readyz`` body says how far its changelog recovery got (issue 13, item 4):
before, start-up showed "not ready" for over a minute with no hint that state was being restored."""

from __future__ import annotations

from collections import Counter
from types import SimpleNamespace
from typing import Any

from services.streaming.web import RecoveryProgress, readiness


class FakeRecovery:
    def __init__(self) -> None:
        self.highwaters: dict[str, int] = {}
        self.offsets: Counter[str] = Counter()

    def active_remaining(self) -> Counter[str]:
        return Counter({tp: hw - self.offsets[tp] for tp, hw in self.highwaters.items()})


def _app(recovery: FakeRecovery) -> Any:
    return SimpleNamespace(tables=SimpleNamespace(recovery=recovery), rebalancing=True)


def test_restored_and_total_follow_the_changelog_read() -> None:
    recovery = FakeRecovery()
    progress = RecoveryProgress(_app(recovery))
    assert progress.sample() is None  # highwaters not looked up yet
    recovery.highwaters = {"tp0": 999, "tp1": 499}
    recovery.offsets.update({"tp0": -1, "tp1": -1})
    assert progress.sample() == {"restored": 0, "total": 1500}
    recovery.offsets.update({"tp0": 600, "tp1": 100})  # Counter.update adds: 599 and 99
    assert progress.sample() == {"restored": 700, "total": 1500}
    recovery.offsets = Counter({"tp0": 999, "tp1": 499})
    assert progress.sample() is None  # done
    # a later recovery (a rebalance) counts from its own start
    recovery.highwaters = {"tp0": 1099}
    assert progress.sample() == {"restored": 0, "total": 100}


def test_readyz_body_and_status() -> None:
    assert readiness(True, None) == ({"status": "ready"}, 200)
    assert readiness(False, {"restored": 7, "total": 10}) == (
        {"status": "recovering", "restored": 7, "total": 10},
        503,
    )
    assert readiness(False, None) == ({"status": "not ready"}, 503)
