"""``jeugdhub replay``: the whole hub offline, on a file of canonical-JSON messages.

It calls exactly the functions the services call: :func:`services.validate.pipeline.process` to
judge each line (with an in-memory duplicate table keyed like the worker's) and the aggregate's
``build_youth_facts``/``region_figures`` for the figures. So replay and the streaming services
cannot disagree about a message or a figure; "first to arrive" is file order here.
"""

from __future__ import annotations

import gc
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any, BinaryIO, cast

from services.aggregate.facts import build_youth_facts
from services.aggregate.figures import FigureAccumulator, contribution, region_figures
from services.aggregate.timeline import Message, keep_message
from services.contracts.records import RejectionJSON, SenderJSON, ValidatedJSON
from services.contracts.regions import RegionTable
from services.privacy.pseudonym import Keyring
from services.regulator.public import public_document, public_row
from services.regulator.targets import check_baseline, evaluate, targets_object
from services.replay.kept import KeptMessages
from services.validate.dedup import DedupEntry
from services.validate.dedup import Outcome as DedupOutcome
from services.validate.pipeline import RawInput, process

RejectionSink = Callable[[RejectionJSON], None]


@dataclass
class ReplayResult:
    """Counts per outcome (one per input line) and the accepted messages grouped per youth: flat
    dicts (:data:`ValidatedJSON`), or :class:`KeptMessages` when judged with ``compact``."""

    accepted: int = 0
    rejected: int = 0
    duplicates: int = 0
    by_youth: dict[str, Sequence[Message]] = field(default_factory=dict)
    bad_lines: list[int] = field(default_factory=list)


def judge_lines(
    lines: Iterable[bytes],
    keyring: Keyring,
    regions: RegionTable,
    on_rejection: RejectionSink | None = None,
    *,
    compact: bool = False,
) -> ReplayResult:
    """Validate every line in file order; the rejection record's ``source_offset`` is its line number.

    ``compact`` keeps each accepted message as the tuple of what the figures read
    (:class:`KeptMessages`; the offline commands, which keep every message until the end: about
    half of replay's peak memory) rather than as the full flat dict (callers that re-encode the
    validated records, such as the benches).

    The cycle collector is off meanwhile: every accepted message is kept, so each of its full
    collections walked a heap that only grows (4 % of replay's CPU) while judging makes no cycles
    worth collecting early; it is switched back on (and so runs) afterwards."""
    collecting = gc.isenabled()
    gc.disable()
    try:
        return _judge_lines(lines, keyring, regions, on_rejection, compact)
    finally:
        if collecting:
            gc.enable()


def _judge_lines(
    lines: Iterable[bytes],
    keyring: Keyring,
    regions: RegionTable,
    on_rejection: RejectionSink | None,
    compact: bool,
) -> ReplayResult:
    result = ReplayResult()
    # The duplicate table, each entry packed (_pack_entry). A "<sender code>:<message_id>" key is
    # held as sender code -> message_id -> entry, the message_id being the kept message's own
    # string: a key string per line cost as much memory as a kept message's tuple. (A key holds
    # no ":" only in its hashed form, which is held as it is; so the split is one-to-one.)
    seen: dict[str, dict[str, bytes]] = {}
    hashed: dict[str, bytes] = {}

    def lookup(key: str) -> DedupEntry | None:
        code, colon, message_id = key.partition(":")
        by_id = seen.get(code) if colon else None
        packed = hashed.get(key) if not colon else None if by_id is None else by_id.get(message_id)
        return None if packed is None else _unpack_entry(packed)

    full: dict[str, list[ValidatedJSON]] = {}
    kept: dict[str, KeptMessages] = {}
    senders: dict[tuple[str, str], SenderJSON] = {}
    shared: dict[str, str] = {}
    for line_no, line in enumerate(lines, start=1):
        payload = line.strip()
        if not payload:
            continue
        outcome = process(RawInput(payload, "json", None, None, None, line_no), lookup, keyring, regions)
        if outcome.dedup_key is not None and outcome.dedup_entry is not None:
            _remember(seen, hashed, outcome.dedup_key, _pack_entry(outcome.dedup_entry), outcome.validated)
        if outcome.status == "accepted" and outcome.validated is not None:
            result.accepted += 1
            validated = outcome.validated
            youth = validated["youth_pseudonym"]
            if compact:
                records = kept.get(youth)
                if records is None:
                    records = kept[youth] = KeptMessages(youth)
                records.kept.append(keep_message(cast(Message, validated), shared))
                continue
            messages = full.get(youth)
            if messages is None:
                messages = full[youth] = []
            else:
                # Every message is kept until the end: share the youth's pseudonym string and one
                # sender dict per sender (equal values either way; nothing mutates them later).
                validated["youth_pseudonym"] = messages[0]["youth_pseudonym"]
            sender = validated["sender"]
            validated["sender"] = senders.setdefault((sender["kind"], sender["code"]), sender)
            _share_values(cast(dict[str, Any], validated), shared)
            messages.append(validated)
        elif outcome.status == "duplicate":
            result.duplicates += 1
        else:
            result.rejected += 1
            rejection = outcome.rejection or cast(RejectionJSON, {})  # always set when rejected
            if rejection.get("payload_redacted") is None:
                result.bad_lines.append(line_no)
            if on_rejection is not None:
                on_rejection(rejection)
    result.by_youth = cast(dict[str, Sequence[Message]], kept if compact else full)
    return result


def _remember(
    seen: dict[str, dict[str, bytes]],
    hashed: dict[str, bytes],
    key: str,
    packed: bytes,
    validated: ValidatedJSON | None,
) -> None:
    """Store a duplicate-table entry where ``_judge_lines``' ``lookup`` finds it."""
    code, colon, message_id = key.partition(":")
    if not colon:
        hashed[key] = packed
        return
    if validated is not None and validated["message_id"] == message_id:
        message_id = validated["message_id"]  # the string the kept message holds: one object
    by_id = seen.get(code)
    if by_id is None:
        by_id = seen[code] = {}
    by_id[message_id] = packed


def _pack_entry(entry: DedupEntry) -> bytes:
    """A duplicate-table entry as one bytes object: the SHA-256 digest (32 bytes), the outcome
    (1 byte) and the line number (8 bytes). Replay keeps one per message until the end; as a named
    tuple of a 64-digit hex string and an int it took about three times the memory."""
    flag = b"a" if entry.outcome == "accepted" else b"r"
    line = -1 if entry.source_offset is None else entry.source_offset
    return bytes.fromhex(entry.content_hash) + flag + line.to_bytes(8, "big", signed=True)


def _unpack_entry(packed: bytes) -> DedupEntry:
    """The entry :func:`_pack_entry` packed (only a repeated key is looked up: rare)."""
    line = int.from_bytes(packed[33:41], "big", signed=True)
    outcome: DedupOutcome = "accepted" if packed[32:33] == b"a" else "rejected"
    return DedupEntry(packed[:32].hex(), outcome, None if line == -1 else line)


_UNSHARED = frozenset({"message_id", "cancels_message_id", "created_at", "received_at", "youth_pseudonym"})
"""Fields whose values are (nearly) unique per message: sharing them would only grow the table."""


def _share_values(message: dict[str, Any], shared: dict[str, str]) -> None:
    """Make equal short string values one object (codes, enums, dates, key ids): every accepted
    message is kept until the end, and a value ``orjson`` decodes is a new string each time; this
    halves the memory a kept message needs. Values are equal either way (nothing mutates them)."""
    for key, value in message.items():
        if type(value) is str and len(value) <= 24 and key not in _UNSHARED:
            message[key] = shared.setdefault(value, value)


def figures_document(result: ReplayResult, as_of: date, regions: RegionTable) -> dict[str, Any]:
    """The JSON object of metrics.md ("Output of jeugdhub replay")."""
    facts = (build_youth_facts(messages, regions) for messages in result.by_youth.values())
    return {
        "as_of": as_of.isoformat(),
        "accepted": result.accepted,
        "rejected": result.rejected,
        "duplicates": result.duplicates,
        "regions": region_figures(facts, as_of, regions),
    }


def regulator_document(
    result: ReplayResult, as_of: date, regions: RegionTable, *, public: bool, baseline: date | None
) -> dict[str, Any]:
    """:func:`figures_document` in the public form (``public``) and/or with a ``targets`` object per
    region against ``baseline`` (one pass over the youth, two accumulators: as of D and as of B).

    With both, the targets are evaluated on the public rows of D and B, so they reveal no more than
    the public figures do (docs/regulator.md)."""
    if baseline is None:
        document = figures_document(result, as_of, regions)
        return public_document(document) if public else document
    check_baseline(baseline)
    now, then = FigureAccumulator(regions), FigureAccumulator(regions)
    for messages in result.by_youth.values():
        facts = build_youth_facts(messages, regions)
        now.add(contribution(facts, as_of))
        then.add(contribution(facts, baseline))
    rows_d, rows_b = now.rows(), then.rows()
    if public:
        rows_d, rows_b = [public_row(r) for r in rows_d], [public_row(r) for r in rows_b]
    for row_d, row_b in zip(rows_d, rows_b, strict=True):
        row_d["targets"] = targets_object(evaluate(row_d, row_b, as_of, baseline), baseline)
    return {
        "as_of": as_of.isoformat(),
        "accepted": result.accepted,
        "rejected": result.rejected,
        "duplicates": result.duplicates,
        "regions": rows_d,
    }


def read_lines(handle: BinaryIO, total_bytes: int | None, show_progress: bool) -> Iterator[bytes]:
    """Lines of the input, with a progress bar on a terminal for inputs over a few MB."""
    if not show_progress or total_bytes is None or total_bytes < 4_000_000:
        yield from handle
        return
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn, TransferSpeedColumn

    columns = (TextColumn("replay"), BarColumn(), TransferSpeedColumn(), TimeRemainingColumn())
    with Progress(*columns, console=None, transient=True) as progress:
        task = progress.add_task("replay", total=total_bytes)
        done = 0
        for line in handle:
            done += len(line)
            if done & 0xFFFF < len(line):
                progress.update(task, completed=done)
            yield line
        progress.update(task, completed=total_bytes)


def stderr_is_terminal() -> bool:
    return sys.stderr.isatty()
