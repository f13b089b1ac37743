"""The stateless validation rules of messages.md (everything except ``SCHEMA`` and ``JH030``).

``check_rules`` runs on a *checked canonical dict*: a message that already matched the schema, with
every optional field present (``None`` when absent), dates as valid ``YYYY-MM-DD`` strings and
timestamps as valid ``YYYY-MM-DDTHH:MM:SSZ`` strings. It reports **every** rule the message breaks,
in the order of the contract's table, so a sender can fix all problems in one go.

Readings of the contract chosen here (the contract is silent or ambiguous on these):

- *Event date* per type: ``placement_started.start_date``, ``placement_ended.end_date``,
  ``transfer.transfer_date``, ``measure.start_date``, ``perspective_determined.determined_date``.
  A ``cancel`` has no body, so its event date is the date of ``created_at``.
- ``TR134`` applies to every date field, including ``birth_date`` and end dates (a measure's planned
  ``end_date`` in the future is rejected too: the contract says "a date").
- ``TR018`` compares ``measure.end_date`` with ``measure.start_date`` (the only pair in one message).
- ``TR002``: birth date after the event date, or ``birth_date < created_at's date − 120 years``
  (exactly 120 years is accepted). For a cancel the first half coincides with ``TR134``; both are
  reported because both rules are broken.
- ``JH010``: ``relativedelta(event_date, birth_date).years >= 23``, so a youth turning 23 on the event
  date is rejected, the day before accepted (a 29 February birthday turns 23 on 28 February in a
  common year, as dateutil computes it). Not applied to cancels: a cancel makes no claim about care,
  and rejecting it because the youth has since turned 23 would keep a wrong message counted.
- ``RS036``/``RS035``: AGB codes are ``sender.code`` when the sender is a provider, ``provider_agb``
  and ``to_provider_agb``; gemeentecodes are ``municipality_code`` and ``sender.code`` when the
  sender is a municipality. ``S300`` is only checked on codes that are 4 digits (a malformed code is
  reported once, as ``RS035``). ``S300`` asks whether the code is valid on the *event date* (the
  table's validity dates, ``RegionTable.region_on``, the lookup the aggregate counts with); for a
  cancel, whether the table knows the code in any period.
- ``JH020``: ``placement_started``, ``placement_ended``, ``transfer`` and restrictive measures only
  from providers; legal measures and ``perspective_determined`` from either kind; a municipality may
  only send about youth it is responsible for (``sender.code == municipality_code``); a
  ``placement_started`` must have ``provider_agb == sender.code``. ``to_provider_agb`` may be any
  provider. For a cancel the type check uses its ``message_type`` (a cancel of a ``measure`` is
  allowed from both kinds, as its kind is not known).
- ``CS058`` only checks presence: ``cancels_message_id`` equal to the cancel's own ``message_id``
  or naming another sender's message is not a rule of the contract.
- ``BSN``: exactly 9 ASCII digits passing the 11-proef, nothing more (``000000000`` passes).
- ``JH040`` (a hub rule, docs/contract.md): a free-text reference (``placement_id``,
  ``location_code``, ``measure_id``, ...) holding the youth's BSN or any 9-digit run that passes the
  11-proef; references leave the validate step as sent, so a BSN in one would leave with it.

Messages name the field, the rule and the offending value, except that a BSN is only shown masked
(last 3 digits) and a birth date never; the pipeline masks every digit run of 8+ and every
date-shaped value in them once more (``pipeline.public_errors``), wherever the value came from.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from services.contracts.bsn import elfproef_sum, is_nine_digits, is_valid_bsn
from services.contracts.regions import EVENT_DATE_FIELD, RegionTable, event_day
from services.contracts.vocabulary import RESTRICTIVE_MEASURE_KINDS
from services.privacy.masking import mask_bsn

JEUGDWET_MAX_AGE = 23
MAX_AGE_YEARS = 120

# Every date field of a ``new`` message per type (birth_date is in the envelope of all).
DATE_FIELDS: Mapping[str, tuple[str, ...]] = {
    "placement_started": ("start_date",),
    "placement_ended": ("end_date",),
    "transfer": ("transfer_date",),
    "measure": ("start_date", "end_date"),
    "perspective_determined": ("determined_date",),
}
PROVIDER_ONLY_TYPES = frozenset({"placement_started", "placement_ended", "transfer"})

_AGB = re.compile(r"[0-9]{8}")
_GEMEENTECODE = re.compile(r"[0-9]{4}")
_SHOWN_CHARS = 40


@dataclass(frozen=True, slots=True)
class Violation:
    """One broken rule, as it appears in a retour message and a rejection record."""

    code: str
    field: str
    message: str

    def to_dict(self) -> dict[str, str]:
        # What dataclasses.asdict gives, without its recursive deep copy.
        return {"code": self.code, "field": self.field, "message": self.message}


def _show(value: object) -> str:
    """Quote a sender-supplied value for a message, cut short so a huge value cannot bloat it."""
    text = repr(value)
    return text if len(text) <= _SHOWN_CHARS else text[: _SHOWN_CHARS - 3] + "..."


def _day(value: str) -> date:
    return date.fromisoformat(value[:10])


def _years_later(day: date, years: int) -> date:
    """``day + relativedelta(years=years)`` (29 February becomes 28 February in a common year).

    Raises ``ValueError`` outside years 1..9999, as relativedelta does.
    """
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        if day.month == 2 and day.day == 29:
            return day.replace(year=day.year + years, day=28)
        raise


def _age_at_least(birth: date, event: date, years: int) -> bool:
    """``relativedelta(event, birth).years >= years`` for ``years > 0``, without building one.

    relativedelta counts the whole months m with ``birth + m months <= event`` (clamping the day to
    the month's end), and ``.years`` is m // 12; so the age is at least ``years`` exactly when the
    ``years``-th anniversary (clamped the same way) is on or before the event date.
    """
    if birth.year + years > 9999:
        return False
    return _years_later(birth, years) <= event


def _check_bsn(msg: Mapping[str, Any]) -> list[Violation]:
    bsn: str = msg["bsn"]
    if not is_nine_digits(bsn):
        return [Violation("CS002", "bsn", f"bsn {mask_bsn(bsn)} is not exactly 9 digits (CS002)")]
    if elfproef_sum(bsn) % 11:
        return [Violation("CS002", "bsn", f"bsn {mask_bsn(bsn)} fails the 11-proef (CS002)")]
    return []


def _agb_fields(msg: Mapping[str, Any]) -> list[tuple[str, Any]]:
    fields: list[tuple[str, Any]] = []
    if msg["sender"]["kind"] == "provider":
        fields.append(("sender.code", msg["sender"]["code"]))
    if msg["status"] == "new":
        for name in ("provider_agb", "to_provider_agb"):
            if name in msg and msg[name] is not None:
                fields.append((name, msg[name]))
    return fields


def _gemeentecode_fields(msg: Mapping[str, Any]) -> list[tuple[str, Any]]:
    fields: list[tuple[str, Any]] = [("municipality_code", msg["municipality_code"])]
    if msg["sender"]["kind"] == "municipality":
        fields.append(("sender.code", msg["sender"]["code"]))
    return fields


def _check_agb(msg: Mapping[str, Any]) -> list[Violation]:
    return [
        Violation("RS036", path, f"{path} {_show(value)} is not an AGB code: must be exactly 8 digits")
        for path, value in _agb_fields(msg)
        if not _AGB.fullmatch(value)
    ]


def _check_gemeentecode_format(msg: Mapping[str, Any]) -> list[Violation]:
    return [
        Violation("RS035", path, f"{path} {_show(value)} is not a gemeentecode: must be exactly 4 digits")
        for path, value in _gemeentecode_fields(msg)
        if not _GEMEENTECODE.fullmatch(value)
    ]


def _check_region_table(msg: Mapping[str, Any], regions: RegionTable) -> list[Violation]:
    """S300 on the event date, with the aggregate's own lookup (``RegionTable.region_on``).

    A ``new`` message's code must be valid on its event date (a merged-away code is fine for events
    before the merger, a new code only from its start). A cancel counts in no region and repeats the
    envelope of the message it withdraws, whose code may have merged away since: it only needs a
    code the table knows in some period, or a wrong message would stay counted.
    """
    # Only a dated table needs the date: in an undated one every known code is valid always.
    day = event_day(msg) if regions.is_dated else None
    violations: list[Violation] = []
    for path, value in _gemeentecode_fields(msg):
        if not _GEMEENTECODE.fullmatch(value):
            continue
        if value not in regions:
            violations.append(
                Violation("S300", path, f"{path} {value!r} is not in the region reference table")
            )
        elif day is not None and regions.region_on(value, day) is None:
            event_field = EVENT_DATE_FIELD[msg["message_type"]]
            violations.append(
                Violation(
                    "S300",
                    path,
                    f"{path} {value!r} is not valid in the region reference table on the event date "
                    f"({event_field}): the municipality did not exist yet or had merged away",
                )
            )
    return violations


def _check_end_after_start(msg: Mapping[str, Any]) -> list[Violation]:
    if msg["status"] != "new" or msg["message_type"] != "measure" or msg["end_date"] is None:
        return []
    if _day(msg["end_date"]) < _day(msg["start_date"]):
        return [
            Violation(
                "TR018",
                "end_date",
                f"end_date {msg['end_date']} lies before start_date {msg['start_date']}",
            )
        ]
    return []


def _check_not_after_created(msg: Mapping[str, Any], created: date) -> list[Violation]:
    violations: list[Violation] = []
    if _day(msg["birth_date"]) > created:
        violations.append(
            Violation("TR134", "birth_date", f"birth_date lies after the date of created_at ({created})")
        )
    if msg["status"] == "new":
        for name in DATE_FIELDS[msg["message_type"]]:
            value = msg[name]
            if value is not None and _day(value) > created:
                violations.append(
                    Violation("TR134", name, f"{name} {value} lies after the date of created_at ({created})")
                )
    return violations


def _event(msg: Mapping[str, Any], created: date) -> tuple[str, date]:
    """The field naming the event date (``created_at`` for a cancel) and that date."""
    if msg["status"] != "new":
        return "created_at", created
    name = EVENT_DATE_FIELD[msg["message_type"]]
    return name, _day(msg[name])


def _check_birth_date(msg: Mapping[str, Any], created: date) -> list[Violation]:
    birth = _day(msg["birth_date"])
    event_field, event_day = _event(msg, created)
    violations: list[Violation] = []
    if birth > event_day:
        violations.append(
            Violation(
                "TR002", "birth_date", f"birth_date lies after the event date ({event_field} {event_day})"
            )
        )
    if birth < _years_later(created, -MAX_AGE_YEARS):
        violations.append(
            Violation(
                "TR002",
                "birth_date",
                f"birth_date lies more than {MAX_AGE_YEARS} years before created_at ({created})",
            )
        )
    return violations


def _check_age(msg: Mapping[str, Any], created: date) -> list[Violation]:
    if msg["status"] != "new":
        return []
    event_field, event_day = _event(msg, created)
    if _age_at_least(_day(msg["birth_date"]), event_day, JEUGDWET_MAX_AGE):
        return [
            Violation(
                "JH010",
                "birth_date",
                f"the youth is {JEUGDWET_MAX_AGE} or older on the event date ({event_field} {event_day}): "
                "the Jeugdwet does not apply",
            )
        ]
    return []


def _check_status(msg: Mapping[str, Any]) -> list[Violation]:
    cancels = msg["cancels_message_id"]
    if msg["status"] == "cancel" and cancels is None:
        return [Violation("CS058", "cancels_message_id", "status 'cancel' requires cancels_message_id")]
    if msg["status"] == "new" and cancels is not None:
        return [
            Violation(
                "CS058",
                "cancels_message_id",
                f"status 'new' must not carry cancels_message_id (got {_show(cancels)})",
            )
        ]
    return []


def _provider_only(msg: Mapping[str, Any]) -> bool:
    message_type = msg["message_type"]
    if message_type in PROVIDER_ONLY_TYPES:
        return True
    return message_type == "measure" and msg["status"] == "new" and msg["kind"] in RESTRICTIVE_MEASURE_KINDS


def _check_sender(msg: Mapping[str, Any]) -> list[Violation]:
    kind: str = msg["sender"]["kind"]
    code: str = msg["sender"]["code"]
    message_type: str = msg["message_type"]
    violations: list[Violation] = []
    if kind == "municipality" and _provider_only(msg):
        what = f"measure kind {msg['kind']!r}" if message_type == "measure" else f"{message_type!r}"
        violations.append(
            Violation("JH020", "sender.kind", f"a municipality may not send {what}: only providers may")
        )
    if kind == "municipality" and code != msg["municipality_code"]:
        violations.append(
            Violation(
                "JH020",
                "sender.code",
                f"municipality {_show(code)} may not send for municipality_code "
                f"{_show(msg['municipality_code'])}: only the responsible municipality may",
            )
        )
    if (
        message_type == "placement_started"
        and msg["status"] == "new"
        and kind == "provider"
        and msg["provider_agb"] != code
    ):
        violations.append(
            Violation(
                "JH020",
                "provider_agb",
                f"provider_agb {_show(msg['provider_agb'])} differs from sender.code {_show(code)}",
            )
        )
    return violations


REFERENCE_FIELDS = (
    "placement_id",
    "location_code",
    "from_placement_id",
    "to_placement_id",
    "to_location_code",
    "measure_id",
)
"""The contract's free-text references (the provider's own ids): carried as sent, so checked for a BSN."""
_NINE_DIGIT_RUN = re.compile(r"(?<![0-9])[0-9]{9}(?![0-9])")


def _check_references(msg: Mapping[str, Any]) -> list[Violation]:
    """JH040 (hub rule): a reference must not hold the youth's BSN, nor a 9-digit run that passes the
    11-proef. References leave the validate step unchanged; a BSN in one would too."""
    bsn = msg.get("bsn")
    violations: list[Violation] = []
    for name in REFERENCE_FIELDS:
        value = msg.get(name)
        if not isinstance(value, str):
            continue
        own = isinstance(bsn, str) and len(bsn) >= 8 and bsn in value
        if own or any(is_valid_bsn(run) for run in _NINE_DIGIT_RUN.findall(value)):
            violations.append(
                Violation(
                    "JH040",
                    name,
                    f"{name} holds what looks like a BSN: a reference must not identify the youth",
                )
            )
    return violations


def check_rules(msg: Mapping[str, Any], regions: RegionTable) -> list[Violation]:
    """Every rule (CS002 .. JH020, not SCHEMA or JH030) that a schema-checked message breaks.

    An empty list means the message is acceptable as far as stateless rules go.
    """
    created = _day(msg["created_at"])
    return [
        *_check_bsn(msg),
        *_check_agb(msg),
        *_check_gemeentecode_format(msg),
        *_check_region_table(msg, regions),
        *_check_end_after_start(msg),
        *_check_not_after_created(msg, created),
        *_check_birth_date(msg, created),
        *_check_age(msg, created),
        *_check_status(msg),
        *_check_sender(msg),
        *_check_references(msg),
    ]
