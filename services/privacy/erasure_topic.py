"""Reading and writing ``jeugdhub.erasures.v1``: the Kafka side of :mod:`services.privacy.erasure`.

Every reader reads **all** partitions from the beginning without a consumer group (the topic is
small: one record per erased youth per key) and keeps the latest record per pseudonym in an
:class:`~services.privacy.erasure.ErasureSet`:

* :func:`read_erasures` (blocking, kafka-python): to the topic's current end, for ``rebuild``,
  ``history --from-topic`` and tests;
* :class:`ErasureFollower` (asyncio, aiokafka): a worker's background task. It reads to the end it
  saw at start, then sets :attr:`ErasureFollower.loaded` (the worker judges or applies nothing
  before; its ``/readyz`` waits for it), and follows the topic for as long as the worker runs,
  calling ``on_record`` for each record after it is in the set.
* :func:`write_erasures` (blocking): the ``jeugdhub erase`` command's idempotent ``acks=all``
  producer.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from kafka import KafkaConsumer, KafkaProducer
from kafka import TopicPartition as SyncTopicPartition

from services.contracts.codec import decode, encode
from services.contracts.errors import ContractError
from services.contracts.topics import ERASURES
from services.privacy.erasure import ErasureEntry, ErasureError, ErasureSet
from services.streaming.compacted_follower import CompactedFollower

log = logging.getLogger("jeugdhub.erasures")

OnRecord = Callable[[str, ErasureEntry | None], None]


def apply_record(
    erasures: ErasureSet, key: bytes | None, value: bytes | None
) -> tuple[str, ErasureEntry | None] | None:
    """One consumed record into the set; None (logged) for a record that is not an erasure."""
    if key is None:
        log.error("erasure record without a key skipped")
        return None
    pseudonym = key.decode("utf-8", "replace")
    try:
        decoded = None if value is None else decode("ErasureRecord", value)
        if decoded is not None and decoded["youth_pseudonym"] != pseudonym:
            raise ErasureError("the record's key is not its youth_pseudonym")
        return pseudonym, erasures.apply(pseudonym, decoded)
    except (ContractError, ErasureError) as exc:
        log.error("unusable erasure record skipped", extra={"error": str(exc)[:300]})
        return None


def read_erasures(bootstrap: str, prefix: str, timeout_s: float = 60.0) -> ErasureSet:
    """The erasure topic up to its current end (an empty set when the topic does not exist)."""
    topic = ERASURES.full_name(prefix)
    erasures = ErasureSet()
    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, isolation_level="read_committed"
    )
    try:
        partitions = consumer.partitions_for_topic(topic) or set()
        tps = [SyncTopicPartition(topic, p) for p in sorted(partitions)]
        if not tps:
            return erasures
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        ends = consumer.end_offsets(tps)
        deadline = time.monotonic() + timeout_s
        while any(consumer.position(tp) < ends[tp] for tp in tps):
            if time.monotonic() > deadline:
                raise TimeoutError(f"{topic} not read to its end within {timeout_s:.0f} s")
            for records in consumer.poll(timeout_ms=500).values():
                for record in records:
                    apply_record(erasures, record.key, record.value)
        return erasures
    finally:
        consumer.close()


def write_erasures(
    bootstrap: str, prefix: str, records: Sequence[Mapping[str, Any]], timeout_s: float = 30.0
) -> None:
    """Write the records (one per pseudonym) with ``acks=all`` and idempotence; raises unless every
    one was acknowledged."""
    producer = KafkaProducer(
        bootstrap_servers=bootstrap, acks="all", enable_idempotence=True, max_block_ms=int(timeout_s * 1000)
    )
    try:
        futures = [
            producer.send(
                ERASURES.full_name(prefix),
                key=str(record["youth_pseudonym"]).encode(),
                value=encode("ErasureRecord", dict(record)),
            )
            for record in records
        ]
        producer.flush(timeout=timeout_s)
        for future in futures:
            future.get(timeout=timeout_s)
    finally:
        producer.close(timeout=timeout_s)


class ErasureFollower:
    """A worker's view of the erasure topic, kept current by :meth:`run` (an ``app.task``); a
    :class:`~services.streaming.compacted_follower.CompactedFollower` into an :class:`ErasureSet`
    that calls :attr:`on_record` for each record once it is in the set. The worker waits while the
    topic is missing: judging messages without knowing the erasures would accept an erased youth."""

    def __init__(
        self,
        bootstrap: str,
        prefix: str,
        on_record: OnRecord | None = None,
        fetch_max_wait_ms: int = 500,
    ) -> None:
        self.erasures = ErasureSet()
        self.on_record = on_record
        self._follower = CompactedFollower(
            bootstrap,
            ERASURES.full_name(prefix),
            self._apply,
            log,
            "erasure topic missing; waiting for it",
            lambda: log.info(
                "erasures loaded",
                extra={"pseudonyms": len(self.erasures), "erased": len(self.erasures.erased())},
            ),
            fetch_max_wait_ms,
        )
        self.loaded = self._follower.loaded

    def _apply(self, key: bytes | None, value: bytes | None) -> None:
        applied = apply_record(self.erasures, key, value)
        if applied is not None and self.on_record is not None:
            self.on_record(*applied)

    async def run(self) -> None:
        """Read from the beginning, set :attr:`loaded` at the end seen at start, then follow."""
        await self._follower.run()
