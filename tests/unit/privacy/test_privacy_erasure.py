"""Erasure on request, the pure part: pseudonyms under every key, the records, the erasure set."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.contracts.codec import decode, encode
from services.privacy.erasure import (
    REFERENCE_LIMIT,
    ErasureError,
    ErasureSet,
    clean_reference,
    erasure_record,
    pseudonyms_of,
)
from services.privacy.pseudonym import Keyring, pseudonymise

BSN = "123456782"  # passes the 11-proef
KEYRING = Keyring("k2", {"k1": b"1" * 32, "k2": b"2" * 32, "k0": b"0" * 32})
T0 = datetime(2026, 5, 4, 10, 0, 0, 250_000, tzinfo=UTC)


def test_a_bsn_has_one_pseudonym_per_key_the_same_validate_makes() -> None:
    found = pseudonyms_of(" 123 456 782 ", KEYRING)
    assert list(found) == ["k0", "k1", "k2"]
    assert found["k2"] == pseudonymise(BSN, KEYRING)[0]
    assert found["k1"] == pseudonymise(BSN, KEYRING, "k1")[0]
    assert len(set(found.values())) == 3


@pytest.mark.parametrize("bad", ["123456781", "12345678", "1234567822", "abcdefghi", ""])
def test_an_invalid_bsn_is_refused_without_showing_it(bad: str) -> None:
    with pytest.raises(ErasureError) as caught:
        pseudonyms_of(bad, KEYRING)
    if len(bad) >= 4:
        assert bad not in str(caught.value)
    assert "11-proef" in str(caught.value)


def test_the_record_round_trips_and_holds_no_bsn() -> None:
    record = erasure_record("ab" * 32, "k1", "erase", T0, f"case 17 about {BSN}, 123 456 782, 2009-07-13")
    assert record["requested_at"] == T0.replace(microsecond=250_000)
    value = encode("ErasureRecord", record)
    assert BSN.encode() not in value and b"2009-07-13" not in value
    assert decode("ErasureRecord", value) == record
    with pytest.raises(ErasureError):
        erasure_record("ab" * 32, "k1", "delete", T0)  # type: ignore[arg-type]


@given(st.text(max_size=400))
def test_a_reference_is_bounded_printable_and_holds_no_digit_run(text: str) -> None:
    cleaned = clean_reference(text)
    if cleaned is None:
        return
    assert len(cleaned) <= REFERENCE_LIMIT
    assert all(c.isprintable() or c == " " for c in cleaned), cleaned
    digits_in_a_row = 0
    for c in cleaned:
        digits_in_a_row = digits_in_a_row + 1 if c.isdigit() else 0
        assert digits_in_a_row < 8
    encode("ErasureRecord", erasure_record("p", "k", "erase", T0, text))


def test_erase_then_readmit() -> None:
    erasures = ErasureSet()
    assert not erasures.refuses("p") and not erasures.leaves_out("p", "2026-01-01T00:00:00Z")
    erasures.apply("p", erasure_record("p", "k1", "erase", T0))
    assert erasures.refuses("p") and erasures.erased() == {"p"}
    assert erasures.leaves_out("p", "2030-01-01T00:00:00Z")  # every message while erased

    readmitted = T0 + timedelta(days=2)
    erasures.apply("p", erasure_record("p", "k1", "readmit", readmitted))
    assert not erasures.refuses("p") and erasures.erased() == set()
    # messages received before the re-admission stay erased; in its second and after they count
    assert erasures.leaves_out("p", "2026-05-06T09:59:59Z")
    assert not erasures.leaves_out("p", "2026-05-06T10:00:00Z")
    assert not erasures.leaves_out("p", datetime(2026, 6, 1, tzinfo=UTC))

    erasures.apply("p", None)  # a tombstone forgets the entry
    assert len(erasures) == 0 and not erasures.leaves_out("p", "2026-01-01T00:00:00Z")
