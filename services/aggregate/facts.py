"""Per-youth derived facts: everything the regional figures need, and nothing that depends on D.

The streaming service publishes :class:`YouthFacts` as an upsert keyed by youth on a compacted
topic and recomputes the figures whenever the as-of date moves, without new messages; replay builds
the same object from a file. Hence the facts are a pure function of the set of accepted messages
(see :mod:`services.aggregate.timeline`) and serialise to a plain JSON-able dict.

Input, the *validated flat form* of an accepted message: ``message_id``, ``message_type``,
``status`` (``new``/``cancel``), ``cancels_message_id``, ``sender`` (``{"kind", "code"}``),
``created_at``, ``received_at``, ``youth_pseudonym``, ``pseudonym_key_id``, ``birth_year``,
``municipality_code`` and, for ``new`` messages, the body fields of the type as in messages.md.

Derived notions (metrics.md), computed here once because they only depend on the messages' dates:

* transfers: in sort order (start_date, provider_agb, placement_id), P is a transfer from its
  predecessor Q when Q has no end, or ``P.start − Q.end ≤ 7`` days (this includes "Q still open on
  P.start"), and (provider_agb, location_code) differ. Dated P.start, in P's region. Explicit
  ``transfer`` messages and end+start pairs are found by this one rule, so none is counted twice.
* closed-care episodes over the ``gesloten`` placements in that order; an episode's region is its
  first placement's, its clock (start, deadline) never restarts on a transfer inside it. Its end is
  ``None`` while any placement has no end, else the latest end; "open on D" is asked of its
  placements (any open on D), exactly as the spec words it, so a ≤7-day gap between two of its
  stays is not open.
  Episodes are formed from every known placement, also when a replay asks for an as-of date
  before some of them started: the spec defines them on the messages' dates, not on D.
* whether the episode had a perspective in time: a ``perspective_determined`` (of any value, also
  ``anders``: the spec asks only for its date) dated in [start, deadline], or the final placement ended by the deadline towards a stable home. This only
  looks at dates up to the deadline, so it does not depend on D either.

Regions are resolved with the table given to :func:`build_youth_facts` (see ``timeline`` for which
message's municipality decides). The facts therefore depend on the table as well as the messages:
after a table change (municipal mergers, every 1 January) they must be rebuilt from the messages.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from itertools import pairwise
from typing import Any, NamedTuple

from services.aggregate.dates import (
    GAP_DAYS,
    format_optional_date,
    perspective_deadline,
)
from services.aggregate.timeline import Message, Placement, Timeline, build_timeline
from services.contracts.regions import RegionTable
from services.contracts.vocabulary import CLOSED_CARE, RESTRICTIVE_MEASURE_KINDS, STABLE_DESTINATIONS

FACTS_VERSION = 1
"""Bumped whenever the shape or a derivation changes, so stale upserts on the topic are rebuilt."""


class Transfer(NamedTuple):
    date: date
    region: str | None
    between_providers: bool


class Episode(NamedTuple):
    """A run of closed-care stays; ``spans`` are its placements' (start, end) in sort order."""

    start_date: date
    end_date: date | None
    deadline: date
    region: str | None
    final_destination: str | None
    """Destination of the final placement (the one with the latest end); ``None`` while open."""
    perspective_in_time: bool
    spans: tuple[tuple[date, date | None], ...]

    def is_open_on(self, day: date) -> bool:
        """Open while any of its placements is open on ``day``."""
        return any(start <= day and (end is None or end > day) for start, end in self.spans)


class RestrictiveMeasure(NamedTuple):
    kind: str
    start_date: date
    region: str | None


@dataclass(frozen=True, slots=True)
class YouthFacts:
    """Date-independent facts about one youth (keyed by pseudonym)."""

    youth: str
    placements: tuple[Placement, ...]
    """Every placement with a known start, sorted by (start_date, provider_agb, placement_id)."""
    transfers: tuple[Transfer, ...]
    episodes: tuple[Episode, ...]
    perspective_dates: tuple[date, ...]
    """Sorted, distinct."""
    restrictive_measures: tuple[RestrictiveMeasure, ...]

    def has_perspective_between(self, first: date, last: date) -> bool:
        """Is a ``perspective_determined`` dated in [first, last]?"""
        dates = self.perspective_dates
        i = bisect_left(dates, first)
        return i < len(dates) and dates[i] <= last

    def to_dict(self) -> dict[str, Any]:
        """A plain JSON-able dict (dates as ``YYYY-MM-DD``), stable for equal facts."""
        return {
            "v": FACTS_VERSION,
            "youth": self.youth,
            "placements": [
                {
                    "provider_agb": p.provider_agb,
                    "placement_id": p.placement_id,
                    "start_date": p.start_date.isoformat(),
                    "location_code": p.location_code,
                    "care_type": p.care_type,
                    "legal_basis": p.legal_basis,
                    "region": p.region,
                    "end_date": format_optional_date(p.end_date),
                    "end_reason": p.end_reason,
                    "end_destination": p.end_destination,
                }
                for p in self.placements
            ],
            "transfers": [
                {"date": t.date.isoformat(), "region": t.region, "between_providers": t.between_providers}
                for t in self.transfers
            ],
            "episodes": [
                {
                    "start_date": e.start_date.isoformat(),
                    "end_date": format_optional_date(e.end_date),
                    "deadline": e.deadline.isoformat(),
                    "region": e.region,
                    "final_destination": e.final_destination,
                    "perspective_in_time": e.perspective_in_time,
                    "spans": [[s.isoformat(), format_optional_date(x)] for s, x in e.spans],
                }
                for e in self.episodes
            ],
            "perspective_dates": [d.isoformat() for d in self.perspective_dates],
            "restrictive_measures": [
                {"kind": m.kind, "start_date": m.start_date.isoformat(), "region": m.region}
                for m in self.restrictive_measures
            ],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> YouthFacts:
        """Inverse of :meth:`to_dict`; refuses another version rather than misreading it."""
        if data.get("v") != FACTS_VERSION:
            raise ValueError(f"youth facts version {data.get('v')!r}, expected {FACTS_VERSION}")
        day = date.fromisoformat

        def maybe_day(value: str | None) -> date | None:
            return None if value is None else day(value)

        return cls(
            youth=data["youth"],
            placements=tuple(
                [
                    Placement(
                        p["provider_agb"],
                        p["placement_id"],
                        day(p["start_date"]),
                        p["location_code"],
                        p["care_type"],
                        p["legal_basis"],
                        p["region"],
                        maybe_day(p["end_date"]),
                        p["end_reason"],
                        p["end_destination"],
                    )
                    for p in data["placements"]
                ]
            ),
            transfers=tuple(
                [Transfer(day(t["date"]), t["region"], t["between_providers"]) for t in data["transfers"]]
            ),
            episodes=tuple(
                [
                    Episode(
                        day(e["start_date"]),
                        maybe_day(e["end_date"]),
                        day(e["deadline"]),
                        e["region"],
                        e["final_destination"],
                        e["perspective_in_time"],
                        tuple([(day(s), maybe_day(x)) for s, x in e["spans"]]),
                    )
                    for e in data["episodes"]
                ]
            ),
            perspective_dates=tuple([day(d) for d in data["perspective_dates"]]),
            restrictive_measures=tuple(
                [
                    RestrictiveMeasure(m["kind"], day(m["start_date"]), m["region"])
                    for m in data["restrictive_measures"]
                ]
            ),
        )


def derive_transfers(placements: Sequence[Placement]) -> list[Transfer]:
    """Transfers between consecutive placements (all care types); ``placements`` in sort order."""
    transfers: list[Transfer] = []
    for previous, current in pairwise(placements):
        follows = previous.end_date is None or (current.start_date - previous.end_date).days <= GAP_DAYS
        if follows and (
            previous.provider_agb != current.provider_agb or previous.location_code != current.location_code
        ):
            transfers.append(
                Transfer(current.start_date, current.region, previous.provider_agb != current.provider_agb)
            )
    return transfers


def derive_episodes(placements: Sequence[Placement], perspective_dates: Sequence[date]) -> list[Episode]:
    """Group the closed-care placements (in sort order) into episodes."""
    runs: list[list[Placement]] = []
    any_open = False
    latest_end = date.min
    for placement in placements:
        if placement.care_type != CLOSED_CARE:
            continue
        start = placement.start_date
        if runs and (any_open or (start - latest_end).days <= GAP_DAYS):
            runs[-1].append(placement)
        else:
            runs.append([placement])
            any_open, latest_end = False, date.min
        if placement.end_date is None:
            any_open = True
        elif placement.end_date > latest_end:
            latest_end = placement.end_date
    return [_episode(run, perspective_dates) for run in runs]


def _episode(run: Sequence[Placement], perspective_dates: Sequence[date]) -> Episode:
    start = run[0].start_date
    deadline = perspective_deadline(start)
    end: date | None
    final_destination: str | None
    if any(p.end_date is None for p in run):
        end, final_destination = None, None
    else:
        end = max(p.end_date for p in run if p.end_date is not None)
        # Ties go to the later placement in sort order: take the last one with that end.
        final = [p for p in run if p.end_date == end][-1]
        final_destination = final.end_destination
    i = bisect_left(perspective_dates, start)
    in_time = (i < len(perspective_dates) and perspective_dates[i] <= deadline) or (
        end is not None and end <= deadline and final_destination in STABLE_DESTINATIONS
    )
    return Episode(
        start_date=start,
        end_date=end,
        deadline=deadline,
        region=run[0].region,
        final_destination=final_destination,
        perspective_in_time=in_time,
        spans=tuple((p.start_date, p.end_date) for p in run),
    )


def facts_from_timeline(timeline: Timeline) -> YouthFacts:
    return YouthFacts(
        youth=timeline.youth,
        placements=timeline.placements,
        transfers=tuple(derive_transfers(timeline.placements)),
        episodes=tuple(derive_episodes(timeline.placements, timeline.perspective_dates)),
        perspective_dates=timeline.perspective_dates,
        restrictive_measures=tuple(
            RestrictiveMeasure(m.kind, m.start_date, m.region)
            for m in timeline.measures
            if m.kind in RESTRICTIVE_MEASURE_KINDS
        ),
    )


def build_youth_facts(messages: Iterable[Message], regions: RegionTable) -> YouthFacts:
    """One youth's accepted messages (any order, duplicates allowed) → its date-independent facts."""
    return facts_from_timeline(build_timeline(messages, regions))
