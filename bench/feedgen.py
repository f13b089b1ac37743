"""Input generation shared by the benchmarks: the worked example feed, expanded to many youth.

``expand_feed`` makes ``copies`` disjoint copies of ``feed.jsonl`` (new youth, message ids and
references) and shuffles them, keeping every quirk of the original: duplicates, conflicting
re-sends, cancels, rule breaks and the one line that is not JSON. It is
``hubdev.records.expand_feed``, which the integration tests use too, so a benchmark
input is the kind of input they check for correctness. The example feed's 778 lines
hold about 150 youth, 725 accepted, 19 rejected and 36 duplicates per copy.

Everything here is deterministic for a given seed, except :func:`raw_record`'s ``received_at``
(``raw_record``/``raw_records`` are ``hubdev.records``' as well).
"""

from __future__ import annotations

from pathlib import Path

from hubdev.paths import SPEC_EXAMPLES
from hubdev.records import expand_feed, raw_record, raw_records, valid_bsn

__all__ = ["expand_feed", "expanded", "feed_lines", "raw_record", "raw_records", "valid_bsn"]

FEED = SPEC_EXAMPLES / "feed.jsonl"
REGIONS = SPEC_EXAMPLES / "regions.csv"
FEED_LINES = 778
"""Lines in the example feed: ``copies = ceil(wanted / FEED_LINES)``."""
YOUTH_PER_COPY = 150


def feed_lines(path: Path = FEED) -> list[bytes]:
    if not path.is_file():
        raise SystemExit(f"the worked example is not at {path} (it ships in shared/spec/examples)")
    return path.read_bytes().splitlines()


def expanded(at_least: int, seed: int = 2026) -> list[bytes]:
    """At least ``at_least`` lines: whole copies of the example feed."""
    copies = -(-at_least // FEED_LINES)
    return expand_feed(feed_lines(), copies, seed)
