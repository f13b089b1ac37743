"""Creates the hub's topics exactly as ``services.contracts.topics`` declares them.

Production code: the workers call :func:`create_hub_topics` at start (``JEUGDHUB_CREATE_TOPICS``)
and ``jeugdhub topics --create`` does for an operator. Replicas: ``JEUGDHUB_REPLICATION_FACTOR`` /
``JEUGDHUB_MIN_INSYNC_REPLICAS`` (``HubSettings``), read when a command creates its topics unless
the caller passes them. The development broker (``hubdev.localkafka``) reuses :func:`ensure_topics`;
nothing here knows about it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, cast

from kafka import KafkaAdminClient

from services.contracts.topics import ALL_TOPICS, TopicSpec

CLIENT_ID = "jeugdhub-topic-admin"
"""The admin client's id in the brokers' request logs and quotas."""
TOPIC_ALREADY_EXISTS = 36
"""Kafka's TOPIC_ALREADY_EXISTS error code: an existing topic is left as it is, not an error."""


def create_hub_topics(
    bootstrap: str,
    prefix: str = "",
    specs: Iterable[TopicSpec] = ALL_TOPICS,
    timeout_s: float = 30.0,
    *,
    replication_factor: int | None = None,
    min_insync_replicas: int | None = None,
) -> list[str]:
    """Create any missing topic (existing ones are left as they are); returns the full names."""
    if replication_factor is None:
        from services.settings import HubSettings

        settings = HubSettings()
        replication_factor = settings.replication_factor
        if min_insync_replicas is None:
            min_insync_replicas = settings.min_insync_replicas
    names = []
    for spec in specs:
        name = spec.full_name(prefix)
        ensure_topics(
            bootstrap,
            [name],
            partitions=spec.partitions,
            config=spec.config(min_insync_replicas),
            timeout_s=timeout_s,
            replication_factor=replication_factor,
        )
        names.append(name)
    return names


def ensure_topics(
    bootstrap: str,
    topics: Iterable[str],
    *,
    partitions: int = 1,
    config: Mapping[str, str] | None = None,
    timeout_s: float = 30.0,
    replication_factor: int | None = None,
) -> None:
    """Create *topics* if missing and wait until each has a leader; existing topics are left as is.

    Brokers run with ``auto.create.topics.enable=false`` (docs/kafka.md), so whoever produces to or
    consumes from a topic creates it first. ``replication_factor`` None takes the broker's
    ``default.replication.factor``; :func:`create_hub_topics` always passes the setting.
    """
    names = list(dict.fromkeys(topics))
    if not names:
        return
    spec = {
        name: {
            "num_partitions": partitions,
            "replication_factor": replication_factor if replication_factor is not None else -1,
            "configs": dict(config or {}),
        }
        for name in names
    }
    timeout_ms = max(1000, int(timeout_s * 1000))
    admin = KafkaAdminClient(
        bootstrap_servers=bootstrap,
        client_id=CLIENT_ID,
        request_timeout_ms=timeout_ms,
        bootstrap_timeout_ms=timeout_ms,
    )
    try:
        response = cast(
            Mapping[str, Any],
            admin.create_topics(
                spec, timeout_ms=int(timeout_s * 1000), raise_errors=False, wait_for_metadata=True
            ),
        )
    finally:
        admin.close()
    failures = [
        f"{t.get('name')}: {t.get('error_code')} {t.get('error_message') or ''}".strip()
        for t in cast(list[Mapping[str, Any]], response.get("topics") or [])
        if t.get("error_code") not in (0, TOPIC_ALREADY_EXISTS)
    ]
    if failures:
        raise RuntimeError("could not create topics: " + "; ".join(failures))
