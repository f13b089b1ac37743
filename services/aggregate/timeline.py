"""One youth's accepted messages → the placements, measures and perspectives they describe.

The result depends only on the *set* of messages, never on arrival order or duplication, because the
streaming service (arrival order) and ``jeugdhub replay`` (file order) must agree:

* Identity is (``sender.code``, ``message_id``). Copies with that identity are one message. Conflicting
  copies are rejected upstream (``JH030``); should two still reach us, the first to arrive
  (smallest ``received_at``, then canonical JSON) is kept, as the contract says, so the choice stays
  deterministic.
* A ``cancel`` removes the ``new`` message with its ``cancels_message_id`` *from the same sender*;
  it is a set difference computed after collecting everything, so a cancel that arrives before its
  target simply waits for it, and a cancel naming a cancel removes nothing.
* Last writer wins per field of a placement: a message writes the *start fields* (start_date,
  location, care type, legal basis, region) or the *end fields* (end_date, reason, destination) as a
  whole, and per group the latest ``created_at`` wins, ties to the greater ``message_id`` (then the
  greater sender code, only to stay total). A ``transfer`` writes the end fields of the sender's
  from-placement (reason ``38`` between providers, else ``37``; destination ``residentieel``) and the
  start fields of (``to_provider_agb``, ``to_placement_id``), which the receiving provider's own
  ``placement_started`` may also write: one placement, LWW decides.
* A placement whose start never arrived (only an end) is dropped: it has no start date to count.
* A measure is keyed by (``sender.code``, ``measure_id``); the latest message about it replaces the
  rest, same ordering.

Regions: the spec counts every figure about a message in the region of that message's
``municipality_code``. So a placement's region is the region of the message that won its start
fields (a ``transfer`` for its to-placement, else the ``placement_started``): whoever reports the
start of a stay says whose youth it is then. The end fields never move a placement to another
region. A measure's region is that of its winning message. A municipality that is not in the
table (validation rejects those, so only a table swap can cause it) gives region ``None``: the
item still counts nationally, in no region.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

import orjson

from services.aggregate.dates import parse_date, parse_optional_date
from services.contracts.regions import RegionTable

Message = Mapping[str, Any]
"""An accepted message in the validated flat form (see the module docstring of ``facts``)."""

Stamp = tuple[str, str, str]
"""(created_at, message_id, sender code): the last-writer-wins order, total over distinct messages."""

PlacementKey = tuple[str, str]
"""(provider_agb, placement_id)."""

TRANSFER_DESTINATION = "residentieel"
REASON_OTHER_PROVIDER = "38"
REASON_CHANGE_REQUEST = "37"


@dataclass(frozen=True, slots=True)
class Placement:
    """A stay as last written; ``end_*`` are ``None`` while no (surviving) end is known."""

    provider_agb: str
    placement_id: str
    start_date: date
    location_code: str
    care_type: str
    legal_basis: str
    region: str | None
    end_date: date | None
    end_reason: str | None
    end_destination: str | None

    @property
    def sort_key(self) -> tuple[date, str, str]:
        """The spec's order for transfers and episodes: (start_date, provider_agb, placement_id)."""
        return (self.start_date, self.provider_agb, self.placement_id)


@dataclass(frozen=True, slots=True)
class Measure:
    sender_code: str
    measure_id: str
    kind: str
    start_date: date
    end_date: date | None
    placement_id: str | None
    region: str | None


@dataclass(frozen=True, slots=True)
class Timeline:
    """What one youth's surviving messages say, in canonical order."""

    youth: str
    placements: tuple[Placement, ...]
    """Sorted by :attr:`Placement.sort_key`."""
    measures: tuple[Measure, ...]
    """Sorted by (sender_code, measure_id)."""
    perspective_dates: tuple[date, ...]
    """Sorted, without repeats: only the dates matter to the figures."""


@dataclass(frozen=True, slots=True)
class _Start:
    start_date: str
    location_code: str
    care_type: str
    legal_basis: str
    municipality_code: str


@dataclass(frozen=True, slots=True)
class _End:
    end_date: str
    reason: str
    destination: str


def _canonical(message: Message) -> bytes:
    return orjson.dumps(message, option=orjson.OPT_SORT_KEYS)


def _first_arrived(a: Message, b: Message) -> Message:
    """Of two copies with one identity, the one the contract keeps (the first to arrive)."""
    if a == b:
        return a
    key_a = (a.get("received_at") or "", _canonical(a))
    key_b = (b.get("received_at") or "", _canonical(b))
    return a if key_a <= key_b else b


def surviving_messages(messages: Iterable[Message]) -> tuple[str, list[Message]]:
    """Deduplicate and apply cancels; return the youth pseudonym and the live ``new`` messages.

    Raises ``ValueError`` for an empty input or messages of several youth: both are caller bugs,
    and mixing youth would let one youth's cancel remove another's message.
    """
    by_identity: dict[tuple[str, str], Message] = {}
    youth: str | None = None
    for message in messages:
        pseudonym = message["youth_pseudonym"]
        if youth is None:
            youth = pseudonym
        elif pseudonym != youth:
            raise ValueError("build_youth_facts got messages of more than one youth")
        identity = (message["sender"]["code"], message["message_id"])
        known = by_identity.get(identity)
        by_identity[identity] = message if known is None else _first_arrived(known, message)
    if youth is None:
        raise ValueError("build_youth_facts needs at least one message")

    cancelled: set[tuple[str, str]] = set()
    for (sender_code, _), message in by_identity.items():
        if message["status"] == "cancel":
            target_identity = (sender_code, message["cancels_message_id"])
            target = by_identity.get(target_identity)
            if target is not None and target["status"] == "new":
                cancelled.add(target_identity)
    live = [
        message
        for identity, message in by_identity.items()
        if message["status"] == "new" and identity not in cancelled
    ]
    return youth, live


def build_timeline(messages: Iterable[Message], regions: RegionTable) -> Timeline:
    """Fold one youth's accepted messages into placements, measures and perspective dates."""
    youth, live = surviving_messages(messages)
    starts: dict[PlacementKey, tuple[Stamp, _Start]] = {}
    ends: dict[PlacementKey, tuple[Stamp, _End]] = {}
    measures: dict[tuple[str, str], tuple[Stamp, Message]] = {}
    perspectives: set[str] = set()

    def put_start(key: PlacementKey, stamp: Stamp, value: _Start) -> None:
        known = starts.get(key)
        if known is None or known[0] < stamp:
            starts[key] = (stamp, value)

    def put_end(key: PlacementKey, stamp: Stamp, value: _End) -> None:
        known = ends.get(key)
        if known is None or known[0] < stamp:
            ends[key] = (stamp, value)

    for message in live:
        sender_code: str = message["sender"]["code"]
        stamp: Stamp = (message["created_at"], message["message_id"], sender_code)
        kind = message["message_type"]
        if kind == "placement_started":
            put_start(
                (message["provider_agb"], message["placement_id"]),
                stamp,
                _Start(
                    message["start_date"],
                    message["location_code"],
                    message["care_type"],
                    message["legal_basis"],
                    message["municipality_code"],
                ),
            )
        elif kind == "placement_ended":
            put_end(
                (sender_code, message["placement_id"]),
                stamp,
                _End(message["end_date"], message["reason"], message["destination"]),
            )
        elif kind == "transfer":
            to_provider: str = message["to_provider_agb"]
            reason = REASON_OTHER_PROVIDER if to_provider != sender_code else REASON_CHANGE_REQUEST
            put_end(
                (sender_code, message["from_placement_id"]),
                stamp,
                _End(message["transfer_date"], reason, TRANSFER_DESTINATION),
            )
            put_start(
                (to_provider, message["to_placement_id"]),
                stamp,
                _Start(
                    message["transfer_date"],
                    message["to_location_code"],
                    message["to_care_type"],
                    message["to_legal_basis"],
                    message["municipality_code"],
                ),
            )
        elif kind == "measure":
            measure_key = (sender_code, message["measure_id"])
            known_measure = measures.get(measure_key)
            if known_measure is None or known_measure[0] < stamp:
                measures[measure_key] = (stamp, message)
        elif kind == "perspective_determined":
            perspectives.add(message["determined_date"])
        # Any other type is not in the contract and carries no figure.

    region_of = regions.region_of
    placements: list[Placement] = []
    for (provider_agb, placement_id), (_, start) in starts.items():
        end = ends.get((provider_agb, placement_id))
        end_value = None if end is None else end[1]
        placements.append(
            Placement(
                provider_agb=provider_agb,
                placement_id=placement_id,
                start_date=parse_date(start.start_date),
                location_code=start.location_code,
                care_type=start.care_type,
                legal_basis=start.legal_basis,
                region=region_of(start.municipality_code),
                end_date=None if end_value is None else parse_date(end_value.end_date),
                end_reason=None if end_value is None else end_value.reason,
                end_destination=None if end_value is None else end_value.destination,
            )
        )
    placements.sort(key=lambda p: (p.start_date, p.provider_agb, p.placement_id))

    measure_list = [
        Measure(
            sender_code=sender_code,
            measure_id=measure_id,
            kind=message["kind"],
            start_date=parse_date(message["start_date"]),
            end_date=parse_optional_date(message.get("end_date")),
            placement_id=message.get("placement_id"),
            region=region_of(message["municipality_code"]),
        )
        for (sender_code, measure_id), (_, message) in sorted(measures.items())
    ]
    return Timeline(
        youth=youth,
        placements=tuple(placements),
        measures=tuple(measure_list),
        perspective_dates=tuple(parse_date(d) for d in sorted(perspectives)),
    )
