"""Settings of the aggregate worker (environment variables ``JEUGDHUB_*``)."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator

from services.contracts.topics import RETENTION_HORIZON_DAYS
from services.settings import WorkerSettings


class AggregateSettings(WorkerSettings):
    app_id: str = Field("jeugdhub-aggregate", description="JEUGDHUB_APP_ID: consumer group and table prefix")
    web_port: int = Field(6067, description="JEUGDHUB_WEB_PORT: /metrics, /healthz, /readyz")
    table_store: Literal["rocksdb", "memory"] = Field(
        "rocksdb",
        description="JEUGDHUB_TABLE_STORE: the youth-messages table in RocksDB under JEUGDHUB_DATA_DIR "
        "(a restart reads only its changelog's tail) or in memory (every start reads it whole)",
    )
    as_of: date | None = Field(None, description="JEUGDHUB_AS_OF: pin the as-of date (tests); default today")
    as_of_file: Path | None = Field(
        None,
        description="JEUGDHUB_AS_OF_FILE: a file holding the as-of date (YYYY-MM-DD), read again every "
        "250 ms (tests and drills: moves the worker's day); default today",
    )
    timezone: str = Field(
        "Europe/Amsterdam", description="JEUGDHUB_TIMEZONE: whose 'today' is the as-of date"
    )
    publish_interval_s: float = Field(
        0.25,
        gt=0,
        description="JEUGDHUB_PUBLISH_INTERVAL_S: a region's snapshot at most this often; also the "
        "floor of the HTTP 202 -> snapshot latency (1 s made p99 < 1 s impossible; docs/performance.md)",
    )
    history_late_days: int = Field(
        31,
        ge=1,
        le=366,
        description="JEUGDHUB_HISTORY_LATE_DAYS: a publisher that finds days missing on the daily "
        "topic writes at most this many days back, marked written_late",
    )
    retention_horizon_days: int = Field(
        RETENTION_HORIZON_DAYS,
        ge=1,
        description="JEUGDHUB_RETENTION_HORIZON_DAYS: a youth's state is dropped (table entry and facts "
        "tombstoned) once it has been in no figure for this many days (docs/privacy.md, Retention); "
        "at least JEUGDHUB_HISTORY_LATE_DAYS",
    )

    @model_validator(mode="after")
    def _horizon_covers_late_days(self) -> AggregateSettings:
        # Late daily rows are recomputed from the state as of up to history_late_days ago.
        if self.retention_horizon_days < self.history_late_days:
            raise ValueError("JEUGDHUB_RETENTION_HORIZON_DAYS must be at least JEUGDHUB_HISTORY_LATE_DAYS")
        return self

    @model_validator(mode="after")
    def _one_as_of(self) -> AggregateSettings:
        if self.as_of is not None and self.as_of_file is not None:
            raise ValueError("set JEUGDHUB_AS_OF or JEUGDHUB_AS_OF_FILE, not both")
        return self
