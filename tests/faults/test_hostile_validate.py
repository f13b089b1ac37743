"""Hostile input through the validate step, exactly as the worker handles one raw record.

Each input goes through ``services.validate.answer.answer_record`` (decode the RawMessage, judge it,
encode the output records, fall back to an UNPROCESSABLE rejection) with an in-memory duplicate
table, and ``jeugdhub replay``'s ``process``. Whatever the bytes: no exception, exactly one retour,
every output record under the size limit, and no planted BSN or birth date in any output.
"""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime
from typing import Any, cast

import orjson
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from hubdev.records import valid_bsn
from services.contracts.codec import decode, encode
from services.contracts.regions import load_region_table
from services.privacy.pseudonym import Keyring
from services.streaming.batches import MAX_RECORD_BYTES
from services.validate.answer import OutputTopics, answer_record
from services.validate.pipeline import MAX_DEPTH, RawInput, process

KEYRING = Keyring("k1", {"k1": b"k" * 32})
REGIONS = load_region_table()
OUT = OutputTopics("validated", "rejected", "retour")
BSN = "972308660"  # passes the 11-proef
BIRTH = "2009-07-13"
SENDER = {"kind": "provider", "code": "10000001"}


class MemoryTable:
    """The duplicate table's interface (get/set), in memory."""

    def __init__(self) -> None:
        self.data: dict[str, Any] = {}
        self.routes: dict[str, str] = {}

    def get(self, key: str, route: str | None = None) -> Any:
        return self.data.get(key)

    def set(self, key: str, value: Any, route: str | None = None) -> None:
        self.data[key] = value
        self.routes[key] = route or key


def message(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "message_id": "0f8fad5b-d9cb-469f-a165-70867728950e",
        "message_type": "placement_started",
        "status": "new",
        "cancels_message_id": None,
        "sender": dict(SENDER),
        "created_at": "2026-02-20T10:00:00Z",
        "bsn": BSN,
        "birth_date": BIRTH,
        "municipality_code": "0363",
        "placement_id": "P1",
        "provider_agb": SENDER["code"],
        "location_code": "L1",
        "care_type": "gesloten",
        "legal_basis": "machtiging",
        "start_date": "2026-02-19",
    }
    base.update(overrides)
    return base


def raw_value(payload: bytes, fmt: str = "json", message_id: str = "m") -> bytes:
    record = {
        "received_at": datetime(2026, 2, 20, 10, 0, 1, tzinfo=UTC),
        "sender": SENDER,
        "message_id": message_id,
        "format": fmt,
        "payload": payload,
    }
    return encode("RawMessage", record)


def answer(value: bytes, table: MemoryTable | None = None, offset: int = 7) -> list[tuple[str, bytes, bytes]]:
    """The output records the worker would send for one raw record."""
    records: dict[str, list[tuple[bytes, bytes]]] = OUT.new_batch()
    answer_record(OUT, records, value, 0, offset, cast(Any, table or MemoryTable()), KEYRING, REGIONS)
    return [(topic, key, record) for topic, pairs in records.items() for key, record in pairs]


def retours(outputs: list[tuple[str, bytes, bytes]]) -> list[dict[str, Any]]:
    return [decode("Retour", value) for topic, _, value in outputs if topic == "retour"]


def rejections(outputs: list[tuple[str, bytes, bytes]]) -> list[dict[str, Any]]:
    return [decode("Rejection", value) for topic, _, value in outputs if topic == "rejected"]


def assert_one_bounded_private_outcome(
    outputs: list[tuple[str, bytes, bytes]], secrets: tuple[str, ...]
) -> None:
    assert len(retours(outputs)) == 1, "exactly one retour per raw record"
    kinds = [topic for topic, _, _ in outputs if topic != "retour"]
    assert len(kinds) <= 1
    for topic, key, value in outputs:
        assert len(key) + len(value) <= MAX_RECORD_BYTES, topic
        for secret in secrets:
            assert secret.encode() not in key, (topic, secret)
            assert secret.encode() not in value, (topic, secret)


# -- the defects of issue 12, one by one ------------------------------------------------------------
def nested(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = [value]
    return value


@pytest.mark.parametrize("depth", [40, 253, 300, 1000])
def test_a_deep_extra_field_gets_a_schema_rejection_not_an_exception(depth: int) -> None:
    """Defect 1a: the redaction's orjson.dumps hit its recursion limit and the batch was lost."""
    payload = b'{"deep":' + b"[" * depth + b"1" + b"]" * depth + b"," + orjson.dumps(message())[1:]
    outputs = answer(raw_value(payload))
    assert_one_bounded_private_outcome(outputs, (BSN, BIRTH))
    (retour,) = retours(outputs)
    assert retour["status"] == "rejected"
    assert retour["message_id"] == message()["message_id"], "the sender can still match the retour"
    codes = {e["code"] for e in retour["errors"]}
    assert codes == {"SCHEMA"}
    (rejection,) = rejections(outputs)
    assert "deep" not in json.loads(rejection["payload_redacted"]), "an unknown field is not kept"


def test_a_deep_payload_too_deep_for_the_parser_is_rejected_too() -> None:
    payload = b"[" * 5000 + b"]" * 5000
    (retour,) = retours(answer(raw_value(payload)))
    assert retour["status"] == "rejected"
    assert retour["errors"][0]["code"] == "SCHEMA"


def test_nesting_at_the_limit_is_judged_field_by_field() -> None:
    just_deep_enough = message(extra=nested(MAX_DEPTH - 2))
    (retour,) = retours(answer(raw_value(orjson.dumps(just_deep_enough))))
    assert retour["errors"][0]["field"] == "extra"  # the unknown field is named: judged by the schema


def test_95000_eight_digit_numbers_give_a_bounded_rejection() -> None:
    """Defect 1b: masking made the Rejection larger than Kafka's 1 MiB limit; the send failed."""
    numbers = " ".join(f"{n:08d}" for n in range(10_000_000, 10_095_000))
    payload = orjson.dumps(message(notes=numbers, location_code=numbers))
    assert len(payload) > 800_000
    outputs = answer(raw_value(payload))
    assert_one_bounded_private_outcome(outputs, (BSN, BIRTH))
    (rejection,) = rejections(outputs)
    assert len(rejection["payload_redacted"]) < 4096


def test_an_output_too_large_for_kafka_becomes_an_unprocessable_rejection() -> None:
    """A record that would pass every bound but the size limit is still answered."""
    huge_key_message = message(message_id="x" * (MAX_RECORD_BYTES + 10))
    outputs = answer(raw_value(orjson.dumps(huge_key_message), message_id="x"))
    assert_one_bounded_private_outcome(outputs, (BSN, BIRTH))
    (retour,) = retours(outputs)
    assert retour["status"] == "rejected"
    assert len(retour["message_id"]) <= 64


def test_a_380000_character_message_id_is_answered_and_not_stored_as_a_key() -> None:
    """Defect 3 (validate side): the key of the state store and of the rejection stays bounded."""
    table = MemoryTable()
    outputs = answer(raw_value(orjson.dumps(message(message_id="9" * 380_000))), table)
    assert_one_bounded_private_outcome(outputs, (BSN, BIRTH))
    assert all(len(key) <= 80 for key in table.data)
    assert all(len(route) > 380_000 for route in table.routes.values()), "routed by the raw record's key"


@pytest.mark.parametrize(
    "overrides",
    [
        {"municipality_code": BSN},
        {"municipality_code": BIRTH},
        {"location_code": f"bsn {BSN}"},
        {"placement_id": BSN},
        {"provider_agb": BSN},
        {"care_type": BSN},
        {"legal_basis": BSN},
        {"message_id": BSN},
        {"message_type": BSN},
        {"sender": {"kind": "provider", "code": BSN}},
        {"status": BSN},
        {"start_date": BSN},
        {"bsn": BSN + "1"},
        {BSN: "key"},
        {"created_at": BSN},
    ],
)
def test_a_bsn_in_the_wrong_field_is_never_quoted(overrides: dict[str, Any]) -> None:
    """Defect 4: ``municipality_code '972308660' is not a gemeentecode`` went back to the sender."""
    payload = orjson.dumps(message(**overrides))
    outputs = answer(raw_value(payload))
    assert_one_bounded_private_outcome(outputs, (BSN, BIRTH))
    assert retours(outputs)[0]["status"] == "rejected"
    # and the same offline
    outcome = process(RawInput(payload, "json", None, None, None, 1), lambda _: None, KEYRING, REGIONS)
    text = orjson.dumps([outcome.retour, outcome.rejection]).decode()
    assert BSN not in text


@pytest.mark.parametrize("key", ["birth_dat", "birthdate", "geboortedatum", "dob", "date_of_birth", "x"])
def test_a_birth_date_under_a_misspelt_key_is_not_kept(key: str) -> None:
    """Defect 5: redaction dropped listed keys; ``birth_dat`` survived in payload_redacted."""
    payload = orjson.dumps({**message(), key: BIRTH})
    outputs = answer(raw_value(payload))
    assert_one_bounded_private_outcome(outputs, (BSN, BIRTH))


def test_a_valid_message_is_still_accepted_and_a_resend_is_a_duplicate() -> None:
    table = MemoryTable()
    payload = orjson.dumps(message())
    first = answer(raw_value(payload), table, offset=1)
    assert retours(first)[0]["status"] == "accepted"
    assert_one_bounded_private_outcome(first, (BSN, BIRTH))
    again = answer(raw_value(payload), table, offset=2)
    assert [r["status"] for r in retours(again)] == ["duplicate"]


def test_a_malformed_message_id_resent_is_still_a_duplicate() -> None:
    """Its table key is a hash, so the second copy still finds the first."""
    table = MemoryTable()
    payload = orjson.dumps(message(message_id="not-a-uuid-" + BSN))
    assert retours(answer(raw_value(payload), table, offset=1))[0]["status"] == "rejected"
    assert [r["status"] for r in retours(answer(raw_value(payload), table, offset=2))] == ["duplicate"]
    assert all(BSN not in key for key in table.data)


class BrokenTable(MemoryTable):
    """A duplicate table whose read raises, as a bug in a rule or a lookup would while judging."""

    def get(self, key: str, route: str | None = None) -> Any:
        raise RuntimeError("a bug while judging")


def test_an_exception_while_judging_gives_an_unprocessable_rejection() -> None:
    """Raised inside the pipeline's judging, wherever it comes from (here the duplicate lookup; the
    pipeline runs compiled, so a rule cannot be monkeypatched: its callers bind it directly)."""
    outputs = answer(raw_value(orjson.dumps(message())), BrokenTable())
    assert_one_bounded_private_outcome(outputs, (BSN, BIRTH))
    (retour,) = retours(outputs)
    assert retour["status"] == "rejected"
    assert retour["message_id"] == message()["message_id"]
    assert [e["code"] for e in retour["errors"]] == ["UNPROCESSABLE"]


def test_a_record_that_is_no_raw_message_is_recorded() -> None:
    outputs = answer(b"\x00\x01 not avro at all")
    assert len(retours(outputs)) == 1
    assert rejections(outputs)[0]["errors"][0]["code"] == "SCHEMA"


# -- properties over arbitrary input ----------------------------------------------------------------
SECRET_KEYS = st.sampled_from(
    [
        "bsn",
        "birth_date",
        "birth_dat",
        "BSN",
        "naam",
        "municipality_code",
        "provider_agb",
        "care_type",
        "message_id",
        "message_type",
        "status",
        "start_date",
        "cancels_message_id",
        "legal_basis",
        "x",
        "",
    ]
)
JSON_LEAVES = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(st.characters(exclude_categories=["Cs"]), max_size=40)
)
JSON = st.recursive(
    JSON_LEAVES,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=30,
)


def _plant(value: Any, secret: str, where: int) -> Any:
    """Put ``secret`` somewhere inside ``value`` (a leaf of a list or object, or the value itself)."""
    if isinstance(value, dict) and value:
        key = sorted(value, key=str)[where % len(value)]
        return {**value, key: _plant(value[key], secret, where // 3)}
    if isinstance(value, list) and value:
        index = where % len(value)
        return [*value[:index], _plant(value[index], secret, where // 3), *value[index + 1 :]]
    return secret if where % 2 else f"x {secret} y"


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(key=SECRET_KEYS, junk=JSON, where=st.integers(0, 1000), secret=st.sampled_from([BSN, BIRTH]))
def test_any_json_message_gets_one_bounded_outcome_without_the_secret(
    key: str, junk: Any, where: int, secret: str
) -> None:
    """A valid message with arbitrary JSON (holding a BSN or the birth date somewhere) under any key.

    The birth date is not planted in a contract date field: there it is that field's date.
    """
    assume(not (secret == BIRTH and key.endswith("_date")))
    payload = orjson.dumps({**message(), key: _plant(junk, secret, where)})
    assert_one_bounded_private_outcome(answer(raw_value(payload)), (BSN, BIRTH))


@settings(max_examples=200, deadline=None)
@given(junk=JSON)
def test_any_json_value_as_the_whole_payload_gets_one_outcome(junk: Any) -> None:
    payload = orjson.dumps(_plant(junk, BSN, 3))
    assert_one_bounded_private_outcome(answer(raw_value(payload)), (BSN,))


@settings(max_examples=300, deadline=None)
@given(payload=st.binary(max_size=300), fmt=st.sampled_from(["json", "avro"]))
def test_any_bytes_as_payload_get_one_outcome(payload: bytes, fmt: str) -> None:
    assert_one_bounded_private_outcome(answer(raw_value(payload, fmt)), ())


@settings(max_examples=200, deadline=None)
@given(value=st.binary(max_size=300))
def test_any_bytes_as_the_raw_record_get_one_outcome(value: bytes) -> None:
    outputs = answer(value)
    assert len(retours(outputs)) == 1


@settings(max_examples=100, deadline=None)
@given(
    text=st.text(st.characters(exclude_categories=["Cs"]), min_size=1, max_size=30),
    seed=st.integers(0, 2**32),
)
def test_duplicate_keys_and_odd_unicode_in_the_json_text(text: str, seed: int) -> None:
    """Raw JSON text with a duplicated key (the last wins in orjson) and odd characters everywhere."""
    rng = random.Random(seed)
    bsn = valid_bsn(rng)
    body = orjson.dumps(message(location_code=text, bsn=bsn))[:-1]
    payload = body + b',"bsn":' + orjson.dumps(text) + b',"placement_id":' + orjson.dumps(text) + b"}"
    assert_one_bounded_private_outcome(answer(raw_value(payload)), (bsn, BIRTH))


def test_replay_answers_a_poison_file_without_a_traceback(
    tmp_path: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    """Defect 1: ``jeugdhub replay`` on a file holding the 300-deep message died with a traceback."""
    from services.cli import main

    deep = b'{"deep":' + b"[" * 300 + b"]" * 300 + b"," + orjson.dumps(message())[1:]
    numbers = " ".join(f"{n:08d}" for n in range(10_000_000, 10_095_000))
    feed = tmp_path / "poison.jsonl"
    feed.write_bytes(b"\n".join([deep, orjson.dumps(message(message_id=BSN, notes=numbers)), b"[" * 3000]))
    rejected = tmp_path / "rejected.jsonl"
    main(["replay", str(feed), "--as-of", "2026-03-31", "--rejections", str(rejected)])
    figures = json.loads(capsys.readouterr().out)
    assert (figures["accepted"], figures["rejected"]) == (0, 3)
    text = rejected.read_text()
    assert len(text.splitlines()) == 3
    assert BSN not in text and BIRTH not in text
