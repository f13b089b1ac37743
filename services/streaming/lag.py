"""Consumer lag per partition, set after each processed batch.

Why not ``high water - last processed offset - 1``: on a topic written in Kafka transactions (the raw
topic) every commit leaves a control record (the commit marker) at the offset after the
transaction's last record. The marker is never delivered to an application, so a consumer that has
processed everything still sat one offset below the high water and the gauge never reached 0 (an
alert on ``lag > 0`` would never clear). The rule here counts what the consumer has not yet
*fetched* from its fetch position, which aiokafka advances past control records and aborted
batches, plus what it fetched but the agent has not processed yet.
"""

from __future__ import annotations

from typing import Any

import faust
from faust.types import TP
from prometheus_client import Gauge


def partition_lag(highwater: int, position: int | None, read_offset: int | None, processed: int) -> int:
    """Records behind on one partition.

    ``highwater``: the broker's next offset; ``position``: the consumer's next fetch offset (past
    control records), None when unknown; ``read_offset``: the last record handed to the streams;
    ``processed``: the last offset the agent processed. ``highwater - position`` was never fetched;
    ``read_offset - processed`` sits fetched in the stream buffers (an upper bound: a marker between
    two buffered records counts once, and only until the buffer drains).
    """
    buffered = max(0, read_offset - processed) if read_offset is not None else 0
    if position is None:  # position unknown: one past the last record seen
        position = (processed if read_offset is None else max(processed, read_offset)) + 1
    return max(0, highwater - position) + buffered


def update_lag(app: faust.App, gauge: Gauge, topic: str, highest: dict[int, int]) -> None:
    """``highest``: partition -> the last offset processed in this batch.

    Never raises: a partition revoked by a rebalance in the meantime simply keeps its last value
    (this is a metric, and the agent calls it after the batch's outputs were acknowledged).
    """
    faust_consumer: Any = app.consumer  # the transport's consumer; its internals are untyped
    for partition, offset in highest.items():
        tp = TP(topic, partition)
        try:
            highwater, position = _fetch_state(faust_consumer, tp)
            read_offset = faust_consumer._read_offset.get(tp)
        except Exception:  # unassigned, rebalancing or stopping: skip this partition
            continue
        if highwater is not None:
            gauge.labels(partition=str(partition)).set(
                partition_lag(highwater, position, read_offset, offset)
            )


def caught_up(app: faust.App, topic: str, partitions: set[int], processed: dict[int, int]) -> bool:
    """Has the agent processed every record of these *partitions* of *topic* the broker held when
    the consumer last fetched them (lag 0 by :func:`partition_lag`)? ``processed``: partition ->
    the last offset the agent processed since this worker started. False while anything is unknown
    (no fetch answered yet, a rebalance), so the caller waits and asks again."""
    faust_consumer: Any = app.consumer
    for partition in partitions:
        tp = TP(topic, partition)
        try:
            highwater, position = _fetch_state(faust_consumer, tp)
            read_offset = faust_consumer._read_offset.get(tp)
        except Exception:  # unassigned, rebalancing or stopping
            return False
        if not source_caught_up(highwater, position, read_offset, processed.get(partition)):
            return False
    return True


def source_caught_up(
    highwater: int | None, position: int | None, read_offset: int | None, processed: int | None
) -> bool:
    """One partition of :func:`caught_up`: fetched up to the high water, and the last record handed
    to the streams (``read_offset``) processed. faust's seek sets ``read_offset`` to the offset it
    seeks to, which then equals the fetch position: no record handed yet. ``processed`` None:
    nothing processed since the start."""
    if highwater is None or position is None:
        return False
    handed = read_offset is not None and read_offset < position  # a record, not a seek's mark
    if handed and read_offset is not None and (processed is None or processed < read_offset):
        return False
    return position >= highwater


def _fetch_state(faust_consumer: Any, tp: TP) -> tuple[int | None, int | None]:
    """(high water, fetch position) of *tp* from the worker's aiokafka consumer, without awaiting.

    faust exposes the position only as a coroutine run on the consumer's thread (a round trip per
    partition per batch); the values live on aiokafka's partition state, read here directly.
    """
    consumer = faust_consumer._thread._ensure_consumer()
    state = consumer._subscription.subscription.assignment.state_value(tp)
    position = state.position if state.has_valid_position else None
    highwater = state.highwater
    return (None if highwater is None else int(highwater)), (None if position is None else int(position))
