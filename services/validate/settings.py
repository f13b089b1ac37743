"""Settings of the validate worker (environment variables ``JEUGDHUB_*``)."""

from __future__ import annotations

from pydantic import Field

from services.settings import KeyringSettings


class ValidateSettings(KeyringSettings):
    app_id: str = Field("jeugdhub-validate", description="JEUGDHUB_APP_ID: consumer group and table prefix")
    web_port: int = Field(6066, description="JEUGDHUB_WEB_PORT: /metrics, /healthz, /readyz")
    web_bind: str = Field("127.0.0.1", description="JEUGDHUB_WEB_BIND: address of the web server")
    batch_size: int = Field(500, ge=1, description="JEUGDHUB_BATCH_SIZE: raw records per processing batch")
    batch_within_s: float = Field(0.05, gt=0, description="JEUGDHUB_BATCH_WITHIN_S: max wait to fill a batch")
    session_timeout_s: float = Field(30.0, ge=1, description="JEUGDHUB_SESSION_TIMEOUT_S: consumer session")
    rebalance_timeout_s: float = Field(30.0, ge=1, description="JEUGDHUB_REBALANCE_TIMEOUT_S")
    log_level: str = Field("INFO", description="JEUGDHUB_LOG_LEVEL")
