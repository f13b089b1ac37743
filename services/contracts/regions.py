"""The region reference table: municipality (CBS gemeentecode) -> region, with validity dates.

The table is data, never code: municipalities merge every 1 January, so a deployment loads the CBS
table of the year through ``--regions FILE`` or ``JEUGDHUB_REGIONS_FILE``. The shipped default is an
example (regions ``VB01``..``VB06``), not the official 42 jeugdregio's.

Validity dates (optional columns ``geldig_vanaf,geldig_tot``) let one table cover mergers: a code
that merged away has a ``geldig_tot``, the new municipality's code a ``geldig_vanaf``, and a code may
appear in several rows with non-overlapping periods (a different region over time). A period is
half-open, ``[geldig_vanaf, geldig_tot)``: ``geldig_tot`` is the first day the row no longer holds,
so a merger on 1 January is the same date on both sides (old ``geldig_tot=2021-01-01``, new
``geldig_vanaf=2021-01-01``). An empty cell is open-ended; a table without the two columns (the
spec's 4-column header) means every row is valid always.

A message is counted in the region of its municipality *on its event date*
(:data:`EVENT_DATE_FIELD`) and validate's ``S300`` asks the same question, through one function,
:meth:`RegionTable.region_on`, so a message validate accepts always has a region in the aggregate.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from itertools import pairwise
from pathlib import Path
from typing import Any, NamedTuple

DEFAULT_REGIONS_FILE = Path(__file__).with_name("data") / "regions-example.csv"
DATED_EXAMPLE_REGIONS_FILE = Path(__file__).with_name("data") / "regions-example-dated.csv"
"""The default example plus one real merger (Eemsdelta, 1 January 2021) as dated rows."""
NATIONAL = "NL"
_HEADER = ["gemeentecode", "gemeentenaam", "regio_code", "regio_naam"]
_DATED_HEADER = [*_HEADER, "geldig_vanaf", "geldig_tot"]
_GEMEENTECODE = re.compile(r"^[0-9]{4}$")
_ISO_DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")

EVENT_DATE_FIELD: Mapping[str, str] = {
    "placement_started": "start_date",
    "placement_ended": "end_date",
    "transfer": "transfer_date",
    "measure": "start_date",
    "perspective_determined": "determined_date",
}
"""The body field holding a ``new`` message's event date, per type.

It decides the municipality's region (and whether the code is known, ``S300``), as well as the age
rules of validate. Where a message's region matters to a figure, the aggregate resolves it with the
same date: a placement's start fields come from a ``placement_started`` (``start_date``) or a
``transfer`` (``transfer_date``, the to-placement's start), a measure's from its ``start_date``.
A ``cancel`` has no body and no event date."""


class RegionTableError(ValueError):
    """The region file is not a valid reference table (names the line and the problem)."""


class DatedCodeError(ValueError):
    """:meth:`RegionTable.region_of` asked, without a date, about a code whose region depends on it."""


class RegionPeriod(NamedTuple):
    """One dated row: ``region`` from ``valid_from`` (inclusive) until ``valid_until`` (exclusive)."""

    region: str
    valid_from: date | None
    """``None``: since always."""
    valid_until: date | None
    """``None``: still valid (no end known)."""

    def covers(self, day: date) -> bool:
        return (self.valid_from is None or self.valid_from <= day) and (
            self.valid_until is None or day < self.valid_until
        )


@dataclass(frozen=True)
class RegionTable:
    """Immutable mapping from gemeentecode to region code, per period, with the regions' names.

    ``municipality_region`` holds the codes valid at every date (rows without dates);
    ``dated`` the codes with dated rows, each with its periods sorted by start. A code is in one
    of the two, never both. Plain dicts (not mapping proxies) so a table pickles to worker processes.
    """

    municipality_region: Mapping[str, str]
    region_names: Mapping[str, str]
    dated: Mapping[str, tuple[RegionPeriod, ...]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        both = sorted(set(self.municipality_region) & set(self.dated))
        if both:
            raise ValueError(f"gemeentecode {both[0]} is both valid always and dated")

    def region_on(self, municipality_code: str, day: date) -> str | None:
        """The code's region on ``day``; ``None`` when the code is unknown on that day.

        The one function that validate (``S300``), replay and the aggregate use, so they agree.
        """
        region = self.municipality_region.get(municipality_code)
        if region is not None:
            return region
        for period in self.dated.get(municipality_code, ()):
            if period.covers(day):
                return period.region
        return None

    def region_of(self, municipality_code: str) -> str | None:
        """The code's region for a caller without a date: only answered when no date can change it.

        A code valid always gives its region, an unknown code ``None``. A dated code raises
        :class:`DatedCodeError`: before its start or after its merger it is unknown, and it may
        change region, so any date-free answer ("today", "latest") would silently misplace
        messages of other dates. Use :meth:`region_on`.
        """
        region = self.municipality_region.get(municipality_code)
        if region is None and municipality_code in self.dated:
            raise DatedCodeError(
                f"gemeentecode {municipality_code} has validity dates: ask region_on(code, day)"
            )
        return region

    def __contains__(self, municipality_code: object) -> bool:
        """Is the code in the table in *any* period (the date-free question validate asks of a cancel)."""
        return municipality_code in self.municipality_region or municipality_code in self.dated

    @property
    def region_codes(self) -> list[str]:
        """Every region of the table, whatever its rows' periods, sorted by code (``NL`` not included)."""
        return sorted(self.region_names)

    @property
    def is_dated(self) -> bool:
        """Does any row carry a validity date?"""
        return bool(self.dated)


def event_day(message: Mapping[str, Any]) -> date | None:
    """A ``new`` message's event date (:data:`EVENT_DATE_FIELD`); ``None`` for a cancel."""
    if message["status"] != "new":
        return None
    return date.fromisoformat(message[EVENT_DATE_FIELD[message["message_type"]]][:10])


def _parse_day(file: Path, line_no: int, column: str, text: str) -> date | None:
    if not text:
        return None
    if _ISO_DATE.match(text):
        try:
            return date.fromisoformat(text)
        except ValueError:
            pass
    raise RegionTableError(f"{file}:{line_no}: {column} {text!r} is not a date (YYYY-MM-DD, or empty)")


def _check_no_overlap(file: Path, code: str, rows: list[tuple[int, RegionPeriod]]) -> None:
    """Periods of one code must not overlap (else a message's region would be ambiguous)."""
    rows.sort(key=lambda row: (row[1].valid_from or date.min, row[0]))
    for (earlier_line, earlier), (line_no, later) in pairwise(rows):
        later_start = later.valid_from or date.min
        if earlier.valid_until is None or earlier.valid_until > later_start:
            raise RegionTableError(
                f"{file}:{line_no}: gemeentecode {code} is valid here in a period that overlaps line "
                f"{earlier_line} (periods of one code must not overlap; geldig_tot is exclusive)"
            )


def load_region_table(path: Path | str | None = None) -> RegionTable:
    """Read the CSV (4 columns, or 6 with ``geldig_vanaf,geldig_tot``); fail loudly on any bad row."""
    file = Path(path) if path is not None else DEFAULT_REGIONS_FILE
    rows_of: dict[str, list[tuple[int, RegionPeriod]]] = {}
    region_names: dict[str, str] = {}
    with file.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.reader(handle)
        header = next(reader, None)
        columns = [h.strip() for h in header] if header is not None else None
        if columns not in (_HEADER, _DATED_HEADER):
            raise RegionTableError(
                f"{file}: header must be {','.join(_HEADER)} (optionally followed by "
                f"geldig_vanaf,geldig_tot), got {header!r}"
            )
        width = len(columns)
        for line_no, row in enumerate(reader, start=2):
            if not row or all(not cell.strip() for cell in row):
                continue
            if len(row) != width:
                raise RegionTableError(f"{file}:{line_no}: expected {width} columns, got {len(row)}")
            cells = [cell.strip() for cell in row]
            code, _name, region, region_name = cells[:4]
            if not _GEMEENTECODE.match(code):
                raise RegionTableError(f"{file}:{line_no}: gemeentecode {code!r} is not 4 digits")
            if not region or region == NATIONAL:
                raise RegionTableError(f"{file}:{line_no}: invalid regio_code {region!r}")
            valid_from = valid_until = None
            if width == len(_DATED_HEADER):
                valid_from = _parse_day(file, line_no, "geldig_vanaf", cells[4])
                valid_until = _parse_day(file, line_no, "geldig_tot", cells[5])
                if valid_from is not None and valid_until is not None and valid_until <= valid_from:
                    raise RegionTableError(
                        f"{file}:{line_no}: geldig_tot {valid_until} is not after geldig_vanaf "
                        f"{valid_from} (geldig_tot is exclusive: the first day the row no longer holds)"
                    )
            known_name = region_names.setdefault(region, region_name)
            if known_name != region_name:
                raise RegionTableError(
                    f"{file}:{line_no}: region {region} named {region_name!r}, earlier {known_name!r}"
                )
            rows_of.setdefault(code, []).append((line_no, RegionPeriod(region, valid_from, valid_until)))
    if not rows_of:
        raise RegionTableError(f"{file}: no municipalities")
    municipality_region: dict[str, str] = {}
    dated: dict[str, tuple[RegionPeriod, ...]] = {}
    for code, rows in rows_of.items():
        _check_no_overlap(file, code, rows)
        if len(rows) == 1 and rows[0][1].valid_from is None and rows[0][1].valid_until is None:
            municipality_region[code] = rows[0][1].region
        else:
            dated[code] = tuple(period for _, period in rows)
    return RegionTable(municipality_region, region_names, dated)
