"""Settings of the validate worker (environment variables ``JEUGDHUB_*``)."""

from __future__ import annotations

from pydantic import Field

from services.settings import KeyringSettings, WorkerSettings


class ValidateSettings(KeyringSettings, WorkerSettings):
    app_id: str = Field("jeugdhub-validate", description="JEUGDHUB_APP_ID: consumer group and table prefix")
    web_port: int = Field(6066, description="JEUGDHUB_WEB_PORT: /metrics, /healthz, /readyz")
