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

import services
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
    log.info("starting", extra={"settings": settings.masked(), "core_build": services.BUILD})
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


def create_table_topics_if_asked(app: faust.App, settings: WorkerSettings) -> list[str]:
    """Create the app's table changelog topics, and wait for their leaders, before the worker joins.

    faust declares them itself when it starts, but the group's first assignment may come before
    the new topic is in the consumer's metadata: the assignor then hands out the source partitions
    without their changelog partitions, no table partition is recovered, and until the next
    metadata refresh (minutes) a worker, restarted or not, extends empty message lists and
    publishes facts from them (CI, three-broker scenario b: 'ASSIGNED v0 v1 v2', no changelog
    partition, 13-29 messages missing from facts per partition). Created here, they are known before
    the first join. Off with ``JEUGDHUB_CREATE_TOPICS=false``, where an operator creates them.
    """
    if not settings.create_topics:
        return []
    from services.contracts.topics import COMPACTED_STATE_CONFIG
    from services.streaming.topic_admin import ensure_topics

    names = []
    for table in app.tables.values():
        name = str(table.changelog_topic.get_topic_name())
        config = {"cleanup.policy": "compact", **COMPACTED_STATE_CONFIG}
        if settings.min_insync_replicas is not None:
            config["min.insync.replicas"] = str(settings.min_insync_replicas)
        ensure_topics(
            settings.kafka_bootstrap,
            [name],
            partitions=int(table.partitions or app.conf.topic_partitions),
            config=config,
            replication_factor=settings.replication_factor,
        )
        names.append(name)
    return names


def run_worker(app: faust.App, settings: WorkerSettings) -> int:
    """Blocks until the worker stops (SIGTERM/SIGINT); faust handles the signals."""
    create_table_topics_if_asked(app, settings)
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
