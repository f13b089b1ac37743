"""The aggregate's record formats, pure (no faust, no Kafka), shared by the worker and ``rebuild``."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson

from services.aggregate.facts import FACTS_VERSION, YouthFacts
from services.contracts.codec import encode


def facts_record(youth: str, facts: YouthFacts, messages: int) -> bytes:
    """The youth-facts topic's value: ``YouthFactsRecord`` for *youth*, derived from *messages*."""
    return encode(
        "YouthFactsRecord",
        {
            "youth_pseudonym": youth,
            "facts_version": FACTS_VERSION,
            "facts_json": orjson.dumps(facts.to_dict()).decode(),
            "messages_applied": messages,
            "updated_at": datetime.now(UTC).replace(microsecond=0),
        },
    )


def message_key(message: dict[str, Any]) -> str:
    """A validated message's key in a youth's stored messages: ``<sender code>:<message_id>``."""
    return f"{message['sender']['code']}:{message['message_id']}"
