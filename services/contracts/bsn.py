"""The BSN format check (iJw CS002): exactly 9 ASCII digits that pass the 11-proef.

Part of the contract, not of validate: the rules, the pseudonymiser, the simulator's test input
(``hubdev.records``) and the tests share one definition of "a valid BSN".
Only ASCII digits count: ``str.isdigit`` would accept e.g. Arabic-Indic digits, which no sending
system means as a BSN.
"""

from __future__ import annotations

import re

_NINE_DIGITS = re.compile(r"[0-9]{9}")
# Weights 9..2 for d1..d8 and -1 for d9 (the BSN variant of the 11-proef).
_WEIGHTS = (9, 8, 7, 6, 5, 4, 3, 2, -1)


def is_nine_digits(value: str) -> bool:
    """True when ``value`` is exactly nine ASCII digits (no whitespace, no sign)."""
    return _NINE_DIGITS.fullmatch(value) is not None


def elfproef_sum(digits: str) -> int:
    """The weighted sum of a 9-digit string; the BSN is valid when it is divisible by 11."""
    if len(digits) == 9 and digits.isascii() and digits.isdigit():
        d = digits.encode("ascii")  # byte values: ord("0") == 48, and the weights add up to 43
        return (
            9 * d[0]
            + 8 * d[1]
            + 7 * d[2]
            + 6 * d[3]
            + 5 * d[4]
            + 4 * d[5]
            + 3 * d[6]
            + 2 * d[7]
            - d[8]
            - 48 * 43
        )
    return sum(weight * int(digit) for weight, digit in zip(_WEIGHTS, digits, strict=True))


def is_valid_bsn(value: str) -> bool:
    """CS002: nine ASCII digits whose weighted sum is divisible by 11.

    Leading zeros are part of the number ("012345672"-style BSNs are valid when the sum works out).
    """
    return is_nine_digits(value) and elfproef_sum(value) % 11 == 0
