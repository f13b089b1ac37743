"""Prometheus metrics of the validate worker.

Labels are bounded. A sender code (thousands of AGB codes nationally) labels one metric only,
``rejected_total``, so each sender adds at most one series (only once it has a rejected message;
ingest admits only senders with a token); rule violations are per rule code and sender *kind*
(``provider``, ``municipality``, ``unknown``). Which rules one sender breaks is in its rejections
and retours, not in Prometheus. Series counts: docs/operations.md, "Cardinality".
"""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from services.compiled import register_build_info

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


@dataclass(frozen=True)
class ValidateMetrics:
    registry: CollectorRegistry
    messages_in: Counter
    accepted: Counter
    rejected: Counter
    rejections_by_rule: Counter
    duplicates: Counter
    latency: Histogram
    batch_size: Histogram
    lag: Gauge
    dedup_entries: Gauge


def new_metrics() -> ValidateMetrics:
    registry = CollectorRegistry()
    register_build_info(registry)  # which core build runs (services.compiled)
    return ValidateMetrics(
        registry=registry,
        messages_in=Counter("jeugdhub_validate_messages_in", "Raw records read", registry=registry),
        accepted=Counter("jeugdhub_validate_accepted", "Messages accepted", registry=registry),
        rejected=Counter(
            "jeugdhub_validate_rejected",
            "Messages rejected, by sender code (the only metric labelled by sender code)",
            ["sender"],
            registry=registry,
        ),
        rejections_by_rule=Counter(
            "jeugdhub_validate_rule_violations",
            "Rule violations in rejected messages, by rule code and sender kind",
            ["code", "sender_kind"],
            registry=registry,
        ),
        duplicates=Counter("jeugdhub_validate_duplicates", "Exact re-sends acknowledged", registry=registry),
        latency=Histogram(
            "jeugdhub_validate_processing_latency_seconds",
            "From the raw record's broker timestamp to its outputs being acknowledged",
            buckets=LATENCY_BUCKETS,
            registry=registry,
        ),
        batch_size=Histogram(
            "jeugdhub_validate_batch_size_messages",
            "Raw records per processing batch",
            buckets=(1, 10, 50, 100, 250, 500, 1000, 2000),
            registry=registry,
        ),
        lag=Gauge(
            "jeugdhub_validate_consumer_lag_messages",
            "Raw records not yet processed, per partition",
            ["partition"],
            registry=registry,
        ),
        dedup_entries=Gauge(
            "jeugdhub_validate_dedup_entries", "Keys in the duplicate table", registry=registry
        ),
    )
