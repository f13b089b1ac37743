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
RECORD_OVERHEAD_BYTES = 1024
"""Upper bound of what a RawMessage record adds to its payload and message_id: the Avro header,
sender and timestamp, the key's sender code, and Kafka's record-batch and record headers."""


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
    ingest_max_record_bytes: int = Field(
        1_000_000,
        ge=4096,
        description="JEUGDHUB_INGEST_MAX_RECORD_BYTES: largest RawMessage record (key, value and Kafka's "
        "record overhead) ingest hands to Kafka; keep it under the raw topic's max.message.bytes "
        "(broker default 1,048,588). A larger one gets 413 record-too-large, never a 503",
    )
    ingest_max_message_id_chars: int = Field(
        36,
        ge=1,
        le=1024,
        description="JEUGDHUB_INGEST_MAX_MESSAGE_ID_CHARS: longest message_id (the contract's is a "
        "36-character UUID); it is stored three times per record (key, field, payload)",
    )
    ingest_max_json_depth: int = Field(
        32,
        ge=2,
        le=200,
        description="JEUGDHUB_INGEST_MAX_JSON_DEPTH: deepest nesting of one JSON message (the object "
        "itself is depth 1; contract messages are at most 2). Deeper gets 400 json-too-deep",
    )
    ingest_max_header_bytes: int = Field(
        8190,
        ge=1024,
        le=65_536,
        description="JEUGDHUB_INGEST_MAX_HEADER_BYTES: longest request line or header field; longer gets "
        "431 headers-too-large (a problem body, not aiohttp's plain text)",
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
    ingest_backlog_interval_s: float = Field(
        5.0,
        gt=0,
        description="JEUGDHUB_INGEST_BACKLOG_INTERVAL_S: how often the pipeline's backlog (committed "
        "offsets of validate and aggregate, end offsets, oldest unprocessed record) is measured",
    )
    ingest_admission_max_lag_messages: int = Field(
        100_000,
        ge=0,
        description="JEUGDHUB_INGEST_ADMISSION_MAX_LAG_MESSAGES: POST /v1/messages gets 503 "
        "pipeline-behind while a stage has more unprocessed messages than this (0: no bound)",
    )
    ingest_admission_max_staleness_s: float = Field(
        300.0,
        ge=0,
        description="JEUGDHUB_INGEST_ADMISSION_MAX_STALENESS_S: ... or while a stage's oldest "
        "unprocessed message is older than this (0: no bound)",
    )
    ingest_admission_retry_after_s: int = Field(
        30, ge=1, description="JEUGDHUB_INGEST_ADMISSION_RETRY_AFTER_S: Retry-After of 503 pipeline-behind"
    )
    ingest_validate_group: str = Field(
        "jeugdhub-validate",
        description="JEUGDHUB_INGEST_VALIDATE_GROUP: validate's consumer group (its JEUGDHUB_APP_ID), "
        "prefixed with JEUGDHUB_TOPIC_PREFIX",
    )
    ingest_aggregate_group: str = Field(
        "jeugdhub-aggregate",
        description="JEUGDHUB_INGEST_AGGREGATE_GROUP: aggregate's consumer group (its JEUGDHUB_APP_ID), "
        "prefixed with JEUGDHUB_TOPIC_PREFIX",
    )
    ingest_audit_queue: int = Field(
        10_000,
        ge=1,
        description="JEUGDHUB_INGEST_AUDIT_QUEUE: access records of refused requests held in memory "
        "while Kafka is slow or away; beyond it they are counted as lost (docs/privacy.md, Audit)",
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

    @model_validator(mode="after")
    def _a_message_fits_a_record(self) -> Self:
        # A message at the size limit, with the longest message_id, must still make a record Kafka
        # takes; otherwise such a message would be refused only at the record check (413 either way,
        # but the limits would contradict each other).
        worst = self.ingest_max_message_bytes + RECORD_OVERHEAD_BYTES + 8 * self.ingest_max_message_id_chars
        if worst > self.ingest_max_record_bytes:
            raise ValueError(
                f"ingest_max_message_bytes ({self.ingest_max_message_bytes}) plus a message_id of "
                f"{self.ingest_max_message_id_chars} characters does not fit ingest_max_record_bytes "
                f"({self.ingest_max_record_bytes})"
            )
        return self
