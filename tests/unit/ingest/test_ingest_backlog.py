"""Backpressure (issue 12, defect 7): the backlog arithmetic and admission, without a broker.

The measuring shell runs against the real broker in tests/integration/test_ingest_backpressure.py.
"""

from __future__ import annotations

from typing import Any

import orjson

from services.ingest.backlog import NoBacklog
from services.streaming.backlog import (
    NO_RECORD,
    OPEN,
    Admission,
    FirstRecord,
    PartitionOffsets,
    Search,
    StageBacklog,
    admission,
    first_unprocessed,
    stage_backlog,
)
from tests.unit.ingest.test_ingest_http import FakeReader, FakeWriter, auth, problem_of

NOW_MS = 1_800_000_000_000


def test_nothing_waiting_is_zero() -> None:
    parts = [PartitionOffsets(0, 10, 0, 10), PartitionOffsets(1, 0, 0, 0)]
    assert stage_backlog("aggregate", parts, NOW_MS) == StageBacklog("aggregate", 0, 0.0)


def test_lag_and_age_of_the_oldest_unprocessed_record() -> None:
    parts = [
        PartitionOffsets(0, 10, 0, 15, first=FirstRecord(10, NOW_MS - 4_000)),
        PartitionOffsets(1, 3, 0, 5, first=FirstRecord(3, NOW_MS - 9_500)),
    ]
    backlog = stage_backlog("aggregate", parts, NOW_MS)
    assert backlog.messages == 5 + 2
    assert backlog.oldest_age_s == 9.5


def test_a_commit_on_the_trailing_transaction_marker_is_not_lag() -> None:
    """Committed 10, end 11 on the raw topic: offset 10 is the last transaction's commit marker
    (issue 12, defect 9: a lag that never reaches 0 makes an alert that never clears)."""
    marker_only = PartitionOffsets(0, 10, 0, 11, transactional=True)
    assert not marker_only.behind
    assert stage_backlog("validate", [marker_only], NOW_MS) == StageBacklog("validate", 0, 0.0)
    assert PartitionOffsets(0, 10, 0, 11).behind  # the validated topic has no markers


def test_a_group_that_never_committed_starts_at_the_log_start() -> None:
    parts = [PartitionOffsets(0, None, 4, 10, first=FirstRecord(4, NOW_MS - 60_000))]
    backlog = stage_backlog("aggregate", parts, NOW_MS)
    assert backlog.messages == 6 and backlog.oldest_age_s == 60.0


def test_retention_past_the_commit_counts_from_the_log_start() -> None:
    assert PartitionOffsets(0, 2, 7, 10).position == 7
    assert stage_backlog("v", [PartitionOffsets(0, 2, 7, 10)], NOW_MS).messages == 3


def test_an_unsearched_partition_counts_its_offsets_without_an_age() -> None:
    assert stage_backlog("v", [PartitionOffsets(0, 0, 0, 50)], NOW_MS) == StageBacklog("v", 50, 0.0)


def test_a_record_stamped_in_the_future_has_age_zero() -> None:
    parts = [PartitionOffsets(0, 0, 0, 1, first=FirstRecord(0, NOW_MS + 5000))]
    assert stage_backlog("v", parts, NOW_MS).oldest_age_s == 0.0


# -- which answer of ListOffsets-by-timestamp is the first unprocessed record ----------------------
T = NOW_MS - 3_600_000  # an hour ago


def test_nothing_below_the_end_is_no_record() -> None:
    assert first_unprocessed(10, 11, True, Search(FirstRecord(10, T), T - 1)) is NO_RECORD
    assert first_unprocessed(10, 10, False, Search(None, T)) is NO_RECORD


def test_a_plain_answer_is_the_first_record() -> None:
    assert first_unprocessed(10, 20, False, Search(FirstRecord(12, T), T - 5)) == FirstRecord(12, T)
    assert first_unprocessed(10, 20, True, Search(FirstRecord(12, T), T - 5)) == FirstRecord(12, T)


def test_records_of_the_newest_processed_millisecond_take_its_timestamp() -> None:
    """The search looks past the newest processed timestamp; records sharing it are only visible
    through the offsets: nothing found (or only the trailing marker) while records wait."""
    assert first_unprocessed(10, 20, False, Search(None, T)) == FirstRecord(10, T)
    assert first_unprocessed(10, 20, True, Search(FirstRecord(19, T + 9), T)) == FirstRecord(10, T)


def test_the_marker_of_the_last_processed_transaction_is_not_the_oldest_message() -> None:
    """Committed on the marker (offset 10, stamped an hour ago); a message arrived just now at 11,
    its marker at 12. The age is the new message's, not the idle hour."""
    at = Search(FirstRecord(10, T), T - 1)
    after = Search(FirstRecord(11, NOW_MS - 50), T)
    assert first_unprocessed(10, 13, True, at, after) == FirstRecord(11, NOW_MS - 50)


def test_an_answer_at_the_position_followed_only_by_the_trailing_marker_is_a_record() -> None:
    """A worker stalled before the last record (10) of a transaction whose marker is 11."""
    at = Search(FirstRecord(10, T), T - 1)
    assert first_unprocessed(10, 12, True, at, Search(FirstRecord(11, T), T)) == FirstRecord(10, T)
    assert first_unprocessed(10, 12, True, at, Search(None, T)) == FirstRecord(10, T)


def test_admission_closes_on_either_bound_and_zero_is_no_bound() -> None:
    fresh = StageBacklog("validate", 10, 1.0)
    many = StageBacklog("aggregate", 1001, 1.0)
    old = StageBacklog("validate", 1, 301.0)
    assert admission([fresh], 1000, 300) is OPEN
    closed = admission([fresh, many], 1000, 300)
    assert not closed.open and "aggregate" in closed.reason and "1001" in closed.reason
    closed = admission([old], 1000, 300)
    assert not closed.open and "301 s" in closed.reason
    assert admission([many, old], 0, 0) is OPEN


# -- over HTTP -------------------------------------------------------------------------------------
class Closed(NoBacklog):
    def __init__(self) -> None:
        self.verdict = Admission(False, "validate has 200 unprocessed messages (bound 100)")

    def admission(self) -> Admission:
        return self.verdict


def test_post_gets_503_with_retry_after_while_the_pipeline_is_behind() -> None:
    import asyncio

    from aiohttp.test_utils import TestClient, TestServer

    from services.ingest.app import create_app
    from services.ingest.settings import IngestSettings
    from services.ingest.tokens import Sender, TokenStore, hash_token

    backlog = Closed()
    writer = FakeWriter()

    async def main() -> None:
        app = create_app(
            IngestSettings(ingest_admission_retry_after_s=17),
            tokens=TokenStore({hash_token("provider-token-0123456789"): Sender("provider", "12345678")}),
            writer=writer,
            reader=FakeReader(),
            backlog=backlog,
        )
        message: dict[str, Any] = {"message_id": "m1", "sender": {"kind": "provider", "code": "12345678"}}
        async with TestClient(TestServer(app, host="127.0.0.1")) as client:
            response = await client.post("/v1/messages", data=orjson.dumps(message), headers=auth())
            body = await problem_of(response, 503, "pipeline-behind")
            assert response.headers["Retry-After"] == "17"
            assert "200 unprocessed" in body["detail"]
            assert writer.writes == []
            # Authentication still comes first; retour reads are not refused; /readyz stays 200 and says why.
            no_token = await client.post(
                "/v1/messages", data=b"{}", headers={"Content-Type": "application/json"}
            )
            await problem_of(no_token, 401, "unauthenticated")
            assert (await client.get("/v1/retour", headers=auth())).status == 200
            ready = await client.get("/readyz")
            assert ready.status == 200
            assert (await ready.json())["admission"] == "paused"
            backlog.verdict = OPEN
            response = await client.post("/v1/messages", data=orjson.dumps(message), headers=auth())
            assert response.status == 202
            assert (await (await client.get("/readyz")).json()) == {"status": "ready", "admission": "open"}

    asyncio.run(main())
