"""Refuse to start under a keyring that does not fit the key the existing state was built with.

A new key gives every youth a new pseudonym; mixing both in the validated topic without a rotation
would split each youth's history in the aggregate. The newest record of every validated partition
names its key id and, by its key, whether it was written during a rotation (anchored); the decision
is :func:`services.privacy.rotation.check_start`, which after an old key's retirement (and for a
rotation chained on a retired one) also needs the links topic's rotations (services/privacy/links.py).
"""

from __future__ import annotations

from kafka import KafkaConsumer, TopicPartition

from services.contracts.codec import decode
from services.contracts.errors import ContractError
from services.contracts.topics import VALIDATED
from services.privacy.links import read_links
from services.privacy.pseudonym import Keyring
from services.privacy.rotation import Tail, check_start, record_is_anchored


def key_ids_at_tail(bootstrap: str, topic: str, timeout_s: float = 10.0) -> set[str]:
    """The ``pseudonym_key_id`` of the last record of each partition (empty for an empty topic)."""
    return {tail.key_id for tail in tails(bootstrap, topic, timeout_s)}


def tails(bootstrap: str, topic: str, timeout_s: float = 10.0) -> list[Tail]:
    """The last record of each partition as a :class:`Tail` (none for an empty topic)."""
    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap,
        enable_auto_commit=False,
        isolation_level="read_committed",
        consumer_timeout_ms=int(timeout_s * 1000),
    )
    try:
        partitions = consumer.partitions_for_topic(topic) or set()
        tps = [TopicPartition(topic, p) for p in sorted(partitions)]
        if not tps:
            return []
        consumer.assign(tps)
        ends = consumer.end_offsets(tps)
        wanted = {tp for tp in tps if ends[tp] > 0}
        for tp in wanted:
            consumer.seek(tp, ends[tp] - 1)
        found: list[Tail] = []
        pending = set(wanted)
        while pending:
            batch = consumer.poll(timeout_ms=int(timeout_s * 1000))
            if not batch:
                break
            for tp, records in batch.items():
                for record in records:
                    try:
                        message = decode("ValidatedMessage", record.value)
                    except ContractError:
                        continue
                    anchored = record_is_anchored(record.key, str(message["youth_pseudonym"]))
                    found.append(Tail(str(message["pseudonym_key_id"]), anchored))
                pending.discard(tp)
        return found
    finally:
        consumer.close()


def check_key_against_validated_topic(bootstrap: str, prefix: str, keyring: Keyring) -> None:
    """Raise ``KeyRotationError`` when ``keyring`` does not fit the validated topic's tail.

    When a tail is anchored or names a key other than the keyring's, the links topic is read too:
    the rotations it holds links of explain a state keyed by an older key (that key was retired,
    also when a second rotation starts from the key the first one moved to).
    """
    found = sorted(tails(bootstrap, VALIDATED.full_name(prefix)))
    linked: frozenset[tuple[str, str]] = frozenset()
    plain = {keyring.active_key_id, keyring.previous_key_id}
    if any(tail.anchored or tail.key_id not in plain for tail in found):
        links = read_links(bootstrap, prefix)
        linked = links.rotations() if links is not None else frozenset()
    check_start(keyring.active_key_id, keyring.previous_key_id, found, linked)
