"""The vocabulary is the schema's: each word list equals (or lies within) its ``.avsc`` enum."""

from __future__ import annotations

from typing import get_args

import pytest

from services.contracts import vocabulary
from services.contracts.vocabulary import (
    CLOSED_CARE,
    RAW_FORMATS,
    RESTRICTIVE_MEASURE_KINDS,
    SENDER_KINDS,
    STABLE_DESTINATIONS,
    RawFormat,
    SenderKind,
    enum_symbols,
)


def test_literal_types_equal_their_schema_enums() -> None:
    assert SENDER_KINDS == get_args(SenderKind) == enum_symbols("SenderKind")
    assert RAW_FORMATS == get_args(RawFormat) == enum_symbols("RawFormat")


def test_restrictive_kinds_are_the_last_four_measure_kinds_in_schema_order() -> None:
    # MeasureKind's doc: "Legal kinds (first five) and restrictive kinds (last four)".
    assert enum_symbols("MeasureKind")[5:] == RESTRICTIVE_MEASURE_KINDS


def test_closed_care_and_stable_destinations_are_schema_symbols() -> None:
    assert CLOSED_CARE == "gesloten"
    assert CLOSED_CARE in enum_symbols("CareType")
    assert set(enum_symbols("Destination")) > STABLE_DESTINATIONS
    assert {"residentieel", "jeugdinrichting", "onbekend"}.isdisjoint(STABLE_DESTINATIONS)


def test_a_word_missing_from_its_enum_is_refused() -> None:
    with pytest.raises(ValueError, match="isolatie not in the MeasureKind enum"):
        vocabulary._subset("MeasureKind", ("separatie", "isolatie"))
