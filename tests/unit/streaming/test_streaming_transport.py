"""The hub transport's producer: a changelog partition without producer metadata."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import pytest

from services.settings import WorkerSettings
from services.streaming.faust_app import new_faust_app
from services.streaming.partitioner import CachedPartitioner
from services.streaming.transport import Producer, declared_changelog_partitions


class _Metadata:
    def __init__(self, known: dict[str, set[int]]) -> None:
        self.known = known

    def partitions_for_topic(self, topic: str) -> set[int] | None:
        return self.known.get(topic)

    def available_partitions_for_topic(self, topic: str) -> set[int]:
        return self.known.get(topic, set())


def _aiokafka_like(known: dict[str, set[int]], topic: str, key: bytes) -> int:
    """aiokafka's _partition: ``list()`` of missing metadata raises TypeError."""
    partitions: Any = known.get(topic)
    return CachedPartitioner()(key, list(partitions), list(partitions))


def _app_and_producer(tmp_path: Path, known: dict[str, set[int]]) -> tuple[Any, Producer, str]:
    app = new_faust_app(WorkerSettings(app_id="transporttest", data_dir=tmp_path), partitions=6)
    table = app.Table("dedup", key_type=str, partitions=6, use_partitioner=True)
    producer = app.producer
    assert isinstance(producer, Producer)
    producer._producer = SimpleNamespace(  # the aiokafka producer, as far as key_partition looks
        _metadata=_Metadata(known),
        # like aiokafka's _partition: list() of the missing metadata raises TypeError
        _partition=lambda topic, partition, key, value, serialized_key, serialized_value: _aiokafka_like(
            known, topic, serialized_key
        ),
    )
    return app, producer, table.changelog_topic.get_topic_name()


@pytest.mark.parametrize("key", [b"12345678:6f1c0d9e-0000-4000-8000-000000000001", b"x", b""])
def test_changelog_partition_without_metadata_is_the_default_partitioners(tmp_path: Path, key: bytes) -> None:
    _, without, changelog = _app_and_producer(tmp_path / "a", {})
    _, with_metadata, _ = _app_and_producer(tmp_path / "b", {changelog: set(range(6))})
    assert without.key_partition(changelog, key) == with_metadata.key_partition(changelog, key)


def test_other_topics_without_metadata_are_left_to_faust(tmp_path: Path) -> None:
    _, producer, _ = _app_and_producer(tmp_path, {})
    with pytest.raises(TypeError):
        producer.key_partition("not-a-changelog", b"k")


def test_declared_changelog_partitions_only_for_table_changelogs(tmp_path: Path) -> None:
    app, _, changelog = _app_and_producer(tmp_path, {})
    assert declared_changelog_partitions(app.tables.values(), changelog) == 6
    assert declared_changelog_partitions(app.tables.values(), "other") is None


@pytest.mark.parametrize("wait_ms", [100, 1500])
def test_worker_consumer_uses_the_configured_fetch_max_wait(tmp_path: Path, wait_ms: int) -> None:
    """faust hard-codes 1500 ms; the hub's setting replaces it on the consumer faust builds."""
    import asyncio

    from services.streaming.transport import ReadCommittedConsumerThread

    async def build() -> Any:
        settings = WorkerSettings(app_id="fetchwait", data_dir=tmp_path, fetch_max_wait_ms=wait_ms)
        app = new_faust_app(settings, partitions=6)
        thread = cast(Any, app.consumer)._thread
        assert isinstance(thread, ReadCommittedConsumerThread)
        return thread._create_worker_consumer(app.transport)

    consumer = asyncio.run(build())
    assert consumer._fetch_max_wait_ms == wait_ms
    assert consumer._isolation_level == "read_committed"


def test_fetch_max_wait_rejects_nonsense() -> None:
    with pytest.raises(ValueError, match="fetch_max_wait_ms"):
        WorkerSettings(fetch_max_wait_ms=0)
