"""The region reference table: loading (4 and 6 columns), its errors, and lookups by date."""

from __future__ import annotations

import pickle
from datetime import date, timedelta
from itertools import pairwise
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.contracts.regions import (
    DATED_EXAMPLE_REGIONS_FILE,
    DEFAULT_REGIONS_FILE,
    DatedCodeError,
    RegionPeriod,
    RegionTable,
    RegionTableError,
    event_day,
    load_region_table,
)

HEADER4 = "gemeentecode,gemeentenaam,regio_code,regio_naam"
HEADER6 = HEADER4 + ",geldig_vanaf,geldig_tot"
MERGER = date(2021, 1, 1)
"""Appingedam (0003), Delfzijl (0010) and Loppersum (0024) became Eemsdelta (1979) on this day."""


def write(tmp_path: Path, *lines: str) -> Path:
    path = tmp_path / "regions.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def load_error(tmp_path: Path, *lines: str) -> str:
    with pytest.raises(RegionTableError) as caught:
        load_region_table(write(tmp_path, *lines))
    return str(caught.value)


# --- loading --------------------------------------------------------------------------------------


def test_the_spec_header_still_loads_and_means_valid_always(tmp_path: Path) -> None:
    table = load_region_table(write(tmp_path, HEADER4, "0363,Amsterdam,R1,Een", "0599,Rotterdam,R2,Twee"))
    assert not table.is_dated
    assert table.municipality_region == {"0363": "R1", "0599": "R2"}
    for day in (date(1900, 1, 1), MERGER, date(2099, 12, 31)):
        assert table.region_on("0363", day) == "R1"
    assert table.region_of("0599") == "R2"
    assert table.region_codes == ["R1", "R2"]


def test_empty_date_cells_are_open_ended(tmp_path: Path) -> None:
    table = load_region_table(write(tmp_path, HEADER6, "0363,Amsterdam,R1,Een,,"))
    assert not table.is_dated
    assert table.municipality_region == {"0363": "R1"}


def test_a_code_moves_region_over_non_overlapping_periods(tmp_path: Path) -> None:
    table = load_region_table(
        write(
            tmp_path,
            HEADER6,
            "0363,Amsterdam,R2,Twee,2020-01-01,",
            "0363,Amsterdam,R1,Een,,2020-01-01",
        )
    )
    assert table.is_dated
    assert table.dated["0363"] == (
        RegionPeriod("R1", None, date(2020, 1, 1)),
        RegionPeriod("R2", date(2020, 1, 1), None),
    )
    assert table.region_on("0363", date(2019, 12, 31)) == "R1"
    assert table.region_on("0363", date(2020, 1, 1)) == "R2"


def test_geldig_tot_is_exclusive_and_geldig_vanaf_inclusive(tmp_path: Path) -> None:
    table = load_region_table(write(tmp_path, HEADER6, "0010,Delfzijl,R1,Een,2019-01-01,2021-01-01"))
    assert table.region_on("0010", date(2018, 12, 31)) is None
    assert table.region_on("0010", date(2019, 1, 1)) == "R1"
    assert table.region_on("0010", date(2020, 12, 31)) == "R1"
    assert table.region_on("0010", date(2021, 1, 1)) is None


def test_a_gap_between_periods_is_unknown(tmp_path: Path) -> None:
    table = load_region_table(
        write(tmp_path, HEADER6, "0010,X,R1,Een,,2020-01-01", "0010,X,R2,Twee,2021-01-01,")
    )
    assert table.region_on("0010", date(2019, 12, 31)) == "R1"
    assert table.region_on("0010", date(2020, 6, 1)) is None
    assert table.region_on("0010", date(2021, 1, 1)) == "R2"


@pytest.mark.parametrize(
    ("rows", "expected"),
    [
        (
            ["0010,X,R1,Een,,", "0010,X,R1,Een,,"],
            ":3: gemeentecode 0010 is valid here in a period that overlaps line 2",
        ),
        (["0010,X,R1,Een,,2021-01-02", "0010,X,R2,Twee,2021-01-01,"], ":3: gemeentecode 0010"),
        (["0010,X,R2,Twee,2021-01-01,", "0010,X,R1,Een,2020-01-01,"], ":2: gemeentecode 0010"),
        (
            ["0010,X,R1,Een,2020-01-01,2020-06-01", "0010,X,R1,Een,2020-03-01,2020-04-01"],
            ":3: gemeentecode 0010",
        ),
    ],
)
def test_overlapping_periods_of_one_code_name_the_line(
    tmp_path: Path, rows: list[str], expected: str
) -> None:
    message = load_error(tmp_path, HEADER6, *rows)
    assert expected in message
    assert "must not overlap" in message


def test_a_code_twice_in_a_four_column_table_is_an_overlap(tmp_path: Path) -> None:
    message = load_error(tmp_path, HEADER4, "0010,X,R1,Een", "0010,X,R2,Twee")
    assert ":3: gemeentecode 0010" in message


@pytest.mark.parametrize("tot", ["2021-01-01", "2020-12-31"])
def test_geldig_tot_not_after_geldig_vanaf(tmp_path: Path, tot: str) -> None:
    message = load_error(tmp_path, HEADER6, "0363,A,R1,Een,,", f"1979,Eemsdelta,R1,Een,2021-01-01,{tot}")
    assert f":3: geldig_tot {tot} is not after geldig_vanaf 2021-01-01" in message


@pytest.mark.parametrize(
    ("vanaf", "tot", "column", "bad"),
    [
        ("2021-13-01", "", "geldig_vanaf", "2021-13-01"),
        ("20210101", "", "geldig_vanaf", "20210101"),
        ("", "1-1-2021", "geldig_tot", "1-1-2021"),
        ("", "2021-02-30", "geldig_tot", "2021-02-30"),
        ("", "2021-W01-1", "geldig_tot", "2021-W01-1"),
    ],
)
def test_bad_dates_name_the_line_and_column(
    tmp_path: Path, vanaf: str, tot: str, column: str, bad: str
) -> None:
    message = load_error(tmp_path, HEADER6, "0363,A,R1,Een,,", f"0010,Delfzijl,R1,Een,{vanaf},{tot}")
    assert f":3: {column} {bad!r} is not a date" in message


def test_other_row_errors_still_name_the_line(tmp_path: Path) -> None:
    assert ":2: expected 6 columns, got 4" in load_error(tmp_path, HEADER6, "0363,A,R1,Een")
    assert ":2: gemeentecode '363'" in load_error(tmp_path, HEADER6, "363,A,R1,Een,,")
    assert ":2: invalid regio_code 'NL'" in load_error(tmp_path, HEADER6, "0363,A,NL,Land,,")
    assert ":3: region R1 named 'Twee'" in load_error(
        tmp_path, HEADER6, "0363,A,R1,Een,,", "0599,B,R1,Twee,,"
    )


@pytest.mark.parametrize(
    "header", [HEADER4 + ",geldig_vanaf", HEADER4 + ",geldig_tot,geldig_vanaf", "code,naam,regio,regionaam"]
)
def test_other_headers_are_refused(tmp_path: Path, header: str) -> None:
    assert "header must be" in load_error(tmp_path, header, "0363,A,R1,Een,,")


# --- the API for callers without a date ----------------------------------------------------------


def test_region_of_refuses_a_dated_code_and_answers_the_rest(tmp_path: Path) -> None:
    table = load_region_table(write(tmp_path, HEADER6, "0363,A,R1,Een,,", "0010,Delfzijl,R1,Een,,2021-01-01"))
    assert table.region_of("0363") == "R1"
    assert table.region_of("9999") is None
    with pytest.raises(DatedCodeError, match="0010 has validity dates"):
        table.region_of("0010")


def test_membership_is_any_period(tmp_path: Path) -> None:
    table = load_region_table(write(tmp_path, HEADER6, "0363,A,R1,Een,,", "0010,Delfzijl,R1,Een,,2021-01-01"))
    assert "0010" in table
    assert "0363" in table
    assert "9999" not in table
    assert table.municipality_region == {"0363": "R1"}  # only the codes valid at every date


def test_a_code_cannot_be_both_valid_always_and_dated() -> None:
    with pytest.raises(ValueError, match="0010"):
        RegionTable({"0010": "R1"}, {"R1": "Een"}, {"0010": (RegionPeriod("R1", None, MERGER),)})


def test_a_dated_table_survives_pickling() -> None:
    table = load_region_table(DATED_EXAMPLE_REGIONS_FILE)
    assert pickle.loads(pickle.dumps(table)) == table


# --- the shipped tables ---------------------------------------------------------------------------


def test_the_default_table_is_unchanged_and_undated() -> None:
    table = load_region_table(None)
    assert not table.is_dated
    assert len(table.municipality_region) == 21
    for code in ("0003", "0010", "0024", "1979"):
        assert code not in table


def test_the_dated_example_is_the_default_plus_the_eemsdelta_merger() -> None:
    default = load_region_table(DEFAULT_REGIONS_FILE)
    dated = load_region_table(DATED_EXAMPLE_REGIONS_FILE)
    assert dated.municipality_region == default.municipality_region
    assert dated.region_names == default.region_names
    assert set(dated.dated) == {"0003", "0010", "0024", "1979"}
    day_before = MERGER - timedelta(days=1)
    for old in ("0003", "0010", "0024"):
        assert dated.region_on(old, day_before) == "VB01"
        assert dated.region_on(old, MERGER) is None
    assert dated.region_on("1979", day_before) is None
    assert dated.region_on("1979", MERGER) == "VB01"


# --- region_on as a function of the periods ------------------------------------------------------

_DAYS = st.dates(min_value=date(2000, 1, 1), max_value=date(2040, 12, 31))


@given(
    bounds=st.lists(_DAYS, min_size=1, max_size=6, unique=True).map(sorted),
    open_start=st.booleans(),
    open_end=st.booleans(),
    data=st.data(),
)
def test_region_on_finds_the_one_period_that_covers_the_day(
    tmp_path_factory: pytest.TempPathFactory,
    bounds: list[date],
    open_start: bool,
    open_end: bool,
    data: st.DataObject,
) -> None:
    """Consecutive periods between sorted bounds, alternating regions; a day maps to the period it is in."""
    day = data.draw(st.one_of(st.sampled_from(bounds), _DAYS), label="day")  # the edges matter most
    edges: list[date | None] = [*([None] if open_start else []), *bounds, *([None] if open_end else [])]
    if len(edges) < 2:
        edges.append(None)
    rows = []
    expected: str | None = None
    for i, (start, end) in enumerate(pairwise(edges)):
        region = f"R{i % 2}"
        rows.append(f"0010,X,{region},N{i % 2},{start or ''},{end or ''}")
        if (start is None or start <= day) and (end is None or day < end):
            expected = region
    path = tmp_path_factory.mktemp("regions") / "regions.csv"
    path.write_text("\n".join([HEADER6, "0363,A,R0,N0,,", *reversed(rows)]) + "\n")
    table = load_region_table(path)
    assert table.region_on("0010", day) == expected
    assert table.region_on("0363", day) == "R0"


def test_event_day_per_message_type() -> None:
    assert event_day({"status": "new", "message_type": "placement_ended", "end_date": "2020-12-31"}) == date(
        2020, 12, 31
    )
    assert event_day({"status": "new", "message_type": "transfer", "transfer_date": "2021-01-01"}) == MERGER
    assert event_day({"status": "cancel", "message_type": "transfer"}) is None
