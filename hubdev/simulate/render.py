"""Careers → canonical-JSON messages, with the quirks of a real national feed.

For each career the renderer first writes the *clean* account of what happened (drafts: a creation
time and a message), then sends it the way real systems do: late reports, nightly batches, slow or
retried deliveries, exact re-sends, corrections (cancel + new), re-sent ends without a cancel,
double registrations that are cancelled, transfers reported by both providers, measures updated
with their end date, and a configurable share of messages that break a validation rule (made by
:mod:`hubdev.simulate.invalid`).

Whatever the quirks, the set of *accepted* messages always describes the planned careers, so the
figures of ``jeugdhub replay`` follow the plan (and the closed-care calibration holds). Every
delivered message has a delivery time; the feed is written in delivery order, which is not the
``created_at`` order.

Three random streams keep concerns apart: ``content`` (what happened and its message ids),
``quirks`` (transport and corrections) and ``invalid`` (rule breaks). Changing ``--invalid-share``
therefore leaves every valid line as it was.
"""

from __future__ import annotations

import json
import math
import random
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from operator import itemgetter
from typing import Any

import orjson

from hubdev.simulate.calibration import (
    BOTH_WAYS_BETWEEN,
    BOTH_WAYS_WITHIN,
    CANCEL_OF_CANCEL_SHARE,
    CLOSED,
    CORRECTION_SHARE,
    DESTINATION_OF_CARE,
    FOSTER,
    LATE_TARGET_SHARE,
    MEASURE_END_UPDATE_SHARE,
    MUNICIPALITY_SENDS_LEGAL,
    MUNICIPALITY_SENDS_PERSPECTIVE,
    OTS_SHARE_CLOSED,
    PERSPECTIVE_LATE_SHARE,
    PERSPECTIVE_OF_DESTINATION,
    PERSPECTIVE_SHARE_CLOSED,
    PERSPECTIVE_SHARE_OTHER,
    PHANTOM_SHARE,
    RESEND_END_SHARE,
    RESTRICTIVE_RATES_PER_MONTH,
    VOOGDIJ_SHARE_FOSTER,
    restrictive_trend,
)
from hubdev.simulate.invalid import InvalidMaker
from hubdev.simulate.plan import Calendar, Career, Stay
from hubdev.simulate.world import (
    BsnAllocator,
    Numbering,
    Provider,
    Table,
    UuidSource,
    World,
    between,
    uuid_from,
)

DAY = 86_400
Message = dict[str, Any]


def _dumps(message: Message) -> bytes:
    """The message's line, newline included: orjson's output copied into an exactly sized object.

    orjson writes into a buffer of at least a kilobyte and shrinks it in place, so every line we
    keep (lines wait in memory until their delivery day) would pin fresh heap pages: about two page
    faults per message, most of the cost of a message on a VM. Appending the newline makes the
    compact copy (cheaper than any other copy of a bytes object) and saves a join when writing.
    """
    return orjson.dumps(message) + b"\n"


_ANY_QUIRK = CORRECTION_SHARE + max(PHANTOM_SHARE, RESEND_END_SHARE)
"""A quirk draw at or above this sends the message plainly (the common case, decided first)."""

Delivered = tuple[int, bytes, Mapping[str, str]]
"""(delivery second, line ending in its newline, sender): how lines travel inside the generator."""

LATE_START, LATE_END = 0.05, 0.1
"""Shares of starts and ends reported more than a week late (8 to 60 days)."""
RESTRICTIVE = 1
NO_SHIFT = 2
"""Draft flags: a restrictive measure (not part of an initial load); a message whose later update
must stay later (a correction would move it past the update)."""

_PERSPECTIVES = Table((("thuis", 30), ("kleinschalig_wonen", 20), ("zelfstandig", 15), ("gezinshuis", 10),
                       ("pleeggezin", 10), ("anders", 15)))  # fmt: skip
_ALL_DESTINATIONS = ("thuis", "pleeggezin", "gezinshuis", "kleinschalig_wonen", "zelfstandig", "residentieel",
                     "jeugdinrichting", "onbekend")  # fmt: skip
_ALL_REASONS = ("20", "31", "32", "33", "34", "35", "36", "39")
_LEGAL_BASES = ("machtiging", "voorlopige_machtiging", "spoedmachtiging", "vrijwillig", "strafrechtelijk")
_RESTRICTIVE_KINDS = tuple(RESTRICTIVE_RATES_PER_MONTH)
_LEGAL_KINDS = ("machtiging_gesloten_jeugdhulp", "voorlopige_machtiging", "spoedmachtiging",
                "ondertoezichtstelling", "voogdij")  # fmt: skip


@dataclass
class FeedStats:
    """What the feed holds, by the outcome validation should give each line."""

    valid: int = 0
    duplicates: int = 0
    invalid: int = 0
    not_json: int = 0
    invalid_by_code: dict[str, int] = field(default_factory=dict)
    message_types: dict[str, int] = field(default_factory=dict)
    cancels: int = 0
    care_types: dict[str, int] = field(default_factory=dict)
    careers: int = 0
    initial_load: int = 0

    @property
    def lines(self) -> int:
        return self.valid + self.duplicates + self.invalid

    @classmethod
    def total(cls, parts: Iterable[FeedStats]) -> FeedStats:
        """The stats of a feed made of ``parts`` (its shards)."""
        out = cls()
        for part in parts:
            for name in ("valid", "duplicates", "invalid", "not_json", "cancels", "careers", "initial_load"):
                setattr(out, name, getattr(out, name) + getattr(part, name))
            for name in ("invalid_by_code", "message_types", "care_types"):
                into: dict[str, int] = getattr(out, name)
                for key, count in getattr(part, name).items():
                    into[key] = into.get(key, 0) + count
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "lines": self.lines,
            "valid": self.valid,
            "duplicates": self.duplicates,
            "invalid": self.invalid,
            "not_json": self.not_json,
            "invalid_by_code": dict(sorted(self.invalid_by_code.items())),
            "message_types": dict(sorted(self.message_types.items())),
            "cancels": self.cancels,
            "care_types": dict(sorted(self.care_types.items())),
            "careers": self.careers,
            "initial_load": self.initial_load,
        }


class Outbox:
    """Rendered lines by delivery day, until the feed releases a day (in delivery order).

    The feed releases day *d* only once no career can still deliver on it; a line for a day
    already released (which cannot happen by construction) goes to the next day, so none is lost.
    """

    def __init__(self, released_until: int) -> None:
        self.released_until = released_until
        self._days: dict[int, list[Delivered]] = {}

    def add(self, delivery: int, line: bytes, sender: Mapping[str, str]) -> None:
        day = delivery // DAY
        if day <= self.released_until:
            day = self.released_until + 1
        bucket = self._days.get(day)
        if bucket is None:
            self._days[day] = bucket = []
        bucket.append((delivery, line, sender))

    def release(self, day: int) -> list[Delivered]:
        """Day ``day``'s lines in delivery order; equal seconds keep the order they were made in."""
        self.released_until = day
        bucket = self._days.pop(day, None)
        if not bucket:
            return []
        bucket.sort(key=_delivery_second)
        return bucket

    def pending_days(self) -> list[int]:
        return sorted(self._days)


_delivery_second = itemgetter(0)
"""The sort key of delivered lines (C, not a compiled function called through its Python wrapper)."""


def _poisson(random: Callable[[], float], mean: float) -> int:
    """Knuth's method: fine for the small means of measures per stay."""
    limit = math.exp(-mean)
    count, product = 0, random()
    while product > limit:
        count += 1
        product *= random()
    return count


class Renderer:
    """Turns careers into lines put in ``outbox``; keeps the :class:`FeedStats`."""

    def __init__(
        self,
        *,
        seed: int,
        world: World,
        calendar: Calendar,
        origin: int,
        last_day: int,
        invalid_share: float,
        duplicate_share: float,
        outbox: Outbox,
        numbering: Numbering,
        shard: int = 0,
        shards: int = 1,
    ) -> None:
        self.world = world
        self.calendar = calendar
        self.origin = origin
        self.origin_second = origin * DAY
        self.last_day = last_day
        self.end_second = (last_day + 1) * DAY - 1
        self.outbox = outbox
        self.numbering = numbering
        self._stats = FeedStats()
        content = random.Random(f"{seed}/content/{shard}")
        quirks = random.Random(f"{seed}/quirks/{shard}")
        self._random = content.random
        self._ids = UuidSource(random.Random(f"{seed}/ids/{shard}"))
        self._q = quirks.random
        self._qbytes = quirks.randbytes
        self._days = calendar.day_strings
        self._base = calendar.base
        self._prefixes, self._suffixes = calendar.timestamp_tables()
        self.duplicate_share = duplicate_share
        self.invalid = InvalidMaker(
            random.Random(f"{seed}/invalid/{shard}"), world, calendar, invalid_share, duplicate_share
        )
        self._duplicate_or_invalid = duplicate_share + self.invalid.probability
        self._types: dict[str, int] = {}
        self._care_types: Counter[str] = Counter()
        self._bsn = BsnAllocator(seed, shard, shards)
        self._providers = {p.agb: p for p in world.providers}

    @property
    def stats(self) -> FeedStats:
        """The counts so far (message and care types are tallied while rendering)."""
        self._stats.message_types = dict(sorted(self._types.items()))
        self._stats.care_types = dict(self._care_types)
        self._stats.valid = sum(self._types.values())
        return self._stats

    # -- small helpers -----------------------------------------------------------------------
    def _quuid(self) -> str:
        return uuid_from(self._qbytes(16))

    def _created(self, event: int, late_share: float, batch: bool) -> int:
        """When a system reports an event: mostly the same or next day, some weeks late.

        One uniform draw picks the lag class and, rescaled, the lag within it; a second the time of
        day (office hours, or a nightly batch between 01:00 and 04:00 the day after).
        """
        random = self._random
        r = random()
        same_day = 0.55 - late_share
        if r < same_day:
            lag = 0
        elif r < same_day + 0.2:
            lag = 1
        elif r < 1 - late_share:
            lag = 2 + int((r - same_day - 0.2) * 24)  # the class is 0.25 wide: lags 2..7
        else:
            lag = 8 + int((r - 1 + late_share) / late_share * 53) if late_share else 8
        if batch:
            return (event + (lag or 1)) * DAY + 3_600 + int(random() * 10_800)
        return (event + lag) * DAY + 25_200 + int(random() * 43_200)

    def _delay(self) -> int:
        """Transport: most messages arrive within minutes, some within hours, a few weeks late."""
        r = self._q()
        if r < 0.9:
            return int(r * 333)
        if r < 0.97:
            return 300 + int((r - 0.9) * 617_000)
        return DAY + int((r - 0.97) * 57_600_000)

    # -- drafts ------------------------------------------------------------------------------
    def render(self, career: Career) -> None:
        """Draft every message about ``career``, then send them with their quirks."""
        self._stats.careers += 1
        random = self._random
        days, base = self._days, self._base
        last_day = self.last_day
        envelope = {
            "bsn": self._bsn.allocate(),
            "birth_date": date.fromordinal(career.birth).isoformat(),
            "municipality_code": career.municipality,
        }
        stays = career.stays
        # Stays after the feed's last day send nothing and need no reference.
        numbering = self.numbering
        ids = [
            numbering.placement_id(s.provider, days[s.start - base]) if s.start <= last_day else ""
            for s in stays
        ]
        drafts: list[tuple[int, Message, int]] = []
        for i, stay in enumerate(stays):
            if stay.start > last_day:
                break
            provider = stay.provider
            previous = stays[i - 1] if i else None
            following = stays[i + 1] if i + 1 < len(stays) else None
            if previous is not None and stay.link == "transfer":
                drafts.append((self._created(stay.start, LATE_START, previous.provider.batch_sender),
                               self._transfer(envelope, previous.provider, ids[i - 1], stay, ids[i]), 0))  # fmt: skip
                both = BOTH_WAYS_WITHIN if previous.provider is provider else BOTH_WAYS_BETWEEN
                if random() < both:
                    drafts.append((self._created(stay.start, LATE_START, provider.batch_sender),
                                   self._started(envelope, provider, ids[i], stay), 0))  # fmt: skip
            else:
                drafts.append((self._created(stay.start, LATE_START, provider.batch_sender),
                               self._started(envelope, provider, ids[i], stay), 0))  # fmt: skip
            self._care_types[stay.care_type] += 1
            if stay.end <= last_day and (following is None or following.link != "transfer"):
                if following is not None and following.link == "pair":
                    reason = "38" if following.provider is not provider else "37"
                    destination = DESTINATION_OF_CARE[following.care_type]
                else:
                    reason, destination = stay.discharge_reason, stay.discharge_destination
                message = {
                    "message_id": self._ids.take(),
                    "message_type": "placement_ended",
                    "status": "new",
                    "cancels_message_id": None,
                    "sender": provider.sender,
                    "created_at": None,
                    **envelope,
                    "placement_id": ids[i],
                    "end_date": days[stay.end - base],
                    "reason": reason,
                    "destination": destination,
                }
                drafts.append((self._created(stay.end, LATE_END, provider.batch_sender), message, 0))
            if stay.care_type == CLOSED:
                self._restrictive(drafts, envelope, stay, ids[i])
        if career.closed:
            self._closed_episodes(drafts, envelope, career, ids)
        else:
            self._other_measures(drafts, envelope, career, ids)
        self._send(drafts, stays[0].start < self.origin)

    def _started(self, envelope: Mapping[str, str], provider: Provider, pid: str, stay: Stay) -> Message:
        return {
            "message_id": self._ids.take(),
            "message_type": "placement_started",
            "status": "new",
            "cancels_message_id": None,
            "sender": provider.sender,
            "created_at": None,
            **envelope,
            "placement_id": pid,
            "provider_agb": provider.agb,
            "location_code": stay.location,
            "care_type": stay.care_type,
            "legal_basis": stay.legal_basis,
            "start_date": self._days[stay.start - self._base],
        }

    def _transfer(
        self, envelope: Mapping[str, str], sender: Provider, from_pid: str, stay: Stay, to_pid: str
    ) -> Message:
        return {
            "message_id": self._ids.take(),
            "message_type": "transfer",
            "status": "new",
            "cancels_message_id": None,
            "sender": sender.sender,
            "created_at": None,
            **envelope,
            "from_placement_id": from_pid,
            "transfer_date": self._days[stay.start - self._base],
            "to_provider_agb": stay.provider.agb,
            "to_placement_id": to_pid,
            "to_location_code": stay.location,
            "to_care_type": stay.care_type,
            "to_legal_basis": stay.legal_basis,
            "transfer_reason": stay.transfer_reason or "other",
        }

    def _measure(
        self,
        envelope: Mapping[str, str],
        sender: Mapping[str, str],
        measure_id: str,
        kind: str,
        start: int,
        end: int | None,
        pid: str | None,
    ) -> Message:
        return {
            "message_id": self._ids.take(),
            "message_type": "measure",
            "status": "new",
            "cancels_message_id": None,
            "sender": sender,
            "created_at": None,
            **envelope,
            "measure_id": measure_id,
            "kind": kind,
            "start_date": self._days[start - self._base],
            "end_date": None if end is None else self._days[end - self._base],
            "placement_id": pid,
        }

    def _restrictive(
        self, drafts: list[tuple[int, Message, int]], envelope: Mapping[str, str], stay: Stay, pid: str
    ) -> None:
        """Freedom-restricting measures during a closed stay, their rates following the policy trend."""
        random = self._random
        days = min(stay.end, self.last_day + 1) - stay.start
        if days <= 0:
            return
        provider = stay.provider
        months = days / 30.44
        calendar = self.calendar
        for kind in _RESTRICTIVE_KINDS:
            for _ in range(_poisson(random, RESTRICTIVE_RATES_PER_MONTH[kind] * months)):
                when = stay.start + int(random() * days)
                if random() >= restrictive_trend(kind, calendar.year_of(when)):
                    continue
                r = random()
                end: int | None = when if r < 0.6 else None if r < 0.85 else when + 1
                if end is not None and end >= stay.end:
                    end = when
                message = self._measure(
                    envelope, provider.sender, self.numbering.measure_id(provider), kind, when, end, pid
                )
                created = self._created(when if end is None else end, 0.05, provider.batch_sender)
                drafts.append((created, message, RESTRICTIVE))

    def _legal(
        self,
        drafts: list[tuple[int, Message, int]],
        envelope: Mapping[str, str],
        kind: str,
        start: int,
        end: int | None,
        reported: int,
        provider: Provider,
        pid: str,
        by_municipality: bool,
        update_share: float,
    ) -> None:
        """A legal measure reported when care starts (end unknown) and maybe updated with its end."""
        if by_municipality:
            code = envelope["municipality_code"]
            sender = self.world.municipality_senders[code]
            measure_id, placement = self.numbering.municipal_measure_id(code), None
            batch = False
        else:
            sender, measure_id, placement, batch = (
                provider.sender,
                self.numbering.measure_id(provider),
                pid,
                provider.batch_sender,
            )
        created = self._created(max(reported, start), 0.05, batch)
        update = end is not None and end <= self.last_day and self._random() < update_share
        drafts.append((created, self._measure(envelope, sender, measure_id, kind, start, None, placement),
                       NO_SHIFT if update else 0))  # fmt: skip
        if update and end is not None:
            later = max(self._created(end, 0.2, batch), created + 60)
            drafts.append(
                (later, self._measure(envelope, sender, measure_id, kind, start, end, placement), 0)
            )

    def _perspective(
        self,
        drafts: list[tuple[int, Message, int]],
        envelope: Mapping[str, str],
        when: int,
        value: str,
        provider: Provider,
    ) -> None:
        if when > self.last_day:
            return
        if self._random() < MUNICIPALITY_SENDS_PERSPECTIVE:
            sender, batch = self.world.municipality_senders[envelope["municipality_code"]], False
        else:
            sender, batch = provider.sender, provider.batch_sender
        message = {
            "message_id": self._ids.take(),
            "message_type": "perspective_determined",
            "status": "new",
            "cancels_message_id": None,
            "sender": sender,
            "created_at": None,
            **envelope,
            "determined_date": self.calendar.day(when),
            "perspective": value,
        }
        drafts.append((self._created(when, 0.05, batch), message, 0))

    def _closed_episodes(
        self,
        drafts: list[tuple[int, Message, int]],
        envelope: Mapping[str, str],
        career: Career,
        ids: list[str],
    ) -> None:
        """Per closed episode: the court measures behind it, and maybe (late) a perspective."""
        random = self._random
        stays = career.stays
        episodes: list[list[int]] = []
        latest_end = -1
        for i, stay in enumerate(stays):
            if stay.care_type != CLOSED:
                continue
            if episodes and stay.start <= latest_end + 7:
                episodes[-1].append(i)
            else:
                episodes.append([i])
            latest_end = max(latest_end, stay.end)
        birth = career.birth
        for episode in episodes:
            first = stays[episode[0]]
            if first.start > self.last_day:
                break
            last = stays[episode[-1]]
            start, end = first.start, max(stays[i].end for i in episode)
            provider, pid = first.provider, ids[episode[0]]
            by_municipality = random() < MUNICIPALITY_SENDS_LEGAL
            basis = first.legal_basis
            if basis in ("spoedmachtiging", "voorlopige_machtiging"):
                length = between(random, 14, 28) if basis == "spoedmachtiging" else between(random, 28, 42)
                first_end = min(start + length, end)
                self._legal(
                    drafts, envelope, basis, start, first_end, start, provider, pid, by_municipality, 0.7
                )
                if first_end < end:
                    self._legal(drafts, envelope, "machtiging_gesloten_jeugdhulp", first_end, end, first_end,
                                provider, pid, by_municipality, MEASURE_END_UPDATE_SHARE)  # fmt: skip
            elif basis == "machtiging":
                issued = max(start - between(random, 0, 10), birth + 1)
                self._legal(drafts, envelope, "machtiging_gesloten_jeugdhulp", issued, end, start, provider, pid,
                            by_municipality, MEASURE_END_UPDATE_SHARE)  # fmt: skip
            if random() < OTS_SHARE_CLOSED:
                since = max(start - between(random, 30, 700), birth + 1)
                self._legal(drafts, envelope, "ondertoezichtstelling", since, None, start, provider, pid,
                            random() < 0.7, 0.0)  # fmt: skip
            if random() < PERSPECTIVE_SHARE_CLOSED:
                if random() < PERSPECTIVE_LATE_SHARE:
                    when = start + between(random, 190, 400)
                else:
                    when = start + between(random, 14, 180)
                if when <= career.last_end + 60:
                    value = PERSPECTIVE_OF_DESTINATION.get(last.discharge_destination) or _PERSPECTIVES.pick(
                        random
                    )
                    holder = next((stays[i] for i in episode if stays[i].start <= when < stays[i].end), last)
                    self._perspective(drafts, envelope, when, value, holder.provider)

    def _other_measures(
        self,
        drafts: list[tuple[int, Message, int]],
        envelope: Mapping[str, str],
        career: Career,
        ids: list[str],
    ) -> None:
        random = self._random
        stays = career.stays
        first = stays[0]
        if any(s.legal_basis == "machtiging" for s in stays):
            since = max(first.start - between(random, 0, 500), career.birth + 1)
            self._legal(drafts, envelope, "ondertoezichtstelling", since, None, first.start, first.provider, ids[0],
                        random() < 0.6, 0.0)  # fmt: skip
            if first.care_type == FOSTER and random() < VOOGDIJ_SHARE_FOSTER:
                when = first.start + between(random, 90, 900)
                if when < career.last_end:
                    self._legal(drafts, envelope, "voogdij", when, None, when, first.provider, ids[0],
                                random() < 0.5, 0.0)  # fmt: skip
        if random() < PERSPECTIVE_SHARE_OTHER:
            when = first.start + between(random, 30, 270)
            if when <= career.last_end:
                value = PERSPECTIVE_OF_DESTINATION.get(stays[-1].discharge_destination) or _PERSPECTIVES.pick(
                    random
                )
                holder = next((s for s in stays if s.start <= when < s.end), stays[-1])
                self._perspective(drafts, envelope, when, value, holder.provider)

    # -- sending -----------------------------------------------------------------------------
    def _send(self, drafts: list[tuple[int, Message, int]], history_before_origin: bool) -> None:
        """Initial load for what happened before the feed's origin, then each message with quirks."""
        origin, end = self.origin_second, self.end_second
        history = history_before_origin
        before = [d for d in drafts if d[0] < origin and not d[2] & RESTRICTIVE] if history else []
        if before:
            before.sort(key=lambda d: d[0])
            base = origin + int(self._q() * 1_800)  # before any batch (01:00) of the first day
            for k, (_, message, _) in enumerate(before):
                created = base + k
                self._emit(created, message, created + int(self._q() * 3 * DAY))
            self._stats.initial_load += len(before)
        q = self._q
        for created, message, flags in drafts:
            if created > end or (history and created < origin):
                continue
            kind = message["message_type"]
            r = q()
            if r >= _ANY_QUIRK:
                self._emit(created, message)
            elif r < CORRECTION_SHARE and kind != "transfer" and not flags & NO_SHIFT:
                self._correction(created, message)
            elif kind == "placement_started" and r < CORRECTION_SHARE + PHANTOM_SHARE:
                self._phantom(created, message)
            elif kind == "placement_ended" and r < CORRECTION_SHARE + RESEND_END_SHARE:
                self._resend_end(created, message)
            else:
                self._emit(created, message)

    def _emit(
        self, created: int, message: Message, delivery: int | None = None, *, extras: bool = True
    ) -> int:
        """Write one valid message; maybe an exact re-send after it and an invalid one around it."""
        day = created // DAY
        second = created - day * DAY
        message["created_at"] = self._prefixes[day - self._base] + self._suffixes[second]
        line = _dumps(message)
        q = self._q
        if delivery is None:
            delivery = created + self._delay()
        sender = message["sender"]
        self.outbox.add(delivery, line, sender)
        types = self._types
        kind = message["message_type"]
        types[kind] = types.get(kind, 0) + 1
        if not extras:
            return delivery
        r = q()
        if r < self.duplicate_share:
            self._duplicate(message, line, delivery, sender)
        elif r < self._duplicate_or_invalid:
            self._invalid(message, created, delivery)
        return delivery

    def _duplicate(self, message: Message, line: bytes, delivery: int, sender: Mapping[str, str]) -> None:
        """An exact re-send; some re-serialised (other key order or spacing: the same JSON object)."""
        r = self._q()
        if r < 0.15:
            line = orjson.dumps(message, option=orjson.OPT_SORT_KEYS) + b"\n"
        elif r < 0.25:
            line = json.dumps(message).encode() + b"\n"
        self.outbox.add(delivery + between(self._q, 60, 3 * DAY), line, sender)
        self._stats.duplicates += 1

    def _invalid(self, message: Message, created: int, delivery: int) -> None:
        code, payload, sender, after = self.invalid.make(message, created)
        draw = self.invalid.random  # not the quirk stream: valid lines must not depend on the share
        when = delivery + between(draw, 1, DAY) if after else delivery - between(draw, 1, 300)
        self.outbox.add(when, payload + b"\n", sender)
        stats = self._stats
        stats.invalid += 1
        stats.invalid_by_code[code] = stats.invalid_by_code.get(code, 0) + 1
        if not payload.startswith(b"{") or not payload.endswith(b"}"):
            stats.not_json += 1

    def _cancel_of(self, target: Message) -> Message:
        self._stats.cancels += 1
        return {
            "message_id": self._quuid(),
            "message_type": target["message_type"],
            "status": "cancel",
            "cancels_message_id": target["message_id"],
            "sender": target["sender"],
            "created_at": None,
            "bsn": target["bsn"],
            "birth_date": target["birth_date"],
            "municipality_code": target["municipality_code"],
        }

    def _correction(self, created: int, message: Message) -> None:
        """A wrong first version, its cancel, then the right one (a correction is cancel + new)."""
        q = self._q
        cancel_at = created + between(q, 3_600, 10 * DAY)
        fixed_at = cancel_at + between(q, 60, 3_600)
        wrong = self._perturbed(message)
        if wrong is None or fixed_at > self.end_second:
            self._emit(created, message)
            return
        cancel = self._cancel_of(wrong)
        late_target = q() < LATE_TARGET_SHARE
        cancel_delivery = cancel_at + self._delay()
        wrong_delivery = cancel_delivery + between(q, 60, 2 * DAY) if late_target else None
        self._emit(created, wrong, wrong_delivery, extras=not late_target)
        self._emit(cancel_at, cancel, cancel_delivery)
        self._emit(fixed_at, message)
        if q() < CANCEL_OF_CANCEL_SHARE:
            again = cancel_at + between(q, 60, 5 * DAY)
            if again <= self.end_second:
                self._emit(again, self._cancel_of(cancel))

    def _perturbed(self, message: Message) -> Message | None:
        """A plausible wrong version of ``message`` (another id), still valid, or None."""
        q = self._q
        wrong = dict(message)
        wrong["message_id"] = self._quuid()
        kind = message["message_type"]
        birth = date.fromisoformat(message["birth_date"])

        def earlier(name: str, most: int) -> bool:
            value = date.fromisoformat(wrong[name]) - timedelta(days=between(q, 1, most))
            if value <= birth:
                return False
            wrong[name] = value.isoformat()
            return True

        r = q()
        if kind == "placement_started":
            if r < 0.4 and earlier("start_date", 5):
                return wrong
            if r < 0.7:
                wrong["legal_basis"] = _other(q, _LEGAL_BASES, message["legal_basis"])
            else:
                wrong["location_code"] = message["location_code"] + "X"
            return wrong
        if kind == "placement_ended":
            if r < 0.4 and earlier("end_date", 3):
                return wrong
            wrong["reason"] = _other(q, _ALL_REASONS, message["reason"])
            if r > 0.7:
                wrong["destination"] = _other(q, _ALL_DESTINATIONS, message["destination"])
            return wrong
        if kind == "measure":
            if r < 0.5 and earlier("start_date", 3):
                return wrong
            kinds = _RESTRICTIVE_KINDS if message["kind"] in _RESTRICTIVE_KINDS else _LEGAL_KINDS
            wrong["kind"] = _other(q, kinds, message["kind"])
            return wrong
        if kind == "perspective_determined":
            if r < 0.5 and earlier("determined_date", 5):
                return wrong
            wrong["perspective"] = _other(q, tuple(_PERSPECTIVES.values), message["perspective"])
            return wrong
        return None

    def _phantom(self, created: int, message: Message) -> None:
        """The stay registered twice under two references; the spurious one is cancelled later."""
        q = self._q
        self._emit(created, message)
        provider = self._providers.get(message["provider_agb"])
        phantom_at = created + between(q, 60, 3_600)
        cancel_at = phantom_at + between(q, DAY, 14 * DAY)
        if provider is None or cancel_at > self.end_second:
            return
        phantom = dict(message)
        phantom["message_id"] = self._quuid()
        phantom["placement_id"] = self.numbering.placement_id(provider, message["start_date"])
        self._emit(phantom_at, phantom)
        self._emit(cancel_at, self._cancel_of(phantom))

    def _resend_end(self, created: int, message: Message) -> None:
        """An end reported with a wrong reason, re-sent corrected later without a cancel."""
        q = self._q
        later = created + between(q, DAY, 20 * DAY)
        if later > self.end_second:
            self._emit(created, message)
            return
        first = dict(message)
        first["message_id"] = self._quuid()
        first["reason"] = _other(q, _ALL_REASONS, message["reason"])
        first["destination"] = _other(q, _ALL_DESTINATIONS, message["destination"])
        self._emit(created, first)
        self._emit(later, message)


def _other(random: Callable[[], float], values: tuple[str, ...], current: str) -> str:
    choice = current
    while choice == current:
        choice = values[int(random() * len(values))]
    return choice
