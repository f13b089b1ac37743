"""Schemathesis against /openapi.json of a real ``jeugdhub ingest`` process: no 5xx, no drift.

The service runs as a child process exactly as deployed (``jeugdhub ingest``, JSON logs) on the
session's broker. Schemathesis runs every default check (server errors, status codes, content types,
response schemas, acceptance of valid and rejection of invalid data) with a fixed seed and a
bounded budget. The OpenAPI request examples carry the token's sender, so accepted (202) requests
are exercised too, not only refusals. One documented exception: a cursor can match the ``since`` pattern and still not be
one the service gave out, so positive-data acceptance is not checked on GET /v1/retour.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from hubdev.localkafka.broker import free_port
from services.contracts.topics import RAW, RETOUR
from services.ingest.tokens import Sender, add_token
from services.streaming.topic_admin import create_hub_topics

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]
CONFIG = """
[[operations]]
include-path = "/v1/retour"
checks.positive_data_acceptance.enabled = false
"""
BSN = "123456782"


def _get(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)
    except OSError:
        return 0


@pytest.fixture
def ingest_process(
    kafka_bootstrap: str, unique_prefix: str, tmp_path: Path
) -> Iterator[tuple[str, str, Path]]:
    """(base URL, token, log file) of a running ``jeugdhub ingest``; stopped with SIGTERM after."""
    create_hub_topics(kafka_bootstrap, unique_prefix, specs=(RAW, RETOUR))
    tokens = tmp_path / "tokens.json"
    token = add_token(tokens, Sender("provider", "12345678"))
    port = free_port()
    env = {
        **os.environ,
        "JEUGDHUB_KAFKA_BOOTSTRAP": kafka_bootstrap,
        "JEUGDHUB_TOPIC_PREFIX": unique_prefix,
        "JEUGDHUB_INGEST_TOKENS_FILE": str(tokens),
        "JEUGDHUB_INGEST_HOST": "127.0.0.1",
        "JEUGDHUB_INGEST_PORT": str(port),
        "JEUGDHUB_INGEST_TRANSACTIONAL_ID": f"it-st-{uuid.uuid4().hex[:8]}",
        "JEUGDHUB_INGEST_RATE_PER_S": "100000",
        "JEUGDHUB_INGEST_RATE_BURST": "100000",
        # No validate consumes here, so the pipeline only falls behind: admission bounds off.
        "JEUGDHUB_INGEST_ADMISSION_MAX_LAG_MESSAGES": "0",
        "JEUGDHUB_INGEST_ADMISSION_MAX_STALENESS_S": "0",
        "JEUGDHUB_LOG_LEVEL": "DEBUG",
    }
    log = tmp_path / "ingest.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "services.cli", "ingest"], cwd=REPO, env=env, stdout=out, stderr=out
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while _get(f"{base}/readyz") != 200:
            assert proc.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)
        yield base, token, log
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_ingest_schemathesis_finds_no_server_errors(
    ingest_process: tuple[str, str, Path], tmp_path: Path
) -> None:
    base, token, log = ingest_process
    # One real message first, so the logs can be checked for its BSN below.
    request = urllib.request.Request(
        f"{base}/v1/messages",
        data=orjson.dumps(
            {"message_id": str(uuid.uuid4()), "sender": {"kind": "provider", "code": "12345678"}, "bsn": BSN}
        ),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 202
    config = tmp_path / "schemathesis.toml"
    config.write_text(CONFIG)
    started = time.monotonic()
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "schemathesis.cli",
            "--config-file",
            str(config),
            "run",
            f"{base}/openapi.json",
            "--header",
            f"Authorization: Bearer {token}",
            "--max-examples",
            "10",
            "--max-time",
            "25",
            "--seed",
            "20261125",
            "--generation-database",
            "none",
            "--workers",
            "2",
            "--no-color",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    output = result.stdout[-20_000:] + result.stderr[-5_000:]
    assert result.returncode == 0, output
    assert "Failures:" not in output and "passed" in output, output
    assert "Authentication failed" not in output, output  # the 202 path was reached
    assert time.monotonic() - started < 60
    text = log.read_text()
    lines = [orjson.loads(line) for line in text.splitlines() if line.startswith("{")]
    assert lines and all({"ts", "level", "logger", "msg"} <= set(line) for line in lines)
    assert any(line["msg"] == "ingest listening" for line in lines)
    assert token not in text  # never the token ...
    assert BSN not in text  # ... nor message contents
