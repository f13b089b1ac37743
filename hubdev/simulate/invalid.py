"""Messages that break a validation rule on purpose, one rule code at a time.

Each invalid message is derived from a valid message the feed also sends (the *template*): it is
the sender's failed first attempt, delivered just before the valid one, under another message id;
or, for ``JH030``, a conflicting re-send under the template's own id, delivered after it. So the
accepted messages are the same with or without invalid ones, and the figures do not move.

The rule to break is chosen so that every code of messages.md appears as soon as there are a dozen
invalid messages, then in proportion to :data:`CODE_WEIGHTS`. Senders stay well-formed and
authentic (a rule is broken in the content, never in ``sender`` or the ``message_id`` type), so
every invalid message can also be posted to the ingest API with the sender's own token; only the
lines that are not JSON at all are refused by ingest itself.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any

import orjson

from hubdev.simulate.plan import Calendar
from hubdev.simulate.world import World, between, uuid_from

RULE_CODES = ("SCHEMA", "CS002", "RS036", "RS035", "S300", "TR018", "TR134", "TR002", "JH010", "CS058", "JH020",
              "JH030")  # fmt: skip
CODE_WEIGHTS: Mapping[str, float] = {
    "SCHEMA": 20,
    "CS002": 10,
    "RS036": 5,
    "RS035": 5,
    "S300": 10,
    "TR018": 5,
    "TR134": 10,
    "TR002": 5,
    "JH010": 5,
    "CS058": 5,
    "JH020": 10,
    "JH030": 10,
}
_TOTAL_WEIGHT = sum(CODE_WEIGHTS.values())

EVENT_FIELD = {
    "placement_started": "start_date",
    "placement_ended": "end_date",
    "transfer": "transfer_date",
    "measure": "start_date",
    "perspective_determined": "determined_date",
}
_TYPO = {
    "placement_started": "start_dat",
    "placement_ended": "eind_datum",
    "transfer": "transfer_dat",
    "measure": "start_dat",
    "perspective_determined": "determined_dat",
}
_BAD_ENUM = {
    "placement_started": ("care_type", "halfopen"),
    "placement_ended": ("destination", "elders"),
    "transfer": ("to_care_type", "halfopen"),
    "measure": ("kind", "time_out"),
    "perspective_determined": ("perspective", "onbekend"),
}
_REQUIRED = {
    "placement_started": "location_code",
    "placement_ended": "reason",
    "transfer": "to_location_code",
    "measure": "kind",
    "perspective_determined": "perspective",
}
_PROVIDER_ONLY = frozenset({"placement_started", "placement_ended", "transfer"})
_RESTRICTIVE = frozenset({"afzondering", "separatie", "fixatie", "insluiting_eigen_kamer"})

Message = dict[str, Any]
Made = tuple[str, bytes, Mapping[str, str], bool]
"""(rule code, the line, its sender, delivered after the template?)"""


class InvalidMaker:
    """Makes invalid twins of valid messages; :attr:`probability` is how many per valid message."""

    def __init__(
        self,
        rng: random.Random,
        world: World,
        calendar: Calendar,
        share: float,
        duplicate_share: float,
    ) -> None:
        if not 0 <= share < 1:
            raise ValueError("--invalid-share must be at least 0 and below 1")
        self.rng = rng
        self.random = rng.random
        self.world = world
        self.calendar = calendar
        # share = invalid / (valid + duplicates + invalid), so per valid message:
        self.probability = share * (1 + duplicate_share) / (1 - share) if share else 0.0
        self.counts = dict.fromkeys(RULE_CODES, 0)
        self.made = 0

    def make(self, message: Message, created: int) -> Made:
        """An invalid message derived from ``message`` (the caller decides how often)."""
        code = self._choose(message)
        made = self._break(code, dict(message), created)
        self.counts[code] += 1
        self.made += 1
        return made

    def _applicable(self, code: str, message: Message) -> bool:
        new: bool = message["status"] == "new"
        kind: str = message["message_type"]
        if code in ("TR134", "TR002", "JH010"):
            return new
        if code == "RS036":
            return new and kind in ("placement_started", "transfer")
        if code == "TR018":
            return new and kind == "measure"
        if code == "JH020":
            return self._jh020_possible(message)
        return True

    def _choose(self, message: Message) -> str:
        """The applicable code furthest behind its share; codes never used yet go first."""
        best, best_deficit = "SCHEMA", float("-inf")
        n = self.made + 1
        for code in RULE_CODES:
            if not self._applicable(code, message):
                continue
            used = self.counts[code]
            deficit = CODE_WEIGHTS[code] / _TOTAL_WEIGHT * n - used + (1.0 if used == 0 else 0.0)
            if deficit > best_deficit:
                best, best_deficit = code, deficit
        return best

    # -- the breaks --------------------------------------------------------------------------
    def _break(self, code: str, bad: Message, created: int) -> Made:
        random = self.random
        sender: Mapping[str, str] = bad["sender"]
        if code == "JH030":
            # The same message id re-sent later with other content (here: a new created_at).
            bad["created_at"] = _shift_timestamp(bad["created_at"], between(random, 60, 86_400))
            return code, _dumps(bad), sender, True
        bad["message_id"] = _uuid(self.rng)
        if code == "SCHEMA":
            return self._schema(bad)
        if code == "CS002":
            bsn = bad["bsn"]
            bad["bsn"] = bsn[:8] + str((int(bsn[8]) + between(random, 1, 9)) % 10)
        elif code == "RS036":
            if bad["message_type"] == "transfer":
                bad["to_provider_agb"] = bad["to_provider_agb"][1:]
            else:
                bad["provider_agb"] = bad["provider_agb"] + "0"
        elif code == "RS035":
            bad["municipality_code"] = bad["municipality_code"][1:]
        elif code == "S300":
            bad["municipality_code"] = self.world.unknown_municipality
        elif code == "TR018":
            start = date.fromisoformat(bad["start_date"])
            bad["end_date"] = (start - timedelta(days=between(random, 1, 30))).isoformat()
        elif code == "TR134":
            # An event dated after the report, as when a planned admission is sent in advance.
            field = EVENT_FIELD[bad["message_type"]]
            day = date.fromisoformat(bad["created_at"][:10]) + timedelta(days=between(random, 1, 30))
            bad[field] = day.isoformat()
            if bad["message_type"] == "measure" and bad["end_date"] is not None:
                bad["end_date"] = None
        elif code == "TR002":
            event = date.fromisoformat(bad[EVENT_FIELD[bad["message_type"]]])
            reported = date.fromisoformat(bad["created_at"][:10])
            if reported > event:
                bad["birth_date"] = (
                    event + timedelta(days=between(random, 1, (reported - event).days))
                ).isoformat()
            else:
                bad["birth_date"] = (date(1890, 1, 1) + timedelta(days=between(random, 0, 3_000))).isoformat()
        elif code == "JH010":
            event = date.fromisoformat(bad[EVENT_FIELD[bad["message_type"]]])
            bad["birth_date"] = date(event.year - 24, event.month, min(event.day, 28)).isoformat()
        elif code == "CS058":
            bad["cancels_message_id"] = None if bad["status"] == "cancel" else _uuid(self.rng)
        elif code == "JH020":
            sender = self._jh020(bad)
            bad["sender"] = sender
        return code, _dumps(bad), sender, False

    def _schema(self, bad: Message) -> Made:
        random = self.random
        sender: Mapping[str, str] = bad["sender"]
        kind = bad["message_type"]
        r = random()
        if r < 0.08:
            # Not JSON at all: a line cut off half way.
            text = _dumps(bad)
            return "SCHEMA", text[: len(text) // 2], sender, False
        if bad["status"] == "cancel":
            if r < 0.6:
                bad["reason"] = "31"  # a body field on a cancel
            elif r < 0.8:
                bad["message_id"] = bad["message_id"].upper()
            else:
                bad["created_at"] = bad["created_at"][:-1] + "+00:00"
            return "SCHEMA", _dumps(bad), sender, False
        field = EVENT_FIELD[kind]
        if r < 0.3:
            bad = {(_TYPO[kind] if key == field else key): value for key, value in bad.items()}
        elif r < 0.5:
            year, month, day = bad[field].split("-")
            bad[field] = f"{day}-{month}-{year}"
        elif r < 0.7:
            name, value = _BAD_ENUM[kind]
            bad[name] = value
        elif r < 0.8:
            bad["message_id"] = bad["message_id"].upper()
        elif r < 0.88:
            bad["created_at"] = bad["created_at"][:-1] + "+01:00"
        else:
            del bad[_REQUIRED[kind]]
        return "SCHEMA", _dumps(bad), sender, False

    def _jh020_possible(self, message: Message) -> bool:
        kind = message["message_type"]
        if kind in _PROVIDER_ONLY:
            return True
        if message["status"] == "new" and kind == "measure" and message["kind"] in _RESTRICTIVE:
            return True
        return len(self.world.municipalities) > 1

    def _jh020(self, bad: Message) -> Mapping[str, str]:
        """A sender that may not send this: a municipality for provider-only facts, another
        municipality than the responsible one otherwise, or a provider_agb that is not the sender."""
        random = self.random
        kind = bad["message_type"]
        own = bad["municipality_code"]
        senders = self.world.municipality_senders
        restrictive = bad["status"] == "new" and kind == "measure" and bad["kind"] in _RESTRICTIVE
        if kind == "placement_started" and bad["status"] == "new" and random() < 0.5:
            others = [p for p in self.world.providers if p.agb != bad["provider_agb"]]
            bad["provider_agb"] = others[int(random() * len(others))].agb
            return bad["sender"]  # type: ignore[no-any-return]
        if kind in _PROVIDER_ONLY or restrictive:
            return senders[own]
        municipalities = [m for m in self.world.municipalities if m != own]
        return senders[municipalities[int(random() * len(municipalities))]]


def _dumps(message: Message) -> bytes:
    return bytes(memoryview(orjson.dumps(message)))  # compact copy: see render._dumps


def _uuid(rng: random.Random) -> str:
    return uuid_from(rng.randbytes(16))


def _shift_timestamp(text: str, seconds: int) -> str:
    moment = datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC) + timedelta(seconds=seconds)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
