"""Reading ``jeugdhub.youth-links.v1``: the Kafka side of the key rotation's links.

Validate writes a youth's link (new pseudonym -> anchor, :class:`services.privacy.rotation.YouthLink`)
with the youth's first validated record of a rotation, in the same batch, acknowledged before the
batch's offsets are committed (services/validate/answer.py, service.py). Readers keep the topic in
a :class:`~services.privacy.rotation.LinkSet`, read like the erasure topic
(services/privacy/erasure_topic.py): all partitions from the beginning, no consumer group.

* :func:`read_links` (blocking): to the current end, for validate's key check at start and for
  ``jeugdhub erase`` (which must find the anchor of a youth after the old key is retired);
* :class:`LinkFollower` (asyncio): a background task of validate and of the aggregate;
  :attr:`LinkFollower.loaded` is set at the end seen at start (neither judges nor applies anything
  before, their ``/readyz`` waits for it), then it follows the links validate workers write.
  Validate keeps linked youth on their anchors; the aggregate knows from them the anchor of a
  pseudonym erased after the old key's retirement (services/aggregate/erasures.py).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime

from kafka import KafkaConsumer
from kafka import TopicPartition as SyncTopicPartition

from services.contracts.codec import decode, encode
from services.contracts.errors import ContractError
from services.contracts.topics import LINKS
from services.privacy.rotation import LinkSet, YouthLink
from services.streaming.compacted_follower import CompactedFollower

log = logging.getLogger("jeugdhub.links")

OnLink = Callable[[str, YouthLink | None], None]
"""Called with (new pseudonym, link or None for a tombstone) once a record is in the set."""

_TIMESTAMP = "%Y-%m-%dT%H:%M:%SZ"


def encode_link(link: YouthLink) -> bytes:
    """The ``YouthLink`` record's value bytes."""
    linked_at = datetime.strptime(link.linked_at, _TIMESTAMP).replace(tzinfo=UTC)
    return encode(
        "YouthLink",
        {
            "anchor_pseudonym": link.anchor_pseudonym,
            "anchor_key_id": link.anchor_key_id,
            "new_key_id": link.new_key_id,
            "linked_at": linked_at,
        },
    )


def decode_link(value: bytes) -> YouthLink:
    record = decode("YouthLink", value)
    return YouthLink(
        str(record["anchor_pseudonym"]),
        str(record["anchor_key_id"]),
        str(record["new_key_id"]),
        record["linked_at"].astimezone(UTC).strftime(_TIMESTAMP),
    )


def apply_record(
    links: LinkSet, key: bytes | None, value: bytes | None
) -> tuple[str, YouthLink | None] | None:
    """One consumed record into the set: (pseudonym, link) as applied; an unusable one is logged
    and skipped (None)."""
    if key is None:
        log.error("link record without a key skipped")
        return None
    try:
        pseudonym = key.decode("utf-8", "replace")
        link = None if value is None else decode_link(value)
    except ContractError as exc:
        log.error("unusable link record skipped", extra={"error": str(exc)[:300]})
        return None
    links.apply(pseudonym, link)
    return pseudonym, link


def read_links(bootstrap: str, prefix: str, timeout_s: float = 60.0) -> LinkSet | None:
    """The links topic up to its current end; ``None`` when the topic does not exist."""
    topic = LINKS.full_name(prefix)
    links = LinkSet()
    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, isolation_level="read_committed"
    )
    try:
        partitions = consumer.partitions_for_topic(topic)
        if not partitions:
            return None
        tps = [SyncTopicPartition(topic, p) for p in sorted(partitions)]
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        ends = consumer.end_offsets(tps)
        deadline = time.monotonic() + timeout_s
        while any(consumer.position(tp) < ends[tp] for tp in tps):
            if time.monotonic() > deadline:
                raise TimeoutError(f"{topic} not read to its end within {timeout_s:.0f} s")
            for records in consumer.poll(timeout_ms=500, max_records=10_000).values():
                for record in records:
                    apply_record(links, record.key, record.value)
        return links
    finally:
        consumer.close()


class LinkFollower:
    """A worker's view of the links topic, kept current by :meth:`run` (an ``app.task``); a
    :class:`~services.streaming.compacted_follower.CompactedFollower` into a :class:`LinkSet` that
    calls :attr:`on_record` for each record once it is in the set. The worker waits while the topic
    is missing: after the old key's retirement, judging without the links would give linked youth a
    second identity, and applying without them could bring an erased youth back."""

    def __init__(
        self, bootstrap: str, prefix: str, fetch_max_wait_ms: int = 500, on_record: OnLink | None = None
    ) -> None:
        self.links = LinkSet()
        self.on_record = on_record
        self._follower = CompactedFollower(
            bootstrap,
            LINKS.full_name(prefix),
            self._apply,
            log,
            "links topic missing; waiting for it",
            lambda: log.info("links loaded", extra={"linked_youth": len(self.links)}),
            fetch_max_wait_ms,
        )
        self.loaded = self._follower.loaded

    def _apply(self, key: bytes | None, value: bytes | None) -> None:
        applied = apply_record(self.links, key, value)
        if applied is not None and self.on_record is not None:
            self.on_record(*applied)

    async def run(self) -> None:
        """Read from the beginning, set :attr:`loaded` at the end seen at start, then follow."""
        await self._follower.run()
