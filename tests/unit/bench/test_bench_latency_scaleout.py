"""The suite's latency legs, scale-out ratios and their report lines (no broker: the pure parts)."""

from __future__ import annotations

import random
from datetime import date
from typing import Any

import pytest

from bench import aggregate_bench, latency_stages, scaleout, suite


def test_facts_are_matched_to_the_first_snapshot_whose_count_reaches_their_rank() -> None:
    seen = [(1.0, 2), (2.0, 3)]  # (snapshot time, count above the base)
    # out of order on purpose: ranks follow time order; the fourth is not reflected yet
    assert latency_stages.facts_to_snapshot([0.7, 0.5, 1.8, 1.5], seen) == pytest.approx([0.5, 0.3, 0.5])
    assert latency_stages.facts_to_snapshot([0.5], []) == []


def test_summary_percentiles_by_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert latency_stages.summary(list(reversed(values))) == {
        "p50": 50.0,
        "p95": 95.0,
        "p99": 99.0,
        "max": 100.0,
    }
    assert latency_stages.summary([])["p99"] is None


def test_scaleout_ratios_are_to_the_one_worker_step(monkeypatch: pytest.MonkeyPatch) -> None:
    rates = {1: 1000.0, 2: 900.0, 3: 750.0}
    cpu = {1: 500.0, 2: 550.0, 3: 600.0}

    def fake_step(*args: Any) -> dict[str, Any]:
        workers = args[5]
        return {
            "workers_per_service": workers,
            "messages_per_s": rates[workers],
            "cpu_us_per_message": cpu[workers],
        }

    monkeypatch.setattr(scaleout, "step", fake_step)
    result = scaleout.stage(None, None, None, [], lambda p: {}, 1.0)  # type: ignore[arg-type]
    assert [s["ratio_to_1_worker"] for s in result["steps"]] == [1.0, 0.9, 0.75]
    assert [s["cpu_per_message_ratio_to_1_worker"] for s in result["steps"]] == [1.0, 1.1, 1.2]
    assert "cannot show is a cluster's speed-up" in result["what_two_cores_show"]


class _Admin:
    def __init__(self, states: list[tuple[str, int]]) -> None:
        self.states = states

    def describe_groups(self, groups: list[str]) -> dict[str, Any]:
        state, members = self.states.pop(0) if len(self.states) > 1 else self.states[0]
        return {groups[0]: {"group_state": state, "members": [{}] * members}}


def test_groups_count_as_stable_only_twice_in_a_row_with_every_member(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("bench.scaleout.time.sleep", lambda s: None)
    admin = _Admin([("Stable", 1), ("PreparingRebalance", 2), ("Stable", 2), ("Stable", 2)])
    scaleout._wait_stable(admin, ["g"], 2, timeout_s=5)
    assert admin.states == [("Stable", 2)]
    with pytest.raises(TimeoutError, match="not Stable with 3 members"):
        scaleout._wait_stable(_Admin([("Stable", 2)]), ["g"], 3, timeout_s=0.05)


def test_latency_messages_have_no_digits_in_their_placement_id() -> None:
    rng = random.Random(7)
    messages = [
        suite._without_digit_runs(aggregate_bench._new_youth_message(rng, date(2026, 3, 31)))
        for _ in range(500)
    ]
    ids = [str(m["placement_id"]) for m in messages]
    assert not any(c.isdigit() for i in ids for c in i)
    assert len(set(ids)) == len(ids)


def _doc(step: dict[str, Any]) -> dict[str, Any]:
    return {
        "machine": {"nproc": 2, "cpu_model": "x", "python": "3.11", "loadavg_before": [], "loadavg_after": []},
        "kafka_version": "4",
        "quick": True,
        "finished_at": "now",
        "stages": {
            "latency": {"rates": [2000.0], "steps": [step]},
            "scaleout": {
                "cores": 2,
                "what_two_cores_show": "TWO CORES TEXT",
                "steps": [
                    {"workers_per_service": 1, "messages_per_s": 1000.0, "ratio_to_1_worker": 1.0,
                     "cpu_us_per_message": 500.0, "validate_messages_per_worker": [10],
                     "aggregate_applied_per_worker": [9], "reprocessed": 0},
                    {"workers_per_service": 2, "messages_per_s": 800.0, "ratio_to_1_worker": 0.8,
                     "cpu_us_per_message": 600.0, "validate_messages_per_worker": [5, 6],
                     "aggregate_applied_per_worker": [4, 5], "reprocessed": 1},
                ],
            },
        },
    }  # fmt: skip


def _step(**changes: Any) -> dict[str, Any]:
    step = {
        "target_rate_per_s": 2000.0, "latency_s": {"p50": 0.4, "p95": 0.7, "p99": 0.9},
        "achieved_accept_rate_per_s": 1990.0, "accepted_http_202": 30000, "http_errors": 0, "reflected": 30000,
        "all_reflected": True, "sustained": True, "reflected_rate_per_s": 1995.0,
        "stages": {"legs_s": {"facts_to_snapshot": {"p50": 0.1, "p99": 0.3}}},
        "cpu_us_per_message": {"ingest": 300, "validate": 200, "aggregate": 300, "broker": 150, "client": 50},
    }  # fmt: skip
    return {**step, **changes}


def test_the_report_says_not_sustained_and_what_the_cpus_could_carry() -> None:
    text = suite.markdown(_doc(_step()))
    assert "p99 0.90 s" in text and "NOT sustained" not in text
    assert "CPU µs/msg: ingest 300, validate 200, aggregate 300, broker 150, client 50 = 1000" in text
    assert "2 CPUs carry at most 2,000/s" in text
    slow = suite.markdown(_doc(_step(sustained=False, reflected_rate_per_s=1500.0, http_errors=3,
                                     http_errors_by_status={"503": 3})))  # fmt: skip
    assert "NOT sustained (1500.0/s end to end)" in slow
    assert "3 not accepted {'503': 3}" in slow


def test_the_report_has_one_scaleout_row_per_worker_count_and_the_two_cores_text() -> None:
    text = suite.markdown(_doc(_step()))
    assert "| scale-out: pipeline, 1 worker(s) per service | 1,000 msg/s | 1.00 of 1 worker |" in text
    assert "| scale-out: pipeline, 2 worker(s) per service | 800 msg/s | 0.80 of 1 worker |" in text
    assert "1 read twice" in text
    assert "Scale-out on 2 CPUs: TWO CORES TEXT" in text


def test_latency_messages_are_each_a_new_youth_across_takes() -> None:
    messages = suite.YouthMessages(random.Random(2026), date(2026, 3, 31))
    taken = messages.take(50) + messages.take(7_500) + messages.take(30_000)
    assert len(taken) == 37_550
    assert len({m["bsn"] for m in taken}) == len(taken)  # the seed draws 7 BSNs twice
