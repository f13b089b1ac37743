"""CompactedFollower on the real broker: it reads every partition of a topic from the beginning
(tombstones included) before ``loaded`` is set, then follows records written afterwards; the
erasure and links followers are built on it."""

from __future__ import annotations

import asyncio
import logging

import pytest

from services.contracts.topics import LINKS
from services.privacy.links import LinkFollower, encode_link
from services.privacy.rotation import YouthLink
from services.streaming.compacted_follower import CompactedFollower
from services.streaming.topic_admin import create_hub_topics
from tests.integration.hub_processes import produce

pytestmark = pytest.mark.integration
T = "2026-01-02T03:04:05Z"


def test_reads_to_the_end_then_follows(kafka_bootstrap: str, unique_prefix: str) -> None:
    create_hub_topics(kafka_bootstrap, unique_prefix)
    topic = LINKS.full_name(unique_prefix)
    before = [(f"y{n}".encode(), encode_link(YouthLink(f"a{n}", "k0", "k1", T))) for n in range(50)]
    produce(kafka_bootstrap, topic, [*before, (b"y3", None)])  # type: ignore[list-item]

    async def scenario() -> None:
        seen: list[tuple[bytes | None, bytes | None]] = []
        loaded_with: list[int] = []
        follower = CompactedFollower(
            kafka_bootstrap,
            topic,
            lambda k, v: seen.append((k, v)),
            logging.getLogger("test"),
            "topic missing",
            lambda: loaded_with.append(len(seen)),
            fetch_max_wait_ms=100,
        )
        links = LinkFollower(kafka_bootstrap, unique_prefix, fetch_max_wait_ms=100)
        tasks = [asyncio.create_task(follower.run()), asyncio.create_task(links.run())]
        try:
            await asyncio.wait_for(follower.loaded.wait(), 60)
            await asyncio.wait_for(links.loaded.wait(), 60)
            assert loaded_with == [51] and len(seen) == 51
            assert [v for k, v in seen if k == b"y3"][-1] is None  # in order within a partition
            assert len(links.links) == 49 and links.links.anchor_of("y3") is None
            produce(kafka_bootstrap, topic, [(b"y99", encode_link(YouthLink("a99", "k1", "k2", T)))])
            for _ in range(200):
                if links.links.anchor_of("y99") == "a99" and len(seen) == 52:
                    break
                await asyncio.sleep(0.05)
            assert links.links.anchor_of("y99") == "a99" and len(seen) == 52
            assert links.links.rotations() == {("k0", "k1"), ("k1", "k2")}
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    asyncio.run(scenario())
