"""Creates the hub's topics exactly as ``services.contracts.topics`` declares them.

Replicas: ``JEUGDHUB_REPLICATION_FACTOR`` / ``JEUGDHUB_MIN_INSYNC_REPLICAS`` (``HubSettings``), read
when a command creates its topics unless the caller passes them.
"""

from __future__ import annotations

from collections.abc import Iterable

from hubdev.localkafka.admin import ensure_topics
from services.contracts.topics import ALL_TOPICS, TopicSpec


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
