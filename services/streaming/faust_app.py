"""The faust ``App`` settings every Jeugdhub worker shares."""

from __future__ import annotations

import faust

from services.settings import WorkerSettings
from services.streaming.partitioner import CachedPartitioner
from services.streaming.transport import broker_url


def new_faust_app(settings: WorkerSettings, partitions: int) -> faust.App:
    """At-least-once app on the ``jeugdhub://`` transport; tables in memory, rebuilt from changelogs."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)  # faust creates only the last level
    return faust.App(
        f"{settings.topic_prefix}{settings.app_id}",
        broker=broker_url(settings.kafka_bootstrap),
        store="memory://",
        autodiscover=False,
        producer_acks=-1,
        processing_guarantee="at_least_once",
        consumer_auto_offset_reset="earliest",
        broker_session_timeout=settings.session_timeout_s,
        broker_heartbeat_interval=max(0.5, settings.session_timeout_s / 5),
        broker_rebalance_timeout=settings.rebalance_timeout_s,
        broker_request_timeout=max(40.0, settings.session_timeout_s + 10),
        topic_partitions=partitions,
        topic_allow_declare=True,
        web_port=settings.web_port,
        web_bind=settings.web_bind,
        web_host=settings.web_bind,
        table_cleanup_interval=3600.0,
        key_serializer="raw",  # table keys are UTF-8 strings hashed like the source topic's keys
        value_serializer="json",
        datadir=str(settings.data_dir / "{conf.name}"),
        # The default partitioner's choices, computed faster (services/streaming/partitioner.py).
        producer_partitioner=CachedPartitioner(),
    )
