"""Access records as data: built from anything a request can carry, always encodable, never a
token, a BSN or a character that hides what a reader of the log sees (services/ingest/audit.py)."""

from __future__ import annotations

import re
import unicodedata
import uuid
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from services.contracts.codec import decode
from services.contracts.schemas import registry
from services.ingest.audit import (
    MAX_ADDRESS_CHARS,
    MAX_METHOD_CHARS,
    MAX_PATH_CHARS,
    UNAUTHENTICATED_KEY,
    AccessRecord,
    access_record,
    clean_address,
    clean_path,
    clean_text,
    encode_access,
)
from services.ingest.tokens import Sender as TokenSender
from services.ingest.tokens import TokenStore, hash_token, new_token, token_id

PROVIDER = TokenSender("provider", "12345678")
BSN = "123456782"
TOKEN = new_token()
REQUEST_ID = "0f8fad5b-d9cb-469f-a165-70867728950e"


def build(**changes: Any) -> AccessRecord:
    facts: dict[str, Any] = {
        "time": datetime(2026, 3, 2, 9, 30, 1, 123456, tzinfo=UTC),
        "request_id": REQUEST_ID,
        "instance": "jeugdhub-ingest-ingest-7d9f8c6b5-x2x9z",
        "method": "POST",
        "path": "/v1/messages",
        "sender": PROVIDER,
        "token_id": token_id(hash_token(TOKEN)),
        "credential": "valid",
        "message_count": 3,
        "body_bytes": 1234,
        "status": 202,
        "outcome": "accepted",
        "client_address": "10.0.0.7",
    }
    return access_record(**(facts | changes))


def decoded(record: AccessRecord) -> dict[str, Any]:
    _, value = encode_access(record)
    return decode("AccessRecord", value)


def test_the_record_has_the_schemas_fields_and_round_trips() -> None:
    schema = registry().named["nl.jeugdhub.v1.AccessRecord"]
    record = build()
    assert set(record.avro()) == {f["name"] for f in schema["fields"]}
    back = decoded(record)
    assert back == {
        "time": datetime(2026, 3, 2, 9, 30, 1, 123000, tzinfo=UTC),
        "request_id": REQUEST_ID,
        "instance": "jeugdhub-ingest-ingest-7d9f8c6b5-x2x9z",  # configuration: not masked
        "method": "POST",
        "path": "/v1/messages",
        "sender": {"kind": "provider", "code": "12345678"},  # an AGB code is 8 digits: kept
        "token_id": token_id(hash_token(TOKEN)),
        "credential": "valid",
        "message_count": 3,
        "body_bytes": 1234,
        "status": 202,
        "outcome": "accepted",
        "client_address": "10.0.0.7",
    }


def test_keyed_by_sender_code_or_unauthenticated() -> None:
    assert encode_access(build())[0] == b"12345678"
    assert encode_access(build(sender=None, token_id=None))[0] == UNAUTHENTICATED_KEY


def test_time_is_utc_milliseconds_whatever_zone_it_came_in() -> None:
    amsterdam = timezone(timedelta(hours=1))
    record = build(time=datetime(2026, 3, 2, 10, 30, 1, 999999, tzinfo=amsterdam))
    assert record.time == datetime(2026, 3, 2, 9, 30, 1, 999000, tzinfo=UTC)
    naive = build(time=datetime(2026, 3, 2, 9, 30, 1))  # noqa: DTZ001 - a naive time is taken as UTC
    assert naive.time.tzinfo is UTC


def test_token_id_names_the_token_without_being_it() -> None:
    digest = hash_token(TOKEN)
    assert token_id(digest) == digest[:16] and re.fullmatch(r"[0-9a-f]{16}", token_id(digest))
    store = TokenStore({digest: PROVIDER})
    assert store.identify(TOKEN) == (PROVIDER, token_id(digest))
    assert store.identify("wrong") is None and store.identify(None) is None
    _, value = encode_access(build())
    assert TOKEN.encode() not in value and digest.encode() not in value
    assert build(token_id=TOKEN).token_id is None, "anything but a 16-hex id is dropped"


def test_a_bsn_or_token_in_the_path_or_address_is_masked() -> None:
    record = build(path=f"/v1/retour/{BSN}/{TOKEN}/born-13-07-2009", client_address=f"x{BSN}")
    assert record.path is not None and BSN not in record.path and TOKEN not in record.path
    assert "13-07-2009" not in record.path
    assert BSN not in record.client_address
    _, value = encode_access(record)
    assert BSN.encode() not in value and TOKEN.encode() not in value


def test_hostile_unicode_is_replaced_not_passed_on() -> None:
    hostile = "/v1/\u202egnp.exe\x00\x1b[31m\ud800\u200b\ufeff\u2028end"
    cleaned = clean_path(hostile)
    assert cleaned is not None
    assert cleaned == "/v1/\ufffdgnp.exe\ufffd\ufffd[31m\ufffd\ufffd\ufffd\ufffdend"
    decoded(build(path=hostile, method="G\u202eT", client_address="\ud800"))  # encodes


def test_addresses_are_canonical_ips_or_cleaned_text() -> None:
    assert clean_address("10.0.0.7") == "10.0.0.7"  # not mistaken for a date and masked
    assert clean_address(" 2001:DB8:0:0::1 ") == "2001:db8::1"
    assert clean_address("[2001:db8::1]") == "2001:db8::1"
    assert clean_address(f"fe80::1%{BSN}") == "fe80::1"
    assert clean_address("") == "unknown"
    garbage = clean_address("evil\r\nX-Injected: 1" + "z" * 500)
    assert "\r" not in garbage and "\n" not in garbage and len(garbage) <= MAX_ADDRESS_CHARS


def test_odd_methods_outcomes_and_numbers_are_bounded() -> None:
    record = build(
        method="X" * 100 + "\x00",
        outcome="Not A Slug!",
        credential="root",
        status=10**9,
        message_count=-5,
        body_bytes=2**80,
        request_id="not-a-uuid",
    )
    assert len(record.method) <= MAX_METHOD_CHARS
    assert record.outcome == "other" and record.credential == "unchecked"
    assert record.status == 999 and record.message_count == 0 and record.body_bytes == 2**63 - 1
    assert record.request_id == "invalid"
    decoded(record)


def test_a_sender_code_from_a_hand_edited_tokens_file_is_cleaned() -> None:
    record = build(sender=TokenSender("provider", f"{BSN}\u202e"))
    assert record.sender is not None and BSN not in record.sender.code
    decoded(record)


def test_cutting_never_leaves_part_of_a_bsn() -> None:
    path = "/" + "a/" * 126 + BSN  # the BSN straddles the 256-character cut
    cleaned = clean_path(path)
    assert cleaned is not None and len(cleaned) <= MAX_PATH_CHARS
    assert "12345" not in cleaned


_UNSAFE = {"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"}


@settings(max_examples=300, deadline=None)
@given(
    method=st.text(max_size=40),
    path=st.none() | st.text(max_size=600),
    address=st.text(max_size=200),
    instance=st.text(max_size=200),
    outcome=st.text(max_size=60),
    code=st.text(max_size=40),
    numbers=st.tuples(st.integers(), st.integers(), st.none() | st.integers()),
    time=st.datetimes(timezones=st.none() | st.just(UTC)),
)
def test_any_request_makes_a_record_that_encodes_bounded_and_clean(
    method: str,
    path: str | None,
    address: str,
    instance: str,
    outcome: str,
    code: str,
    numbers: tuple[int, int, int | None],
    time: datetime,
) -> None:
    status, count, body_bytes = numbers
    record = access_record(
        time=time,
        request_id=str(uuid.uuid4()),
        instance=instance,
        method=method,
        path=path,
        sender=TokenSender("municipality", code),
        token_id=None,
        credential="invalid",
        message_count=count,
        body_bytes=body_bytes,
        status=status,
        outcome=outcome,
        client_address=address,
    )
    back = decoded(record)
    for name, limit in (("method", MAX_METHOD_CHARS), ("path", MAX_PATH_CHARS), ("client_address", 64)):
        text = back[name]
        if text is None:
            continue
        assert len(text) <= limit
        assert not {unicodedata.category(c) for c in text} & _UNSAFE, (name, text)
        assert not re.search(r"\d{8,}", text), (name, text)
        assert not re.search(r"[A-Za-z0-9_-]{24,}", text), (name, text)
    assert 0 <= back["status"] <= 999 and 0 <= back["message_count"] < 2**31


def test_clean_text_keeps_ordinary_text() -> None:
    assert clean_text("/v1/retour", 256) == "/v1/retour"
    assert clean_text("café/ü", 256) == "café/ü"
