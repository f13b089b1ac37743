"""Replay's compact kept messages (``judge_lines(..., compact=True)``, what ``replay``, ``history``
and ``report`` use) give exactly the facts and figures of the full flat messages."""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from typing import Any

import orjson
from hypothesis import HealthCheck, given, settings

from hubdev.paths import SPEC_EXAMPLES
from services.aggregate.facts import build_youth_facts
from services.aggregate.figures import region_figures
from services.aggregate.timeline import KEPT_FIELDS, keep_message, kept_as_message
from services.contracts.regions import load_region_table
from services.privacy.pseudonym import ephemeral_keyring
from services.regulator.history import HistorySource, history_documents
from services.replay.kept import KeptMessages
from services.replay.offline import figures_document, judge_lines, regulator_document
from tests.unit.aggregate.aggregate_support import TABLE, Msg
from tests.unit.aggregate.test_aggregate_properties import as_of_dates, message_sets

DATES = [date(2024, 6, 30), date(2025, 1, 1), date(2025, 12, 31), date(2026, 3, 31)]


def _kept(messages: list[Msg]) -> dict[str, KeptMessages]:
    shared: dict[str, str] = {}
    by_youth: dict[str, KeptMessages] = {}
    for message in messages:
        youth = message["youth_pseudonym"]
        by_youth.setdefault(youth, KeptMessages(youth)).kept.append(keep_message(message, shared))
    return by_youth


def _full(messages: list[Msg]) -> dict[str, list[Msg]]:
    by_youth: dict[str, list[Msg]] = defaultdict(list)
    for message in messages:
        by_youth[message["youth_pseudonym"]].append(message)
    return by_youth


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(messages=message_sets(), as_of=as_of_dates)
def test_compact_messages_give_the_same_facts_and_figures(messages: list[Msg], as_of: date) -> None:
    full, kept = _full(messages), _kept(messages)
    assert {y: len(m) for y, m in kept.items()} == {y: len(m) for y, m in full.items()}
    facts_full = {y: build_youth_facts(m, TABLE) for y, m in full.items()}
    facts_kept = {y: build_youth_facts(m, TABLE) for y, m in kept.items()}
    assert facts_kept == facts_full
    assert region_figures(facts_kept.values(), as_of, TABLE) == region_figures(
        facts_full.values(), as_of, TABLE
    )


def test_a_kept_message_reads_back_every_field_the_timeline_reads() -> None:
    # One message per type with every field set (and a cancel): nothing the timeline reads is lost.
    head = {
        "created_at": "2025-01-02T03:04:05Z",
        "message_id": "m-1",
        "sender": {"kind": "aanbieder", "code": "S1"},
    }
    for message_type, names in KEPT_FIELDS.items():
        message: dict[str, Any] = {**head, "status": "new", "message_type": message_type, "bsn_hint": "x"}
        message.update({name: f"v-{name}" for name in names})
        back = kept_as_message("y1", keep_message(message, {}))
        assert back == {
            "youth_pseudonym": "y1",
            "status": "new",
            "message_type": message_type,
            "created_at": head["created_at"],
            "message_id": "m-1",
            "sender": {"code": "S1"},
            **{name: f"v-{name}" for name in names},
        }
    cancel = {**head, "status": "cancel", "message_type": "measure", "cancels_message_id": "m-0"}
    back = kept_as_message("y1", keep_message(cancel, {}))
    assert back["status"] == "cancel" and back["cancels_message_id"] == "m-0" and "measure_id" not in back


def test_repeated_values_are_shared_and_unique_ones_kept_as_they_are() -> None:
    shared: dict[str, str] = {}
    one = {"status": "new", "message_type": "perspective_determined", "created_at": "2025-01-02T03:04:05Z",
           "message_id": "m-1", "sender": {"code": "".join(["S", "1"])}, "determined_date": "2025-01-02"}  # fmt: skip
    two = {
        **one,
        "message_id": "m-2",
        "sender": {"code": "".join(["S", "1"])},
        "determined_date": "2025-01-02"[:],
    }
    a, b = keep_message(one, shared), keep_message(two, shared)
    assert a[4] is b[4]  # the sender code: one object
    assert a[3] == "m-1" and b[3] == "m-2"


def test_the_worked_example_gives_the_same_documents_compact_and_full() -> None:
    regions = load_region_table(SPEC_EXAMPLES / "regions.csv")
    lines = (SPEC_EXAMPLES / "feed.jsonl").read_bytes().splitlines()
    keyring = ephemeral_keyring()
    full = judge_lines(lines, keyring, regions)
    compact = judge_lines(lines, keyring, regions, compact=True)
    assert all(isinstance(m, KeptMessages) for m in compact.by_youth.values())
    assert all(isinstance(m, list) for m in full.by_youth.values())
    assert (compact.accepted, compact.rejected, compact.duplicates) == (
        full.accepted,
        full.rejected,
        full.duplicates,
    )
    for as_of in DATES:
        assert figures_document(compact, as_of, regions) == figures_document(full, as_of, regions)
        for public in (False, True):
            assert regulator_document(
                compact, as_of, regions, public=public, baseline=date(2024, 1, 1)
            ) == regulator_document(full, as_of, regions, public=public, baseline=date(2024, 1, 1))
    assert history_documents(
        HistorySource.from_replay(compact), DATES, regions, baseline=date(2024, 1, 1), public=True
    ) == history_documents(
        HistorySource.from_replay(full), DATES, regions, baseline=date(2024, 1, 1), public=True
    )


def test_the_duplicate_table_tells_resends_by_sender_and_message_id_in_both_key_forms() -> None:
    """Keys are held per sender code (and hashed keys as they are): a re-send is a duplicate, a
    changed copy a conflict, the same message_id from another sender a new message."""
    lines = (SPEC_EXAMPLES / "feed.jsonl").read_bytes().splitlines()
    regions = load_region_table(SPEC_EXAMPLES / "regions.csv")
    keyring = ephemeral_keyring()
    accepted = orjson.loads(next(line for line in lines if judge_lines([line], keyring, regions).accepted))
    odd_id = {**accepted, "message_id": "not a uuid: hashed key"}  # rejected, but its key is stored
    changed = {**accepted, "created_at": "2025-01-01T00:00:00Z"}
    other_sender = {
        **accepted,
        "sender": {**accepted["sender"], "code": accepted["sender"]["code"][::-1] + "9"},
    }
    feed = [orjson.dumps(m) for m in (accepted, odd_id, accepted, odd_id, changed, other_sender)]
    rejections: list[str] = []
    result = judge_lines(
        feed, keyring, regions, lambda r: rejections.extend(e["code"] for e in r["errors"]), compact=True
    )
    assert result.duplicates == 2
    assert "JH030" in rejections
    assert sum(len(m) for m in result.by_youth.values()) == result.accepted
