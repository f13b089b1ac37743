"""The production topic administration: its own admin client, the settings' replicas, no dev broker."""

from __future__ import annotations

from typing import Any, ClassVar

import pytest

from services.contracts.topics import RAW
from services.streaming import topic_admin


class FakeAdmin:
    """Records what a KafkaAdminClient was built with and asked to create."""

    instances: ClassVar[list[FakeAdmin]] = []

    def __init__(self, **kwargs: Any) -> None:
        self.kwargs = kwargs
        self.created: dict[str, Any] = {}
        self.closed = False
        FakeAdmin.instances.append(self)

    def create_topics(self, spec: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        self.created.update(spec)
        return {"topics": [{"name": name, "error_code": 36 if "old" in name else 0} for name in spec]}

    def close(self) -> None:
        self.closed = True


@pytest.fixture
def admins(monkeypatch: pytest.MonkeyPatch) -> list[FakeAdmin]:
    FakeAdmin.instances = []
    monkeypatch.setattr(topic_admin, "KafkaAdminClient", FakeAdmin)
    return FakeAdmin.instances


def test_hub_topics_are_created_by_a_production_client_with_the_settings_replicas(
    admins: list[FakeAdmin], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("JEUGDHUB_REPLICATION_FACTOR", "3")
    monkeypatch.setenv("JEUGDHUB_MIN_INSYNC_REPLICAS", "2")
    assert topic_admin.create_hub_topics("127.0.0.1:1", "p.", specs=(RAW,)) == ["p." + RAW.name]
    (admin,) = admins
    assert admin.kwargs["client_id"] == "jeugdhub-topic-admin"
    assert "localkafka" not in admin.kwargs["client_id"]
    created = admin.created["p." + RAW.name]
    assert created["replication_factor"] == 3
    assert created["num_partitions"] == RAW.partitions
    assert created["configs"]["min.insync.replicas"] == "2"
    assert admin.closed


class RefusingAdmin(FakeAdmin):
    def create_topics(self, spec: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        return {"topics": [{"name": "t", "error_code": 29, "error_message": "not authorized"}]}


def test_existing_topics_are_left_alone_and_other_errors_raise(
    admins: list[FakeAdmin], monkeypatch: pytest.MonkeyPatch
) -> None:
    topic_admin.ensure_topics("127.0.0.1:1", ["old-topic"])  # TOPIC_ALREADY_EXISTS: fine
    monkeypatch.setattr(topic_admin, "KafkaAdminClient", RefusingAdmin)
    with pytest.raises(RuntimeError, match="t: 29 not authorized"):
        topic_admin.ensure_topics("127.0.0.1:1", ["t"])
    assert len(admins) == 2 and all(admin.closed for admin in admins)
