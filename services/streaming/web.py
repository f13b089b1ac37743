"""``/metrics``, ``/healthz`` and ``/readyz`` on a faust app's own web server.

Each service keeps its metrics in its own ``CollectorRegistry`` (so tests can run several apps in one
process without name clashes) and serves them in the Prometheus text format.

While a worker restores its tables from their changelogs it is not ready, and that can take minutes;
``/readyz`` then says how far it got (``{"status": "recovering", "restored": n, "total": m}``), so an
operator (and ``jeugdhub run``) sees progress instead of silence.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import faust
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

SAMPLE_INTERVAL_S = 0.25


class RecoveryProgress:
    """Records restored / total of the changelog recovery in progress.

    faust keeps only what is still to read per changelog partition (highwater − offset), so the
    total is the largest remainder seen since the partition was assigned: a sampler started at
    each assignment sees it right after faust looked up the highwaters, before much was read.
    Counts are offset distances (a compacted changelog has gaps, so "total" may be a little high).
    """

    def __init__(self, app: faust.App) -> None:
        self._app = app
        self._totals: dict[Any, int] = {}
        self._sampler: asyncio.Task[None] | None = None

    def remaining(self) -> dict[Any, int] | None:
        recovery = getattr(self._app.tables, "recovery", None)
        if recovery is None:
            return None
        try:
            return {tp: max(0, int(n)) for tp, n in recovery.active_remaining().items()}
        except (TypeError, ValueError):  # highwaters not looked up yet
            return None

    def sample(self) -> dict[str, int] | None:
        """``{"restored", "total"}`` while records are left to restore, else None."""
        remaining = self.remaining()
        if not remaining or not any(remaining.values()):
            self._totals.clear()
            return None
        for tp in list(self._totals):
            if tp not in remaining:
                del self._totals[tp]
        for tp, left in remaining.items():
            self._totals[tp] = max(self._totals.get(tp, 0), left)
        left = sum(remaining.values())
        total = sum(self._totals.values())
        return {"restored": total - left, "total": total}

    def start_sampling(self) -> None:
        """Sample until this recovery is done (called on each partition assignment)."""
        if self._sampler is None or self._sampler.done():
            self._sampler = asyncio.ensure_future(self._sample_until_done())

    async def _sample_until_done(self) -> None:
        await asyncio.sleep(SAMPLE_INTERVAL_S)
        while self.sample() is not None or self._app.rebalancing:
            await asyncio.sleep(SAMPLE_INTERVAL_S)


def add_service_routes(app: faust.App, registry: CollectorRegistry, is_ready: Callable[[], bool]) -> None:
    progress = RecoveryProgress(app)

    def on_assigned(_sender: Any, /, *_args: Any, signal: Any, **_kwargs: Any) -> None:
        progress.start_sampling()

    app.on_partitions_assigned.connect(on_assigned)

    @app.page("/metrics")
    async def metrics(web: Any, request: Any) -> Any:
        return web.bytes(generate_latest(registry), content_type=CONTENT_TYPE_LATEST.split(";")[0])

    @app.page("/healthz")
    async def healthz(web: Any, request: Any) -> Any:
        return web.json({"status": "ok"})

    @app.page("/readyz")
    async def readyz(web: Any, request: Any) -> Any:
        body, status = readiness(is_ready(), progress.sample())
        return web.json(body, status=status)


def readiness(ready: bool, recovery: dict[str, int] | None) -> tuple[dict[str, Any], int]:
    """The ``/readyz`` body and status: 200 when ready, else 503 with the recovery progress."""
    if ready:
        return {"status": "ready"}, 200
    if recovery is not None:
        return {"status": "recovering", **recovery}, 503
    return {"status": "not ready"}, 503


def faust_is_ready(app: faust.App) -> bool:
    """Ready once table recovery finished and no rebalance is in progress."""
    recovery = getattr(app.tables, "recovery", None)
    completed = getattr(recovery, "completed", None)
    return completed is not None and bool(completed.is_set()) and not app.rebalancing
