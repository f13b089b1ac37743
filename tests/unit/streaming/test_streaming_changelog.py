"""ChangelogWriter: table writes whose changelog records the agent sends itself."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from faust.serializers import codecs
from hypothesis import given, settings
from hypothesis import strategies as st

from services.contracts.topics import COMPACTED_STATE_CONFIG
from services.settings import WorkerSettings
from services.streaming.changelog import ChangelogWriter, faust_json, state_table
from services.streaming.faust_app import new_faust_app
from services.streaming.partitioner import partition_for


def _table(tmp_path: Path) -> Any:
    app = new_faust_app(WorkerSettings(app_id="changelogtest", data_dir=tmp_path), partitions=6)
    return app.Table("youth-messages", key_type=str, partitions=6, use_partitioner=True)


def test_a_write_is_readable_at_once_and_drained_once(tmp_path: Path) -> None:
    table = _table(tmp_path)
    writer = ChangelogWriter(table)
    writer.set("abc", {"k": 1})
    assert writer.get("abc") == {"k": 1}
    assert table.get("abc") == {"k": 1}  # what faust's own reads see
    assert len(writer) == 1
    assert writer.drain() == [(b"abc", b'"abc"', b'{"k":1}')]
    assert writer.drain() == []
    assert writer.get("abc") == {"k": 1}


def test_last_value_per_key_in_a_batch_in_first_write_order(tmp_path: Path) -> None:
    writer = ChangelogWriter(_table(tmp_path))
    writer.set("b", {"v": 1})
    writer.set("a", {"v": 2})
    writer.set("b", {"v": 3})
    assert writer.drain() == [(b"b", b'"b"', b'{"v":3}'), (b"a", b'"a"', b'{"v":2}')]


def test_topic_is_the_tables_changelog(tmp_path: Path) -> None:
    table = _table(tmp_path)
    assert ChangelogWriter(table).topic == table.changelog_topic.get_topic_name()
    assert ChangelogWriter(table).topic.endswith("youth-messages-changelog")


def test_key_bytes_are_what_the_table_serialises_and_recovery_reads(tmp_path: Path) -> None:
    table = _table(tmp_path)
    key = "10000001:3f1c2d4e-0000-4000-8000-000000000001"
    writer = ChangelogWriter(table)
    writer.set(key, {"x": None})
    ((route, key_bytes, _),) = writer.drain()
    faust_key, _ = table.changelog_topic.prepare_key(key, None, None)
    assert key_bytes == faust_key  # the table's json key codec
    assert codecs.loads("json", key_bytes) == key
    # routed like the source record with this key, not by the JSON text faust would hash
    assert route == key.encode()
    sample = [f"youth{i}" for i in range(200)]
    differ = sum(partition_for(k.encode(), 6) != partition_for(faust_json(k), 6) for k in sample)
    assert differ > 100  # faust's own choice would put most keys elsewhere


_json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(_json_values)
def test_value_bytes_are_fausts_json_codec(value: Any) -> None:
    """Recovery decodes the changelog with the table's codec: it must read back our bytes."""
    assert faust_json(value) == codecs.dumps("json", value)
    assert codecs.loads("json", faust_json(value)) == value


def test_state_table_is_keyed_like_its_source_with_a_compacted_changelog(tmp_path: Path) -> None:
    app = new_faust_app(WorkerSettings(app_id="statetable", data_dir=tmp_path), partitions=6)
    writer = state_table(app, "dedup", 6)
    table: Any = app.tables["dedup"]
    assert table.use_partitioner and table.partitions == 6 and table.key_type is str
    assert table.changelog_topic.compacting and table.changelog_topic.config == COMPACTED_STATE_CONFIG
    assert writer.topic == table.changelog_topic.get_topic_name()
    writer.set("k", {"v": 1})
    assert writer.get("k") == {"v": 1} == dict(table.data)["k"]
