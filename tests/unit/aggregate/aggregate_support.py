"""Shared helpers for the aggregate tests: message builders and the worked example's accepted set."""

from __future__ import annotations

import json
import uuid
from collections import defaultdict
from collections.abc import Iterable
from datetime import date
from pathlib import Path
from typing import Any

from hubdev.paths import SPEC_EXAMPLES
from services.aggregate.facts import YouthFacts, build_youth_facts
from services.aggregate.figures import region_figures
from services.contracts.regions import RegionTable

EXAMPLE_AS_OF = date(2026, 3, 31)

Msg = dict[str, Any]

TABLE = RegionTable(
    municipality_region={"0363": "R1", "0384": "R1", "0599": "R2", "0014": "R3"},
    region_names={"R1": "Een", "R2": "Twee", "R3": "Drie"},
)
"""A small table for hand-made tests: 0363/0384 → R1, 0599 → R2, 0014 → R3."""


class Feed:
    """Builds flat-form messages for one youth with increasing ``created_at`` unless given."""

    def __init__(self, youth: str = "y1", municipality: str = "0363") -> None:
        self.youth = youth
        self.municipality = municipality
        self._clock = 0

    def _envelope(
        self,
        message_type: str,
        sender: str,
        *,
        status: str = "new",
        cancels: str | None = None,
        created_at: str | None = None,
        municipality: str | None = None,
        message_id: str | None = None,
        sender_kind: str = "provider",
    ) -> Msg:
        self._clock += 1
        stamp = created_at or f"2026-04-01T00:{self._clock // 60:02d}:{self._clock % 60:02d}Z"
        return {
            "message_id": message_id or str(uuid.uuid4()),
            "message_type": message_type,
            "status": status,
            "cancels_message_id": cancels,
            "sender": {"kind": sender_kind, "code": sender},
            "created_at": stamp,
            "received_at": stamp,
            "youth_pseudonym": self.youth,
            "pseudonym_key_id": "test",
            "birth_year": 2010,
            "municipality_code": municipality or self.municipality,
        }

    def start(
        self,
        provider: str,
        placement: str,
        start_date: str,
        *,
        care_type: str = "gesloten",
        location: str = "L1",
        **envelope: Any,
    ) -> Msg:
        m = self._envelope("placement_started", provider, **envelope)
        m |= {
            "placement_id": placement,
            "provider_agb": provider,
            "location_code": location,
            "care_type": care_type,
            "legal_basis": "machtiging",
            "start_date": start_date,
        }
        return m

    def end(
        self,
        provider: str,
        placement: str,
        end_date: str,
        *,
        destination: str = "thuis",
        reason: str = "31",
        **envelope: Any,
    ) -> Msg:
        m = self._envelope("placement_ended", provider, **envelope)
        m |= {"placement_id": placement, "end_date": end_date, "reason": reason, "destination": destination}
        return m

    def transfer(
        self,
        provider: str,
        from_placement: str,
        transfer_date: str,
        to_provider: str,
        to_placement: str,
        *,
        to_location: str = "L1",
        to_care_type: str = "gesloten",
        **envelope: Any,
    ) -> Msg:
        m = self._envelope("transfer", provider, **envelope)
        m |= {
            "from_placement_id": from_placement,
            "transfer_date": transfer_date,
            "to_provider_agb": to_provider,
            "to_placement_id": to_placement,
            "to_location_code": to_location,
            "to_care_type": to_care_type,
            "to_legal_basis": "machtiging",
            "transfer_reason": "other",
        }
        return m

    def measure(
        self,
        sender: str,
        measure_id: str,
        kind: str,
        start_date: str,
        *,
        end_date: str | None = None,
        **envelope: Any,
    ) -> Msg:
        m = self._envelope("measure", sender, **envelope)
        m |= {
            "measure_id": measure_id,
            "kind": kind,
            "start_date": start_date,
            "end_date": end_date,
            "placement_id": None,
        }
        return m

    def perspective(self, sender: str, determined_date: str, **envelope: Any) -> Msg:
        m = self._envelope("perspective_determined", sender, sender_kind="municipality", **envelope)
        m |= {"determined_date": determined_date, "perspective": "thuis"}
        return m

    def cancel(self, target: Msg, **envelope: Any) -> Msg:
        envelope.setdefault("municipality", target["municipality_code"])
        return self._envelope(
            target["message_type"],
            target["sender"]["code"],
            status="cancel",
            cancels=target["message_id"],
            sender_kind=target["sender"]["kind"],
            **envelope,
        )


def to_flat(raw: Msg) -> Msg:
    """The validated flat form of a contract message (the BSN stands in for the pseudonym)."""
    flat = {k: v for k, v in raw.items() if k not in ("bsn", "birth_date")}
    flat["youth_pseudonym"] = raw["bsn"]
    flat["pseudonym_key_id"] = "test"
    flat["birth_year"] = int(raw["birth_date"][:4])
    flat["received_at"] = raw["created_at"]
    return flat


def example_accepted_by_youth(examples: Path = SPEC_EXAMPLES) -> dict[str, list[Msg]]:
    """The example feed's accepted set, grouped by youth, as validation would leave it.

    The first copy of each (sender.code, message_id) is the candidate; it is rejected iff its
    message_id has a rejection whose codes are not exactly ``["JH030"]``; later copies are
    duplicates or JH030 rejections and never count.
    """
    rejected_ids = set()
    for line in (examples / "expected-rejections.jsonl").read_text().splitlines():
        record = json.loads(line)
        if record["message_id"] is not None and record["codes"] != ["JH030"]:
            rejected_ids.add(record["message_id"])
    seen: set[tuple[str, str]] = set()
    by_youth: dict[str, list[Msg]] = defaultdict(list)
    for line in (examples / "feed.jsonl").read_text().splitlines():
        try:
            raw = json.loads(line)
        except json.JSONDecodeError:
            continue
        identity = (raw["sender"]["code"], raw["message_id"])
        if identity in seen:
            continue
        seen.add(identity)
        if raw["message_id"] in rejected_ids:
            continue
        by_youth[raw["bsn"]].append(to_flat(raw))
    return dict(by_youth)


def figures_by_region(rows: Iterable[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {row["region"]: row for row in rows}


def facts_of(messages: Iterable[Msg], table: RegionTable = TABLE) -> list[YouthFacts]:
    """Group flat messages by youth and build each youth's facts."""
    groups: dict[str, list[Msg]] = defaultdict(list)
    for message in messages:
        groups[message["youth_pseudonym"]].append(message)
    return [build_youth_facts(group, table) for group in groups.values()]


def figures_of(messages: Iterable[Msg], as_of: date, table: RegionTable = TABLE) -> dict[str, dict[str, Any]]:
    """The figures rows for a bag of messages (any youth), keyed by region."""
    return figures_by_region(region_figures(facts_of(messages, table), as_of, table))


class DictTable:
    """A worker's state table (:class:`services.streaming.changelog.StateTable`) in a dict: what the
    agents' logic stores and what it leaves to send, without faust or a broker."""

    topic = "youth-messages-changelog"

    def __init__(self) -> None:
        self.data: dict[str, Any] = {}
        self.pending: dict[str, tuple[Any, str]] = {}
        self.writes = 0

    def get(self, key: str, route: str | None = None) -> Any:
        return self.data.get(key)

    def set(self, key: str, value: Any, route: str | None = None) -> None:
        self.data[key] = value
        self.pending[key] = (value, key if route is None else route)
        self.writes += 1

    def drain(self) -> list[tuple[bytes, bytes, bytes]]:
        pending, self.pending = self.pending, {}
        return [
            (route.encode(), json.dumps(key).encode(), json.dumps(value).encode())
            for key, (value, route) in pending.items()
        ]

    def __len__(self) -> int:
        return len(self.data)
