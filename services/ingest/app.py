"""The aiohttp shell: routes, authentication, limits, problem responses, metrics.

Handlers read the request, call the pure checks of :mod:`services.ingest.checks` in order and hand
the encoded records to the writer. Anything that goes wrong leaves as a :class:`ProblemError` and
the middleware turns it into an RFC 9457 response, counts it and logs it without content.

Every request a sender makes (all but the health, metrics and OpenAPI routes) leaves one access
record (:mod:`services.ingest.audit`; docs/privacy.md, Audit): an accepted post's in the post's own
transaction, a retour page's acknowledged before the page is sent, a refusal's best effort
(:mod:`services.ingest.audit_sink`). The middleware gives each request an id (``X-Request-Id``)
and writes the record of whatever the handler did not record itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

import orjson
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from services.contracts.topics import AUDIT, RAW, RETOUR
from services.ingest import problems as P
from services.ingest.audit import (
    ACCEPTED,
    RETOUR_READ,
    AccessRecord,
    Credential,
    access_record,
    encode_access,
)
from services.ingest.audit_sink import AuditSink, AuditUnavailable, DiscardAudit, KafkaAuditSink
from services.ingest.backlog import BacklogMonitor, BacklogSource, NoBacklog, hub_stages
from services.ingest.checks import (
    accepted_body,
    check_content_length,
    check_record_sizes,
    check_senders,
    count_by_label,
    media_format,
    parse_body,
    parse_limit,
    raw_records,
)
from services.ingest.cursor import Cursor, CursorError, decode_cursor
from services.ingest.kafka import KafkaUnavailable, RawWriter, Record, RecordRefused, RetourPage, RetourReader
from services.ingest.metrics import IngestMetrics, new_metrics
from services.ingest.openapi import openapi_document
from services.ingest.problems import Problem, ProblemError
from services.ingest.ratelimit import KeyedLimiter, retry_after_seconds
from services.ingest.settings import IngestSettings
from services.ingest.tokens import Sender, TokenFileError, TokenFileWatcher, TokenStore, bearer_token

log = logging.getLogger("jeugdhub.ingest")

DEFAULT_RETOUR_LIMIT = 100
_JSON = "application/json"


class Writer(Protocol):
    """What the handlers need from the raw-topic writer (a fake in HTTP-only unit tests)."""

    @property
    def available(self) -> bool: ...

    async def start(self) -> None: ...

    async def close(self) -> None: ...

    async def write(self, records: Sequence[Record], audit: Record | None = None) -> None: ...

    async def probe(self) -> bool: ...


class Reader(Protocol):
    async def close(self) -> None: ...

    async def sender_partition(self, sender_code: str) -> tuple[int, int]: ...

    async def read(self, sender_kind: str, sender_code: str, start: Cursor, limit: int) -> RetourPage: ...


@dataclass
class IngestContext:
    settings: IngestSettings
    metrics: IngestMetrics
    tokens: TokenStore
    watcher: TokenFileWatcher | None
    writer: Writer
    reader: Reader
    sender_limiter: KeyedLimiter
    auth_limiter: KeyedLimiter
    openapi: bytes
    backlog: BacklogSource
    audit: AuditSink


@dataclass
class Access:
    """What the shell learns about one request, for its access record."""

    request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    started: datetime = field(default_factory=lambda: datetime.now(UTC))
    sender: Sender | None = None
    token_id: str | None = None
    credential: Credential = "unchecked"
    body_bytes: int | None = None
    recorded: bool = False
    """The handler wrote the record itself (accepted post, retour page)."""


CONTEXT = web.AppKey("ingest", IngestContext)
SENDER_CODE = web.RequestKey("sender_code", str)  # for the refusal log line
ACCESS = web.RequestKey("access", Access)
UNAUDITED_PATHS = frozenset({"/healthz", "/readyz", "/metrics", "/openapi.json"})
"""Operational routes, called by probes and scrapers rather than senders: no access record."""
REQUEST_ID_HEADER = "X-Request-Id"


def create_app(
    settings: IngestSettings,
    *,
    tokens: TokenStore | None = None,
    writer: Writer | None = None,
    reader: Reader | None = None,
    metrics: IngestMetrics | None = None,
    backlog: BacklogSource | None = None,
    audit: AuditSink | None = None,
) -> web.Application:
    """Build the application; Kafka connections and the tokens file are opened on startup.

    Pass *tokens* to use a fixed token table instead of the tokens file (tests); *writer* and
    *reader* replace the Kafka shell (HTTP-only tests). *backlog* replaces the pipeline-backlog
    monitor behind admission; by default it is the real one with the real writer and none (always
    admit) with a fake writer. *audit* likewise: the Kafka sink of access records with the real
    writer, one that discards them with a fake writer.
    """
    metrics = metrics or new_metrics()
    if backlog is None:
        backlog = BacklogMonitor(settings, metrics, hub_stages(settings)) if writer is None else NoBacklog()
    audit_topic = AUDIT.full_name(settings.topic_prefix)
    if audit is None:
        audit = KafkaAuditSink(settings, metrics, audit_topic) if writer is None else DiscardAudit()
    store = tokens if tokens is not None else TokenStore()
    watcher = None if tokens is not None else TokenFileWatcher(settings.ingest_tokens_file, store)
    ctx = IngestContext(
        settings=settings,
        metrics=metrics,
        tokens=store,
        watcher=watcher,
        writer=writer or RawWriter(settings, metrics, RAW.full_name(settings.topic_prefix), audit_topic),
        reader=reader or RetourReader(settings, RETOUR.full_name(settings.topic_prefix)),
        sender_limiter=KeyedLimiter(settings.ingest_rate_per_s, settings.ingest_rate_burst),
        auth_limiter=KeyedLimiter(
            settings.ingest_auth_failures_per_min / 60.0, settings.ingest_auth_failure_burst
        ),
        openapi=orjson.dumps(openapi_document(settings)),
        backlog=backlog,
        audit=audit,
    )
    app = web.Application(
        middlewares=[_problems_and_metrics],
        client_max_size=settings.ingest_max_body_bytes,
    )
    app[CONTEXT] = ctx
    app.router.add_post("/v1/messages", post_messages)
    app.router.add_get("/v1/retour", get_retour)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics_page)
    app.router.add_get("/openapi.json", openapi_page)
    app.cleanup_ctx.append(_lifecycle)
    return app


async def _lifecycle(app: web.Application) -> AsyncIterator[None]:
    ctx = app[CONTEXT]
    if ctx.watcher is not None:
        ctx.watcher.load()  # a malformed file stops the start: fail fast, name the file
        if not len(ctx.tokens):
            log.warning("no API tokens loaded: every request gets 401", extra={"file": str(ctx.watcher.path)})
    ctx.metrics.tokens.set(len(ctx.tokens))
    await ctx.writer.start()
    await ctx.audit.start()
    await ctx.backlog.start()
    reload_task = asyncio.create_task(_reload_tokens(ctx), name="ingest-token-reload")
    try:
        yield
    finally:
        reload_task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await reload_task
        await ctx.backlog.close()
        await ctx.writer.close()
        await ctx.audit.close()
        await ctx.reader.close()


async def _reload_tokens(ctx: IngestContext) -> None:
    if ctx.watcher is None:
        return
    while True:
        await asyncio.sleep(ctx.settings.ingest_tokens_reload_s)
        try:
            if ctx.watcher.load():
                ctx.metrics.tokens.set(len(ctx.tokens))
                log.info("API tokens reloaded", extra={"tokens": len(ctx.tokens)})
        except TokenFileError as exc:
            log.error("tokens file not reloaded, keeping the previous table", extra={"error": str(exc)})


# -- middleware ------------------------------------------------------------------------------------
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def _problems_and_metrics(request: web.Request, handler: Handler) -> web.StreamResponse:
    ctx = request.app[CONTEXT]
    started = time.perf_counter()
    route = _route_label(request)
    access = request[ACCESS] = Access()
    problem: Problem | None = None
    response: web.StreamResponse
    try:
        response = await handler(request)
    except ProblemError as exc:
        problem = exc.problem
    except web.HTTPException as exc:
        problem = _http_problem(exc, ctx.settings)
    except Exception:
        log.exception("unhandled error", extra={"route": route, "method": request.method})
        problem = Problem(P.INTERNAL, "an unexpected error occurred; nothing was accepted")
    if problem is not None:
        response = problem_response(problem)
        ctx.metrics.child("rejected", problem.reason).inc()
        if problem.status >= 500:
            log.warning(
                "request failed", extra={"route": route, "status": problem.status, "reason": problem.reason}
            )
        else:
            log.info(
                "request refused",
                extra={
                    "route": route,
                    "status": problem.status,
                    "reason": problem.reason,
                    "index": problem.index,
                    "sender": request.get(SENDER_CODE),
                    "request_id": access.request_id,
                },
            )
    response.headers[REQUEST_ID_HEADER] = access.request_id
    if not access.recorded and request.path not in UNAUDITED_PATHS:
        outcome = problem.reason if problem is not None else f"http-{response.status}"
        ctx.audit.offer(access_of(request, ctx, response.status, outcome, 0))
    ctx.metrics.child("requests", route, str(response.status)).inc()
    ctx.metrics.child("request_duration", route).observe(time.perf_counter() - started)
    return response


def _route_label(request: web.Request) -> str:
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else "other"


def access_of(
    request: web.Request, ctx: IngestContext, status: int, outcome: str, count: int
) -> AccessRecord:
    """The access record of *request* with what the shell learnt about it (cleaned and bounded)."""
    access = request[ACCESS]
    body_bytes = access.body_bytes if access.body_bytes is not None else request.content_length
    return access_record(
        time=access.started,
        request_id=access.request_id,
        instance=ctx.settings.ingest_transactional_id,
        method=request.method,
        path=request.path,  # percent-decoded: a BSN sent encoded is masked like a plain one
        sender=access.sender,
        token_id=access.token_id,
        credential=access.credential,
        message_count=count,
        body_bytes=body_bytes,
        status=status,
        outcome=outcome,
        client_address=client_address(request, ctx.settings.ingest_trust_forwarded_for),
    )


def _http_problem(exc: web.HTTPException, settings: IngestSettings) -> Problem:
    if exc.status == 404:
        return Problem(P.NOT_FOUND, "see /openapi.json for the routes of this API")
    if exc.status == 405:
        allow = exc.headers.get("Allow", "")
        return Problem(P.METHOD_NOT_ALLOWED, f"allowed here: {allow or 'nothing'}", allow=allow)
    if exc.status == 413:
        return Problem(P.BODY_TOO_LARGE, f"the body may be at most {settings.ingest_max_body_bytes} bytes")
    return Problem(P.INTERNAL if exc.status >= 500 else P.INVALID_QUERY, exc.reason or "request refused")


def problem_response(problem: Problem) -> web.Response:
    return web.Response(status=problem.status, body=problem.to_bytes(), headers=problem.headers())


def _json(body: Any, status: int = 200) -> web.Response:
    return web.Response(status=status, body=orjson.dumps(body), content_type=_JSON)


# -- authentication and limits ---------------------------------------------------------------------
def client_address(request: web.Request, trust_forwarded_for: bool) -> str:
    if trust_forwarded_for:
        forwarded = request.headers.get("X-Forwarded-For", "")
        hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
        if hops:
            return hops[-1]
    return request.remote or "unknown"


def authenticate(request: web.Request, ctx: IngestContext) -> Sender:
    """The token's sender; 401 for a missing/unknown token, 429 once an address failed too often."""
    address = client_address(request, ctx.settings.ingest_trust_forwarded_for)
    wait = ctx.auth_limiter.wait_for(address)
    if wait > 0:
        raise ProblemError(
            Problem(
                P.AUTH_RATE_LIMITED,
                "too many failed authentications from this address",
                retry_after=retry_after_seconds(wait),
            )
        )
    token = bearer_token(request.headers.get("Authorization"))
    found = ctx.tokens.identify(token)
    if found is None and token is not None and ctx.watcher is not None and ctx.watcher.refresh():
        ctx.metrics.tokens.set(len(ctx.tokens))  # a token added a moment ago counts at once
        found = ctx.tokens.identify(token)
    access = request[ACCESS]
    if found is None:
        access.credential = "none" if token is None else "invalid"
        if token is not None:
            ctx.auth_limiter.take(address)
        detail = "send 'Authorization: Bearer <token>'" if token is None else "the token is not valid"
        raise ProblemError(Problem(P.UNAUTHENTICATED, detail))
    sender, access.token_id = found
    access.sender, access.credential = sender, "valid"
    request[SENDER_CODE] = sender.code
    return sender


def charge(ctx: IngestContext, sender: Sender, cost: int) -> None:
    wait = ctx.sender_limiter.take(sender.code, cost)
    if wait > 0:
        raise ProblemError(
            Problem(
                P.RATE_LIMITED,
                f"rate limit {ctx.settings.ingest_rate_per_s:g} messages/s per sender",
                retry_after=retry_after_seconds(wait),
            )
        )


def _raise(result: Any) -> None:
    if isinstance(result, Problem):
        raise ProblemError(result)


def admit(ctx: IngestContext) -> None:
    """503 pipeline-behind while a stage is further behind than the configured bounds.

    Global, not per sender: the backlog is everyone's. 503 rather than 429 because the client did
    nothing wrong; Retry-After tells it when to try again, and nothing was stored.
    """
    verdict = ctx.backlog.admission()
    if not verdict.open:
        raise ProblemError(
            Problem(
                P.PIPELINE_BEHIND,
                f"{verdict.reason}; nothing was stored. Send the same request again later",
                retry_after=ctx.settings.ingest_admission_retry_after_s,
            )
        )


def _unavailable(ctx: IngestContext) -> ProblemError:
    return ProblemError(
        Problem(
            P.KAFKA_UNAVAILABLE,
            "Kafka is not reachable; nothing was stored. Send the same request again later",
            retry_after=ctx.settings.ingest_retry_after_s,
        )
    )


# -- handlers --------------------------------------------------------------------------------------
async def post_messages(request: web.Request) -> web.Response:
    ctx = request.app[CONTEXT]
    settings = ctx.settings
    sender = authenticate(request, ctx)
    admit(ctx)
    charge(ctx, sender, 1)
    fmt = media_format(request.headers.get("Content-Type"))
    if isinstance(fmt, Problem):
        raise ProblemError(fmt)
    _raise(check_content_length(request.content_length, settings.ingest_max_body_bytes))
    body = await request.read()  # aiohttp raises 413 past client_max_size (chunked bodies too)
    request[ACCESS].body_bytes = len(body)
    parsed = parse_body(
        fmt,
        body,
        max_batch=settings.ingest_max_batch,
        max_message_bytes=settings.ingest_max_message_bytes,
        max_depth=settings.ingest_max_json_depth,
        max_id_chars=settings.ingest_max_message_id_chars,
    )
    if isinstance(parsed, Problem):
        raise ProblemError(parsed)
    if len(parsed.messages) > 1:
        charge(ctx, sender, len(parsed.messages) - 1)
    _raise(check_senders(parsed, sender))
    if not ctx.writer.available:
        raise _unavailable(ctx)
    received_at = datetime.now(UTC).replace(microsecond=0)
    records = raw_records(parsed, sender, received_at)
    _raise(check_record_sizes(records, settings.ingest_max_record_bytes, parsed.is_batch))
    audit = encode_access(access_of(request, ctx, 202, ACCEPTED, len(records)))
    try:
        await ctx.writer.write(records, audit)
    except RecordRefused as exc:
        index = exc.index if parsed.is_batch else None
        raise ProblemError(Problem(P.RECORD_TOO_LARGE, f"{exc}; nothing was stored", index)) from exc
    except KafkaUnavailable as exc:
        log.warning(
            "messages not stored",
            extra={"sender": sender.code, "messages": len(records), "error": str(exc)},
        )
        raise _unavailable(ctx) from exc
    request[ACCESS].recorded = True
    ctx.metrics.child("audit_written", "transaction").inc()
    for (kind, message_type), count in count_by_label(parsed.messages).items():
        ctx.metrics.child("messages", kind, message_type).inc(count)
    ctx.metrics.payload_bytes.observe(len(body))
    return _json(accepted_body(parsed, received_at), status=202)


async def get_retour(request: web.Request) -> web.Response:
    ctx = request.app[CONTEXT]
    sender = authenticate(request, ctx)
    charge(ctx, sender, 1)
    limit = parse_limit(
        request.query.get("limit"), DEFAULT_RETOUR_LIMIT, ctx.settings.ingest_retour_max_limit
    )
    if isinstance(limit, Problem):
        raise ProblemError(limit)
    try:
        partitions, partition = await ctx.reader.sender_partition(sender.code)
        since = request.query.get("since")
        try:
            start = (
                Cursor(partitions, partition, 0)
                if since is None
                else decode_cursor(since, partitions=partitions, partition=partition)
            )
        except CursorError as exc:
            raise ProblemError(Problem(P.INVALID_CURSOR, str(exc))) from exc
        page = await ctx.reader.read(sender.kind, sender.code, start, limit)
    except KafkaUnavailable as exc:
        log.warning("retour not read", extra={"sender": sender.code, "error": str(exc)})
        raise _unavailable(ctx) from exc
    try:  # no retour leaves without its access record (fail closed; docs/privacy.md, Audit)
        await ctx.audit.write(access_of(request, ctx, 200, RETOUR_READ, len(page.records)))
    except AuditUnavailable as exc:
        log.warning(
            "retour not handed out: no access record", extra={"sender": sender.code, "error": str(exc)}
        )
        raise _unavailable(ctx) from exc
    request[ACCESS].recorded = True
    return _json({"retours": page.records, "cursor": page.cursor.encode(), "more": page.more})


async def healthz(request: web.Request) -> web.Response:
    return _json({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    """200 while Kafka takes writes. A pipeline behind its bounds does not make ingest unready: it
    still answers (503 pipeline-behind, with Retry-After), which a load balancer dropping every
    instance would turn into refused connections; the body says that admission is paused."""
    ctx = request.app[CONTEXT]
    writer = ctx.writer
    if writer.available and await writer.probe():
        verdict = ctx.backlog.admission()
        if verdict.open:
            return _json({"status": "ready", "admission": "open"})
        return _json({"status": "ready", "admission": "paused", "reason": verdict.reason})
    return _json({"status": "kafka unreachable"}, status=503)


async def metrics_page(request: web.Request) -> web.Response:
    registry = request.app[CONTEXT].metrics.registry
    return web.Response(body=generate_latest(registry), headers={"Content-Type": CONTENT_TYPE_LATEST})


async def openapi_page(request: web.Request) -> web.Response:
    return web.Response(body=request.app[CONTEXT].openapi, content_type=_JSON)
