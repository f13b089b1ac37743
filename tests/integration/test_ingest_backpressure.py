"""Backpressure and record isolation of ingest on the real broker (issue 12, defects 3 and 7).

- With validate not consuming, ingest measures the backlog of the validate stage, publishes its
  staleness, and once it passes the bound answers ``503 pipeline-behind`` with Retry-After; when the
  real validate worker has caught up, messages are accepted again and the staleness is 0.
- A record the broker refuses as too large (a raw topic with a small ``max.message.bytes``) gets
  413 for its own request only; the requests committed in the same group still get 202 and are on
  the raw topic.
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

import orjson
import pytest

from services.contracts.codec import decode
from services.contracts.topics import ALL_TOPICS, RAW, RETOUR
from services.streaming.topic_admin import create_hub_topics, ensure_topics
from tests.integration.hub_processes import running, service_env, write_keyring
from tests.integration.test_ingest_service import (
    Client,
    headers,
    message,
    read_topic,
    serving,
    settings_for,
    token_store,
)

pytestmark = pytest.mark.integration

INVALID_BSN = "123456789"  # fails the 11-proef: validate rejects it, so nothing reaches aggregate


def gauge(metrics: str, name: str, stage: str) -> float | None:
    found = re.search(rf'^{name}{{stage="{stage}"}} (\S+)$', metrics, re.MULTILINE)
    return None if found is None else float(found.group(1))


async def metrics_text(client: Client) -> str:
    return await (await client.get("/metrics")).text()


async def post(client: Client, body: Any) -> Any:
    return await client.post("/v1/messages", data=orjson.dumps(body), headers=headers())


def test_admission_closes_while_validate_is_behind_and_reopens_when_it_caught_up(
    kafka_bootstrap: str, unique_prefix: str, tmp_path: Path
) -> None:
    create_hub_topics(kafka_bootstrap, unique_prefix, specs=ALL_TOPICS)
    settings = settings_for(
        kafka_bootstrap,
        unique_prefix,
        ingest_backlog_interval_s=0.3,
        ingest_admission_max_lag_messages=10,
        ingest_admission_max_staleness_s=0,
        ingest_admission_retry_after_s=7,
    )
    env = service_env(
        kafka_bootstrap,
        unique_prefix,
        {"JEUGDHUB_KEYRING_FILE": str(write_keyring(tmp_path / "keyring.json"))},
    )

    async def until(predicate: Any, timeout_s: float, what: str) -> Any:
        deadline = asyncio.get_running_loop().time() + timeout_s
        while True:
            result = await predicate()
            if result:
                return result
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"timed out waiting for {what}")
            await asyncio.sleep(0.2)

    async def scenario() -> None:
        async with serving(settings, token_store()) as client:
            batch = [message(bsn=INVALID_BSN) for _ in range(15)]
            assert (await post(client, batch)).status == 202

            # One transaction: each partition's only marker is the trailing one, which is not counted.
            async def measured() -> bool:
                text = await metrics_text(client)
                return gauge(text, "jeugdhub_ingest_pipeline_backlog_messages", "validate") == 15

            await until(measured, 15, "the backlog gauge to show the batch")
            response = await post(client, message(bsn=INVALID_BSN))
            assert response.status == 503
            problem = await response.json(content_type=None)
            assert response.headers["Content-Type"] == "application/problem+json"
            assert problem["type"] == "/problems/pipeline-behind"
            assert response.headers["Retry-After"] == "7"
            found = re.match(r"validate has (\d+) unprocessed messages \(bound 10\)", problem["detail"])
            assert found is not None and int(found.group(1)) == 15, problem["detail"]
            text = await metrics_text(client)
            age = gauge(text, "jeugdhub_ingest_pipeline_oldest_unprocessed_seconds", "validate")
            assert age is not None and age > 0
            assert "jeugdhub_ingest_admission_open 0.0" in text
            ready = await client.get("/readyz")
            assert ready.status == 200 and (await ready.json())["admission"] == "paused"

            loop = asyncio.get_running_loop()
            with running("validate", env, tmp_path / "validate.log"):

                async def accepted() -> bool:
                    return bool((await post(client, message(bsn=INVALID_BSN))).status == 202)

                await until(accepted, 90, "202 after validate caught up")

                async def caught_up() -> bool:
                    text = await metrics_text(client)
                    return (
                        gauge(text, "jeugdhub_ingest_pipeline_backlog_messages", "validate") == 0
                        and gauge(text, "jeugdhub_ingest_pipeline_oldest_unprocessed_seconds", "validate")
                        == 0
                    )

                started = loop.time()
                await until(caught_up, 60, "validate staleness 0")
                assert loop.time() - started < 60
                text = await metrics_text(client)
                assert "jeugdhub_ingest_admission_open 1.0" in text
                # Nothing reached the validated topic, so the aggregate stage waits on nothing.
                assert gauge(text, "jeugdhub_ingest_pipeline_backlog_messages", "aggregate") == 0
                assert (await (await client.get("/readyz")).json())["admission"] == "open"

    asyncio.run(scenario())


def test_a_record_the_broker_refuses_fails_only_its_own_request(
    kafka_bootstrap: str, unique_prefix: str
) -> None:
    """Defect 3: ingest groups concurrent requests into one transaction, and one record Kafka
    refused failed every request of the group with 503 (and the offender got 503 forever)."""
    raw = RAW.full_name(unique_prefix)
    ensure_topics(
        kafka_bootstrap,
        [raw],
        partitions=RAW.partitions,
        config={**RAW.config(), "max.message.bytes": "65536"},
    )
    create_hub_topics(kafka_bootstrap, unique_prefix, specs=(RETOUR,))
    settings = settings_for(kafka_bootstrap, unique_prefix, ingest_producers=1)

    async def scenario() -> None:
        async with serving(settings, token_store()) as client:
            isolated = 0.0
            accepted: list[str] = []
            for _ in range(5):  # until a group held the offender (nearly always the first round)
                small = [message() for _ in range(30)]
                big = message(location_code="x" * 100_000)
                bodies = [*small[:15], big, *small[15:]]
                responses = await asyncio.gather(*(post(client, body) for body in bodies))
                statuses = [r.status for r in responses]
                assert statuses[15] == 413, await responses[15].text()
                problem = await responses[15].json(content_type=None)
                assert problem["type"] == "/problems/record-too-large"
                assert statuses[:15] + statuses[16:] == [202] * 30, statuses
                accepted += [m["message_id"] for m in small]
                text = await metrics_text(client)
                found = re.search(r"^jeugdhub_ingest_isolated_requests_total (\S+)$", text, re.MULTILINE)
                isolated = float(found.group(1)) if found else 0.0
                if isolated > 1:
                    break
            assert isolated > 1, "the oversized request was never grouped with others"
        records = await read_topic(kafka_bootstrap, raw, "read_committed", expect=len(accepted))
        on_topic = [str(decode("RawMessage", r.value)["message_id"]) for r in records]
        assert sorted(on_topic) == sorted(accepted)

    asyncio.run(scenario())


def test_hostile_bodies_get_4xx_problems_from_the_real_service(
    kafka_bootstrap: str, unique_prefix: str
) -> None:
    """Defects 1–3 against the production app and broker: deep JSON, a huge message_id."""
    create_hub_topics(kafka_bootstrap, unique_prefix, specs=(RAW, RETOUR))
    settings = settings_for(kafka_bootstrap, unique_prefix)
    deep = b"[" * 300 + b"]" * 300

    async def scenario() -> None:
        async with serving(settings, token_store()) as client:
            single = orjson.dumps(message())[:-1] + b', "extra": ' + deep + b"}"
            batch = b"[" + orjson.dumps(message()) + b"," + single + b"]"
            huge_id = orjson.dumps(message(message_id="7" * 380_000))
            for body, status, slug in (
                (single, 400, "json-too-deep"),
                (batch, 400, "json-too-deep"),
                (huge_id, 400, "message-id-too-long"),
            ):
                response = await client.post("/v1/messages", data=body, headers=headers())
                assert response.status == status, await response.text()
                assert (await response.json(content_type=None))["type"] == f"/problems/{slug}"
            ok = message()
            assert (await post(client, ok)).status == 202
        records = await read_topic(
            kafka_bootstrap, RAW.full_name(unique_prefix), "read_uncommitted", expect=1
        )
        assert [str(decode("RawMessage", r.value)["message_id"]) for r in records] == [ok["message_id"]]

    asyncio.run(scenario())
