"""Creates the hub's topics exactly as ``services.contracts.topics`` declares them."""

from __future__ import annotations

from collections.abc import Iterable

from services.contracts.topics import ALL_TOPICS, TopicSpec
from services.localkafka.admin import ensure_topics


def create_hub_topics(
    bootstrap: str, prefix: str = "", specs: Iterable[TopicSpec] = ALL_TOPICS, timeout_s: float = 30.0
) -> list[str]:
    """Create any missing topic (existing ones are left as they are); returns the full names."""
    names = []
    for spec in specs:
        name = spec.full_name(prefix)
        ensure_topics(
            bootstrap, [name], partitions=spec.partitions, config=spec.config(), timeout_s=timeout_s
        )
        names.append(name)
    return names
