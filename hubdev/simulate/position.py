"""How far a posted feed got: ``jeugdhub simulate --post --resume FILE`` keeps it there.

The simulator writes the file after every window ingest took, so a feed stopped by Ctrl-C, SIGTERM
or a kill continues after its last posted window (a window in flight is posted again; validate
acknowledges those as duplicates). ``jeugdhub run`` reads it to continue the feed where the last
run stopped instead of posting the same messages again, and to show the phase ("posting history
…, 38 %") in its live view.

The feed's identity (everything that changes its bytes, plus a *tag* for where it goes) is part of
the file: another seed, period or Kafka starts at the first line.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from datetime import date
from pathlib import Path
from typing import Any

DAY_SECONDS = 86_400


@dataclass(frozen=True)
class FeedPosition:
    feed: dict[str, Any]
    """The feed's identity: seed, period, generator settings, regions and the tag."""
    lines: int
    """Lines of the feed posted (and skipped when it continues)."""
    day: str | None
    """Delivery day of the last posted line."""
    complete: bool = False
    updated_at: float = 0.0

    @property
    def origin(self) -> date:
        return date.fromisoformat(str(self.feed["origin"]))

    @property
    def start(self) -> date:
        return date.fromisoformat(str(self.feed["start"]))

    @property
    def end(self) -> date:
        return date.fromisoformat(str(self.feed["end"]))


def feed_identity(config: Any, regions: str, tag: str) -> dict[str, Any]:
    """What makes a feed this feed (a :class:`~hubdev.simulate.feed.SimulationConfig`)."""
    return {
        "seed": config.seed,
        "origin": config.origin.isoformat(),
        "start": config.start.isoformat(),
        "end": config.end.isoformat(),
        "history_days": config.history_days,
        "scale": config.scale,
        "other_care_scale": config.other_care_scale,
        "invalid_share": config.invalid_share,
        "duplicate_share": config.duplicate_share,
        "providers": config.providers,
        "regions": regions,
        "tag": tag,
    }


def day_of(delivery_second: int) -> str:
    """The date of a delivery second (the generator counts seconds from day ordinal 0)."""
    return date.fromordinal(delivery_second // DAY_SECONDS).isoformat()


def read_position(path: Path) -> FeedPosition | None:
    """The recorded position, or None when there is none (or it cannot be read: start over)."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        position = FeedPosition(**raw)
        if not isinstance(position.feed, dict) or position.lines < 0 or position.end < position.origin:
            return None  # (reading .end and .origin also checks that the dates parse)
        return position
    except (OSError, ValueError, TypeError, KeyError):
        return None


def write_position(path: Path, position: FeedPosition) -> None:
    """Atomic replace, so a kill never leaves half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(asdict(position), indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def resume_from(path: Path | None, identity: dict[str, Any]) -> int:
    """Lines to skip: the recorded position if *path* holds this same feed, else 0."""
    if path is None:
        return 0
    position = read_position(path)
    return position.lines if position is not None and position.feed == identity else 0


def phase(position: FeedPosition | None) -> str | None:
    """One line for the live view: which part of the feed is being posted, and how far."""
    if position is None:
        return None
    origin, start, end = position.origin, position.start, position.end
    if position.complete:
        return (
            f"feed {origin:%Y-%m}…{end:%Y-%m} posted in full ({position.lines:,} lines); nothing new to post"
        )
    day = date.fromisoformat(position.day) if position.day else origin
    if day == origin < start:
        return (
            f"posting the initial load (the stays open on {origin.isoformat()}), then the history "
            f"{origin:%Y-%m}…{start:%Y-%m} (12-month figures count from {start.isoformat()})"
        )
    if day < start:
        share = (day - origin).days / max(1, (start - origin).days)
        return (
            f"posting history {origin:%Y-%m}…{start:%Y-%m}, {share:.0%} "
            f"(12-month figures count from {start.isoformat()})"
        )
    share = ((day - start).days + 1) / ((end - start).days + 1)
    return f"posting {start:%Y-%m}…{end:%Y-%m}: at {day.isoformat()}, {min(share, 1.0):.0%}"
