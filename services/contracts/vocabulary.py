"""The contract's words that the code names, each defined once: sender kinds, raw formats, the
restrictive measure kinds, closed care and the stable destinations.

Every word is a symbol of an enum in the ``.avsc`` files and is checked against it at import
(through the schema registry), so a renamed symbol fails at start instead of becoming a figure that
silently stays 0. ``typing.Literal`` types must be written out for the type checker;
tests/unit/contracts/test_vocabulary.py holds them equal to the whole enums. The raw topic's key
(``"<sender code>:<message_id>"``) is :func:`services.contracts.topics.dedup_key`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal, cast, get_args

from services.contracts.schemas import NAMESPACE, registry


def enum_symbols(name: str) -> tuple[str, ...]:
    """The symbols of the contract enum ``name`` (``"MeasureKind"``), in schema order."""
    return tuple(registry().named[f"{NAMESPACE}.{name}"]["symbols"])


def _subset(enum: str, words: Iterable[str]) -> tuple[str, ...]:
    """``words`` as a tuple, each of them a symbol of ``enum`` (else the import fails)."""
    symbols = enum_symbols(enum)
    chosen = tuple(words)
    unknown = [word for word in chosen if word not in symbols]
    if unknown:
        raise ValueError(f"{', '.join(unknown)} not in the {enum} enum of the schema ({', '.join(symbols)})")
    return chosen


SenderKind = Literal["provider", "municipality"]
SENDER_KINDS: tuple[SenderKind, ...] = cast(
    "tuple[SenderKind, ...]", _subset("SenderKind", get_args(SenderKind))
)
"""Who sends: a provider (code is an AGB code) or a municipality (code is a gemeentecode)."""

RawFormat = Literal["json", "avro"]
RAW_FORMATS: tuple[RawFormat, ...] = cast("tuple[RawFormat, ...]", _subset("RawFormat", get_args(RawFormat)))
"""How the payload of a raw record is encoded."""

RESTRICTIVE_MEASURE_KINDS = _subset(
    "MeasureKind", ("afzondering", "separatie", "fixatie", "insluiting_eigen_kamer")
)
"""The measure kinds counted as restrictive (vrijheidsbeperkend), in the order the figures list them."""

CLOSED_CARE = _subset("CareType", ("gesloten",))[0]
"""JeugdzorgPlus: the care type the closed-care figures count."""

STABLE_DESTINATIONS = frozenset(
    _subset("Destination", ("thuis", "pleeggezin", "gezinshuis", "kleinschalig_wonen", "zelfstandig"))
)
"""Discharge destinations that count as a stable living perspective (discharged in time)."""
