"""The region reference table: municipality (CBS gemeentecode) -> region.

The table is data, never code: municipalities merge every 1 January, so a deployment loads the CBS
table of the year through ``--regions FILE`` or ``JEUGDHUB_REGIONS_FILE``. The shipped default is an
example (regions ``VB01``..``VB06``), not the official 42 jeugdregio's.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

DEFAULT_REGIONS_FILE = Path(__file__).with_name("data") / "regions-example.csv"
NATIONAL = "NL"
_HEADER = ["gemeentecode", "gemeentenaam", "regio_code", "regio_naam"]
_GEMEENTECODE = re.compile(r"^[0-9]{4}$")


class RegionTableError(ValueError):
    """The region file is not a valid reference table (names the line and the problem)."""


@dataclass(frozen=True)
class RegionTable:
    """Immutable mapping from gemeentecode to region code, with the regions' names."""

    municipality_region: Mapping[str, str]
    region_names: Mapping[str, str]

    def region_of(self, municipality_code: str) -> str | None:
        return self.municipality_region.get(municipality_code)

    def __contains__(self, municipality_code: object) -> bool:
        return municipality_code in self.municipality_region

    @property
    def region_codes(self) -> list[str]:
        """Every region, sorted by code (``NL`` not included)."""
        return sorted(self.region_names)


def load_region_table(path: Path | str | None = None) -> RegionTable:
    """Read a ``gemeentecode,gemeentenaam,regio_code,regio_naam`` CSV; fail loudly on any bad row."""
    file = Path(path) if path is not None else DEFAULT_REGIONS_FILE
    municipality_region: dict[str, str] = {}
    region_names: dict[str, str] = {}
    with file.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.reader(handle)
        header = next(reader, None)
        if header is None or [h.strip() for h in header] != _HEADER:
            raise RegionTableError(f"{file}: header must be {','.join(_HEADER)}, got {header!r}")
        for line_no, row in enumerate(reader, start=2):
            if not row or all(not cell.strip() for cell in row):
                continue
            if len(row) != 4:
                raise RegionTableError(f"{file}:{line_no}: expected 4 columns, got {len(row)}")
            code, _name, region, region_name = (cell.strip() for cell in row)
            if not _GEMEENTECODE.match(code):
                raise RegionTableError(f"{file}:{line_no}: gemeentecode {code!r} is not 4 digits")
            if not region or region == NATIONAL:
                raise RegionTableError(f"{file}:{line_no}: invalid regio_code {region!r}")
            if code in municipality_region:
                raise RegionTableError(f"{file}:{line_no}: gemeentecode {code} appears twice")
            known_name = region_names.setdefault(region, region_name)
            if known_name != region_name:
                raise RegionTableError(
                    f"{file}:{line_no}: region {region} named {region_name!r}, earlier {known_name!r}"
                )
            municipality_region[code] = region
    if not municipality_region:
        raise RegionTableError(f"{file}: no municipalities")
    return RegionTable(municipality_region, region_names)
