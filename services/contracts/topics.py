"""Every Kafka topic of the hub, declared once: name, key, value schema, partitions, retention.

The replication factor is not declared here: it belongs to the cluster, not the topic, and comes
from ``JEUGDHUB_REPLICATION_FACTOR`` (``services.streaming.topic_admin``) or, for Strimzi, from
``jeugdhub deploy render --replicas``.

Code, tests, ``jeugdhub kafka topics`` and the Kubernetes ``KafkaTopic`` manifests all read this
module. A deployment may prefix every name (``JEUGDHUB_TOPIC_PREFIX``), which tests use to get
topics of their own on a shared broker.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

DAY_MS = 24 * 60 * 60 * 1000
FOREVER = -1
AUDIT_RETENTION_DAYS = 5 * 365 + 2
"""How long access records are kept: five years, whatever leap days they hold (docs/privacy.md, Audit)."""
RETENTION_HORIZON_DAYS = 3 * 365 + 1
"""Default ``JEUGDHUB_RETENTION_HORIZON_DAYS``: a youth's state is dropped once it has been in no
figure for this long (services/aggregate/retention.py; docs/privacy.md, Retention)."""
VALIDATED_RETENTION_DAYS = RETENTION_HORIZON_DAYS + 365 + 184
"""The validated topic: the horizon, plus a 12-month window and a perspective deadline (6 months)
before it, so the topic holds every message dated in the windows of the served dates (docs/privacy.md)."""
SHORT_SEGMENT_MS = DAY_MS
"""Segments of short-lived topics roll daily: Kafka deletes whole segments, so with its default
(a week) a raw record with a BSN could live two weeks instead of one."""


@dataclass(frozen=True)
class TopicSpec:
    name: str
    key: str
    value_schema: str
    partitions: int
    retention_ms: int
    cleanup_policy: Literal["delete", "compact"]
    readers: tuple[str, ...]
    holds_bsn: bool
    doc: str
    segment_ms: int | None = None
    """``segment.ms`` when the broker's default roll (7 days) would keep records too long past retention."""

    def full_name(self, prefix: str = "") -> str:
        return f"{prefix}{self.name}"

    def config(self, min_insync_replicas: int | None = None) -> dict[str, str]:
        """Broker-side topic configuration; ``min_insync_replicas`` None leaves the broker's default."""
        cfg = {"cleanup.policy": self.cleanup_policy, "retention.ms": str(self.retention_ms)}
        if self.cleanup_policy == "compact":
            cfg.update(COMPACTED_STATE_CONFIG)
        if self.segment_ms is not None:
            cfg["segment.ms"] = str(self.segment_ms)
        if min_insync_replicas is not None:
            cfg["min.insync.replicas"] = str(min_insync_replicas)
        return cfg


COMPACTED_STATE_CONFIG: dict[str, str] = {
    "min.compaction.lag.ms": "0",
    # Kafka compacts only closed segments, and its default segment is 1 GiB: a state topic (a table
    # changelog, the youth-facts upserts) of a few GiB then keeps every old version of every key
    # and a restarting worker reads all of them. Smaller segments, rolled at least hourly, let the
    # log cleaner keep about one record per key (docs/performance.md: recovery time).
    "segment.bytes": str(16 * 1024 * 1024),
    "segment.ms": str(60 * 60 * 1000),
    "min.cleanable.dirty.ratio": "0.3",
    # A tombstone (a youth expired or erased) stays 7 days before the cleaner removes it, so a
    # reader that is behind (a worker down over a weekend) still sees the deletion (broker: 1 day).
    "delete.retention.ms": str(7 * DAY_MS),
}
"""Configuration of every compacted topic that holds state to be read back from its beginning."""


RAW = TopicSpec(
    name="jeugdhub.raw.v1",
    key="'<sender code>:<message_id>' (UTF-8), the key of validate's duplicate table: no repartition",
    value_schema="RawMessage",
    partitions=6,
    retention_ms=7 * DAY_MS,
    cleanup_policy="delete",
    readers=("validate",),
    holds_bsn=True,
    segment_ms=SHORT_SEGMENT_MS,
    doc="Messages as senders sent them, written by ingest in one transaction per request.",
)
VALIDATED = TopicSpec(
    name="jeugdhub.validated.v1",
    key="youth_pseudonym (UTF-8): all messages about one youth in one partition, in order",
    value_schema="ValidatedMessage",
    partitions=6,
    retention_ms=VALIDATED_RETENTION_DAYS * DAY_MS,
    cleanup_policy="delete",
    readers=("aggregate", "rebuild"),
    holds_bsn=False,
    doc="Accepted, pseudonymised messages; kept the retention horizon plus 18 months (docs/privacy.md, "
    "Retention); the aggregate's youth-messages changelog holds every message a figure still needs.",
)
REJECTED = TopicSpec(
    name="jeugdhub.rejected.v1",
    key="'<sender code>:<message_id>' (UTF-8; 'unknown:' when unreadable)",
    value_schema="Rejection",
    partitions=3,
    retention_ms=90 * DAY_MS,
    cleanup_policy="delete",
    readers=("operations",),
    holds_bsn=False,
    segment_ms=SHORT_SEGMENT_MS,
    doc="Dead letters: rejected messages with every broken rule, BSN masked, birth date removed.",
)
RETOUR = TopicSpec(
    name="jeugdhub.retour.v1",
    key="sender code (UTF-8; 'unknown' when unreadable)",
    value_schema="Retour",
    partitions=6,
    retention_ms=30 * DAY_MS,
    cleanup_policy="delete",
    readers=("ingest",),
    holds_bsn=False,
    segment_ms=SHORT_SEGMENT_MS,
    doc="One retour record per message: accepted, rejected (with errors) or duplicate.",
)
YOUTH_FACTS = TopicSpec(
    name="jeugdhub.youth-facts.v1",
    key="youth_pseudonym (UTF-8)",
    value_schema="YouthFactsRecord",
    partitions=6,
    retention_ms=FOREVER,
    cleanup_policy="compact",
    readers=("aggregate",),
    holds_bsn=False,
    doc="Each youth's current derived facts as an upsert; figures are computed from the latest per youth. "
    "A tombstone when the youth expires (retention horizon) or is erased.",
)
AGGREGATES = TopicSpec(
    name="jeugdhub.aggregates.v1",
    key="region code (UTF-8), 'NL' for the national row",
    value_schema="RegionSnapshot",
    partitions=1,
    retention_ms=FOREVER,
    cleanup_policy="compact",
    readers=("jeugdautoriteit", "run-view", "aggregate"),
    holds_bsn=False,
    doc="The latest figures per region; compacted so a new reader gets the current state.",
)

AGGREGATES_PUBLIC = TopicSpec(
    name="jeugdhub.aggregates-public.v1",
    key="region code (UTF-8), 'NL' for the national row",
    value_schema="PublicRegionSnapshot",
    partitions=1,
    retention_ms=FOREVER,
    cleanup_policy="compact",
    readers=("jeugdautoriteit", "public"),
    holds_bsn=False,
    doc="The public form of the latest figures per region (metrics.md, Public figures): small counts "
    "suppressed, others rounded to 5; computed from the exact figures, written with them.",
)
FIGURES_DAILY = TopicSpec(
    name="jeugdhub.figures-daily.v1",
    key="'<region>:<YYYY-MM-DD>' (UTF-8): one record per region per day, never overwritten",
    value_schema="DailyRegionFigures",
    partitions=1,
    retention_ms=FOREVER,
    cleanup_policy="compact",
    readers=("jeugdautoriteit", "aggregate"),
    holds_bsn=False,
    doc="Provisional history: each region's figures as of each day, as known at the end of that day "
    "(Europe/Amsterdam); written once per key, marked written_late when written after the day.",
)
AUDIT = TopicSpec(
    name="jeugdhub.audit.v1",
    key="sender code (UTF-8; 'unauthenticated' when no token was accepted)",
    value_schema="AccessRecord",
    partitions=3,
    retention_ms=AUDIT_RETENTION_DAYS * DAY_MS,
    cleanup_policy="delete",
    readers=("audit",),
    holds_bsn=False,
    doc="One access record per request to the ingest API (who, which token id, what, how many, "
    "answer, from where); never a token or message content. Kept 5 years (docs/privacy.md, Audit).",
)

ERASURES = TopicSpec(
    name="jeugdhub.erasures.v1",
    key="youth_pseudonym (UTF-8): the partition of the youth's validated messages (same count, same partitioner)",
    value_schema="ErasureRecord",
    partitions=6,
    retention_ms=FOREVER,
    cleanup_policy="compact",
    readers=("validate", "aggregate", "rebuild", "privacy-officer"),
    holds_bsn=False,
    doc="Erasures on request and re-admissions, one record per pseudonym of the youth (every key); "
    "holds pseudonyms only, kept while the hub runs so an erased youth never comes back "
    "(docs/privacy.md, Erasure).",
)

LINKS = TopicSpec(
    name="jeugdhub.youth-links.v1",
    key="youth_pseudonym under the rotation's new key (UTF-8)",
    value_schema="YouthLink",
    partitions=6,
    retention_ms=FOREVER,
    cleanup_policy="compact",
    readers=("validate", "aggregate"),
    holds_bsn=False,
    doc="Key rotation: a youth's new pseudonym -> its anchor (the pseudonym its state is kept under), "
    "written once per youth by validate while it holds both keys; after the old key is retired it "
    "keeps linked youth on their state; the aggregate reads it for the anchor of a youth erased "
    "after the retirement. Two pseudonyms, no BSN (docs/privacy.md, Key rotation).",
)

ALL_TOPICS: tuple[TopicSpec, ...] = (
    RAW,
    VALIDATED,
    REJECTED,
    RETOUR,
    YOUTH_FACTS,
    AGGREGATES,
    AGGREGATES_PUBLIC,
    FIGURES_DAILY,
    AUDIT,
    ERASURES,
    LINKS,
)


@dataclass(frozen=True)
class StateStore:
    """A worker's state (a faust table in memory, its changelog ``<prefix><app id>-<table>-changelog``
    compacted with :data:`COMPACTED_STATE_CONFIG`): what it keeps and for how long."""

    app_id: str
    table: str
    key: str
    retention: str

    def changelog(self, prefix: str = "") -> str:
        return f"{prefix}{self.app_id}-{self.table}-changelog"


STATE_STORES: tuple[StateStore, ...] = (
    StateStore(
        "jeugdhub-validate",
        "dedup",
        "'<sender code>:<message_id>' -> content hash, outcome, raw offset",
        "while the hub runs: a re-send of any message, however old, must stay a duplicate (JH030), "
        "or an expired youth's old message would count again; holds no youth data",
    ),
    StateStore(
        "jeugdhub-aggregate",
        "youth-messages",
        "youth_pseudonym -> the youth's accepted messages",
        "until the youth expires (JEUGDHUB_RETENTION_HORIZON_DAYS after it left every figure) or is "
        "erased: the table entry is deleted and its changelog gets a tombstone",
    ),
)
"""Every changelog-backed state of the workers (docs/privacy.md, Retention)."""


def dedup_key(sender_code: str, message_id: str) -> str:
    """The raw topic's key and validate's duplicate-table key: one sender's one message."""
    return f"{sender_code}:{message_id}"
