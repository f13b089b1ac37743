"""Starts a faust app as a worker process with the hub's structured logging.

:func:`start_worker` is the start-up sequence of ``jeugdhub validate`` and ``jeugdhub aggregate``:
logging, the masked settings, the worker's own preparation (files, topics, checks) and the app,
then faust's worker until SIGTERM/SIGINT. A configuration the worker refuses ends the command with
one line and exit status 2 before anything connects to the consumer group.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable

import faust

from services.observability.logs import logging_config, setup_logging
from services.settings import WorkerSettings

REFUSED = 2
"""Exit status when the worker's configuration is refused (services.cli.COMMAND_ERROR)."""


def start_worker(
    settings: WorkerSettings,
    build_app: Callable[[], faust.App],
    name: str,
    refusals: tuple[type[Exception], ...] = (),
) -> int:
    """Log the start, build the app and run it; ``build_app`` raising one of *refusals* or an
    ``OSError`` (a missing file) is logged as ``refusing to start`` and printed as
    ``jeugdhub <name>: <reason>``, exit status 2."""
    setup_logging(settings.log_level)
    log = logging.getLogger(f"jeugdhub.{name}")
    log.info("starting", extra={"settings": settings.masked()})
    refused: tuple[type[Exception], ...] = (*refusals, OSError)
    try:
        app = build_app()
    except refused as exc:
        log.error("refusing to start", extra={"reason": str(exc)})
        print(f"jeugdhub {name}: {exc}", file=sys.stderr)
        return REFUSED
    return run_worker(app, settings)


def create_topics_if_asked(settings: WorkerSettings) -> None:
    """Create the hub's missing topics when ``JEUGDHUB_CREATE_TOPICS`` is on (the default)."""
    if settings.create_topics:
        from services.streaming.topic_admin import create_hub_topics

        create_hub_topics(settings.kafka_bootstrap, settings.topic_prefix)


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
