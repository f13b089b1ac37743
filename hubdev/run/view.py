"""The live terminal view of ``jeugdhub run`` (rich): figures per region, rates, rejects by rule."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from rich.console import Group
from rich.panel import Panel
from rich.table import Table

from hubdev.run.scrape import Samples, by_label, total
from hubdev.simulate.position import FeedPosition, phase
from services.contracts.vocabulary import RESTRICTIVE_MEASURE_KINDS

COUNTERS = {
    "ingest": ("jeugdhub_ingest_messages_received_total", "received"),
    "validate_in": ("jeugdhub_validate_messages_in_total", "validated"),
    "accepted": ("jeugdhub_validate_accepted_total", "accepted"),
    "rejected": ("jeugdhub_validate_rejected_total", "rejected"),
    "duplicates": ("jeugdhub_validate_duplicates_total", "duplicates"),
    "applied": ("jeugdhub_aggregate_events_applied_total", "aggregated"),
}


@dataclass
class Rates:
    """Per-second rates from successive counter readings."""

    _last: dict[str, tuple[float, float]] = field(default_factory=dict)
    rates: dict[str, float] = field(default_factory=dict)
    totals: dict[str, float] = field(default_factory=dict)

    def update(self, samples: Samples, now: float | None = None) -> None:
        moment = time.monotonic() if now is None else now
        for key, (name, _label) in COUNTERS.items():
            value = total(samples, name)
            previous = self._last.get(key)
            if previous is not None and moment > previous[1]:
                self.rates[key] = max(0.0, (value - previous[0]) / (moment - previous[1]))
            self._last[key] = (value, moment)
            self.totals[key] = value


PERCENT_FIGURES = frozenset({"perspective_in_time_rate"})
"""Figures that are shares in [0, 1]: shown as percentages, 0 as "0.0%" like any other value."""


def _fmt(value: Any, percent: bool = False) -> str:
    if value is None:
        return "–"
    if percent:
        return f"{float(value):.1%}"
    if isinstance(value, float):
        return f"{value:.1f}"
    return str(value)


FIGURES_CAPTION = (
    "closed care (gesloten) only, except the columns marked (all): those count every care type "
    "(../shared/spec/metrics.md)"
)


def figures_table(snapshots: Mapping[str, Mapping[str, Any]]) -> Table:
    table = Table(
        title="Figures per region (aggregates topic)",
        caption=FIGURES_CAPTION,
        expand=True,
        header_style="bold",
    )
    columns = [
        ("region", "region"),
        ("occupancy", "closed"),
        ("occupancy_residential", "resid. (all)"),
        ("placements_started_12m", "closed plac. 12m"),
        ("youth_placed_12m", "closed youth 12m"),
        ("transfers_between_providers_12m", "transf. betw. (all)"),
        ("transfers_within_provider_12m", "transf. within (all)"),
        ("perspective_in_time_rate", "persp. in time"),
        ("overdue_without_perspective", "overdue"),
        ("median_length_of_stay_days_12m", "median LOS d"),
    ]
    for _, header in columns:
        table.add_column(header, justify="right" if header != "region" else "left")
    table.add_column("afz./sep./fix./insl.", justify="right")  # RESTRICTIVE_MEASURE_KINDS, in order
    ordered = sorted((r for r in snapshots if r != "NL"), key=str) + (["NL"] if "NL" in snapshots else [])
    for region in ordered:
        row = snapshots[region]
        measures = row.get("restrictive_measures_12m") or {}
        cells = [
            str(row["median_length_of_stay_days_12m"])
            if key == "median_length_of_stay_days_12m" and row[key] is not None
            else _fmt(row[key], key in PERCENT_FIGURES)
            if key != "region"
            else str(row[key])
            for key, _ in columns
        ]
        cells.append("/".join(str(measures.get(k, 0)) for k in RESTRICTIVE_MEASURE_KINDS))
        table.add_row(*cells, style="bold" if region == "NL" else None)
    if not ordered:
        table.add_row("(waiting for the first snapshot)", *[""] * len(columns))
    return table


Service = tuple[str, bool, str | None, str | None]
"""(name, alive, /metrics URL, what it is doing while not ready: e.g. its recovery progress)."""


def render(
    snapshots: Mapping[str, Mapping[str, Any]],
    rates: Rates,
    rejects_by_rule: Mapping[str, float],
    services: Sequence[Service],
    as_of: str | None,
    elapsed_s: float,
    phase: str | None = None,
) -> Group:
    status = Table.grid(padding=(0, 2))
    status.add_row(
        *[
            f"[{'green' if up else 'red'}]●[/] {name}" + (f" [yellow]({doing})[/]" if doing else "")
            for name, up, _, doing in services
        ]
    )
    # one line of text, not a grid: in a narrow terminal it wraps instead of cutting every count short
    flow = "[bold]this run:[/] " + " · ".join(
        f"{label} {rates.totals.get(key, 0):,.0f} ({rates.rates.get(key, 0.0):,.0f}/s)"
        for key, (_, label) in COUNTERS.items()
    )
    rules = ", ".join(
        f"{code} {count:,.0f}" for code, count in sorted(rejects_by_rule.items(), key=lambda kv: -kv[1])
    )
    lines: list[Any] = [status, flow, f"rejects by rule (this run): {rules or 'none yet'}"]
    if phase:
        lines.append(f"[bold]feed:[/] {phase}")
    header = Panel(
        Group(*lines),
        title=f"Jeugdhub — running {elapsed_s:,.0f} s — figures as of {as_of or '…'}",
        subtitle="counts: this run · figures: totals on the topics · Ctrl-C stops everything",
    )
    return Group(header, figures_table(snapshots))


ALL_DUPLICATES_SHARE = 0.9
"""Above this share of duplicates among what validate takes in, the feed is a repeat."""


def feed_phase(
    position: FeedPosition | None,
    rates: Rates,
    *,
    simulator_running: bool,
    note: str | None = None,
) -> str | None:
    """What the simulated feed is doing, in one line: which part is being posted and how far, or
    that everything arriving is a duplicate (a feed posted to these topics before)."""
    validated = rates.rates.get("validate_in", 0.0)
    if validated > 0 and rates.rates.get("duplicates", 0.0) >= ALL_DUPLICATES_SHARE * validated:
        return (
            "all duplicates: this feed was posted to these topics before (run continues the last "
            "feed by default; --seed N posts another one)"
        )
    text = phase(position)
    if text is None:
        return note
    if not simulator_running and position is not None and not position.complete:
        return f"simulator stopped ({text}); see its log"
    return text


def rejects_by_rule(samples: Samples) -> dict[str, float]:
    return by_label(samples, "jeugdhub_validate_rule_violations_total", "code")


def status_lines_note(no_view: bool) -> str:
    """Said once when ``run`` prints status lines instead of the live view, so that piping the
    output (``make run | tee``) does not look like a different, broken program."""
    why = "--no-view" if no_view else "the output is not a terminal"
    return f"{why}: a status line every 5 s instead of the live view (run it in a terminal for the view)"
