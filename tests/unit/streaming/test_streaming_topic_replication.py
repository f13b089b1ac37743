"""Hub topics and faust's own topics get the replication factor from the settings."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from services.contracts.topics import ALL_TOPICS
from services.settings import WorkerSettings
from services.streaming import topic_admin
from services.streaming.faust_app import new_faust_app


def _record_calls(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    calls: list[dict[str, Any]] = []

    def fake_ensure(bootstrap: str, names: list[str], **kwargs: Any) -> None:
        calls.append({"names": list(names), **kwargs})

    monkeypatch.setattr(topic_admin, "ensure_topics", fake_ensure)
    return calls


def test_default_is_one_replica_and_the_brokers_min_insync(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("JEUGDHUB_REPLICATION_FACTOR", raising=False)
    monkeypatch.delenv("JEUGDHUB_MIN_INSYNC_REPLICAS", raising=False)
    calls = _record_calls(monkeypatch)
    topic_admin.create_hub_topics("127.0.0.1:1", "p.")
    assert len(calls) == len(ALL_TOPICS)
    assert {c["replication_factor"] for c in calls} == {1}
    assert all("min.insync.replicas" not in c["config"] for c in calls)


def test_settings_give_every_hub_topic_three_replicas_two_in_sync(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JEUGDHUB_REPLICATION_FACTOR", "3")
    monkeypatch.setenv("JEUGDHUB_MIN_INSYNC_REPLICAS", "2")
    calls = _record_calls(monkeypatch)
    names = topic_admin.create_hub_topics("127.0.0.1:1", "p.")
    assert names == [spec.full_name("p.") for spec in ALL_TOPICS]
    assert {c["replication_factor"] for c in calls} == {3}
    assert {c["config"]["min.insync.replicas"] for c in calls} == {"2"}
    # the declared partitions and retention are untouched
    assert [c["partitions"] for c in calls] == [spec.partitions for spec in ALL_TOPICS]


def test_faust_changelogs_get_the_replication_factor(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("JEUGDHUB_REPLICATION_FACTOR", "3")
    app = new_faust_app(WorkerSettings(data_dir=tmp_path), 6)
    assert app.conf.topic_replication_factor == 3
