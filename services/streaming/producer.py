"""The aiokafka producer behind a faust app, for agents that send record batches themselves."""

from __future__ import annotations

from typing import Any

import faust


def kafka_producer(app: faust.App) -> Any:
    """The app's started aiokafka ``AIOKafkaProducer`` (faust starts it with the app).

    faust offers no public accessor: its transport producer keeps the client behind the private
    ``_ensure_producer()``. The agents send one record batch per partition through it
    (:mod:`services.streaming.batches`) instead of faust's per-record ``Topic.send``; this is the
    one place that reaches into faust for it.
    """
    return app.producer._ensure_producer()  # type: ignore[attr-defined]
