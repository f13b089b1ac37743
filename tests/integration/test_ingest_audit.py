"""Access records on the real broker (docs/privacy.md, Audit).

- Every request a sender makes — accepted, refused at authentication, refused for its body, a
  retour read, an unknown path with hostile characters — leaves exactly one record on the audit
  topic, with the right fields, and no byte of the topic (nor of the service's log) holds a token,
  a token's hash or a BSN that was sent. Probes leave none.
- An accepted post's record is committed with its raw records; the record of a post whose
  transaction aborted (the broker refused its raw record) is never committed, only the refusal's.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import orjson
import pytest
from aiohttp import ClientResponse
from yarl import URL

from services.contracts.codec import decode
from services.contracts.topics import AUDIT, RAW, RETOUR
from services.ingest.tokens import hash_token, token_id
from services.streaming.topic_admin import create_hub_topics, ensure_topics
from tests.integration.test_ingest_service import (
    OTHER,
    TOKENS,
    Client,
    headers,
    message,
    read_topic,
    serving,
    settings_for,
    token_store,
    wait_ready,
)

pytestmark = pytest.mark.integration

BSNS = ("123456782", "111222333", "999990019")
WRONG_TOKEN = "it-wrong-token-Zm9vYmFyYmF6cXV4cXV1eDAxMjM0NTY3"


def secrets_sent() -> list[bytes]:
    """What must never reach the audit topic or the log: tokens, their full hashes, the BSNs."""
    tokens = [*TOKENS.values(), WRONG_TOKEN]
    return (
        [t.encode() for t in tokens] + [hash_token(t).encode() for t in tokens] + [b.encode() for b in BSNS]
    )


async def records_by_request(
    bootstrap: str, prefix: str, isolation: str, expect: int
) -> dict[str, list[Any]]:
    by_id: dict[str, list[Any]] = {}
    for record in await read_topic(bootstrap, AUDIT.full_name(prefix), isolation, expect=expect):
        by_id.setdefault(decode("AccessRecord", record.value)["request_id"], []).append(record)
    return by_id


def the_record(by_id: dict[str, list[Any]], response: ClientResponse) -> dict[str, Any]:
    (record,) = by_id.pop(response.headers["X-Request-Id"])
    value: dict[str, Any] = decode("AccessRecord", record.value)
    assert record.key == (value["sender"]["code"].encode() if value["sender"] else b"unauthenticated")
    assert value["instance"] and value["client_address"] == "127.0.0.1"
    return value


async def send_requests(client: Client, batch: list[dict[str, Any]]) -> list[ClientResponse]:
    """Accepted, wrong token, no token, forbidden sender, too large, too deep (each holding BSNs),
    a retour read, an unknown path with a bidi override, a NUL, a BSN and a token in it."""
    out = []

    async def post(body: bytes, hdrs: dict[str, str], status: int) -> None:
        response = await client.post("/v1/messages", data=body, headers=hdrs)
        assert response.status == status, await response.text()
        out.append(response)

    await post(orjson.dumps(batch), headers(), 202)
    await post(orjson.dumps(batch), {**headers(), "Authorization": f"Bearer {WRONG_TOKEN}"}, 401)
    await post(orjson.dumps(batch), {"Content-Type": "application/json"}, 401)
    await post(orjson.dumps(message(OTHER)), headers(), 403)  # the token is PROVIDER's
    await post(b'"' + (BSNS[0] * 20_000)[:100_000].encode() + b'"', headers(), 413)
    await post(b'{"bsn": "' + BSNS[1].encode() + b'", "x": ' + b"[" * 300 + b"]" * 300 + b"}", headers(), 400)
    retour = await client.get("/v1/retour", headers=headers())
    assert retour.status == 200, await retour.text()
    out.append(retour)
    odd = URL(f"/v1/%E2%80%AE%00x/{BSNS[2]}/{TOKENS['provider']}abcdefghijklmnopqrstuvwxyz", encoded=True)
    response = await client.get(odd, headers=headers())
    assert response.status == 404
    out.append(response)
    return out


def check_records(by_id: dict[str, list[Any]], responses: list[ClientResponse], batch_bytes: int) -> None:
    accepted, wrong, none, forbidden, too_large, too_deep, retour, odd = responses
    record = the_record(by_id, accepted)
    assert (record["status"], record["outcome"], record["message_count"]) == (202, "accepted", 3)
    assert record["sender"] == {"kind": "provider", "code": "12345678"}
    assert record["token_id"] == token_id(hash_token(TOKENS["provider"]))
    assert (record["method"], record["path"], record["credential"]) == ("POST", "/v1/messages", "valid")
    assert record["body_bytes"] == batch_bytes

    for response, credential in ((wrong, "invalid"), (none, "none")):
        record = the_record(by_id, response)
        assert (record["status"], record["outcome"]) == (401, "unauthenticated")
        assert record["credential"] == credential
        assert record["sender"] is None and record["token_id"] is None and record["message_count"] == 0

    record = the_record(by_id, forbidden)
    assert (record["status"], record["outcome"], record["message_count"]) == (403, "forbidden-sender", 0)
    assert record["sender"] == {"kind": "provider", "code": "12345678"}

    record = the_record(by_id, too_large)
    assert (record["status"], record["outcome"], record["body_bytes"]) == (413, "body-too-large", 100_002)

    record = the_record(by_id, too_deep)
    assert (record["status"], record["outcome"]) == (400, "json-too-deep")

    record = the_record(by_id, retour)
    assert (record["status"], record["outcome"], record["method"]) == (200, "retour-read", "GET")

    record = the_record(by_id, odd)
    assert record["status"] == 404 and record["credential"] == "unchecked"
    assert record["path"].startswith("/v1/\ufffd\ufffdx/") and "[masked]" in record["path"]
    assert by_id == {}, f"records of no request, or of probes: {by_id}"


def test_every_request_leaves_exactly_one_record_without_tokens_or_bsns(
    kafka_bootstrap: str, unique_prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    # Only the raw and retour topics: ingest creates the audit topic itself (JEUGDHUB_CREATE_TOPICS).
    create_hub_topics(kafka_bootstrap, unique_prefix, specs=(RAW, RETOUR))
    settings = settings_for(kafka_bootstrap, unique_prefix, ingest_max_body_bytes=64 * 1024)
    batch = [message(bsn=bsn) for bsn in BSNS]
    caplog.set_level(logging.DEBUG, logger="jeugdhub")

    async def scenario() -> None:
        async with serving(settings, token_store()) as client:
            responses = await send_requests(client, batch)
            for path in ("/healthz", "/readyz", "/metrics", "/openapi.json"):
                assert (await client.get(path)).status == 200
            metrics = await (await client.get("/metrics")).text()
        by_id = await records_by_request(kafka_bootstrap, unique_prefix, "read_committed", len(responses))
        check_records(by_id, responses, len(orjson.dumps(batch)))
        everything = await read_topic(kafka_bootstrap, AUDIT.full_name(unique_prefix), "read_uncommitted")
        for secret in secrets_sent():
            for kafka_record in everything:
                assert secret not in kafka_record.key and secret not in kafka_record.value, secret
            assert secret.decode() not in caplog.text, secret
        assert 'jeugdhub_ingest_audit_records_written_total{delivery="transaction"} 1.0' in metrics
        assert 'jeugdhub_ingest_audit_records_written_total{delivery="acknowledged"} 1.0' in metrics
        assert "jeugdhub_ingest_audit_records_lost_total{" not in metrics  # nothing lost

    asyncio.run(scenario())


def test_an_accepted_posts_record_commits_with_its_messages_and_an_aborted_ones_never(
    kafka_bootstrap: str, unique_prefix: str
) -> None:
    raw = RAW.full_name(unique_prefix)
    ensure_topics(
        kafka_bootstrap,
        [raw],
        partitions=RAW.partitions,
        config={**RAW.config(), "max.message.bytes": "65536"},
    )
    create_hub_topics(kafka_bootstrap, unique_prefix, specs=(RETOUR, AUDIT))
    settings = settings_for(kafka_bootstrap, unique_prefix, ingest_producers=1)

    async def scenario() -> None:
        async with serving(settings, token_store()) as client:
            good = [message(), message()]
            accepted = await client.post("/v1/messages", data=orjson.dumps(good), headers=headers())
            assert accepted.status == 202, await accepted.text()
            big = message(location_code="x" * 100_000)  # over the raw topic's limit: Kafka refuses it
            refused = await client.post("/v1/messages", data=orjson.dumps(big), headers=headers())
            assert refused.status == 413, await refused.text()
            assert (await refused.json(content_type=None))["type"] == "/problems/record-too-large"
            # The failed producer's successor aborts the open transaction when it connects; until
            # then read_committed readers of the audit partition it wrote wait (the refusal's own
            # record, same key, is behind it). Stopping the service now would leave it to the
            # broker's transaction timeout (30 s + up to 10 s).
            await wait_ready(client)

        committed = await records_by_request(kafka_bootstrap, unique_prefix, "read_committed", expect=2)
        record = the_record(committed, accepted)
        assert (record["outcome"], record["message_count"]) == ("accepted", 2)
        on_raw = await read_topic(kafka_bootstrap, raw, "read_committed", expect=2)
        assert sorted(decode("RawMessage", r.value)["message_id"] for r in on_raw) == sorted(
            m["message_id"] for m in good
        )
        record = the_record(committed, refused)
        assert (record["status"], record["outcome"]) == (413, "record-too-large")
        assert committed == {}
        # The aborted transaction's own record reached the log (one produce request carried both
        # partitions' batches; the broker took the audit one and refused the raw one) but is never
        # visible to read_committed: it was aborted with the messages it describes.
        everything = await records_by_request(kafka_bootstrap, unique_prefix, "read_uncommitted", expect=3)
        outcomes = sorted(
            decode("AccessRecord", r.value)["outcome"] for r in everything[refused.headers["X-Request-Id"]]
        )
        assert outcomes == ["accepted", "record-too-large"], outcomes

    asyncio.run(scenario())
