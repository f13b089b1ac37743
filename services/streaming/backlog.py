"""How far behind a consuming stage is: unprocessed messages and the age of the oldest one.

A consumer group's lag in offsets says how much is waiting, not for how long; the figures are only
as fresh as the oldest message a stage has not processed yet. Per partition that message is the
first record at or after the group's committed offset, and its age is *now* minus its timestamp.
This module is the pure part: offsets and what Kafka's ListOffsets-by-timestamp answered come in
(gathered by ``services/ingest/backlog.py``), the backlog per stage and the admission verdict go out.

Transaction markers. A transactionally written topic (the raw topic: ingest commits every request in
a transaction) has a commit marker after each transaction's records in each partition; a marker
takes an offset but is no message. The end offset read ``read_committed`` (the last stable offset)
is always just past a marker, so a group committed at ``end - 1`` has nothing left, and the lag
counts ``end - position - 1``. Markers of earlier transactions still count: the message count is an
upper bound by at most one per ingest transaction per partition. ListOffsets may also answer with a
marker's offset; :func:`first_unprocessed` says when the answer can be trusted (see there).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class FirstRecord:
    """The first unprocessed record's offset and timestamp."""

    offset: int
    timestamp_ms: int


NO_RECORD = FirstRecord(-1, -1)
"""Nothing unprocessed in the partition."""


@dataclass(frozen=True, slots=True)
class Search:
    """What a binary search over ListOffsets-by-timestamp found for "the first offset >= p":

    ``answer`` is ListOffsets' answer (offset and timestamp) for the smallest timestamp whose answer
    is at or past ``p``, or None when no offset at or past ``p`` has a timestamp that large;
    ``newest_before_ms`` is that smallest timestamp minus one: the newest timestamp before ``p``.
    """

    answer: FirstRecord | None
    newest_before_ms: int


def first_unprocessed(
    position: int, end: int, transactional: bool, at: Search, after: Search | None = None
) -> FirstRecord:
    """The first unprocessed record of a partition from the searches at ``position`` and at
    ``position + 1`` (*after*; only needed when *at* answered ``position`` on a transactional topic).

    - Records with the same millisecond as the newest processed one are invisible to the search
      (it looks for timestamps above that one): when it finds nothing, or only the trailing marker,
      while records are waiting, they carry that newest timestamp, which is then their age.
    - On a transactional topic the answer ``position`` may be the marker of the last processed
      transaction (its timestamp is that commit's, which would report an idle hour as staleness):
      the search from ``position + 1`` decides. If it finds only the trailing marker, ``position``
      is a record (two markers never follow each other); otherwise its answer is used, which when
      ``position`` was a record is the next one of the same transaction.
    """
    last_record = end - 1 if transactional else end  # offsets below this may hold records
    if position >= last_record:
        return NO_RECORD
    fallback = FirstRecord(position, at.newest_before_ms)
    answer = at.answer
    if answer is None or answer.offset >= last_record:
        return fallback
    if transactional and answer.offset == position and after is not None:
        following = after.answer
        if following is None or following.offset >= last_record:
            return answer
        return following
    return answer


@dataclass(frozen=True, slots=True)
class PartitionOffsets:
    partition: int
    committed: int | None
    """The group's committed offset (the next one it processes); None: the group never committed."""
    log_start: int
    end: int
    """The last stable offset (``read_committed`` end offset)."""
    transactional: bool = False
    first: FirstRecord | None = None
    """The first unprocessed record (:func:`first_unprocessed`); None when it was not searched."""

    @property
    def position(self) -> int:
        """Where the group resumes: its commit, or the log start (``auto.offset.reset=earliest``) when it
        has none or retention deleted past it."""
        return self.log_start if self.committed is None else max(self.committed, self.log_start)

    @property
    def waiting(self) -> int:
        """Offsets that may hold unprocessed records (the trailing marker left out)."""
        return max(0, self.end - self.position - (1 if self.transactional else 0))

    @property
    def behind(self) -> bool:
        return self.waiting > 0


@dataclass(frozen=True, slots=True)
class StageBacklog:
    stage: str
    messages: int
    """Offsets from each partition's position to its end, trailing marker left out, summed."""
    oldest_age_s: float
    """Age of the oldest unprocessed record over all partitions; 0 when nothing waits."""


@dataclass(frozen=True, slots=True)
class Admission:
    open: bool
    reason: str = ""
    """Why it is closed: stage, measure and bound (no message content; it goes into problem bodies)."""


OPEN = Admission(True)


def stage_backlog(stage: str, partitions: Iterable[PartitionOffsets], now_ms: int) -> StageBacklog:
    """The backlog of one stage from its partitions' offsets and first records, at wall-clock *now_ms*."""
    messages = 0
    oldest_ms: int | None = None
    for p in partitions:
        if not p.behind or p.first is NO_RECORD:
            continue
        messages += p.waiting
        if p.first is not None:
            oldest_ms = p.first.timestamp_ms if oldest_ms is None else min(oldest_ms, p.first.timestamp_ms)
    age_s = 0.0 if oldest_ms is None else max(0.0, (now_ms - oldest_ms) / 1000.0)
    return StageBacklog(stage, messages, age_s)


def admission(stages: Sequence[StageBacklog], max_messages: int, max_age_s: float) -> Admission:
    """Closed while any stage is behind by more than a bound; a bound of 0 is no bound."""
    for backlog in stages:
        if max_messages and backlog.messages > max_messages:
            return Admission(
                False, f"{backlog.stage} has {backlog.messages} unprocessed messages (bound {max_messages})"
            )
        if max_age_s and backlog.oldest_age_s > max_age_s:
            return Admission(
                False,
                f"{backlog.stage}'s oldest unprocessed message is {backlog.oldest_age_s:.0f} s old "
                f"(bound {max_age_s:g} s)",
            )
    return OPEN
