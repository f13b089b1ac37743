"""The faust ``App`` settings every Jeugdhub worker shares."""

from __future__ import annotations

import faust
from mode.utils.objects import cached_property
from mode.utils.queues import FlowControlEvent

from services.settings import DEFAULT_FETCH_MAX_WAIT_MS, WorkerSettings
from services.streaming import rocksdb_store
from services.streaming.partitioner import CachedPartitioner
from services.streaming.transport import broker_url


class KeepQueuedEventsFlowControl(FlowControlEvent):
    """faust's flow control, except that resuming an already active flow keeps the stream queues.

    faust-streaming 0.15 resumes the flow during table recovery and then once more when recovery
    completes, *after* the stream partitions were resumed and while the fetcher runs. Each
    ``resume()`` clears every stream queue, so the records fetched in between (tens to hundreds,
    e.g. while ``perform_seek`` waits for the committed offsets) were dropped without being
    processed or acknowledged: no output, no retour, and faust's commit stuck behind the gap until
    the next restart. Clearing on the way from suspended to active (after a rebalance) stays as is.
    Reproduced by tests/integration/test_validate_service.py (kill early, restart with state).
    """

    def resume(self) -> None:
        if self.is_active():
            return
        super().resume()


class HubApp(faust.App):
    """``faust.App`` with :class:`KeepQueuedEventsFlowControl`."""

    fetch_max_wait_ms: int = DEFAULT_FETCH_MAX_WAIT_MS  # new_faust_app sets the configured value

    @cached_property
    def flow_control(self) -> FlowControlEvent:
        return KeepQueuedEventsFlowControl(loop=self.loop)


def new_faust_app(settings: WorkerSettings, partitions: int) -> faust.App:
    """At-least-once app on the ``jeugdhub://`` transport; tables in RocksDB under the data directory
    (``hubrocksdb://``, services/streaming/rocksdb_store.py), or in memory, rebuilt from their
    changelogs at every start (``JEUGDHUB_TABLE_STORE=memory``)."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)  # faust creates only the last level
    rocksdb_store.register()
    app = HubApp(
        f"{settings.topic_prefix}{settings.app_id}",
        broker=broker_url(settings.kafka_bootstrap),
        store="memory://" if settings.table_store == "memory" else f"{rocksdb_store.SCHEME}://",
        autodiscover=False,
        producer_acks=-1,
        processing_guarantee="at_least_once",
        consumer_auto_offset_reset="earliest",
        broker_session_timeout=settings.session_timeout_s,
        # Static membership: a restarted worker takes its partitions back without waiting for its
        # dead predecessor's session to expire (docs/performance.md, Restarts).
        consumer_group_instance_id=settings.group_instance_id,
        broker_heartbeat_interval=max(0.5, settings.session_timeout_s / 5),
        broker_rebalance_timeout=settings.rebalance_timeout_s,
        broker_request_timeout=max(40.0, settings.session_timeout_s + 10),
        topic_partitions=partitions,
        # faust's own topics (table changelogs, the assignor's leader topic) get the hub's replicas
        topic_replication_factor=settings.replication_factor,
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
    app.fetch_max_wait_ms = settings.fetch_max_wait_ms  # read by the transport's consumer
    return app
