"""The command-line input the offline commands share: ``replay``, ``history`` and ``report``.

Each reads a feed file the same way (the same path check, the same regions and keyring with the
same one-line errors, the same judging as :func:`services.replay.offline.judge_lines`), so the three
cannot disagree about which messages a file holds, nor word a failure differently. Failures come
back as the text of the one-line error (the caller prefixes its command name and exits 2).

Imports nothing heavy at module level: the commands use :func:`iso_date` when building the parser.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterable, Iterator
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from services.contracts.regions import RegionTable
    from services.privacy.pseudonym import Keyring
    from services.replay.offline import RejectionSink, ReplayResult
    from services.settings import ReplaySettings


class Digest(Protocol):
    """What :func:`judge_feed` feeds the raw bytes to (``hashlib.sha256()``, for the report's note)."""

    def update(self, data: bytes, /) -> None: ...


def iso_date(option: str) -> Callable[[str], date]:
    """An argparse ``type`` for a YYYY-MM-DD date that names ``option`` in its error."""

    def parse(text: str) -> date:
        try:
            return date.fromisoformat(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(f"{option} must be YYYY-MM-DD, got {text!r}") from exc

    return parse


def unreadable(path: Path) -> str | None:
    """Why the feed file cannot be read, checked before any work; ``None`` when it is a file."""
    if path.is_file():
        return None
    why = "is not a file" if path.exists() else "no such file"
    return f"cannot read {path}: {why}"


def checked_baseline(option: date | None, settings: ReplaySettings) -> date | str | None:
    """The baseline of ``--baseline`` (default: the setting), None when neither is set, or why it
    cannot serve as the targets' baseline."""
    from services.regulator.targets import check_baseline

    baseline = option or settings.baseline_date
    if baseline is not None:
        try:
            check_baseline(baseline)
        except ValueError as exc:
            return f"--baseline: {exc}"
    return baseline


def load_regions(regions_file: str | None, settings: ReplaySettings) -> RegionTable | str:
    """The region table of ``--regions`` (default: the setting), or why it cannot be loaded."""
    from services.contracts.regions import RegionTableError, load_region_table

    try:
        return load_region_table(regions_file or settings.regions_file)
    except (RegionTableError, OSError) as exc:
        return str(exc)


def load_feed_keyring(settings: ReplaySettings) -> Keyring | str:
    """The configured keyring, a one-off key when none is configured, or why it cannot be loaded."""
    from services.privacy.pseudonym import KeyringError, ephemeral_keyring, load_keyring

    try:
        return load_keyring(settings.keyring_file, settings.keyring_json_value()) or ephemeral_keyring()
    except (KeyringError, OSError) as exc:
        return str(exc)


def judge_feed(
    path: Path,
    keyring: Keyring,
    regions: RegionTable,
    on_rejection: RejectionSink | None = None,
    digest: Digest | None = None,
) -> ReplayResult:
    """Every line of the file judged in file order (a progress bar on a terminal for large files);
    ``digest``, when given, sees every byte read."""
    from services.replay import offline

    with path.open("rb") as handle:
        lines = offline.read_lines(handle, path.stat().st_size, sys.stderr.isatty())
        if digest is not None:
            lines = _hashed(lines, digest)
        return offline.judge_lines(lines, keyring, regions, on_rejection, compact=True)


def note_bad_lines(command: str, path: Path, result: ReplayResult) -> None:
    """One stderr line per input line that is not a JSON message (each counts as a rejection)."""
    for line_no in result.bad_lines:
        print(
            f"jeugdhub {command}: {path}:{line_no}: not a JSON message, recorded as a SCHEMA rejection",
            file=sys.stderr,
        )


def _hashed(lines: Iterable[bytes], digest: Digest) -> Iterator[bytes]:
    for line in lines:
        digest.update(line)
        yield line
