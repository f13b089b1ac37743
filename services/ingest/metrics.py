"""Prometheus metrics of the ingest service, in their own registry.

Every label is bounded: routes are the declared ones (``other`` for anything else), statuses are
HTTP codes, sender kinds are two, message types are the five of the contract plus ``other``, and
reasons are the problem-type slugs of :mod:`services.ingest.problems`, stages are ``validate`` and
``aggregate``, audit deliveries three and loss reasons four. Never a sender code, message id or client address.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

# Local broker commits take milliseconds; a struggling one seconds; the write timeout caps it.
WRITE_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
REQUEST_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
BYTES_BUCKETS = (256, 1024, 4096, 16_384, 65_536, 262_144, 1_048_576, 4_194_304, 16_777_216)
COUNT_BUCKETS = (1, 2, 5, 10, 50, 100, 250, 500, 1000, 2500, 5000, 10_000)


@dataclass(frozen=True)
class IngestMetrics:
    registry: CollectorRegistry
    requests: Counter
    request_duration: Histogram
    messages: Counter
    payload_bytes: Histogram
    write_duration: Histogram
    transaction_messages: Histogram
    rejected: Counter
    kafka_available: Gauge
    tokens: Gauge
    isolated_requests: Counter
    backlog_messages: Gauge
    backlog_age: Gauge
    backlog_measured: Gauge
    admission_open: Gauge
    audit_written: Counter
    audit_lost: Counter
    _children: dict[tuple[str, tuple[str, ...]], Any] = field(default_factory=dict, repr=False)

    def child(self, name: str, *labels: str) -> Any:
        """``getattr(self, name).labels(*labels)``, cached: label lookups take a lock each time.

        Label values are bounded (see the module docstring), so the cache is too.
        """
        key = (name, labels)
        found = self._children.get(key)
        if found is None:
            found = self._children[key] = getattr(self, name).labels(*labels)
        return found


def new_metrics() -> IngestMetrics:
    registry = CollectorRegistry()
    return IngestMetrics(
        registry=registry,
        requests=Counter(
            "jeugdhub_ingest_requests",
            "HTTP requests by route and status code",
            ["route", "status"],
            registry=registry,
        ),
        request_duration=Histogram(
            "jeugdhub_ingest_request_duration_seconds",
            "HTTP request handling time by route",
            ["route"],
            buckets=REQUEST_BUCKETS,
            registry=registry,
        ),
        messages=Counter(
            "jeugdhub_ingest_messages_received",
            "Messages acknowledged (202) by sender kind and message type",
            ["sender_kind", "message_type"],
            registry=registry,
        ),
        payload_bytes=Histogram(
            "jeugdhub_ingest_payload_bytes",
            "Size of accepted request bodies in bytes",
            buckets=BYTES_BUCKETS,
            registry=registry,
        ),
        write_duration=Histogram(
            "jeugdhub_ingest_kafka_write_seconds",
            "Time of one Kafka transaction (begin, sends, commit), successful or not",
            buckets=WRITE_BUCKETS,
            registry=registry,
        ),
        transaction_messages=Histogram(
            "jeugdhub_ingest_transaction_messages",
            "Messages per Kafka transaction (concurrent requests are committed together)",
            buckets=COUNT_BUCKETS,
            registry=registry,
        ),
        rejected=Counter(
            "jeugdhub_ingest_rejected_requests",
            "Requests answered with a problem, by reason (problem type)",
            ["reason"],
            registry=registry,
        ),
        kafka_available=Gauge(
            "jeugdhub_ingest_kafka_available_producers",
            "Transactional producers connected and ready",
            registry=registry,
        ),
        tokens=Gauge("jeugdhub_ingest_tokens", "API tokens loaded from the tokens file", registry=registry),
        isolated_requests=Counter(
            "jeugdhub_ingest_isolated_requests",
            "Requests retried in a transaction of their own after a group commit failed on a record "
            "Kafka refused (another request's, or theirs)",
            registry=registry,
        ),
        backlog_messages=Gauge(
            "jeugdhub_ingest_pipeline_backlog_messages",
            "Messages a stage has not processed yet (its consumer group's lag, markers not counted)",
            ["stage"],
            registry=registry,
        ),
        backlog_age=Gauge(
            "jeugdhub_ingest_pipeline_oldest_unprocessed_seconds",
            "Age of the oldest message a stage has not processed yet: how stale its output is (0: none)",
            ["stage"],
            registry=registry,
        ),
        backlog_measured=Gauge(
            "jeugdhub_ingest_pipeline_backlog_measured_timestamp_seconds",
            "Unix time of the last successful backlog measurement",
            registry=registry,
        ),
        admission_open=Gauge(
            "jeugdhub_ingest_admission_open",
            "1 while POST /v1/messages admits messages, 0 while it answers 503 pipeline-behind",
            registry=registry,
        ),
        audit_written=Counter(
            "jeugdhub_ingest_audit_records_written",
            "Access records on the audit topic, by delivery: transaction (with an accepted post's "
            "messages), acknowledged (awaited before a retour page), best_effort (refusals)",
            ["delivery"],
            registry=registry,
        ),
        audit_lost=Counter(
            "jeugdhub_ingest_audit_records_lost",
            "Access records of refused requests that were not written, by reason: queue_full, "
            "kafka_error, shutdown, invalid (docs/privacy.md, Audit: any increase is an audit gap)",
            ["reason"],
            registry=registry,
        ),
    )
