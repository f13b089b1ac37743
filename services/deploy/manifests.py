"""Kubernetes resources generated from the code's own declarations, never written by hand.

- Strimzi ``KafkaTopic`` for every topic of :mod:`services.contracts.topics` and for the faust
  internal topics of the two workers (changelogs, leader topics), so that they exist with the
  cluster's replication factor before a worker starts (faust would create them with one replica).
- Strimzi ``KafkaUser`` with ACLs for each principal: reads from the topics' ``readers``, writes
  from :data:`WRITERS` below (``topics.py`` declares readers only), plus what the code does besides
  (validate's key check reads the validated topic's tail; both workers call CreateTopics at start).
- A prometheus-operator ``PrometheusRule`` wrapping ``deploy/prometheus/rules.yml`` unchanged, so the
  rules checked by ``promtool`` are the rules deployed.

``jeugdhub deploy render`` writes the files; ``--check`` (and a unit test) fails when a committed
file differs from what this module produces. PyYAML is imported lazily: the runtime image needs none.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from services.contracts.topics import (
    AGGREGATES,
    AGGREGATES_PUBLIC,
    ALL_TOPICS,
    AUDIT,
    COMPACTED_STATE_CONFIG,
    ERASURES,
    FIGURES_DAILY,
    LINKS,
    RAW,
    REJECTED,
    RETOUR,
    VALIDATED,
    YOUTH_FACTS,
)

STRIMZI_API = "kafka.strimzi.io/v1"
PROMETHEUS_OPERATOR_API = "monitoring.coreos.com/v1"
PART_OF = {"app.kubernetes.io/part-of": "jeugdhub"}

DEFAULT_CLUSTER = "jeugdhub"
"""The Strimzi ``Kafka`` resource's name (label ``strimzi.io/cluster``); overlays may patch it."""
DEFAULT_REPLICAS = 3
DEFAULT_MIN_INSYNC_REPLICAS = 2

TOPICS_FILE = Path("deploy/k8s/base/generated/kafka-topics.yaml")
USERS_FILE = Path("deploy/k8s/components/kafka-users/generated/kafka-users.yaml")
RULES_SOURCE = Path("deploy/prometheus/rules.yml")
RULE_FILE = Path("deploy/k8s/components/monitoring/generated/prometheus-rule.yaml")

# Faust app ids: the defaults of JEUGDHUB_APP_ID in services/{validate,aggregate}/settings.py.
VALIDATE_APP_ID = "jeugdhub-validate"
AGGREGATE_APP_ID = "jeugdhub-aggregate"
# services/ingest/settings.py: transactional ids are "<prefix>jeugdhub-ingest-<host>-<n>".
INGEST_TRANSACTIONAL_ID_PREFIX = "jeugdhub-ingest-"
# services/aggregate/service.py: the one snapshot publisher's transactional id, "<prefix><app id>-snapshots".
AGGREGATE_TRANSACTIONAL_ID = f"{AGGREGATE_APP_ID}-snapshots"

Service = Literal["ingest", "validate", "aggregate"]
SERVICES: tuple[Service, ...] = ("ingest", "validate", "aggregate")

WRITERS: Mapping[str, str] = {
    RAW.name: "ingest",
    VALIDATED.name: "validate",
    REJECTED.name: "validate",
    RETOUR.name: "validate",
    YOUTH_FACTS.name: "aggregate",
    AGGREGATES.name: "aggregate",
    AGGREGATES_PUBLIC.name: "aggregate",
    FIGURES_DAILY.name: "aggregate",
    AUDIT.name: "ingest",
    ERASURES.name: "privacy-officer",  # `jeugdhub erase`, run by the privacy officer (operations)
    LINKS.name: "validate",  # the key rotation's links (services/privacy/links.py)
}
"""The one principal that writes each topic (docs/architecture.md, "written by")."""

READER_PRINCIPALS: Mapping[str, str | None] = {
    "ingest": "ingest",
    "validate": "validate",
    "aggregate": "aggregate",
    "rebuild": "aggregate",  # `jeugdhub rebuild` runs as a Job with the aggregate worker's identity
    "operations": "operations",
    "jeugdautoriteit": "jeugdautoriteit",
    "public": "public",  # a consumer of the public figures only (metrics.md, Public figures)
    "audit": "audit",  # the data-protection officer and security team: the access records only
    "privacy-officer": "privacy-officer",  # `jeugdhub erase`: reads and writes the erasures topic only
    "run-view": None,  # the `jeugdhub run` terminal view on a developer's machine, not in a cluster
}
"""Each ``readers`` name in topics.py -> the KafkaUser it reads as (None: no user in a cluster)."""

EXTRA_READS: Mapping[str, tuple[str, ...]] = {
    # services/validate/keycheck.py reads the newest record of each validated partition at start.
    "validate": (VALIDATED.name,),
}

CREATES_HUB_TOPICS: tuple[Service, ...] = ("validate", "aggregate")
"""Workers whose start calls ``create_hub_topics`` (CreateTopics for every hub topic).

Kafka answers TOPIC_AUTHORIZATION_FAILED to CreateTopics without the Create permission even when
the topic exists, which would stop the worker, so they get Create on those names (literal)."""

CONSUMER_GROUPS: Mapping[str, str] = {"validate": VALIDATE_APP_ID, "aggregate": AGGREGATE_APP_ID}
"""Faust workers: consumer group = app id (with the topic prefix in front)."""

EXTERNAL_GROUP_PREFIXES: Mapping[str, str] = {
    "operations": "jeugdhub-operations",
    "jeugdautoriteit": "jeugdautoriteit",
    "public": "public",  # a consumer of the public figures only (metrics.md, Public figures)
    "audit": "jeugdhub-audit",
}
"""Readers outside the hub use consumer groups whose names start with this prefix."""


@dataclass(frozen=True)
class InternalTopic:
    """A topic faust declares for itself; its name follows from the app id (prefixed like the app)."""

    app_id: str
    suffix: str
    partitions: int
    config: Mapping[str, str]

    def full_name(self, prefix: str = "") -> str:
        return f"{prefix}{self.app_id}-{self.suffix}"


_COMPACT = {"cleanup.policy": "compact", **COMPACTED_STATE_CONFIG}
FAUST_INTERNAL_TOPICS: tuple[InternalTopic, ...] = (
    # services/validate/service.py: Table "dedup", partitions=RAW.partitions, compacted changelog.
    InternalTopic(VALIDATE_APP_ID, "dedup-changelog", RAW.partitions, _COMPACT),
    # faust's LeaderAssignor: one partition, broker-default config.
    InternalTopic(VALIDATE_APP_ID, "__assignor-__leader", 1, {}),
    # services/aggregate/service.py: Table "youth-messages", partitions=VALIDATED.partitions.
    InternalTopic(AGGREGATE_APP_ID, "youth-messages-changelog", VALIDATED.partitions, _COMPACT),
    InternalTopic(AGGREGATE_APP_ID, "__assignor-__leader", 1, {}),
)


def resource_name(topic_or_user: str) -> str:
    """A Kubernetes object name (DNS-1123 subdomain) for a Kafka name: lower case, ``_`` -> ``-``."""
    name = re.sub(r"[^a-z0-9.-]", "-", topic_or_user.lower()).strip(".-")
    if not name:
        raise ValueError(f"no Kubernetes name can be made from {topic_or_user!r}")
    return name[:253]


def _topic(
    name: str,
    partitions: int,
    config: Mapping[str, str],
    cluster: str,
    replicas: int,
    min_insync: int,
    annotations: Mapping[str, str],
) -> dict[str, Any]:
    return {
        "apiVersion": STRIMZI_API,
        "kind": "KafkaTopic",
        "metadata": {
            "name": resource_name(name),
            "labels": {"strimzi.io/cluster": cluster, **PART_OF},
            "annotations": dict(annotations),
        },
        "spec": {
            "topicName": name,
            "partitions": partitions,
            "replicas": replicas,
            "config": {**config, "min.insync.replicas": str(min_insync)},
        },
    }


def kafka_topics(
    prefix: str = "",
    cluster: str = DEFAULT_CLUSTER,
    replicas: int = DEFAULT_REPLICAS,
    min_insync: int = DEFAULT_MIN_INSYNC_REPLICAS,
) -> list[dict[str, Any]]:
    """One ``KafkaTopic`` per hub topic (topics.py order), then the faust internal topics."""
    docs = [
        _topic(
            spec.full_name(prefix),
            spec.partitions,
            spec.config(),
            cluster,
            replicas,
            min_insync,
            {
                "jeugdhub/value-schema": spec.value_schema,
                "jeugdhub/holds-bsn": "true" if spec.holds_bsn else "false",
                "jeugdhub/readers": ",".join(spec.readers),
                "jeugdhub/doc": spec.doc,
            },
        )
        for spec in ALL_TOPICS
    ]
    docs.extend(
        _topic(
            internal.full_name(prefix),
            internal.partitions,
            internal.config,
            cluster,
            replicas,
            min_insync,
            {"jeugdhub/doc": f"faust internal topic of {prefix}{internal.app_id}"},
        )
        for internal in FAUST_INTERNAL_TOPICS
    )
    return docs


def _acl(
    kind: Literal["topic", "group", "transactionalId"],
    name: str,
    operations: Sequence[str],
    pattern: Literal["literal", "prefix"] = "literal",
) -> dict[str, Any]:
    return {
        "resource": {"type": kind, "name": name, "patternType": pattern},
        "operations": list(operations),
        "host": "*",
    }


def reads_by_principal() -> dict[str, list[str]]:
    """principal -> topic names (unprefixed) it reads, from topics.py ``readers`` and EXTRA_READS."""
    reads: dict[str, list[str]] = {}
    for spec in ALL_TOPICS:
        for reader in spec.readers:
            if reader not in READER_PRINCIPALS:
                raise ValueError(
                    f"topic {spec.name}: reader {reader!r} has no entry in READER_PRINCIPALS "
                    "(services/deploy/manifests.py): decide which KafkaUser it reads as"
                )
            principal = READER_PRINCIPALS[reader]
            if principal is not None and spec.name not in reads.setdefault(principal, []):
                reads[principal].append(spec.name)
    for principal, names in EXTRA_READS.items():
        for name in names:
            if name not in reads.setdefault(principal, []):
                reads[principal].append(name)
    return reads


def _principal_acls(principal: str, prefix: str, reads: Sequence[str]) -> list[dict[str, Any]]:
    by_topic: dict[str, list[str]] = {}

    def grant(topic: str, *operations: str) -> None:
        ops = by_topic.setdefault(topic, [])
        ops.extend(op for op in operations if op not in ops)

    for topic in reads:
        grant(topic, "Read", "Describe")
    for topic, writer in WRITERS.items():
        if writer == principal:
            grant(topic, "Write", "Describe")
    if principal in CREATES_HUB_TOPICS:
        for spec in ALL_TOPICS:
            grant(spec.name, "Create", "Describe")
    if principal == "ingest":
        # services/ingest/backlog.py: ListOffsets on the stages' topics (never a record: no Read).
        grant(RAW.name, "Describe")
        grant(VALIDATED.name, "Describe")
    order = {"Read": 0, "Write": 1, "Create": 2, "Describe": 3}
    # Topics read or written first (topics.py order), then the ones only created.
    topics = [spec.name for spec in ALL_TOPICS if spec.name in by_topic]
    topics.sort(key=lambda name: by_topic[name] == ["Create", "Describe"])
    acls = [
        _acl("topic", f"{prefix}{topic}", sorted(by_topic[topic], key=order.__getitem__)) for topic in topics
    ]
    if principal in CONSUMER_GROUPS:
        app_id = f"{prefix}{CONSUMER_GROUPS[principal]}"
        # faust's changelog and leader topics: "<app id>-..."
        acls.append(_acl("topic", f"{app_id}-", ["Read", "Write", "Describe"], "prefix"))
        acls.append(_acl("group", app_id, ["Read", "Describe"]))
    if principal in EXTERNAL_GROUP_PREFIXES:
        acls.append(_acl("group", f"{prefix}{EXTERNAL_GROUP_PREFIXES[principal]}", ["Read"], "prefix"))
    if principal == "ingest":
        # services/ingest/backlog.py: OffsetFetch of the workers' committed offsets.
        for group in CONSUMER_GROUPS.values():
            acls.append(_acl("group", f"{prefix}{group}", ["Describe"]))
        acls.append(
            _acl(
                "transactionalId",
                f"{prefix}{INGEST_TRANSACTIONAL_ID_PREFIX}",
                ["Write", "Describe"],
                "prefix",
            )
        )
    if principal == "aggregate":
        acls.append(_acl("transactionalId", f"{prefix}{AGGREGATE_TRANSACTIONAL_ID}", ["Write", "Describe"]))
    return acls


def kafka_users(prefix: str = "", cluster: str = DEFAULT_CLUSTER) -> list[dict[str, Any]]:
    """One ``KafkaUser`` (SCRAM-SHA-512, simple authorization) per principal that needs Kafka."""
    reads = reads_by_principal()
    principals = list(SERVICES) + sorted(set(reads) - set(SERVICES))
    docs = []
    for principal in principals:
        docs.append(
            {
                "apiVersion": STRIMZI_API,
                "kind": "KafkaUser",
                "metadata": {
                    "name": resource_name(f"{prefix}jeugdhub-{principal}"),
                    "labels": {"strimzi.io/cluster": cluster, **PART_OF},
                },
                "spec": {
                    "authentication": {"type": "scram-sha-512"},
                    "authorization": {
                        "type": "simple",
                        "acls": _principal_acls(principal, prefix, reads.get(principal, [])),
                    },
                },
            }
        )
    return docs


def prometheus_rule(rules: Mapping[str, Any], name: str = "jeugdhub") -> dict[str, Any]:
    """The Prometheus rules file (``{groups: [...]}``) as a prometheus-operator ``PrometheusRule``."""
    if set(rules) != {"groups"}:
        raise ValueError("a Prometheus rules file has exactly one top-level key: groups")
    return {
        "apiVersion": PROMETHEUS_OPERATOR_API,
        "kind": "PrometheusRule",
        "metadata": {"name": name, "labels": dict(PART_OF)},
        "spec": {"groups": rules["groups"]},
    }


def to_yaml(documents: Sequence[Mapping[str, Any]], source: str) -> str:
    """A multi-document YAML file with a header saying where it comes from."""
    import yaml

    header = (
        f"# GENERATED by `jeugdhub deploy render` from {source}: do not edit.\n"
        "# `jeugdhub deploy render --check` and tests/unit/deploy fail when this file is out of date.\n"
    )
    body = yaml.safe_dump_all(
        [dict(document) for document in documents],
        sort_keys=False,
        default_flow_style=False,
        allow_unicode=True,
        width=4096,
        explicit_start=True,
    )
    return header + body


def render_all(
    root: Path, prefix: str = "", cluster: str = DEFAULT_CLUSTER, replicas: int = DEFAULT_REPLICAS
) -> dict[Path, str]:
    """Every generated file (path relative to the repository root) -> its content."""
    import yaml

    rules = yaml.safe_load((root / RULES_SOURCE).read_text(encoding="utf-8"))
    min_insync = min(DEFAULT_MIN_INSYNC_REPLICAS, max(1, replicas - 1))
    return {
        TOPICS_FILE: to_yaml(
            kafka_topics(prefix, cluster, replicas, min_insync),
            "services/contracts/topics.py (+ faust internal topics in services/deploy/manifests.py)",
        ),
        USERS_FILE: to_yaml(
            kafka_users(prefix, cluster),
            "services/contracts/topics.py readers + services/deploy/manifests.py WRITERS",
        ),
        RULE_FILE: to_yaml([prometheus_rule(rules)], str(RULES_SOURCE)),
    }
