"""``/metrics``, ``/healthz`` and ``/readyz`` on a faust app's own web server.

Each service keeps its metrics in its own ``CollectorRegistry`` (so tests can run several apps in one
process without name clashes) and serves them in the Prometheus text format.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import faust
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest


def add_service_routes(app: faust.App, registry: CollectorRegistry, is_ready: Callable[[], bool]) -> None:
    @app.page("/metrics")
    async def metrics(web: Any, request: Any) -> Any:
        return web.bytes(generate_latest(registry), content_type=CONTENT_TYPE_LATEST.split(";")[0])

    @app.page("/healthz")
    async def healthz(web: Any, request: Any) -> Any:
        return web.json({"status": "ok"})

    @app.page("/readyz")
    async def readyz(web: Any, request: Any) -> Any:
        if is_ready():
            return web.json({"status": "ready"})
        return web.json({"status": "not ready"}, status=503)


def faust_is_ready(app: faust.App) -> bool:
    """Ready once table recovery finished and no rebalance is in progress."""
    recovery = getattr(app.tables, "recovery", None)
    completed = getattr(recovery, "completed", None)
    return completed is not None and bool(completed.is_set()) and not app.rebalancing
