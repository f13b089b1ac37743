"""Delivering a batch's output records: retried while Kafka may still take them, fatal otherwise.

faust acknowledges the events of a ``take_events`` batch (and of the hub's ``take_runs``) in the
generator's ``finally``, so an exception that escapes the agent body acknowledges (and the next
periodic commit commits) every event of the batch, answered or not, and faust restarts the agent as if nothing happened. The hub's
agents therefore let nothing escape: a message that cannot be handled becomes an outcome of its own
(``UNPROCESSABLE``), and a batch whose outputs Kafka refuses stops the process *before* anything is
acknowledged, so the restarted worker reads the batch again from the last commit (at-least-once).
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Awaitable, Callable
from typing import Any, NoReturn

from aiokafka.errors import KafkaError, KafkaTimeoutError

from services.streaming.runs import records_of, take_runs

log = logging.getLogger("jeugdhub.delivery")

EXIT_UNDELIVERABLE = 70
"""The worker's exit status when it stopped rather than acknowledge an unanswered batch (EX_SOFTWARE)."""

Send = Callable[[], Awaitable[list[Awaitable[Any]]]]
"""Queues a batch's records and returns the futures that resolve when Kafka acknowledged them."""


def is_transient(exc: BaseException) -> bool:
    """Errors that a later attempt can overcome (broker away, leader moving, replicas behind)."""
    return isinstance(exc, KafkaTimeoutError) or (isinstance(exc, KafkaError) and exc.retriable)


async def deliver(send: Send, what: str, *, first_backoff_s: float = 0.5, max_backoff_s: float = 15.0) -> int:
    """Send until every record is acknowledged; returns the number of retries it took.

    Transient errors are retried with exponential backoff for as long as they last (every record of
    the batch is queued again: at-least-once, consumers de-duplicate). Any other error, or an
    exception from ``send`` itself, stops the process through :func:`stop_without_commit`.
    """
    retries = 0
    backoff = first_backoff_s
    while True:
        try:
            pending = await send()
            await asyncio.gather(*pending)
            if retries:
                log.info("outputs delivered after retrying", extra={"what": what, "retries": retries})
            return retries
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            if not is_transient(exc):
                stop_without_commit(f"{what}: outputs refused by Kafka ({type(exc).__name__}: {exc})")
            retries += 1
            log.warning(
                "outputs not delivered yet; retrying",
                extra={"what": what, "error": type(exc).__name__, "retries": retries, "backoff_s": backoff},
            )
            await asyncio.sleep(backoff)
            backoff = min(max_backoff_s, backoff * 2)


async def handle_batches(
    stream: Any, size: int, within_s: float, handle: Callable[[list[Any]], Awaitable[None]], what: str
) -> None:
    """An agent body: ``handle`` the records of each batch of runs (:func:`take_runs`: about ``size``
    records, whole runs, or what came within ``within_s``); if it raises (or is cancelled
    mid-batch), stop the process, since the batch would be acknowledged on the way out."""
    async for events in take_runs(stream, size, within_s):
        try:
            await handle(records_of(events))
        except BaseException as exc:
            stop_without_commit(f"{what} batch not answered: {type(exc).__name__}: {exc}")


def stop_without_commit(reason: str) -> NoReturn:
    """End the process now, without faust's shutdown (which would acknowledge and commit the batch)."""
    log.critical(
        "stopping the worker without committing: the batch is read again after the restart",
        extra={"reason": reason[:500], "exit_status": EXIT_UNDELIVERABLE},
    )
    logging.shutdown()
    os._exit(EXIT_UNDELIVERABLE)
