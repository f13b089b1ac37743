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
region. A measure's region is that of its winning message. The municipality's region is the one it
had on that message's event date (``RegionTable.region_on`` with the placement's start date, the
measure's start date), so a merger never moves earlier stays. A municipality that is not in the
table on that date (validation rejects those, so only a table swap can cause it) gives region
``None``: the item still counts nationally, in no region.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any, NamedTuple

import orjson

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


class Placement(NamedTuple):
    """A stay as last written; ``end_*`` are ``None`` while no (surviving) end is known.

    Named tuples, not frozen dataclasses, for the many small records: immutable all the same, and
    several times cheaper to create, which matters at tens of thousands of messages a second.
    """

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


class Measure(NamedTuple):
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
    """Sorted by (start_date, provider_agb, placement_id), the spec's order for transfers and episodes."""
    measures: tuple[Measure, ...]
    """Sorted by (sender_code, measure_id)."""
    perspective_dates: tuple[date, ...]
    """Sorted, without repeats: only the dates matter to the figures."""


_Start = tuple[str, str, str, str, str]
"""start_date, location_code, care_type, legal_basis, municipality_code of the writing message."""

_End = tuple[str, str, str]
"""end_date, reason, destination."""


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

    for message in live:
        sender_code: str = message["sender"]["code"]
        stamp: Stamp = (message["created_at"], message["message_id"], sender_code)
        kind = message["message_type"]
        if kind == "placement_started":
            key = (message["provider_agb"], message["placement_id"])
            known_start = starts.get(key)
            if known_start is None or known_start[0] < stamp:
                starts[key] = (
                    stamp,
                    (
                        message["start_date"],
                        message["location_code"],
                        message["care_type"],
                        message["legal_basis"],
                        message["municipality_code"],
                    ),
                )
        elif kind == "placement_ended":
            key = (sender_code, message["placement_id"])
            known_end = ends.get(key)
            if known_end is None or known_end[0] < stamp:
                ends[key] = (stamp, (message["end_date"], message["reason"], message["destination"]))
        elif kind == "transfer":
            transfer_date: str = message["transfer_date"]
            to_provider: str = message["to_provider_agb"]
            transfer_reason = REASON_OTHER_PROVIDER if to_provider != sender_code else REASON_CHANGE_REQUEST
            key = (sender_code, message["from_placement_id"])
            known_end = ends.get(key)
            if known_end is None or known_end[0] < stamp:
                ends[key] = (stamp, (transfer_date, transfer_reason, TRANSFER_DESTINATION))
            key = (to_provider, message["to_placement_id"])
            known_start = starts.get(key)
            if known_start is None or known_start[0] < stamp:
                starts[key] = (
                    stamp,
                    (
                        transfer_date,
                        message["to_location_code"],
                        message["to_care_type"],
                        message["to_legal_basis"],
                        message["municipality_code"],
                    ),
                )
        elif kind == "measure":
            key = (sender_code, message["measure_id"])
            known_measure = measures.get(key)
            if known_measure is None or known_measure[0] < stamp:
                measures[key] = (stamp, message)
        elif kind == "perspective_determined":
            perspectives.add(message["determined_date"])
        # Any other type is not in the contract and carries no figure.

    # A region is the municipality's on the event date of the message that wrote it (regions'
    # EVENT_DATE_FIELD): a placement's start date (placement_started.start_date or
    # transfer.transfer_date), a measure's start_date. Validate's S300 asks region_on the same.
    region_on = regions.region_on
    parse = date.fromisoformat
    placements: list[Placement] = []
    end_date: date | None
    reason: str | None
    destination: str | None
    for key, (_, (start_date, location_code, care_type, legal_basis, municipality)) in starts.items():
        end = ends.get(key)
        if end is None:
            end_date = reason = destination = None
        else:
            end_text, reason, destination = end[1]
            end_date = parse(end_text)
        start = parse(start_date)
        placements.append(
            Placement(
                key[0],
                key[1],
                start,
                location_code,
                care_type,
                legal_basis,
                region_on(municipality, start),
                end_date,
                reason,
                destination,
            )
        )
    placements.sort(key=_placement_order)

    measure_list: list[Measure] = []
    for (sender_code, measure_id), (_, message) in sorted(measures.items()):
        measure_end = message.get("end_date")
        measure_start = parse(message["start_date"])
        measure_list.append(
            Measure(
                sender_code,
                measure_id,
                message["kind"],
                measure_start,
                None if measure_end is None else parse(measure_end),
                message.get("placement_id"),
                region_on(message["municipality_code"], measure_start),
            )
        )
    return Timeline(
        youth=youth,
        placements=tuple(placements),
        measures=tuple(measure_list),
        perspective_dates=tuple(parse(d) for d in sorted(perspectives)),
    )


Kept = tuple[str | None, ...]
"""An accepted message reduced to what :func:`build_timeline` reads (:func:`keep_message`):
``(status, message_type, created_at, message_id, sender code, *fields)``, the fields those of
:data:`KEPT_FIELDS` for the message's type (of :data:`KEPT_CANCEL_FIELDS` for a cancel)."""

KEPT_FIELDS: dict[str, tuple[str, ...]] = {
    "placement_started": (
        "provider_agb",
        "placement_id",
        "start_date",
        "location_code",
        "care_type",
        "legal_basis",
        "municipality_code",
    ),
    "placement_ended": ("placement_id", "end_date", "reason", "destination"),
    "transfer": (
        "transfer_date",
        "to_provider_agb",
        "from_placement_id",
        "to_placement_id",
        "to_location_code",
        "to_care_type",
        "to_legal_basis",
        "municipality_code",
    ),
    "measure": ("measure_id", "kind", "start_date", "end_date", "placement_id", "municipality_code"),
    "perspective_determined": ("determined_date",),
}
"""The body fields :func:`build_timeline` reads per message type (a type not here carries no figure)."""

KEPT_CANCEL_FIELDS = ("cancels_message_id",)


def _kept_names(status: str | None, message_type: str | None) -> tuple[str, ...]:
    if status == "cancel":
        return KEPT_CANCEL_FIELDS
    return KEPT_FIELDS.get(message_type or "", ())


def keep_message(message: Message, shared: dict[str, str]) -> Kept:
    """The compact form of an accepted message for a caller that keeps many until the end
    (``jeugdhub replay``): a tuple of the values the timeline reads, about a third of the flat
    dict's memory. Repeated values (status, type, sender, codes, dates) become one string object
    through ``shared``; ``created_at`` and ``message_id`` are (nearly) unique and kept as they are.

    The youth and ``received_at`` are not kept: the caller keys the records by youth, and
    ``received_at`` only orders two accepted copies of one identity, which a caller that keeps
    one accepted message per (sender code, message_id), as validate's duplicate table does, never has.
    """
    status: str | None = message.get("status")
    message_type: str | None = message.get("message_type")
    head: list[str | None] = [status, message_type, message["sender"]["code"]]
    values: list[str | None] = [shared.setdefault(v, v) if v is not None else None for v in head]
    for name in _kept_names(status, message_type):
        value: str | None = message.get(name)
        if value is not None and name != "cancels_message_id":
            value = shared.setdefault(value, value)
        values.append(value)
    return (values[0], values[1], message["created_at"], message["message_id"], *values[2:])


def kept_as_message(youth: str, kept: Kept) -> dict[str, Any]:
    """The flat message :func:`build_timeline` reads back from :func:`keep_message`'s tuple: the
    same figures as the original (only the fields the timeline reads are there)."""
    status, message_type = kept[0], kept[1]
    message: dict[str, Any] = {
        "youth_pseudonym": youth,
        "status": status,
        "message_type": message_type,
        "created_at": kept[2],
        "message_id": kept[3],
        "sender": {"code": kept[4]},
    }
    i = 5
    for name in _kept_names(status, message_type):
        message[name] = kept[i]
        i += 1
    return message


def _placement_order(placement: Placement) -> tuple[date, str, str]:
    return (placement.start_date, placement.provider_agb, placement.placement_id)
