"""DailyRegionFigures carries the contract's first boolean (``written_late``): both the fast and the
reference JSON→Avro paths must take it, and refuse anything but a JSON boolean."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest

from services.aggregate.figures import region_figures
from services.aggregate.snapshots import snapshot
from services.contracts.canonical import record_from_json, record_to_json
from services.contracts.canonical_reference import record_to_avro
from services.contracts.codec import decode, encode
from services.contracts.errors import ContractError
from services.contracts.regions import load_region_table
from services.contracts.schemas import registry


def _daily(written_late: Any) -> dict[str, Any]:
    row = region_figures([], date(2026, 3, 31), load_region_table(None))[-1]
    return {
        **snapshot(row, date(2026, 3, 31), datetime(2026, 4, 1, 0, 5, tzinfo=UTC)),
        "written_late": written_late,
    }


@pytest.mark.parametrize("late", [True, False])
def test_daily_figures_round_trip(late: bool) -> None:
    value = _daily(late)
    record = record_from_json("DailyRegionFigures", value)
    decoded = decode("DailyRegionFigures", encode("DailyRegionFigures", record))
    assert record_to_json("DailyRegionFigures", decoded) == value


@pytest.mark.parametrize("late", [True, False])
def test_reference_path_takes_a_boolean(late: bool) -> None:
    node = registry().resolve("nl.jeugdhub.v1.DailyRegionFigures")
    assert record_to_avro(node, _daily(late), "")["written_late"] is late


@pytest.mark.parametrize("bad", [1, 0, "true", None])
def test_non_boolean_written_late_is_refused(bad: Any) -> None:
    node = registry().resolve("nl.jeugdhub.v1.DailyRegionFigures")
    with pytest.raises(ContractError, match="written_late"):
        record_to_avro(node, _daily(bad), "")
    with pytest.raises(ContractError, match="written_late"):
        record_from_json("DailyRegionFigures", _daily(bad))
