"""Reading the regulator's topics (aggregates, aggregates-public, figures-daily) as JSON-form rows.

The reference consumer of what the hub publishes, and the reader ``jeugdhub figures`` and the
report use. Kafka-python, no consumer group (nothing to commit: every run reads the compacted
topics from their start) and ``isolation_level=read_committed``: snapshots are written in
transactions and a fenced publisher's aborted records are on the log too
(services/aggregate/publisher.py). Values are decoded with the contract codec, which refuses a
record of another schema; such a record is reported through ``on_error`` and skipped, never
misread. Rows are the records' JSON form (``record_to_json``: dates ``YYYY-MM-DD``, timestamps
``...Z``, the restrictive measures as an object, nulls kept), exactly the ``.avsc`` fields.

Compacted topics keep at least the latest record per key, so a reader that wants the current state
takes the last value per key (:func:`read_latest`); a tombstone (null value) removes the key.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import date
from types import TracebackType
from typing import Any

from kafka import KafkaConsumer, TopicPartition

from services.contracts.canonical import record_to_json
from services.contracts.codec import decode
from services.contracts.errors import ContractError
from services.contracts.regions import NATIONAL
from services.contracts.topics import FIGURES_DAILY, TopicSpec

log = logging.getLogger("jeugdhub.regulator")

TOPIC_TIMEOUT_S = 10.0
"""How long to wait for a topic to appear in the metadata before giving up (a hub starting up
creates its topics a moment after the broker is up)."""
BOOTSTRAP_TIMEOUT_S = 10.0
"""How long to try the bootstrap servers before failing (kafka-python's default is 30 s: long for a
command someone typed at a broker that is not there)."""
READ_TIMEOUT_S = 120.0
"""Upper bound on reading a topic to its end; a compacted figures topic is read in seconds."""

ErrorSink = Callable[[str], None]
"""Told, in one line, about each record that was skipped because it does not decode."""


class TopicMissingError(RuntimeError):
    """The topic does not exist (or this user may not describe it) on the cluster."""

    def __init__(self, topic: str, bootstrap: str) -> None:
        super().__init__(f"topic {topic} does not exist on {bootstrap} (or this user may not read it)")
        self.topic = topic


@dataclass(frozen=True)
class FigureRecord:
    """One committed record: its key, the value in JSON form (None for a tombstone) and where it is."""

    key: str
    row: dict[str, Any] | None
    partition: int
    offset: int
    timestamp_ms: int


def _log_error(text: str) -> None:
    log.warning("skipped a record that does not decode", extra={"error": text})


def region_order(region: str) -> tuple[bool, str]:
    """Regions sorted by code, ``NL`` last: the order of replay's and history's output."""
    return (region == NATIONAL, region)


class TopicReader:
    """A read_committed, group-less reader of one topic, from its beginning.

    ``read_to_end()`` returns what was committed up to the moment it is called; ``poll()`` then
    gives what arrives after (``jeugdhub figures --follow``). One consumer, so the two never miss
    or repeat a record.
    """

    def __init__(
        self,
        bootstrap: str,
        spec: TopicSpec,
        prefix: str = "",
        *,
        topic_timeout_s: float = TOPIC_TIMEOUT_S,
        bootstrap_timeout_s: float = BOOTSTRAP_TIMEOUT_S,
        on_error: ErrorSink | None = None,
    ) -> None:
        self.topic = spec.full_name(prefix)
        self.schema = spec.value_schema
        self._on_error = on_error or _log_error
        # Raises a kafka.errors.KafkaError (KafkaTimeoutError) when nothing answers at bootstrap.
        self._consumer = KafkaConsumer(
            bootstrap_servers=bootstrap,
            bootstrap_timeout_ms=int(bootstrap_timeout_s * 1000),
            enable_auto_commit=False,
            group_id=None,
            isolation_level="read_committed",
            client_id="jeugdhub-figures-reader",
        )
        try:
            self._partitions = self._wait_for_partitions(bootstrap, topic_timeout_s)
            self._consumer.assign(self._partitions)
            self._consumer.seek_to_beginning(*self._partitions)
        except BaseException:
            self._consumer.close()
            raise

    def _wait_for_partitions(self, bootstrap: str, timeout_s: float) -> list[TopicPartition]:
        deadline = time.monotonic() + timeout_s
        while True:
            partitions = self._consumer.partitions_for_topic(self.topic)
            if partitions:
                return [TopicPartition(self.topic, p) for p in sorted(partitions)]
            if time.monotonic() >= deadline:
                raise TopicMissingError(self.topic, bootstrap)
            time.sleep(0.25)

    def __enter__(self) -> TopicReader:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        self._consumer.close(autocommit=False)

    def read_to_end(
        self, timeout_s: float = READ_TIMEOUT_S, stopping: Callable[[], bool] | None = None
    ) -> list[FigureRecord]:
        """Every committed record from the current position to the end as of now, in offset order
        per partition (the figures topics have one partition, so in log order); cut short, with
        what was read so far, when ``stopping()`` becomes true."""
        ends: dict[TopicPartition, int] = self._consumer.end_offsets(self._partitions)  # last stable offsets
        deadline = time.monotonic() + timeout_s
        records: list[FigureRecord] = []
        while any(self._consumer.position(tp) < ends[tp] for tp in self._partitions):
            if stopping is not None and stopping():
                break
            if time.monotonic() > deadline:
                raise TimeoutError(f"reading {self.topic} to its end took more than {timeout_s:.0f} s")
            records.extend(self.poll(200))
        return records

    def poll(self, timeout_ms: int = 500) -> list[FigureRecord]:
        """Whatever committed records arrive within ``timeout_ms`` (possibly none)."""
        out: list[FigureRecord] = []
        for batch in self._consumer.poll(timeout_ms=timeout_ms).values():
            for record in batch:
                decoded = self._decode(record)
                if decoded is not None:
                    out.append(decoded)
        return out

    def _decode(self, record: Any) -> FigureRecord | None:
        key = record.key.decode("utf-8", "replace") if record.key is not None else ""
        row: dict[str, Any] | None = None
        if record.value is not None:
            try:
                row = record_to_json(self.schema, decode(self.schema, record.value))
            except ContractError as exc:
                self._on_error(
                    f"{self.topic} partition {record.partition} offset {record.offset} key {key!r}: {exc}"
                )
                return None
        return FigureRecord(key, row, record.partition, record.offset, record.timestamp)


def latest_per_key(records: Collection[FigureRecord]) -> dict[str, dict[str, Any]]:
    """The last value per key, as a compacted topic means it; a tombstone removes its key."""
    latest: dict[str, dict[str, Any]] = {}
    for record in records:
        if record.row is None:
            latest.pop(record.key, None)
        else:
            latest[record.key] = record.row
    return latest


def read_records(
    bootstrap: str,
    spec: TopicSpec,
    prefix: str = "",
    *,
    topic_timeout_s: float = TOPIC_TIMEOUT_S,
    on_error: ErrorSink | None = None,
) -> list[FigureRecord]:
    """Every committed record of the topic, from its beginning to its current end."""
    with TopicReader(bootstrap, spec, prefix, topic_timeout_s=topic_timeout_s, on_error=on_error) as reader:
        return reader.read_to_end()


def read_latest(
    bootstrap: str,
    spec: TopicSpec,
    prefix: str = "",
    *,
    topic_timeout_s: float = TOPIC_TIMEOUT_S,
    on_error: ErrorSink | None = None,
) -> dict[str, dict[str, Any]]:
    """key -> JSON-form row of the latest committed record per key (aggregates: key = region)."""
    return latest_per_key(
        read_records(bootstrap, spec, prefix, topic_timeout_s=topic_timeout_s, on_error=on_error)
    )


def daily_rows(
    latest: dict[str, dict[str, Any]],
    regions: Collection[str] | None = None,
    since: date | None = None,
    until: date | None = None,
) -> list[dict[str, Any]]:
    """Filter and order DailyRegionFigures rows: as_of ascending, then regions by code, ``NL`` last
    (the order of ``jeugdhub history``)."""
    since_text = since.isoformat() if since else None
    until_text = until.isoformat() if until else None
    rows = [
        row
        for row in latest.values()
        if (regions is None or row["region"] in regions)
        and (since_text is None or row["as_of"] >= since_text)
        and (until_text is None or row["as_of"] <= until_text)
    ]
    return sorted(rows, key=lambda row: (row["as_of"], region_order(row["region"])))


def read_daily(
    bootstrap: str,
    prefix: str = "",
    *,
    regions: Collection[str] | None = None,
    since: date | None = None,
    until: date | None = None,
    topic_timeout_s: float = TOPIC_TIMEOUT_S,
    on_error: ErrorSink | None = None,
) -> list[dict[str, Any]]:
    """The provisional history: one JSON-form DailyRegionFigures row per (region, day) on the
    figures-daily topic (fields as the .avsc, incl. ``written_late`` and ``computed_at``), only
    ``regions`` and days in [since, until] when given, as_of ascending then region (``NL`` last).
    Raises kafka.errors.KafkaError when Kafka cannot be reached, :class:`TopicMissingError`."""
    latest = read_latest(bootstrap, FIGURES_DAILY, prefix, topic_timeout_s=topic_timeout_s, on_error=on_error)
    return daily_rows(latest, regions, since, until)
