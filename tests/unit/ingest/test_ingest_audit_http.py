"""One access record per request, through the production app with in-memory fakes for Kafka.

Which record goes where: an accepted post's with its messages (the writer), a retour page's
awaited before the page (``AuditSink.write``), every refusal's best effort (``AuditSink.offer``).
The real broker does the same in tests/integration/test_ingest_audit.py.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from hubdev.localkafka.broker import free_port
from services.contracts.codec import decode
from services.ingest.app import create_app
from services.ingest.audit import AccessRecord, encode_access
from services.ingest.audit_sink import AuditUnavailable
from services.ingest.server import make_runner
from services.ingest.settings import IngestSettings
from services.ingest.tokens import Sender, TokenStore, hash_token, token_id
from tests.unit.ingest.test_ingest_http import TOKEN, FakeReader, FakeWriter, auth, message

BSN = "123456782"


class RecordingAudit:
    def __init__(self) -> None:
        self.offered: list[AccessRecord] = []
        self.written: list[AccessRecord] = []
        self.fail = False

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        return None

    def offer(self, record: AccessRecord) -> None:
        encode_access(record)  # what the real sink does first
        self.offered.append(record)

    async def write(self, record: AccessRecord) -> None:
        if self.fail:
            raise AuditUnavailable("fake outage")
        encode_access(record)
        self.written.append(record)


Client = TestClient[web.Request, web.Application]
Scenario = Callable[[Client, FakeWriter, RecordingAudit], Awaitable[None]]


def run(scenario: Scenario, **overrides: Any) -> None:
    settings = IngestSettings(**overrides)
    tokens = TokenStore({hash_token(TOKEN): Sender("provider", "12345678")})
    writer, audit = FakeWriter(), RecordingAudit()

    async def main() -> None:
        app = create_app(settings, tokens=tokens, writer=writer, reader=FakeReader(), audit=audit)
        async with TestClient(TestServer(app, host="127.0.0.1")) as client:
            await scenario(client, writer, audit)

    asyncio.run(main())


def records_of(writer: FakeWriter, audit: RecordingAudit) -> list[dict[str, Any]]:
    """Every access record, decoded from the bytes that would go to Kafka."""
    encoded = [a for a in writer.audits if a is not None]
    encoded += [encode_access(r) for r in audit.written + audit.offered]
    return [decode("AccessRecord", value) for _, value in encoded]


def test_an_accepted_post_carries_its_record_to_the_writer() -> None:
    async def scenario(client: Client, writer: FakeWriter, audit: RecordingAudit) -> None:
        body = orjson.dumps([message("m1"), message("m2")])
        response = await client.post("/v1/messages", data=body, headers=auth())
        assert response.status == 202
        (encoded,) = writer.audits
        assert encoded is not None and encoded[0] == b"12345678"
        record = decode("AccessRecord", encoded[1])
        assert record["request_id"] == response.headers["X-Request-Id"]
        assert record["status"] == 202 and record["outcome"] == "accepted"
        assert record["message_count"] == 2 and record["body_bytes"] == len(body)
        assert record["sender"] == {"kind": "provider", "code": "12345678"}
        assert record["token_id"] == token_id(hash_token(TOKEN)) and record["credential"] == "valid"
        assert record["method"] == "POST" and record["path"] == "/v1/messages"
        assert record["client_address"] == "127.0.0.1"
        assert audit.offered == [] and audit.written == []  # no second record
        metrics = await (await client.get("/metrics")).text()
        assert 'jeugdhub_ingest_audit_records_written_total{delivery="transaction"} 1.0' in metrics

    run(scenario)


def test_every_refusal_leaves_exactly_one_best_effort_record() -> None:
    async def scenario(client: Client, writer: FakeWriter, audit: RecordingAudit) -> None:
        cases = [
            (auth("wrong-token-0123456789"), b"{}", 401, "unauthenticated", "invalid"),
            ({"Content-Type": "application/json"}, b"{}", 401, "unauthenticated", "none"),
            (
                auth(),
                orjson.dumps(message(sender={"kind": "provider", "code": "87654321"})),
                403,
                "forbidden-sender",
                "valid",
            ),
            (auth(), b'{"a": ' + b"[" * 300 + b"]" * 300 + b"}", 400, "json-too-deep", "valid"),
            (auth(), b"x" * 2048, 413, "body-too-large", "valid"),
            (auth(content_type="text/plain"), b"{}", 415, "unsupported-media-type", "valid"),
        ]
        for headers, body, status, outcome, credential in cases:
            before = len(audit.offered)
            response = await client.post("/v1/messages", data=body, headers=headers)
            assert response.status == status, await response.text()
            (record,) = audit.offered[before:]
            assert record.status == status and record.outcome == outcome, record
            assert record.credential == credential and record.message_count == 0
            assert record.request_id == response.headers["X-Request-Id"]
            assert (record.sender is not None) == (credential == "valid")
            assert (record.token_id is not None) == (credential == "valid")
        assert writer.writes == [] and audit.written == []
        for decoded in records_of(writer, audit):
            assert "wrong-token" not in str(decoded) and TOKEN not in str(decoded)

    run(scenario, ingest_max_body_bytes=1024)


def test_a_path_with_a_bsn_percent_encoded_is_masked_and_probes_leave_no_record() -> None:
    async def scenario(client: Client, writer: FakeWriter, audit: RecordingAudit) -> None:
        encoded_bsn = "".join(f"%{ord(c):02X}" for c in BSN)
        response = await client.get(f"/v1/youth/{encoded_bsn}/{TOKEN}", headers=auth())
        assert response.status == 404
        (record,) = audit.offered
        assert record.path is not None and BSN not in record.path and TOKEN not in record.path
        assert record.credential == "unchecked" and record.outcome == "not-found"
        for path in ("/healthz", "/readyz", "/metrics", "/openapi.json"):
            assert (await client.get(path)).status == 200
        assert len(audit.offered) == 1

    run(scenario)


def test_a_retour_page_is_recorded_before_it_is_sent_or_not_sent_at_all() -> None:
    async def scenario(client: Client, writer: FakeWriter, audit: RecordingAudit) -> None:
        response = await client.get("/v1/retour", headers=auth())
        assert response.status == 200
        (record,) = audit.written
        assert record.outcome == "retour-read" and record.message_count == 1 and record.status == 200
        assert audit.offered == []
        audit.fail = True  # the record cannot be written: the page is not handed out
        refused = await client.get("/v1/retour", headers=auth())
        assert refused.status == 503
        assert "retours" not in await refused.text()
        (fallback,) = audit.offered
        assert fallback.status == 503 and fallback.outcome == "kafka-unavailable"

    run(scenario)


def test_the_forwarded_address_is_recorded_cleaned() -> None:
    async def scenario(client: Client, writer: FakeWriter, audit: RecordingAudit) -> None:
        headers = {**auth("nope-0123456789"), "X-Forwarded-For": f"1.2.3.4, \u202e{BSN}\u200b"}
        assert (await client.post("/v1/messages", data=b"{}", headers=headers)).status == 401
        (record,) = audit.offered
        assert BSN not in record.client_address and "\u202e" not in record.client_address
        headers["X-Forwarded-For"] = "1.2.3.4, 2001:DB8::7"
        assert (await client.post("/v1/messages", data=b"{}", headers=headers)).status == 401
        assert audit.offered[-1].client_address == "2001:db8::7"

    run(scenario, ingest_trust_forwarded_for=True)


def test_a_request_the_http_parser_refuses_leaves_a_record_without_path() -> None:
    async def main() -> None:
        settings = IngestSettings()
        audit = RecordingAudit()
        app = create_app(settings, tokens=TokenStore(), writer=FakeWriter(), reader=FakeReader(), audit=audit)
        runner = make_runner(app, settings)
        await runner.setup()
        port = free_port()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(b"POST /v1/messages HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 9000 + b"\r\n\r\n")
            await writer.drain()
            answer = await reader.read()
            writer.close()
            assert answer.split(b" ", 2)[1] == b"431"
            (record,) = audit.offered
            assert record.method == "UNKNOWN" and record.path is None and record.status == 431
            assert record.outcome == "headers-too-large" and record.client_address == "127.0.0.1"
            assert f"X-Request-Id: {record.request_id}".encode() in answer
        finally:
            await runner.cleanup()

    asyncio.run(main())
