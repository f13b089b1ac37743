"""Consumer lag per partition, from the offsets a batch just processed and the broker's high water."""

from __future__ import annotations

import faust
from faust.types import TP
from prometheus_client import Gauge


def update_lag(app: faust.App, gauge: Gauge, topic: str, highest: dict[int, int]) -> None:
    """``highest``: partition -> the last offset processed in this batch."""
    for partition, offset in highest.items():
        try:
            highwater = app.consumer.highwater(TP(topic, partition))
        except (KeyError, AttributeError):
            continue
        if highwater is not None:
            gauge.labels(partition=str(partition)).set(max(0, highwater - offset - 1))
