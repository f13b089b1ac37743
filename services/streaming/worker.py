"""Runs a faust app as a worker process with the hub's structured logging."""

from __future__ import annotations

import faust

from services.observability.logs import logging_config
from services.settings import WorkerSettings


def run_worker(app: faust.App, settings: WorkerSettings) -> int:
    """Blocks until the worker stops (SIGTERM/SIGINT); faust handles the signals."""
    worker = faust.Worker(
        app,
        loglevel=settings.log_level.lower(),
        logging_config=logging_config(settings.log_level),
        redirect_stdouts=False,
    )
    # With a level of WARNING or above, faust's terminal spinner sets the root logger to DEBUG, so
    # every library's debug call (aiokafka logs each record it sends) builds a LogRecord that is
    # then dropped: several times slower. The spinner only decorates a terminal; turn it off.
    worker.spinner = None
    worker.execute_from_commandline()
    return 0
