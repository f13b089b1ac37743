"""A Kafka outage under load does not flood ingest's log (issue 12, defect 8).

Kafka stops under a running ``jeugdhub ingest`` process while clients keep posting and reading their
retour. Every reconnect attempt (aiokafka) and every refused request (ingest) used to write its own
line: 0.9-1.4 MB in 20 s here. Now each kind is written once per interval and then summarised.
Uses a broker of its own so the session's shared broker is never stopped.
"""

from __future__ import annotations

import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from hubdev.localkafka.broker import Broker, free_port
from services.ingest.tokens import add_token, check_sender
from services.streaming.topic_admin import create_hub_topics
from tests.integration.hub_processes import service_env, service_process

pytestmark = pytest.mark.integration

OUTAGE_S = 20
MAX_GROWTH_BYTES = 32 * 1024  # unlimited: ~1.4 MB; limited: ~3 KB (about 15 kinds, 10 s windows)
CLIENTS = 4


@pytest.fixture
def own_broker(tmp_path: Path) -> Iterator[Broker]:
    broker = Broker(tmp_path / "kafka", port=free_port(), controller_port=free_port(), progress=None)
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()


def _client(port: int, token: str, stop: threading.Event) -> None:
    """Posts a message and reads the retour, again and again, like a sender's retrying software."""
    auth = {"Authorization": f"Bearer {token}"}
    while not stop.is_set():
        body = orjson.dumps(
            {
                "message_id": str(uuid.uuid4()),
                "message_type": "measure",
                "sender": {"kind": "provider", "code": "12345678"},
            }
        )
        for request in (
            urllib.request.Request(
                f"http://127.0.0.1:{port}/v1/messages",
                data=body,
                headers={**auth, "Content-Type": "application/json"},
            ),
            urllib.request.Request(f"http://127.0.0.1:{port}/v1/retour?limit=10", headers=auth),
        ):
            try:
                with urllib.request.urlopen(request, timeout=10) as response:
                    response.read()
            except (urllib.error.URLError, OSError):
                pass
        stop.wait(0.02)


def test_kafka_outage_under_load_writes_a_bounded_log(own_broker: Broker, tmp_path: Path) -> None:
    prefix = f"it{uuid.uuid4().hex[:8]}."
    create_hub_topics(own_broker.bootstrap, prefix)
    tokens = tmp_path / "tokens.json"
    token = add_token(tokens, check_sender("provider", "12345678"))
    port = free_port()
    env = service_env(
        own_broker.bootstrap,
        prefix,
        {"JEUGDHUB_INGEST_PORT": str(port), "JEUGDHUB_INGEST_TOKENS_FILE": str(tokens)},
    )
    env.pop("JEUGDHUB_LOG_REPEAT_INTERVAL_S", None)  # the default interval, as deployed
    log = tmp_path / "ingest.log"
    ingest = service_process("ingest", env, log, port).start()
    stop = threading.Event()
    clients = [threading.Thread(target=_client, args=(port, token, stop)) for _ in range(CLIENTS)]
    try:
        ingest.wait_ready()
        for client in clients:
            client.start()
        time.sleep(2)
        own_broker.stop()
        before = log.stat().st_size
        time.sleep(OUTAGE_S)
        growth = log.stat().st_size - before
        assert ingest.proc is not None and ingest.proc.poll() is None, ingest.log_tail()
    finally:
        stop.set()
        for client in clients:
            if client.is_alive():
                client.join(15)
        ingest.stop()

    lines = [orjson.loads(line) for line in log.read_bytes().splitlines() if line.startswith(b"{")]
    suppressed = sum(int(line.get("repeats_suppressed", 0)) for line in lines)
    assert growth <= MAX_GROWTH_BYTES, (growth, suppressed, ingest.log_tail(60))
    # The outage did produce a flood, and the log says how much of it was left out.
    assert suppressed > 200, suppressed
    assert any(str(line["msg"]).endswith("more like this suppressed") for line in lines)
    assert any(line["logger"].startswith("aiokafka") and "repeats_suppressed" in line for line in lines)
