"""Who can read what, from the KafkaUsers as deployed, and docs/privacy.md saying the same.

The expected read sets are written out here on purpose: giving a principal another topic (a new
``readers`` entry in topics.py) must be a decision someone makes in this file too, not a side effect.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from services.contracts.topics import ALL_TOPICS, AUDIT, ERASURES, RAW, VALIDATED
from services.deploy.manifests import USERS_FILE, kafka_users, reads_by_principal
from tests.unit.deploy.deploy_support import REPO, load_documents

PRIVACY_DOC = REPO / "docs" / "privacy.md"
TABLE_HEADING = "## Who can read what"

OUTSIDE_READERS = {
    "jeugdautoriteit": {
        "jeugdhub.aggregates.v1",
        "jeugdhub.aggregates-public.v1",
        "jeugdhub.figures-daily.v1",
    },
    "public": {"jeugdhub.aggregates-public.v1"},
    "audit": {AUDIT.name},
}
"""The users of people outside the hub's services and exactly the topics they may read."""
WORKERS = {"validate", "aggregate"}
PRIVACY_OFFICER = "privacy-officer"
"""Runs ``jeugdhub erase``: reads and writes the erasures topic, and nothing else."""
YOUTH_LINKS = "jeugdhub.youth-links.v1"
"""The key rotation's links (two pseudonyms per youth); probed by name so that it stays unreadable
by outside users and the privacy officer. Only the workers read it: validate to keep linked youth
on their anchors, the aggregate to know the anchor of a youth erased after the old key's retirement."""


def _probes(prefix: str) -> list[str]:
    """Every hub topic, the names of topics that are no one's business outside the workers."""
    hub_topics = [spec.full_name(prefix) for spec in ALL_TOPICS]
    internal = [
        f"{prefix}jeugdhub-validate-dedup-changelog",
        f"{prefix}jeugdhub-aggregate-youth-messages-changelog",
    ]
    return sorted({*hub_topics, *internal, prefix + YOUTH_LINKS, f"{prefix}anything-else"})


def _users(documents: list[dict[str, Any]], prefix: str = "") -> dict[str, list[dict[str, Any]]]:
    out = {}
    for user in documents:
        assert user["kind"] == "KafkaUser"
        principal = user["metadata"]["name"].removeprefix(f"{prefix}jeugdhub-")
        out[principal] = user["spec"]["authorization"]["acls"]
    return out


def _matches(acl: dict[str, Any], kind: str, name: str) -> bool:
    resource = acl["resource"]
    if resource["type"] != kind:
        return False
    if resource["name"] == "*":
        return True
    if resource["patternType"] == "prefix":
        return bool(name.startswith(resource["name"]))
    return bool(resource["name"] == name)


def _topics_with(acls: list[dict[str, Any]], operation: str, topics: list[str]) -> set[str]:
    return {
        topic
        for topic in topics
        for acl in acls
        if _matches(acl, "topic", topic) and operation in acl["operations"]
    }


@pytest.mark.parametrize("prefix", ["", "acc."])
def test_outside_users_read_exactly_their_topics_and_write_nothing(prefix: str) -> None:
    documents = load_documents(REPO / USERS_FILE) if not prefix else kafka_users(prefix)
    users = _users(documents, prefix)
    probes = _probes(prefix)
    for principal, expected in OUTSIDE_READERS.items():
        acls = users[principal]
        assert _topics_with(acls, "Read", probes) == {prefix + name for name in expected}, principal
        for operation in ("Write", "Create", "Delete", "Alter", "All"):
            assert not _topics_with(acls, operation, probes), (principal, operation)
        assert not [acl for acl in acls if acl["resource"]["type"] == "transactionalId"], principal
        assert all(acl["resource"]["type"] in ("topic", "group") for acl in acls), principal
        assert all(acl["resource"]["name"] != "*" for acl in acls), principal


@pytest.mark.parametrize("prefix", ["", "acc."])
def test_the_privacy_officer_reads_and_writes_only_the_erasures_topic(prefix: str) -> None:
    documents = load_documents(REPO / USERS_FILE) if not prefix else kafka_users(prefix)
    acls = _users(documents, prefix)[PRIVACY_OFFICER]
    probes = _probes(prefix)
    erasures = {ERASURES.full_name(prefix)}
    assert _topics_with(acls, "Read", probes) == erasures
    assert _topics_with(acls, "Write", probes) == erasures
    assert prefix + YOUTH_LINKS not in _topics_with(acls, "Describe", probes)
    for operation in ("Create", "Delete", "Alter", "All"):
        assert not _topics_with(acls, operation, probes), operation
    assert all(acl["resource"]["type"] == "topic" for acl in acls)
    assert all(acl["resource"]["name"] != "*" for acl in acls)
    assert all(acl["resource"]["patternType"] == "literal" for acl in acls)


@pytest.mark.parametrize("prefix", ["", "acc."])
def test_only_the_workers_read_raw_validated_and_links_and_only_audit_reads_the_audit_topic(
    prefix: str,
) -> None:
    documents = load_documents(REPO / USERS_FILE) if not prefix else kafka_users(prefix)
    users = _users(documents, prefix)

    def readers(topic: str) -> set[str]:
        return {p for p, acls in users.items() if _topics_with(acls, "Read", [prefix + topic])}

    assert readers(RAW.name) == {"validate"}
    assert readers(VALIDATED.name) == WORKERS
    assert readers(YOUTH_LINKS) == WORKERS
    assert readers(AUDIT.name) == {"audit"}
    writers = {p for p, acls in users.items() if _topics_with(acls, "Write", [prefix + AUDIT.name])}
    assert writers == {"ingest"}


def test_the_generated_users_are_the_committed_ones() -> None:
    """The tests above read the committed file; it must be what the generator makes now."""
    assert load_documents(REPO / USERS_FILE) == kafka_users()


# -- docs/privacy.md ---------------------------------------------------------------------------------
def doc_table(text: str) -> dict[str, set[str]]:
    """principal -> topics, from the table under "## Who can read what" (first two columns)."""
    start = text.index(TABLE_HEADING)
    section = text[start + len(TABLE_HEADING) :].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("|")]
    if len(rows) < 3:
        raise ValueError("no table under " + TABLE_HEADING)
    table: dict[str, set[str]] = {}
    for line in rows[2:]:  # after the header and the |---| line
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        (principal,) = re.findall(r"`([^`]+)`", cells[0])
        if principal in table:
            raise ValueError(f"{principal} has two rows")
        table[principal] = set(re.findall(r"`([^`]+)`", cells[1]))
    return table


def test_the_privacy_doc_table_is_reads_by_principal() -> None:
    documented = doc_table(PRIVACY_DOC.read_text(encoding="utf-8"))
    actual = {principal: set(topics) for principal, topics in reads_by_principal().items()}
    assert documented == actual, "update the table in docs/privacy.md, 'Who can read what'"


def test_the_table_check_fails_on_a_drifted_table() -> None:
    text = PRIVACY_DOC.read_text(encoding="utf-8")
    actual = {principal: set(topics) for principal, topics in reads_by_principal().items()}
    drifted = text.replace(
        "| `public` | `jeugdhub.aggregates-public.v1`", "| `public` | `jeugdhub.aggregates.v1`", 1
    )
    assert drifted != text, "the public row is missing from the table"
    assert doc_table(drifted) != actual
