"""``jeugdhub ingest``: run the HTTP server until SIGTERM/SIGINT, then drain and stop.

Requests aiohttp's HTTP parser refuses (a header over ``JEUGDHUB_INGEST_MAX_HEADER_BYTES``, too many
headers, malformed HTTP) never reach the application or its middleware: aiohttp answers them from
``RequestHandler.handle_error`` with plain text. :class:`ProblemAppRunner` serves connections with a
``RequestHandler`` whose ``handle_error`` answers an RFC 9457 problem instead, so every refusal of
this API is ``application/problem+json`` (aiohttp has no public hook for it: aio-libs/aiohttp#3287).
Such a refusal leaves a best-effort access record too (method ``UNKNOWN``, no path: the parser
gave up before either could be trusted).
"""

from __future__ import annotations

import asyncio
import logging
import signal
import uuid
from datetime import UTC, datetime
from typing import Any

from aiohttp import web
from aiohttp.http_exceptions import LineTooLong
from aiohttp.web_request import BaseRequest

from services.ingest import problems as P
from services.ingest.app import CONTEXT, REQUEST_ID_HEADER, IngestContext, create_app, problem_response
from services.ingest.audit import AccessRecord, access_record
from services.ingest.problems import Problem
from services.ingest.settings import IngestSettings
from services.ingest.tokens import TokenFileError

log = logging.getLogger("jeugdhub.ingest")


async def serve(settings: IngestSettings, stop: asyncio.Event) -> None:
    """Serve until *stop* is set. In-flight requests get up to 10 s to finish on shutdown."""
    app = create_app(settings)
    runner = make_runner(app, settings)
    await runner.setup()
    try:
        site = web.TCPSite(runner, settings.ingest_host, settings.ingest_port, backlog=1024)
        await site.start()
        log.info(
            "ingest listening",
            extra={"host": settings.ingest_host, "port": site_port(runner), "settings": settings.masked()},
        )
        await stop.wait()
        log.info("ingest stopping")
    finally:
        await runner.cleanup()


def make_runner(app: web.Application, settings: IngestSettings, **kwargs: Any) -> web.AppRunner:
    """The production runner: parser limits from the settings, parser errors as problem bodies."""
    size = settings.ingest_max_header_bytes
    options: dict[str, Any] = {"access_log": None, "shutdown_timeout": 10.0, "handle_signals": False}
    options.update(kwargs)
    runner = ProblemAppRunner(app, max_line_size=size, max_field_size=size, max_headers=128, **options)
    runner.context = app.get(CONTEXT)
    return runner


def parser_problem(status: int, exc: BaseException | None, max_header_bytes: int) -> Problem:
    """The problem for a request aiohttp refused before routing; never echoes what was sent."""
    text = str(exc) if exc is not None else ""
    if isinstance(exc, LineTooLong):
        return Problem(
            P.HEADERS_TOO_LARGE,
            f"the request line and each header field may be at most {max_header_bytes} bytes",
        )
    if "Too many headers" in text:
        return Problem(P.HEADERS_TOO_LARGE, "too many header fields (at most 128)")
    if status >= 500:
        return Problem(P.INTERNAL, "an unexpected error occurred; nothing was accepted")
    return Problem(P.BAD_REQUEST, "the request could not be parsed as HTTP/1.1; nothing was accepted")


class ProblemRequestHandler(web.RequestHandler):
    """aiohttp's connection handler, answering parser and handler errors with problem bodies."""

    context: IngestContext | None = None  # for the limit in the detail and the metrics

    def handle_error(
        self,
        request: BaseRequest,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        if request.writer.output_size > 0:  # as aiohttp: a response is already under way
            raise ConnectionError("response already started; cannot send a problem")
        ctx = self.context
        max_header = ctx.settings.ingest_max_header_bytes if ctx is not None else self.max_field_size
        problem = parser_problem(status, exc, max_header)
        if problem.status >= 500:
            log.error("request failed outside the handlers", exc_info=exc, extra={"status": problem.status})
        else:
            log.info(
                "request refused by the HTTP parser",
                extra={"status": problem.status, "reason": problem.reason, "error": type(exc).__name__},
            )
        response = problem_response(problem)
        if ctx is not None:
            ctx.metrics.child("rejected", problem.reason).inc()
            ctx.metrics.child("requests", "other", str(problem.status)).inc()
            request_id = str(uuid.uuid4())
            response.headers[REQUEST_ID_HEADER] = request_id
            ctx.audit.offer(parser_access(request, ctx, problem, request_id))
        response.force_close()
        return response


def parser_access(
    request: BaseRequest, ctx: IngestContext, problem: Problem, request_id: str
) -> AccessRecord:
    """The access record of a request the HTTP parser refused: who cannot be known, nor the path."""
    try:
        remote = request.remote or "unknown"
    except Exception:  # a connection already gone has no peer name
        remote = "unknown"
    return access_record(
        time=datetime.now(UTC),
        request_id=request_id,
        instance=ctx.settings.ingest_transactional_id,
        method="UNKNOWN",
        path=None,
        sender=None,
        token_id=None,
        credential="unchecked",
        message_count=0,
        body_bytes=None,
        status=problem.status,
        outcome=problem.reason,
        client_address=remote,
    )


class _ProblemServer(web.Server):
    context: IngestContext | None = None

    def __call__(self) -> web.RequestHandler:
        handler = ProblemRequestHandler(self, loop=self._loop, **self._kwargs)
        handler.context = self.context
        return handler


class ProblemAppRunner(web.AppRunner):
    """An ``AppRunner`` whose connections use :class:`ProblemRequestHandler`."""

    context: IngestContext | None = None

    async def _make_server(self) -> web.Server:
        server = await super()._make_server()
        # The application builds its own Server (AppRunner has no parameter for the handler class);
        # _ProblemServer only overrides the factory method, so adopting the instance is safe.
        server.__class__ = _ProblemServer
        assert isinstance(server, _ProblemServer)
        server.context = self.context
        return server


def site_port(runner: web.AppRunner) -> int | None:
    for address in runner.addresses:
        if isinstance(address, tuple) and len(address) >= 2:
            return int(address[1])
    return None


def run(settings: IngestSettings) -> int:
    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await serve(settings, stop)

    try:
        asyncio.run(main())
    except TokenFileError as exc:
        log.error("cannot start: bad tokens file", extra={"error": str(exc)})
        return 2
    except OSError as exc:
        log.error("cannot start", extra={"error": str(exc)})
        return 2
    return 0
