"""Keyring loading, keyed pseudonyms, rotation guard and the validated flat form."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import pickle
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.privacy.pseudonym import (
    EPHEMERAL_PREFIX,
    Keyring,
    KeyringError,
    KeyRotationError,
    ensure_key_matches_state,
    ephemeral_keyring,
    load_keyring,
    normalise_bsn,
    pseudonymise,
    to_validated,
)

SECRET_1 = bytes(range(32))
SECRET_2 = bytes(range(100, 140))
HEX_1 = SECRET_1.hex()
B64_2 = base64.b64encode(SECRET_2).decode()
CONFIG = {"active": "k2", "keys": {"k1": HEX_1, "k2": B64_2}}
BSN = "123456782"


@pytest.fixture
def keyring() -> Keyring:
    return Keyring.from_mapping(CONFIG)


# --- loading --------------------------------------------------------------------------------------


def test_load_from_json_hex_and_base64(keyring: Keyring) -> None:
    assert keyring.active_key_id == "k2"
    assert keyring.key_ids == ("k1", "k2")
    expected = hmac.new(SECRET_2, BSN.encode(), hashlib.sha256).hexdigest()
    assert pseudonymise(BSN, keyring) == (expected, "k2")
    expected_k1 = hmac.new(SECRET_1, BSN.encode(), hashlib.sha256).hexdigest()
    assert pseudonymise(BSN, keyring, key_id="k1") == (expected_k1, "k1")


def test_load_from_file_and_env_string_agree(tmp_path: Path, keyring: Keyring) -> None:
    file = tmp_path / "keys.json"
    file.write_text(json.dumps(CONFIG), encoding="utf-8")
    from_file = load_keyring(file=file)
    from_env = load_keyring(json_text=json.dumps(CONFIG))
    assert from_file is not None and from_env is not None
    assert pseudonymise(BSN, from_file) == pseudonymise(BSN, from_env) == pseudonymise(BSN, keyring)


def test_nothing_configured_gives_none() -> None:
    assert load_keyring() is None


def test_file_and_json_together_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(KeyringError, match="not both"):
        load_keyring(file=tmp_path / "x.json", json_text="{}")


@pytest.mark.parametrize(
    "secret",
    [
        "hex:" + HEX_1,
        "base64:" + base64.b64encode(SECRET_1).decode(),
        base64.urlsafe_b64encode(SECRET_1).decode(),
        HEX_1.upper(),
        f"  {HEX_1}\n",
    ],
)
def test_secret_encodings(secret: str) -> None:
    ring = Keyring.from_mapping({"active": "a", "keys": {"a": secret}})
    assert pseudonymise(BSN, ring)[0] == hmac.new(SECRET_1, BSN.encode(), hashlib.sha256).hexdigest()


@pytest.mark.parametrize(
    ("config", "problem"),
    [
        ([], "JSON object"),
        ({"keys": {"k1": HEX_1}}, "'active'"),
        ({"active": "k1"}, "'keys'"),
        ({"active": "k1", "keys": {}}, "'keys'"),
        ({"active": "k1", "keys": {"k1": HEX_1}, "actve": "k1"}, "unknown field"),
        ({"active": "k9", "keys": {"k1": HEX_1}}, "active key 'k9' is not among the keys"),
        ({"active": "k1", "keys": {"k1": "00" * 31}}, "key 'k1' is 31 bytes, at least 32"),
        (
            {"active": "k1", "keys": {"k1": HEX_1, "old": base64.b64encode(b"short").decode()}},
            "key 'old' is 5",
        ),
        ({"active": "k1", "keys": {"k1": "not a secret!"}}, "key 'k1' is neither valid hex nor valid base64"),
        ({"active": "k1", "keys": {"k1": "hex:zz" + HEX_1}}, "key 'k1' is neither"),
        ({"active": "k1", "keys": {"k1": 12345}}, "key 'k1' must be a string"),
        ({"active": "bad id", "keys": {"bad id": HEX_1}}, "key id 'bad id'"),
    ],
)
def test_bad_content_is_named(config: Any, problem: str) -> None:
    with pytest.raises(KeyringError, match=problem) as info:
        Keyring.from_json(json.dumps(config), source="JEUGDHUB_PSEUDONYM_KEYS")
    assert "JEUGDHUB_PSEUDONYM_KEYS" in str(info.value)
    assert HEX_1 not in str(info.value)


def test_invalid_json_does_not_echo_the_document() -> None:
    with pytest.raises(KeyringError, match="not valid JSON") as info:
        Keyring.from_json('{"active": "k1", "keys": {"k1": "' + HEX_1 + '"')
    assert HEX_1 not in str(info.value)


def test_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(KeyringError, match="cannot read"):
        Keyring.from_file(tmp_path / "missing.json")


def test_error_in_file_names_the_file(tmp_path: Path) -> None:
    file = tmp_path / "keys.json"
    file.write_text('{"active": "k1", "keys": {"k1": "abcd"}}', encoding="utf-8")
    with pytest.raises(KeyringError, match=r"keys\.json: key 'k1' is 2 bytes"):
        Keyring.from_file(file)


# --- secrets stay secret --------------------------------------------------------------------------


def test_repr_and_str_show_no_secret(keyring: Keyring) -> None:
    for text in (repr(keyring), str(keyring), f"{keyring}"):
        assert "k1" in text and "k2" in text
        assert HEX_1 not in text and B64_2 not in text
        assert repr(SECRET_1) not in text and repr(SECRET_2) not in text


def test_keyring_cannot_be_pickled(keyring: Keyring) -> None:
    with pytest.raises(TypeError):
        pickle.dumps(keyring)


# --- pseudonyms -----------------------------------------------------------------------------------


@given(st.text(alphabet="0123456789", min_size=9, max_size=9))
def test_pseudonym_is_deterministic_per_key_and_differs_across_keys(bsn: str) -> None:
    ring = Keyring.from_mapping(CONFIG)
    first, key = pseudonymise(bsn, ring)
    assert pseudonymise(bsn, ring) == (first, key)
    assert pseudonymise(bsn, Keyring.from_mapping(CONFIG)) == (first, key)
    assert pseudonymise(bsn, ring, key_id="k1")[0] != first
    assert len(first) == 64 and int(first, 16) >= 0
    assert bsn not in first


def test_different_bsns_differ(keyring: Keyring) -> None:
    assert pseudonymise("123456782", keyring)[0] != pseudonymise("012345672", keyring)[0]


@pytest.mark.parametrize("spaced", [" 123456782", "123456782\n", "123 456 782", "\t123456782 "])
def test_whitespace_is_normalised(keyring: Keyring, spaced: str) -> None:
    assert normalise_bsn(spaced) == BSN
    assert pseudonymise(spaced, keyring) == pseudonymise(BSN, keyring)


@pytest.mark.parametrize("bad", ["12345678", "1234567890", "12345678a", "", "１２３４５６７８２"])
def test_non_nine_digit_bsn_is_refused_without_showing_it(keyring: Keyring, bad: str) -> None:
    with pytest.raises(ValueError, match="not 9 digits") as info:
        pseudonymise(bad, keyring)
    if len(bad) > 3:
        assert bad not in str(info.value)


def test_unknown_key_id(keyring: Keyring) -> None:
    with pytest.raises(KeyError, match="k7"):
        pseudonymise(BSN, keyring, key_id="k7")


def test_ephemeral_keyring() -> None:
    one, two = ephemeral_keyring(), ephemeral_keyring()
    assert one.active_key_id.startswith(EPHEMERAL_PREFIX)
    assert one.active_key_id != two.active_key_id
    assert pseudonymise(BSN, one) == pseudonymise(BSN, one)
    assert pseudonymise(BSN, one)[0] != pseudonymise(BSN, two)[0]
    assert pseudonymise(BSN, one)[1] == one.active_key_id


# --- rotation guard -------------------------------------------------------------------------------


def test_same_key_or_fresh_state_may_start() -> None:
    ensure_key_matches_state("k2", "k2")
    ensure_key_matches_state("k2", None)


def test_other_key_than_the_state_refuses_to_start() -> None:
    with pytest.raises(KeyRotationError, match=r"'k2'.*'k1'.*split"):
        ensure_key_matches_state("k2", "k1")


# --- validated flat form --------------------------------------------------------------------------

MESSAGE: dict[str, Any] = {
    "message_id": "0f8fad5b-d9cb-469f-a165-70867728950e",
    "message_type": "measure",
    "status": "new",
    "cancels_message_id": None,
    "sender": {"kind": "provider", "code": "12345678"},
    "created_at": "2026-02-20T10:00:00Z",
    "bsn": BSN,
    "birth_date": "2010-03-01",
    "municipality_code": "0363",
    "measure_id": "M1",
    "kind": "separatie",
    "start_date": "2026-02-19",
    "end_date": None,
    "placement_id": None,
}


def test_to_validated(keyring: Keyring) -> None:
    validated = to_validated(MESSAGE, keyring)
    pseudonym, key_id = pseudonymise(BSN, keyring)
    assert validated == {
        **{k: v for k, v in MESSAGE.items() if k not in ("bsn", "birth_date")},
        "youth_pseudonym": pseudonym,
        "pseudonym_key_id": key_id,
        "birth_year": 2010,
    }
    assert isinstance(validated["birth_year"], int)


def test_to_validated_contains_no_bsn_or_birth_date(keyring: Keyring) -> None:
    validated = to_validated(MESSAGE, keyring)
    text = repr(validated) + json.dumps(validated)
    assert BSN not in text
    assert "2010-03-01" not in text
    assert "bsn" not in validated and "birth_date" not in validated


def test_to_validated_copies_nested_objects(keyring: Keyring) -> None:
    validated = to_validated(MESSAGE, keyring)
    validated["sender"]["code"] = "changed"
    assert MESSAGE["sender"]["code"] == "12345678"
    assert "youth_pseudonym" not in MESSAGE


def test_to_validated_cancel(keyring: Keyring) -> None:
    cancel = {k: MESSAGE[k] for k in list(MESSAGE)[:9]}
    cancel.update(status="cancel", cancels_message_id="1f8fad5b-d9cb-469f-a165-70867728950e")
    validated = to_validated(cancel, keyring)
    assert set(validated) == set(cancel) - {"bsn", "birth_date"} | {
        "youth_pseudonym",
        "pseudonym_key_id",
        "birth_year",
    }
