"""Settings of the validate worker (environment variables ``JEUGDHUB_*``)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from services.settings import KeyringSettings, WorkerSettings


class ValidateSettings(KeyringSettings, WorkerSettings):
    app_id: str = Field("jeugdhub-validate", description="JEUGDHUB_APP_ID: consumer group and table prefix")
    web_port: int = Field(6066, description="JEUGDHUB_WEB_PORT: /metrics, /healthz, /readyz")
    table_store: Literal["rocksdb", "memory"] = Field(
        "rocksdb",
        description="JEUGDHUB_TABLE_STORE: the duplicate table in RocksDB under JEUGDHUB_DATA_DIR "
        "(a restart reads only its changelog's tail) or in memory (every start reads it whole)",
    )
