"""Configuration from environment variables (pydantic-settings), one frozen class per service.

Every field names its variable; defaults are safe for local use; secrets are ``SecretStr`` and never
logged (``masked()`` gives the form for the start-up log line). Settings are read when a command
starts, never at import time.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_FETCH_MAX_WAIT_MS = 100
"""How long a consumer fetch waits for data by default (aiokafka's 500 ms, faust's 1.5 s made records wait
behind a fetch in flight; see services/streaming/transport.py)."""


class HubSettings(BaseSettings):
    """What every Jeugdhub process shares."""

    model_config = SettingsConfigDict(env_prefix="JEUGDHUB_", frozen=True, extra="ignore")

    regions_file: Path | None = Field(None, description="JEUGDHUB_REGIONS_FILE: region reference table CSV")
    kafka_bootstrap: str = Field(
        "127.0.0.1:9092", description="JEUGDHUB_KAFKA_BOOTSTRAP: host:port[,host:port]"
    )
    topic_prefix: str = Field("", description="JEUGDHUB_TOPIC_PREFIX: prefix for every topic name")
    create_topics: bool = Field(
        True,
        description="JEUGDHUB_CREATE_TOPICS: create missing hub topics at start (off where an operator "
        "such as Strimzi owns them)",
    )

    replication_factor: int = Field(
        1,
        ge=1,
        description="JEUGDHUB_REPLICATION_FACTOR: replicas of every topic the hub creates (its own and "
        "faust's changelogs); 1 for the single local broker, 3 on a cluster",
    )
    min_insync_replicas: int | None = Field(
        None,
        ge=1,
        description="JEUGDHUB_MIN_INSYNC_REPLICAS: min.insync.replicas of the hub's topics (default: "
        "the broker's; with 3 replicas use 2, so acks=all survives one broker down)",
    )
    baseline_date: date | None = Field(
        None,
        description="JEUGDHUB_BASELINE_DATE: baseline date B of the national targets (YYYY-MM-DD, the "
        "last day of a baseline year such as 2019-12-31, before 2030-12-31); unset: no targets "
        "(docs/regulator.md)",
    )

    @field_validator("baseline_date")
    @classmethod
    def _baseline_before_path_end(cls, value: date | None) -> date | None:
        """Refused at start, not at the first evaluation: the closed-placements path needs B < 2030-12-31."""
        if value is not None:
            from services.regulator.targets import check_baseline

            check_baseline(value)
        return value

    def masked(self) -> dict[str, Any]:
        """The settings as a dict for the start-up log line, secrets replaced by '**********'."""
        return {
            name: ("**********" if isinstance(value, SecretStr) and value.get_secret_value() else value)
            for name, value in self.model_dump().items()
        }


class WorkerSettings(HubSettings):
    """What every faust worker shares; each service sets its own defaults for app id and port."""

    app_id: str = Field("jeugdhub-worker", description="JEUGDHUB_APP_ID: consumer group and table prefix")
    web_port: int = Field(6066, description="JEUGDHUB_WEB_PORT: /metrics, /healthz, /readyz")
    web_bind: str = Field("127.0.0.1", description="JEUGDHUB_WEB_BIND: address of the web server")
    batch_size: int = Field(500, ge=1, description="JEUGDHUB_BATCH_SIZE: records per processing batch")
    batch_within_s: float = Field(0.05, gt=0, description="JEUGDHUB_BATCH_WITHIN_S: max wait to fill a batch")
    fetch_max_wait_ms: int = Field(
        DEFAULT_FETCH_MAX_WAIT_MS,
        ge=1,
        le=30_000,
        description="JEUGDHUB_FETCH_MAX_WAIT_MS: longest a consumer fetch waits for data; bounds how "
        "long new records can wait behind a fetch in flight (latency)",
    )
    session_timeout_s: float = Field(30.0, ge=1, description="JEUGDHUB_SESSION_TIMEOUT_S: consumer session")
    rebalance_timeout_s: float = Field(30.0, ge=1, description="JEUGDHUB_REBALANCE_TIMEOUT_S")
    log_level: str = Field("INFO", description="JEUGDHUB_LOG_LEVEL")
    data_dir: Path = Field(
        Path("var/faust"),
        description="JEUGDHUB_DATA_DIR: faust's local state: the tables' RocksDB databases (keep it on a "
        "persistent volume: a restart then reads only the changelogs' tails)",
    )
    group_instance_id: str | None = Field(
        None,
        description="JEUGDHUB_GROUP_INSTANCE_ID: static consumer-group membership (Kafka KIP-345), unique "
        "per worker and stable across its restarts (a StatefulSet's pod name): a worker restarted within "
        "the session timeout gets its partitions back at once instead of after the dead member's session "
        "expires; unset: dynamic membership",
    )
    table_store: Literal["rocksdb", "memory"] = Field(
        "memory",
        description="JEUGDHUB_TABLE_STORE: where the tables live between changelog writes: rocksdb (in "
        "JEUGDHUB_DATA_DIR, restarts read the changelog tail; validate's and the aggregate's default) or memory (every "
        "start reads the whole changelog; docs/performance.md, Restarts)",
    )

    @field_validator("group_instance_id")
    @classmethod
    def _no_empty_instance_id(cls, value: str | None) -> str | None:
        """An empty variable (a template left blank) means dynamic membership, not the id ``""``."""
        return value or None


class KeyringSettings(HubSettings):
    """The pseudonymisation keyring: a file (a Kubernetes Secret mount) or a JSON string."""

    keyring_file: Path | None = Field(None, description="JEUGDHUB_KEYRING_FILE: keyring JSON file")
    keyring_json: SecretStr | None = Field(None, description="JEUGDHUB_KEYRING_JSON: keyring JSON (secret)")

    def keyring_json_value(self) -> str | None:
        return self.keyring_json.get_secret_value() if self.keyring_json is not None else None


class ReplaySettings(KeyringSettings):
    """``jeugdhub replay``: an ephemeral key is used when no keyring is configured."""
