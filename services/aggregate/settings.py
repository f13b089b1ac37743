"""Settings of the aggregate worker (environment variables ``JEUGDHUB_*``)."""

from __future__ import annotations

from datetime import date

from pydantic import Field

from services.settings import WorkerSettings


class AggregateSettings(WorkerSettings):
    app_id: str = Field("jeugdhub-aggregate", description="JEUGDHUB_APP_ID: consumer group and table prefix")
    web_port: int = Field(6067, description="JEUGDHUB_WEB_PORT: /metrics, /healthz, /readyz")
    as_of: date | None = Field(None, description="JEUGDHUB_AS_OF: pin the as-of date (tests); default today")
    timezone: str = Field(
        "Europe/Amsterdam", description="JEUGDHUB_TIMEZONE: whose 'today' is the as-of date"
    )
    publish_interval_s: float = Field(
        1.0, gt=0, description="JEUGDHUB_PUBLISH_INTERVAL_S: per region, at most"
    )
