"""Settings of the ingest service (environment variables ``JEUGDHUB_*``).

Every ingest-specific field carries an ``ingest_`` prefix so one environment can configure several
services (``make run`` starts them side by side) without one service's port leaking into another's.
"""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Self

from pydantic import Field, model_validator

from services.settings import HubSettings

MIB = 1024 * 1024


def _default_transactional_id() -> str:
    # Stable per pod/host: a restarted instance re-uses it, so init_transactions aborts whatever
    # transaction its predecessor left open instead of stalling read_committed readers.
    return f"jeugdhub-ingest-{socket.gethostname()}"


class IngestSettings(HubSettings):
    """The HTTP front door: where it listens, what it accepts, how long it waits for Kafka."""

    ingest_host: str = Field("127.0.0.1", description="JEUGDHUB_INGEST_HOST: bind address")
    ingest_port: int = Field(8080, ge=0, le=65535, description="JEUGDHUB_INGEST_PORT: bind port (0: any)")
    ingest_tokens_file: Path = Field(
        Path("var/ingest-tokens.json"),
        description="JEUGDHUB_INGEST_TOKENS_FILE: JSON {sha256-hex: {kind, code}} (a Secret mount)",
    )
    ingest_tokens_reload_s: float = Field(
        10.0, gt=0, description="JEUGDHUB_INGEST_TOKENS_RELOAD_S: how often the tokens file is re-read"
    )
    ingest_max_body_bytes: int = Field(
        5 * MIB, ge=1024, description="JEUGDHUB_INGEST_MAX_BODY_BYTES: larger request bodies get 413"
    )
    ingest_max_message_bytes: int = Field(
        900 * 1024,
        ge=1024,
        description="JEUGDHUB_INGEST_MAX_MESSAGE_BYTES: one message's payload limit (Kafka's record limit)",
    )
    ingest_max_batch: int = Field(
        1000, ge=1, le=10_000, description="JEUGDHUB_INGEST_MAX_BATCH: messages per request"
    )
    ingest_rate_per_s: float = Field(
        1000.0, gt=0, description="JEUGDHUB_INGEST_RATE_PER_S: messages per second per sender (refill)"
    )
    ingest_rate_burst: float = Field(
        2000.0, gt=0, description="JEUGDHUB_INGEST_RATE_BURST: per-sender bucket size (>= max batch)"
    )
    ingest_auth_failures_per_min: float = Field(
        10.0, gt=0, description="JEUGDHUB_INGEST_AUTH_FAILURES_PER_MIN: failed logins per client address"
    )
    ingest_auth_failure_burst: float = Field(
        20.0, ge=1, description="JEUGDHUB_INGEST_AUTH_FAILURE_BURST: failed logins before 429"
    )
    ingest_trust_forwarded_for: bool = Field(
        False,
        description="JEUGDHUB_INGEST_TRUST_FORWARDED_FOR: client address from the last X-Forwarded-For hop "
        "(only behind a proxy that sets it)",
    )
    ingest_transactional_id: str = Field(
        default_factory=_default_transactional_id,
        description="JEUGDHUB_INGEST_TRANSACTIONAL_ID: Kafka transactional.id base, unique per instance",
    )
    ingest_producers: int = Field(
        2, ge=1, le=16, description="JEUGDHUB_INGEST_PRODUCERS: transactional producers working in parallel"
    )
    ingest_max_txn_messages: int = Field(
        5000, ge=1, description="JEUGDHUB_INGEST_MAX_TXN_MESSAGES: messages grouped into one transaction"
    )
    ingest_txn_retry_backoff_ms: float = Field(
        2.0,
        gt=0,
        le=100,
        description="JEUGDHUB_INGEST_TXN_RETRY_BACKOFF_MS: wait before retrying a transaction start that "
        "found the previous commit still completing (aiokafka's own is 20 ms)",
    )
    ingest_kafka_connect_timeout_s: float = Field(
        5.0, gt=0, description="JEUGDHUB_INGEST_KAFKA_CONNECT_TIMEOUT_S: producer/consumer start"
    )
    ingest_kafka_write_timeout_s: float = Field(
        10.0, gt=0, description="JEUGDHUB_INGEST_KAFKA_WRITE_TIMEOUT_S: one request's wait for its commit"
    )
    ingest_kafka_read_timeout_s: float = Field(
        5.0, gt=0, description="JEUGDHUB_INGEST_KAFKA_READ_TIMEOUT_S: one retour read"
    )
    ingest_transaction_timeout_s: float = Field(
        30.0, ge=1, description="JEUGDHUB_INGEST_TRANSACTION_TIMEOUT_S: broker aborts a stuck transaction"
    )
    ingest_retry_after_s: int = Field(
        5, ge=1, description="JEUGDHUB_INGEST_RETRY_AFTER_S: Retry-After on 503 while Kafka is away"
    )
    ingest_retour_max_limit: int = Field(
        1000, ge=1, description="JEUGDHUB_INGEST_RETOUR_MAX_LIMIT: largest ?limit= of GET /v1/retour"
    )
    ingest_retour_max_scan: int = Field(
        20_000,
        ge=1,
        description="JEUGDHUB_INGEST_RETOUR_MAX_SCAN: records looked at per retour request (other senders' too)",
    )
    log_level: str = Field("INFO", description="JEUGDHUB_LOG_LEVEL")

    @model_validator(mode="after")
    def _burst_fits_a_batch(self) -> Self:
        if self.ingest_rate_burst < self.ingest_max_batch:
            raise ValueError(
                f"ingest_rate_burst ({self.ingest_rate_burst}) must be >= ingest_max_batch "
                f"({self.ingest_max_batch}), or a full batch could never be accepted"
            )
        return self
