"""The public form of the figures (metrics.md, "Public figures (v1.1)").

The exact figures are for the regulator only; anything published more widely goes through
:func:`public_row`. It is a function of one exact row and nothing else, so the public form of a
region can never be recomputed from (or differ between) sources that agree on the exact figures,
and the streaming publisher, ``replay --public``, ``history --public`` and the report cannot
disagree about it.

- every count ``c`` (each restrictive kind, cohorts and ``overdue_without_perspective`` included)
  becomes ``0`` when ``c = 0``, ``null`` when ``1 ≤ c ≤ 4``, else ``c`` rounded to the nearest
  multiple of 5 (no ties: ``c mod 5`` is never 2.5);
- ``perspective_in_time_rate`` is ``null`` when the *exact* ``perspective_cohort_12m`` is below 10,
  ``median_length_of_stay_days_12m`` ``null`` when the *exact* ``episodes_ended_12m`` is below 10;
- ``suppressed`` names every field that the public form nulled although its exact value was not
  null (a restrictive kind as ``restrictive_measures_12m.<kind>``), in field order. A rate or
  median that is already null in the exact row (its cohort is 0, so there is nothing to hide) is
  not listed: its public cohort reads ``0``, which says why.

A row must have exactly the keys of :data:`FIGURE_KEYS` (and the restrictive kinds of the
vocabulary); anything else raises :class:`ValueError` rather than pass an unknown exact value on.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from services.aggregate.figures import FIGURE_KEYS
from services.contracts.vocabulary import RESTRICTIVE_MEASURE_KINDS

SMALL_COUNT_MAX = 4
"""Counts from 1 to this are suppressed."""
ROUND_TO = 5
MIN_RATE_COHORT = 10
"""``perspective_in_time_rate`` is shown only for an exact cohort of at least this many episodes."""
MIN_MEDIAN_EPISODES = 10
"""``median_length_of_stay_days_12m`` is shown only over at least this many ended episodes."""

RATE_KEY = "perspective_in_time_rate"
MEDIAN_KEY = "median_length_of_stay_days_12m"
MEASURES_KEY = "restrictive_measures_12m"
COUNT_KEYS = tuple(k for k in FIGURE_KEYS if k not in ("region", RATE_KEY, MEDIAN_KEY, MEASURES_KEY))
"""The plain integer figures, in :data:`FIGURE_KEYS` order."""
PUBLIC_KEYS = (*FIGURE_KEYS, "suppressed")


def public_count(c: int) -> int | None:
    """0 -> 0, 1..4 -> None, otherwise the nearest multiple of 5 (7 -> 5, 8 -> 10, 12 -> 10, 13 -> 15)."""
    if isinstance(c, bool) or not isinstance(c, int):
        raise ValueError(f"a count must be an int, got {c!r}")
    if c < 0:
        raise ValueError(f"a count cannot be negative, got {c}")
    if c == 0:
        return 0
    if c <= SMALL_COUNT_MAX:
        return None
    return (c + ROUND_TO // 2) // ROUND_TO * ROUND_TO


def public_row(row: Mapping[str, Any]) -> dict[str, Any]:
    """The public form of one exact figures row: keys in :data:`FIGURE_KEYS` order, then ``suppressed``."""
    keys = set(row)
    if keys != set(FIGURE_KEYS):
        missing, extra = sorted(set(FIGURE_KEYS) - keys), sorted(keys - set(FIGURE_KEYS))
        raise ValueError(f"not a figures row: missing {missing}, unexpected {extra}")
    measures = row[MEASURES_KEY]
    if not isinstance(measures, Mapping) or set(measures) != set(RESTRICTIVE_MEASURE_KINDS):
        raise ValueError(
            f"{MEASURES_KEY} must hold exactly {list(RESTRICTIVE_MEASURE_KINDS)}, got {measures!r}"
        )

    suppressed: list[str] = []
    out: dict[str, Any] = {"region": row["region"]}
    for key in FIGURE_KEYS[1:]:
        if key == RATE_KEY:
            out[key] = _shown_if(row, key, row["perspective_cohort_12m"] >= MIN_RATE_COHORT, suppressed)
        elif key == MEDIAN_KEY:
            out[key] = _shown_if(row, key, row["episodes_ended_12m"] >= MIN_MEDIAN_EPISODES, suppressed)
        elif key == MEASURES_KEY:
            public_measures: dict[str, int | None] = {}
            for kind in RESTRICTIVE_MEASURE_KINDS:
                public_measures[kind] = public_count(measures[kind])
                if public_measures[kind] is None:
                    suppressed.append(f"{MEASURES_KEY}.{kind}")
            out[key] = public_measures
        else:
            out[key] = public_count(row[key])
            if out[key] is None:
                suppressed.append(key)
    out["suppressed"] = suppressed
    return out


def _shown_if(row: Mapping[str, Any], key: str, shown: bool, suppressed: list[str]) -> Any:
    value = row[key]
    if shown or value is None:
        return value
    suppressed.append(key)
    return None


def public_document(doc: Mapping[str, Any]) -> dict[str, Any]:
    """A replay-shaped document with every region row in its public form.

    Its other keys (``as_of`` and the message counts ``accepted``, ``rejected``, ``duplicates``,
    which count input lines, not youth) are kept: they say what the figures were computed from.
    """
    return {**doc, "regions": [public_row(row) for row in doc["regions"]]}
