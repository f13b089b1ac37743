"""Shared, cached simulated feeds for the simulator tests (a feed is made and judged once per run).

Feeds keep closed care (JeugdzorgPlus) at national scale, exactly as ``jeugdhub simulate`` calibrates
it, and shrink the other care types with ``other_care_scale`` so the validation pipeline stays
quick.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from functools import cache
from typing import Any

from hubdev.simulate.feed import Simulation, SimulationConfig
from hubdev.simulate.plan import YearCalibration
from hubdev.simulate.render import FeedStats
from services.contracts.records import RejectionJSON
from services.contracts.regions import RegionTable, load_region_table
from services.privacy.pseudonym import ephemeral_keyring
from services.replay.offline import ReplayResult, figures_document, judge_lines

OTHER_CARE_SCALE = 0.04


@dataclass(frozen=True)
class Feed:
    config: SimulationConfig
    lines: list[bytes]
    senders: list[Mapping[str, str]]
    stats: FeedStats
    calibration: list[YearCalibration]
    regions: RegionTable


@dataclass(frozen=True)
class Judged:
    feed: Feed
    result: ReplayResult
    rejections: list[RejectionJSON]
    codes: Counter[str]
    figures: dict[str, Any]

    @property
    def national(self) -> dict[str, Any]:
        row: dict[str, Any] = self.figures["regions"][-1]
        assert row["region"] == "NL"
        return row


@cache
def regions() -> RegionTable:
    return load_region_table()


def simulate(config: SimulationConfig) -> Feed:
    simulation = Simulation(config, regions())
    lines: list[bytes] = []
    senders: list[Mapping[str, str]] = []
    for line in simulation.lines():
        lines.append(line.payload)
        senders.append(line.sender)
    return Feed(config, lines, senders, simulation.stats, simulation.calibration, regions())


@cache
def year_feed(year: int, invalid_share: float = 0.03, seed: int = 11) -> Feed:
    config = SimulationConfig(
        start=date(year, 1, 1),
        end=date(year, 12, 31),
        seed=seed,
        other_care_scale=OTHER_CARE_SCALE,
        invalid_share=invalid_share,
    )
    return simulate(config)


@cache
def judged_year(year: int, invalid_share: float = 0.03, seed: int = 11) -> Judged:
    """The year's feed through the real validation (``judge_lines``) and figures as of 31 December."""
    feed = year_feed(year, invalid_share, seed)
    rejections: list[RejectionJSON] = []
    result = judge_lines(feed.lines, ephemeral_keyring(), feed.regions, rejections.append)
    codes: Counter[str] = Counter(error["code"] for r in rejections for error in r["errors"])
    figures = figures_document(result, date(year, 12, 31), feed.regions)
    return Judged(feed, result, rejections, codes, figures)
