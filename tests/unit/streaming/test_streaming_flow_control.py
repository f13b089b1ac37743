"""KeepQueuedEventsFlowControl: a second resume() must not drop queued stream events."""

from __future__ import annotations

import asyncio
from pathlib import Path

from mode.utils.queues import FlowControlQueue

from services.settings import WorkerSettings
from services.streaming.faust_app import KeepQueuedEventsFlowControl, new_faust_app


def _queue(flow: KeepQueuedEventsFlowControl) -> FlowControlQueue[int]:
    return FlowControlQueue(flow_control=flow, clear_on_resume=True)


def test_resume_while_active_keeps_queued_events() -> None:
    async def scenario() -> int:
        flow = KeepQueuedEventsFlowControl()
        queue = _queue(flow)
        flow.resume()  # suspended -> active (faust's first resume during recovery)
        for n in range(3):
            queue.put_nowait(n)
        flow.resume()  # faust's second resume when recovery completes
        return queue.qsize()

    assert asyncio.run(scenario()) == 3


def test_resume_after_suspend_still_clears_stale_events() -> None:
    async def scenario() -> tuple[bool, int]:
        flow = KeepQueuedEventsFlowControl()
        queue = _queue(flow)
        flow.resume()
        queue.put_nowait(1)
        flow.suspend()  # a rebalance revoked the partitions: what is queued is stale
        suspended_active = flow.is_active()
        flow.resume()
        return suspended_active, queue.qsize()

    assert asyncio.run(scenario()) == (False, 0)


def test_hub_app_uses_it(tmp_path: Path) -> None:
    app = new_faust_app(WorkerSettings(app_id="flowtest", data_dir=tmp_path), partitions=1)
    assert isinstance(app.flow_control, KeepQueuedEventsFlowControl)
