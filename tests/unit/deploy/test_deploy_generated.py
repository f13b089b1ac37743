"""The generated resources: committed = generator output, and they say what topics.py and the code say."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from services.aggregate.service import create_app as create_aggregate_app
from services.aggregate.settings import AggregateSettings
from services.cli import main
from services.contracts.regions import load_region_table
from services.contracts.topics import ALL_TOPICS, COMPACTED_STATE_CONFIG, RAW
from services.deploy import manifests
from services.deploy.manifests import (
    FAUST_INTERNAL_TOPICS,
    RULE_FILE,
    RULES_SOURCE,
    TOPICS_FILE,
    USERS_FILE,
    WRITERS,
    kafka_topics,
    kafka_users,
    reads_by_principal,
    render_all,
    resource_name,
)
from services.ingest.settings import _default_transactional_id
from services.privacy.pseudonym import ephemeral_keyring
from services.validate.service import create_app as create_validate_app
from services.validate.settings import ValidateSettings
from tests.unit.deploy.deploy_support import REPO, load_documents


def test_committed_files_equal_the_generator_output() -> None:
    for relative, text in render_all(REPO).items():
        committed = (REPO / relative).read_text(encoding="utf-8")
        assert committed == text, f"{relative} is out of date: run `jeugdhub deploy render`"


def test_render_check_passes_here_and_fails_on_a_stale_copy(tmp_path: Path) -> None:
    assert main(["deploy", "render", "--check", "--root", str(REPO)]) == 0
    for relative in (TOPICS_FILE, USERS_FILE, RULE_FILE, RULES_SOURCE):
        (tmp_path / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(REPO / relative, tmp_path / relative)
    stale = tmp_path / TOPICS_FILE
    stale.write_text(stale.read_text().replace("partitions: 6", "partitions: 5", 1))
    assert main(["deploy", "render", "--check", "--root", str(tmp_path)]) == 1
    assert main(["deploy", "render", "--root", str(tmp_path)]) == 0
    assert main(["deploy", "render", "--check", "--root", str(tmp_path)]) == 0


def test_a_prefixed_render_goes_to_its_own_directory(tmp_path: Path) -> None:
    assert main(["deploy", "render", "--root", str(REPO), "--prefix", "acc."]) == 2
    assert (
        main(["deploy", "render", "--root", str(REPO), "--prefix", "acc.", "--output-dir", str(tmp_path)])
        == 0
    )
    topics = load_documents(tmp_path / TOPICS_FILE.name)
    assert {t["spec"]["topicName"] for t in topics} >= {f"acc.{spec.name}" for spec in ALL_TOPICS}
    users = load_documents(tmp_path / USERS_FILE.name)
    names = {acl["resource"]["name"] for user in users for acl in user["spec"]["authorization"]["acls"]}
    assert all(name.startswith("acc.") for name in names)


def test_every_topic_of_topics_py_has_its_kafka_topic() -> None:
    committed = {doc["spec"]["topicName"]: doc for doc in load_documents(REPO / TOPICS_FILE)}
    for spec in ALL_TOPICS:
        topic = committed[spec.name]
        assert topic["kind"] == "KafkaTopic"
        assert topic["metadata"]["labels"]["strimzi.io/cluster"] == manifests.DEFAULT_CLUSTER
        assert topic["spec"]["partitions"] == spec.partitions
        config = topic["spec"]["config"]
        assert {k: config[k] for k in spec.config()} == spec.config()
        assert topic["metadata"]["annotations"]["jeugdhub/holds-bsn"] == str(spec.holds_bsn).lower()


def _faust_apps() -> list[Any]:
    regions = load_region_table(None)
    return [
        create_validate_app(ValidateSettings(), ephemeral_keyring(), regions).app,
        create_aggregate_app(AggregateSettings(), regions).app,
    ]


def test_faust_internal_topics_are_exactly_what_the_workers_declare() -> None:
    """Built from the real apps (nothing connects): a new table must get its KafkaTopic."""
    declared: dict[str, tuple[int, dict[str, str]]] = {}
    for app in _faust_apps():
        for table in app.tables.values():
            changelog = table.changelog_topic
            declared[changelog.get_topic_name()] = (
                changelog.partitions,
                {"cleanup.policy": "compact", **changelog.config},
            )
            assert changelog.compacting and not changelog.deleting
            assert changelog.config == COMPACTED_STATE_CONFIG  # restart reads little more than the state
        leader = app._leader_assignor._leader_topic
        declared[leader.get_topic_name()] = (leader.partitions, {})
    generated = {t.full_name(): (t.partitions, dict(t.config)) for t in FAUST_INTERNAL_TOPICS}
    assert generated == declared
    committed = {doc["spec"]["topicName"] for doc in load_documents(REPO / TOPICS_FILE)}
    assert set(declared) <= committed


def test_app_ids_and_transactional_id_prefix_follow_the_settings() -> None:
    assert ValidateSettings.model_fields["app_id"].default == manifests.VALIDATE_APP_ID
    assert AggregateSettings.model_fields["app_id"].default == manifests.AGGREGATE_APP_ID
    assert _default_transactional_id().startswith(manifests.INGEST_TRANSACTIONAL_ID_PREFIX)


def test_kubernetes_names_are_valid() -> None:
    for doc in kafka_topics() + kafka_users():
        name = doc["metadata"]["name"]
        assert name == resource_name(name)
        assert len(name) <= 253
    assert resource_name("jeugdhub-validate-__assignor-__leader") == "jeugdhub-validate---assignor---leader"


def _acls(principal: str) -> dict[tuple[str, str, str], set[str]]:
    (user,) = [u for u in kafka_users() if u["metadata"]["name"] == f"jeugdhub-{principal}"]
    return {
        (a["resource"]["type"], a["resource"]["name"], a["resource"]["patternType"]): set(a["operations"])
        for a in user["spec"]["authorization"]["acls"]
    }


def _can(principal: str, operation: str, topic: str) -> bool:
    for (kind, name, pattern), operations in _acls(principal).items():
        if kind != "topic" or operation not in operations:
            continue
        if name == topic or (pattern == "prefix" and topic.startswith(name)):
            return True
    return False


def test_only_validate_reads_the_raw_topic() -> None:
    principals = [u["metadata"]["name"].removeprefix("jeugdhub-") for u in kafka_users()]
    readers = [p for p in principals if _can(p, "Read", RAW.name)]
    assert readers == ["validate"]
    assert _can("ingest", "Write", RAW.name)


def test_acls_follow_readers_and_writers() -> None:
    reads = reads_by_principal()
    for spec in ALL_TOPICS:
        writer = WRITERS[spec.name]
        assert _can(writer, "Write", spec.name)
        for principal in ("ingest", "validate", "aggregate", "operations", "jeugdautoriteit"):
            assert _can(principal, "Read", spec.name) == (spec.name in reads.get(principal, [])), (
                principal,
                spec.name,
            )
            if principal != writer:
                assert not _can(principal, "Write", spec.name), (principal, spec.name)
    assert set(WRITERS) == {spec.name for spec in ALL_TOPICS}


def test_what_the_code_does_besides_is_granted() -> None:
    assert _can("validate", "Read", "jeugdhub.validated.v1"), "keycheck reads the validated tail"
    for worker in ("validate", "aggregate"):
        for spec in ALL_TOPICS:  # create_hub_topics at start
            assert _can(worker, "Create", spec.name)
        for internal in FAUST_INTERNAL_TOPICS:
            if internal.app_id.endswith(worker):
                assert _can(worker, "Read", internal.full_name()) and _can(
                    worker, "Write", internal.full_name()
                )
        assert ("group", f"jeugdhub-{worker}", "literal") in _acls(worker)
    assert ("transactionalId", "jeugdhub-ingest-", "prefix") in _acls("ingest")


def test_an_unknown_reader_in_topics_py_stops_the_generator(monkeypatch: pytest.MonkeyPatch) -> None:
    patched = dict(manifests.READER_PRINCIPALS)
    del patched["operations"]
    monkeypatch.setattr(manifests, "READER_PRINCIPALS", patched)
    with pytest.raises(ValueError, match="operations"):
        reads_by_principal()


def test_the_prometheus_rule_is_the_rules_file() -> None:
    import yaml

    (rule,) = load_documents(REPO / RULE_FILE)
    rules = yaml.safe_load((REPO / RULES_SOURCE).read_text(encoding="utf-8"))
    assert rule["kind"] == "PrometheusRule"
    assert rule["spec"] == rules
