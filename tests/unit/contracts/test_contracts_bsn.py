"""CS002's 11-proef on its own: known numbers, leading zeros and the one-digit-change property."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.contracts.bsn import elfproef_sum, is_nine_digits, is_valid_bsn

VALID = ["123456782", "111222333", "999999990", "012345672", "000000012", "991079693"]
INVALID_CHECKSUM = ["123456789", "992540599", "111222334", "012345671", "999999999"]
MALFORMED = [
    "",
    "12345678",  # 8 digits
    "1234567820",  # 10 digits
    "12345678a",
    " 23456782",
    "123456782 ",
    "123456782\n",
    "+23456782",
    "１２３４５６７８２",  # full-width digits: str.isdigit() says yes, the contract says no
]


@pytest.mark.parametrize("bsn", VALID)
def test_known_valid_bsns_pass(bsn: str) -> None:
    assert is_valid_bsn(bsn)


@pytest.mark.parametrize("bsn", INVALID_CHECKSUM)
def test_known_invalid_bsns_fail_the_elfproef(bsn: str) -> None:
    assert is_nine_digits(bsn)
    assert not is_valid_bsn(bsn)


@pytest.mark.parametrize("bsn", MALFORMED)
def test_malformed_values_are_not_bsns(bsn: str) -> None:
    assert not is_nine_digits(bsn)
    assert not is_valid_bsn(bsn)


def test_leading_zeros_count_as_digits() -> None:
    # 0*9 + 1*8 + 2*7 + 3*6 + 4*5 + 5*4 + 6*3 + 7*2 - 2 = 110 = 10 * 11
    assert elfproef_sum("012345672") == 110
    assert is_valid_bsn("012345672")


_WEIGHTS = (9, 8, 7, 6, 5, 4, 3, 2)


@st.composite
def valid_bsns(draw: st.DrawFn) -> str:
    """Eight random digits, then the ninth digit that makes the 11-proef work.

    When the needed ninth digit would be 10, the first digit is changed by one (which moves the sum
    by 9 or 81, neither a multiple of 11), after which a digit always exists.
    """
    head = draw(st.lists(st.integers(0, 9), min_size=8, max_size=8))
    if sum(w * d for w, d in zip(_WEIGHTS, head, strict=True)) % 11 == 10:
        head[0] = (head[0] + 1) % 10
    last = sum(w * d for w, d in zip(_WEIGHTS, head, strict=True)) % 11
    assert last < 10
    return "".join(map(str, head)) + str(last)


@given(valid_bsns())
def test_generated_bsns_pass(bsn: str) -> None:
    assert is_valid_bsn(bsn)


@given(valid_bsns(), st.integers(0, 8), st.integers(1, 9))
def test_changing_one_digit_always_fails(bsn: str, position: int, delta: int) -> None:
    # Every weight is 1..9 and so is every change: their product is never a multiple of 11.
    digits = list(bsn)
    digits[position] = str((int(digits[position]) + delta) % 10)
    assert not is_valid_bsn("".join(digits))
