"""validate's table store defaults to RocksDB (a restart reads only the changelog's tail)."""

from __future__ import annotations

import pytest

from services.validate.settings import ValidateSettings


def test_the_duplicate_table_is_in_rocksdb_unless_memory_is_asked_for(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("JEUGDHUB_TABLE_STORE", raising=False)
    assert ValidateSettings().table_store == "rocksdb"
    monkeypatch.setenv("JEUGDHUB_TABLE_STORE", "memory")
    assert ValidateSettings().table_store == "memory"
