"""The regulator's report: figures documents in, one self-contained HTML page out (no I/O here).

The page answers "are we moving towards the national ambitions, region by region": per region and
``NL`` a table of the four targets (met / not met as of the latest date), a table of the latest
figures, and a line chart per figure over time with the target and the baseline drawn in. It must
open anywhere, years later and offline, so it is one file: styles inline, charts as inline SVG
(matplotlib's SVG backend, text kept as text), no script, no font, image or link outside the file.

Nothing here decides a figure, a target or a public value: the documents are replay-shaped
(``{as_of, accepted, rejected, duplicates, regions: [rows]}``, exact figures), targets come from
:func:`services.regulator.targets.evaluate` and the public form from
:func:`services.regulator.public.public_document`, applied here to every document (baseline
included) when ``public`` is set, so an exact figure cannot reach a public page by the caller
forgetting a step. Targets on a public page are evaluated on the public rows.
"""

from __future__ import annotations

import html
import io
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from services.aggregate.figures import FIGURE_KEYS
from services.contracts.regions import NATIONAL
from services.contracts.vocabulary import RESTRICTIVE_MEASURE_KINDS
from services.regulator.public import public_document
from services.regulator.targets import (
    PATH_END,
    TARGETS,
    TargetResult,
    TargetSpec,
    evaluate,
    figure,
    target_level,
)

if TYPE_CHECKING:
    from matplotlib.axes import Axes

MEASURES_KEY = "restrictive_measures_12m"
RATE_KEY = "perspective_in_time_rate"
MEDIAN_KEY = "median_length_of_stay_days_12m"
SEPARATIONS_KEY = "restrictive_measures_12m.separatie"
CHART_FIGURES = (*FIGURE_KEYS[1:], SEPARATIONS_KEY)
"""One chart per figure of metrics.md's table, in its order (the four restrictive kinds share one),
then separations alone: a target of their own, and a count far below the other kinds' scale."""

FIGURE_LABELS: Mapping[str, str] = {
    "occupancy": "Youth in closed care on the date",
    "occupancy_residential": "Youth in residential care (any type) on the date",
    "placements_started_12m": "Closed placements started, last 12 months",
    "youth_placed_12m": "Youth placed in closed care, last 12 months",
    "transfers_12m": "Transfers, last 12 months",
    "transfers_between_providers_12m": "Transfers between providers, last 12 months",
    "transfers_within_provider_12m": "Transfers within a provider, last 12 months",
    "perspective_cohort_12m": "Episodes reaching their 6-month deadline, last 12 months",
    "perspective_in_time_12m": "… of which with a stable perspective in time",
    "perspective_in_time_rate": "Share with a stable perspective within 6 months",
    "overdue_without_perspective": "Open episodes past the deadline without a perspective",
    "episodes_ended_12m": "Closed-care episodes ended, last 12 months",
    "median_length_of_stay_days_12m": "Median length of stay in days, episodes ended in the last 12 months",
    "restrictive_measures_12m": "Restrictive measures started, last 12 months",
    SEPARATIONS_KEY: "Separations (separatie) started, last 12 months",
}
KIND_LABELS: Mapping[str, str] = {
    "afzondering": "afzondering (seclusion)",
    "separatie": "separatie (separation)",
    "fixatie": "fixatie (restraint)",
    "insluiting_eigen_kamer": "insluiting eigen kamer (locked in own room)",
}


@dataclass(frozen=True)
class Ambition:
    """How a target reads for a person: the national ambition it stands for, in the plan's words."""

    title: str
    quote: str
    source: str
    shown: str


_ACTIEPLAN_2019 = (
    "Actieplan ‘De best passende zorg voor kwetsbare jongeren’, Kamerbrief of 25 March 2019 "
    "(Kamerstuk 31 839, nr. 634)"
)
AMBITIONS: Mapping[str, Ambition] = {
    "transfers_between_providers": Ambition(
        "Transfers between institutions below 5 % of the baseline",
        "De ambitie is voor 1 januari 2021 het aantal overplaatsingen tussen de instellingen terug te "
        "dringen tot minder dan 5% van het huidige.",
        _ACTIEPLAN_2019,
        "transfers between providers in the last 12 months ÷ the same figure at the baseline; met below 0.05",
    ),
    "perspective_in_time": Ambition(
        "Every youth in closed care a stable perspective within half a year",
        "De norm moet zijn dat alle jeugdigen in de JeugdzorgPlus binnen een half jaar zicht hebben op "
        "een vast woonperspectief.",
        _ACTIEPLAN_2019,
        "share of the episodes whose 6-month deadline fell in the last 12 months that had a stable "
        "perspective in time; met at 1 (every youth)",
    ),
    "separations": Ambition(
        "80 % fewer separations",
        "In 2021 hebben de instellingen het aantal separaties teruggebracht met 80%.",
        _ACTIEPLAN_2019,
        "separations in the last 12 months ÷ the same figure at the baseline; met at 0.20 or below",
    ),
    "closed_placements": Ambition(
        "Towards 0 closed placements in 2030",
        "… in 2030 zo dicht mogelijk te komen bij 0 gesloten plaatsingen.",
        "the implementation plan for the af- en ombouw of closed youth care (VWS, VNG and Jeugdzorg "
        "Nederland), announced in the Kamerbrief ‘Passende zorg voor jeugdigen die bescherming en "
        "veiligheid nodig hebben’ of July 2022",
        "closed placements started in the last 12 months, against a straight path from the baseline "
        "figure to 0 on 31 December 2030; met on or below the path",
    ),
}


@dataclass(frozen=True)
class Provenance:
    """Where the figures come from, printed on the page so that a copy of it can be traced."""

    source: str
    """The input file's name, or the topic (and cluster) it was read from."""
    generated_at: datetime
    hub_version: str
    accepted: int | None = None
    """Input messages accepted, rejected and dropped as duplicates (``None`` when the source does
    not say, such as the daily topic, whose records carry figures only)."""
    rejected: int | None = None
    duplicates: int | None = None
    notes: tuple[str, ...] = ()
    """Further lines about the input (e.g. how many daily records were written late)."""


@dataclass(frozen=True)
class ReportInput:
    documents: Sequence[Mapping[str, Any]]
    """Replay-shaped documents with exact figures, one per as-of date, ascending."""
    region_names: Mapping[str, str]
    provenance: Provenance
    baseline: date | None = None
    baseline_document: Mapping[str, Any] | None = None
    """The figures as of ``baseline`` (needed for the targets), exact like the others."""
    public: bool = False
    every: str | None = None
    """How the dates were chosen (day, week, month), said on the page."""
    title: str = "Jeugdhub: regional figures and the national ambitions"


@dataclass
class _Region:
    code: str
    name: str
    rows: list[Mapping[str, Any] | None] = field(default_factory=list)
    """The region's row per document (``None`` where a document lacks the region)."""
    baseline_row: Mapping[str, Any] | None = None


def render_report(report: ReportInput) -> str:
    """The whole page as one HTML string."""
    documents = [public_document(d) for d in report.documents] if report.public else list(report.documents)
    if not documents:
        raise ValueError("a report needs at least one figures document")
    dates = [date.fromisoformat(str(d["as_of"])) for d in documents]
    if dates != sorted(set(dates)):
        raise ValueError("the documents must have distinct as-of dates in ascending order")
    baseline_document = report.baseline_document
    if report.public and baseline_document is not None:
        baseline_document = public_document(baseline_document)
    regions = _regions(documents, baseline_document, report.region_names)
    body = [
        _header(report, dates, documents[-1]),
        _contents(regions),
        *(_region_section(report, region, dates, index) for index, region in enumerate(regions)),
        _footer(report),
    ]
    return _page(report.title, "\n".join(body))


def _regions(
    documents: Sequence[Mapping[str, Any]],
    baseline_document: Mapping[str, Any] | None,
    names: Mapping[str, str],
) -> list[_Region]:
    codes: list[str] = []
    for document in documents:
        for row in document["regions"]:
            if row["region"] not in codes:
                codes.append(row["region"])
    codes.sort(key=lambda code: (code == NATIONAL, code))
    by_code = {
        code: _Region(code, names.get(code, "Nederland" if code == NATIONAL else "")) for code in codes
    }
    for document in documents:
        present = {row["region"]: row for row in document["regions"]}
        for code, region in by_code.items():
            region.rows.append(present.get(code))
    if baseline_document is not None:
        for row in baseline_document["regions"]:
            if row["region"] in by_code:
                by_code[row["region"]].baseline_row = row
    return list(by_code.values())


# --- page parts -------------------------------------------------------------------------------


def _header(report: ReportInput, dates: list[date], latest: Mapping[str, Any]) -> str:
    p = report.provenance
    kind = (
        '<p class="banner public"><strong>Public form.</strong> Counts from 1 to 4 are suppressed '
        "(shown as “suppressed”, and as gaps in the charts), every other count is rounded to the "
        "nearest multiple of 5, and a rate or median over fewer than 10 episodes is not shown "
        "(metrics.md, Public figures). The targets are evaluated on these public figures.</p>"
        if report.public
        else '<p class="banner exact"><strong>Exact figures, for the regulator only.</strong> Do not '
        "publish this page; make the public form with <code>--public</code>.</p>"
    )
    period = (
        f"{_d(dates[0])} to {_d(dates[-1])}, {len(dates)} dates"
        + (f" (every {html.escape(report.every)})" if report.every else "")
        if len(dates) > 1
        else f"{_d(dates[0])} (one date)"
    )
    counts = [
        ("accepted", p.accepted),
        ("rejected", p.rejected),
        ("duplicates", p.duplicates),
    ]
    count_text = (
        ", ".join(f"{n:,} {label}".replace(",", " ") for label, n in counts if n is not None)
        if any(n is not None for _, n in counts)
        else "not recorded by this source"
    )
    baseline = _d(report.baseline) if report.baseline is not None else "none given: targets are not evaluated"
    notes = "".join(f"<li>{html.escape(note)}</li>" for note in p.notes)
    return f"""<header>
<h1>{html.escape(report.title)}</h1>
<p class="asof">Figures as of <strong data-as-of="{dates[-1].isoformat()}">{_d(dates[-1])}</strong></p>
{kind}
<section class="provenance" aria-label="provenance">
<h2>Provenance</h2>
<dl>
<dt>Input</dt><dd data-source>{html.escape(p.source)}</dd>
<dt>Messages (input lines)</dt><dd data-counts>{count_text}</dd>
<dt>Period</dt><dd>{period}</dd>
<dt>Baseline</dt><dd>{baseline}</dd>
<dt>Generated</dt><dd>{html.escape(p.generated_at.isoformat(timespec="seconds"))}</dd>
<dt>Hub version</dt><dd>{html.escape(p.hub_version)}</dd>
<dt>Form</dt><dd>{"public" if report.public else "exact"}</dd>
</dl>
{f"<ul>{notes}</ul>" if notes else ""}
<p class="note">Figures as defined in metrics.md (v1.1): a figure “last 12 months” counts the 365 days
up to and including its date; the figures as of each date count every accepted message known when the
report was made (restated), unless the input is the provisional daily topic.</p>
</section>
</header>"""


def _contents(regions: Sequence[_Region]) -> str:
    links = "".join(
        f'<li><a href="#{_anchor(r.code)}">{html.escape(_region_title(r))}</a></li>' for r in regions
    )
    return f'<nav aria-label="regions"><h2>Regions</h2><ul class="toc">{links}</ul></nav>'


def _region_section(report: ReportInput, region: _Region, dates: list[date], index: int) -> str:
    latest_row = region.rows[-1]
    results_over_time = _targets_over_time(report, region, dates)
    latest_results = results_over_time[-1] if results_over_time else None
    parts = [
        f'<section class="region" id="{_anchor(region.code)}" data-region="{html.escape(region.code)}">',
        f"<h2>{html.escape(_region_title(region))}</h2>",
        _targets_table(report, region, latest_row, latest_results),
        _figures_table(report, region, latest_row, dates[-1]),
        '<h3>Over time</h3><div class="charts">',
    ]
    for key in CHART_FIGURES:
        parts.append(_chart(report, region, dates, key, results_over_time, f"c{index}-{key}"))
    parts.append("</div></section>")
    return "\n".join(parts)


def _targets_over_time(report: ReportInput, region: _Region, dates: list[date]) -> list[list[TargetResult]]:
    """The targets for every date, or ``[]`` without a baseline row to measure against."""
    if report.baseline is None or region.baseline_row is None:
        return []
    out: list[list[TargetResult]] = []
    for row, on in zip(region.rows, dates, strict=True):
        out.append(evaluate(row, region.baseline_row, on, report.baseline) if row is not None else [])
    return out


def _targets_table(
    report: ReportInput,
    region: _Region,
    latest_row: Mapping[str, Any] | None,
    results: list[TargetResult] | None,
) -> str:
    if report.baseline is None:
        return (
            '<p class="targets-missing" data-targets="none">No baseline date was given '
            "(<code>--baseline</code> or <code>JEUGDHUB_BASELINE_DATE</code>), so progress against the "
            "national targets is not evaluated.</p>"
        )
    if region.baseline_row is None or latest_row is None or not results:
        return (
            '<p class="targets-missing" data-targets="none">The input holds no figures for this region as '
            f"of the baseline {_d(report.baseline)}, so its targets are not evaluated.</p>"
        )
    rows = []
    for spec, result in zip(TARGETS, results, strict=True):
        ambition = AMBITIONS[spec.name]
        status, why = _status(report, spec, result, latest_row, region.baseline_row)
        rows.append(
            f'<tr data-target="{spec.name}" data-met="{status}">'
            f'<th scope="row">{html.escape(ambition.title)}'
            f'<blockquote lang="nl">“{html.escape(ambition.quote)}”</blockquote>'
            f"<small>{html.escape(ambition.source)}. Shown: {html.escape(ambition.shown)}.</small></th>"
            f"<td>{_value_html(result.baseline_value, spec.figure, report.public)}</td>"
            f"<td>{_value_html(figure(latest_row, spec.figure), spec.figure, report.public)}</td>"
            f"<td>{_shown_html(spec, result)}</td>"
            f'<td><span class="status {status}">{_STATUS_TEXT[status]}</span>'
            f"{f'<small>{html.escape(why)}</small>' if why else ''}</td></tr>"
        )
    return f"""<h3>National targets as of {_d(_row_date(report))}</h3>
<table class="targets" data-table="targets">
<thead><tr><th scope="col">Target</th><th scope="col">Baseline {_d(report.baseline)}</th>
<th scope="col">Figure now</th><th scope="col">Value</th><th scope="col">Met?</th></tr></thead>
<tbody>{"".join(rows)}</tbody></table>"""


_STATUS_TEXT = {"met": "met", "not-met": "not met", "unknown": "not evaluable"}


def _status(
    report: ReportInput,
    spec: TargetSpec,
    result: TargetResult,
    row_d: Mapping[str, Any],
    row_b: Mapping[str, Any],
) -> tuple[str, str]:
    """("met" | "not-met" | "unknown", why it cannot be evaluated)."""
    if result.met is True:
        return "met", ""
    if result.met is False:
        return "not-met", ""
    if report.public and (
        spec.figure in row_d.get("suppressed", ()) or spec.figure in row_b.get("suppressed", ())
    ):
        return "unknown", "a figure it needs is suppressed in the public form"
    if spec.kind == "rate_one":
        return "unknown", "no episode reached its 6-month deadline in the last 12 months"
    if result.baseline_value == 0:
        return "unknown", "the baseline figure is 0: there is nothing to reduce from"
    return "unknown", "a figure it needs is not available"


def _shown_html(spec: TargetSpec, result: TargetResult) -> str:
    if spec.kind == "path":
        return f"path {_number(result.path)}" if result.path is not None else '<span class="na">—</span>'
    if result.value is None:
        return '<span class="na">—</span>'
    prefix = "rate" if spec.kind == "rate_one" else "ratio"
    return f"{prefix} {_number(result.value)}"


def _figures_table(
    report: ReportInput, region: _Region, latest_row: Mapping[str, Any] | None, latest: date
) -> str:
    if latest_row is None:
        return f'<p class="na">No figures for this region as of {_d(latest)}.</p>'
    baseline_row = region.baseline_row
    head_b = (
        f'<th scope="col">Baseline {_d(report.baseline)}</th>'
        if report.baseline is not None and baseline_row is not None
        else ""
    )
    rows = []
    for key in FIGURE_KEYS[1:]:
        keys = [f"{key}.{kind}" for kind in RESTRICTIVE_MEASURE_KINDS] if key == MEASURES_KEY else [key]
        for full in keys:
            label = (
                f"{FIGURE_LABELS[key]}: {KIND_LABELS[full.partition('.')[2]]}"
                if "." in full
                else FIGURE_LABELS[key]
            )
            cells = f"<td>{_value_html(figure(latest_row, full), full, report.public, latest_row)}</td>"
            if head_b and baseline_row is not None:
                cells += (
                    f"<td>{_value_html(figure(baseline_row, full), full, report.public, baseline_row)}</td>"
                )
            rows.append(
                f'<tr data-figure="{full}"><th scope="row">{html.escape(label)} <code>{full}</code></th>'
                f"{cells}</tr>"
            )
    return f"""<h3>Latest figures</h3>
<table class="figures" data-table="figures">
<thead><tr><th scope="col">Figure</th><th scope="col">{_d(latest)}</th>{head_b}</tr></thead>
<tbody>{"".join(rows)}</tbody></table>"""


def _value_html(value: Any, key: str, public: bool, row: Mapping[str, Any] | None = None) -> str:
    if value is None:
        suppressed = public and (row is None or key in row.get("suppressed", ()))
        if suppressed:
            return '<span class="suppressed" title="suppressed in the public form">suppressed</span>'
        return '<span class="na" title="no value (nothing to count it over)">—</span>'
    return f'<span class="value">{_number(value)}</span>'


# --- charts -------------------------------------------------------------------------------------


def _chart(
    report: ReportInput,
    region: _Region,
    dates: list[date],
    key: str,
    results_over_time: list[list[TargetResult]],
    chart_id: str,
) -> str:
    """One figure over time as an inline SVG in a <figure>, with its target and baseline if any."""
    series: list[tuple[str, list[float]]] = []
    if key == MEASURES_KEY:
        for kind in RESTRICTIVE_MEASURE_KINDS:
            series.append((KIND_LABELS[kind], [_float(_get(row, f"{key}.{kind}")) for row in region.rows]))
    else:
        series.append((FIGURE_LABELS[key], [_float(_get(row, key)) for row in region.rows]))
    spec = next((t for t in TARGETS if t.figure == key), None)
    target_line: list[float] | None = None
    baseline_value: float | None = None
    if spec is not None and results_over_time and report.baseline is not None:
        index = TARGETS.index(spec)
        raw_baseline = next((r[index].baseline_value for r in results_over_time if r), None)
        baseline_value = _float(raw_baseline) if raw_baseline is not None else None
        target_line = [
            _float(
                target_level(spec, raw_baseline, report.baseline, on) if raw_baseline is not None else None
            )
            for on in dates
        ]
    counts = key not in (RATE_KEY, MEDIAN_KEY)
    svg = _plot_svg(
        chart_id,
        dates,
        series,
        target_line,
        baseline_value,
        report.baseline if spec is not None else None,
        spec,
        public_counts=report.public and counts,
        rate=key == RATE_KEY,
    )
    gaps = any(math.isnan(v) for _, values in series for v in values)
    notes = []
    if spec is not None:
        if target_line is None:
            notes.append("target and baseline not drawn (no baseline figures)")
        elif baseline_value is None and spec.kind != "rate_one":
            notes.append("baseline not drawn (suppressed or missing)")
    if gaps:
        notes.append(
            "gaps: suppressed in the public form or no value on that date"
            if report.public
            else "gaps: no value on that date"
        )
    caption = html.escape(FIGURE_LABELS[key]) + (
        f" <small>{html.escape('; '.join(notes))}</small>" if notes else ""
    )
    return (
        f'<figure class="chart" data-figure="{key}" data-region="{html.escape(region.code)}">'
        f"<figcaption>{caption} <code>{key}</code></figcaption>{svg}</figure>"
    )


def _plot_svg(
    chart_id: str,
    dates: list[date],
    series: list[tuple[str, list[float]]],
    target_line: list[float] | None,
    baseline_value: float | None,
    baseline: date | None,
    target: TargetSpec | None,
    *,
    public_counts: bool,
    rate: bool,
) -> str:
    import matplotlib
    import matplotlib.dates as mdates
    from matplotlib.figure import Figure

    style: dict[Any, Any] = {
        "svg.fonttype": "none",  # text stays text: smaller, selectable, no glyph definitions
        "svg.hashsalt": "jeugdhub-report",  # stable ids: the same input makes the same file
        "font.family": "sans-serif",
        "font.size": 9,
        "axes.spines.top": False,
        "axes.spines.right": False,
    }
    # days since matplotlib's epoch: plain floats for every call below
    x = mdates.date2num(dates)  # type: ignore[no-untyped-call]
    with matplotlib.rc_context(style):
        # Fixed margins, not a layout engine: a report has a hundred charts and constrained layout
        # doubled the time of each; the legend goes under the axes, where it never hides a line.
        legend = len(series) > 1 or target_line is not None or baseline_value is not None
        fig = Figure(figsize=(5.6, 3.2 if legend else 2.75))
        fig.subplots_adjust(left=0.1, right=0.98, top=0.96, bottom=0.27 if legend else 0.12)
        ax = fig.add_subplot()
        marker = "o" if len(dates) <= 60 else None
        colours = ("#1f5fa8", "#c2410c", "#6d28d9", "#0f766e")
        drawn = False
        for (label, values), colour in zip(series, colours, strict=False):
            if not all(math.isnan(v) for v in values):
                ax.plot(x, values, label=label, color=colour, linewidth=1.6, marker=marker, markersize=3)
                drawn = True
        if target is not None and target_line is not None and not all(math.isnan(v) for v in target_line):
            ax.plot(
                x, target_line, label=_target_label(target), color="#15803d", linestyle="--", linewidth=1.4
            )
        if baseline_value is not None and baseline is not None:
            ax.axhline(
                baseline_value, color=_GREY, linestyle=":", linewidth=1.2, label=f"baseline ({baseline})"
            )
        if baseline is not None and dates[0] <= baseline <= dates[-1]:
            at = float(mdates.date2num(baseline))  # type: ignore[no-untyped-call]
            ax.axvline(at, color=_GREY, linestyle=":", linewidth=1)
        if not drawn:
            ax.text(
                0.5, 0.5, "no values to show", transform=ax.transAxes, ha="center", va="center", color=_GREY
            )
        _y_axis(ax, public_counts=public_counts, rate=rate)
        _x_axis(ax, x)
        ax.grid(axis="y", color="#e5e7eb", linewidth=0.8)
        handles, labels = ax.get_legend_handles_labels()
        if legend and handles:
            fig.legend(
                handles,
                labels,
                loc="lower left",
                ncols=2,
                fontsize=7,
                frameon=False,
                bbox_to_anchor=(0.08, 0.0),
            )
        buffer = io.StringIO()
        fig.savefig(
            buffer, format="svg", metadata={"Date": None, "Creator": None, "Format": None, "Type": None}
        )
    return _inline_svg(buffer.getvalue(), chart_id, series[0][0])


_GREY = "#6b7280"


def _target_label(spec: TargetSpec) -> str:
    """The legend of a target line, in the words of the target's kind and bound."""
    percent = f"{float(spec.threshold * 100):g} %" if spec.threshold is not None else ""
    return {
        "ratio_below": f"target: below {percent} of the baseline",
        "ratio_at_most": f"target: at most {percent} of the baseline",
        "rate_one": "target: every youth (1)",
        "path": f"target: straight path to 0 on {PATH_END}",
    }[spec.kind]


def _y_axis(ax: Axes, *, public_counts: bool, rate: bool) -> None:
    """From 0 up; a rate from 0 to 1; public counts with ticks on multiples of 5 only, so that no
    tick label of a public chart reads 1 to 4."""
    from matplotlib.ticker import MaxNLocator, MultipleLocator

    top = ax.get_ylim()[1]
    if rate:
        ax.set_ylim(0, 1.05)
        ax.yaxis.set_major_locator(MultipleLocator(0.25))
    elif public_counts:
        top = max(top, 5)
        step = next(s for s in (5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000) if top / s <= 6)
        ax.set_ylim(0, top)
        ax.yaxis.set_major_locator(MultipleLocator(step))
    else:
        ax.set_ylim(0, max(top, 1))
        ax.yaxis.set_major_locator(MaxNLocator(nbins=6, integer=True, min_n_ticks=2))


def _x_axis(ax: Axes, x: Any) -> None:
    import matplotlib.dates as mdates

    if len(x) == 1:  # one date: one labelled tick, a month either side
        ax.set_xlim(float(x[0]) - 30, float(x[0]) + 30)
        ax.set_xticks([float(x[0])])
        ax.xaxis.set_major_formatter(mdates.DateFormatter("%Y-%m-%d"))  # type: ignore[no-untyped-call]
        return
    locator = mdates.AutoDateLocator(minticks=3, maxticks=7)  # type: ignore[no-untyped-call]
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))  # type: ignore[no-untyped-call]


_ID = re.compile(r'\bid="([^"]+)"')


def _inline_svg(svg: str, chart_id: str, label: str) -> str:
    """matplotlib's SVG file as an element of the page.

    The XML prolog, DTD and namespace declarations go (an HTML parser needs none of them, and the
    DTD's address would be the page's only outside reference); every id is prefixed with the
    chart's, so the hundred charts of one page cannot clash; the size follows the page (only the
    viewBox is kept); and it is labelled for screen readers.
    """
    start = svg.index("<svg")
    head_end = svg.index(">", start)
    view_box = re.search(r'viewBox="([^"]+)"', svg[start:head_end])
    if view_box is None:
        raise ValueError("matplotlib wrote an SVG without a viewBox")
    body = svg[head_end + 1 :]
    ids = set(_ID.findall(body))

    def prefixed(match: re.Match[str]) -> str:
        name = match.group(2)
        return f"{match.group(1)}{chart_id}-{name}" if name in ids else match.group(0)

    body = re.sub(r'(\bid="|href="#|url\(#)([^")]+)', prefixed, body)
    return (
        f'<svg class="plot" id="{chart_id}" viewBox="{view_box.group(1)}" role="img" '
        f'aria-label="{html.escape(label)} over time">{body.strip()}'
    )


# --- small helpers ------------------------------------------------------------------------------


def _get(row: Mapping[str, Any] | None, key: str) -> Any:
    return None if row is None else figure(row, key)


def _float(value: Any) -> float:
    return math.nan if value is None else float(value)


def _number(value: Any) -> str:
    if isinstance(value, float) and not value.is_integer():
        return html.escape(f"{value:.4f}".rstrip("0").rstrip("."))
    return html.escape(f"{int(value):,}".replace(",", " "))


def _d(day: date) -> str:
    return html.escape(day.isoformat())


def _row_date(report: ReportInput) -> date:
    return date.fromisoformat(str(report.documents[-1]["as_of"]))


def _anchor(code: str) -> str:
    return "region-" + re.sub(r"[^A-Za-z0-9_-]", "_", code)


def _region_title(region: _Region) -> str:
    if region.code == NATIONAL:
        return "NL: national"
    return f"{region.code}: {region.name}" if region.name else region.code


def _footer(report: ReportInput) -> str:
    return (
        "<footer><p>Made by <code>jeugdhub report</code> (Jeugdhub "
        f"{html.escape(report.provenance.hub_version)}). Definitions: metrics.md v1.1 (figures, History, "
        "Targets, Public figures). The charts are drawn with matplotlib; this file needs nothing "
        "outside itself.</p></footer>"
    )


_CSS = """
:root { color-scheme: light; --ink: #111827; --muted: #4b5563; --line: #d1d5db; --met: #166534;
  --met-bg: #dcfce7; --notmet: #991b1b; --notmet-bg: #fee2e2; --na-bg: #f3f4f6; }
* { box-sizing: border-box; }
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", Arial, sans-serif;
  color: var(--ink); margin: 0 auto; padding: 1.5rem; max-width: 1400px; line-height: 1.45; }
h1 { font-size: 1.6rem; margin: 0 0 .25rem; }
h2 { font-size: 1.3rem; margin: 2rem 0 .5rem; border-bottom: 2px solid var(--ink); padding-bottom: .2rem; }
h3 { font-size: 1.05rem; margin: 1.25rem 0 .5rem; }
.asof { font-size: 1.15rem; margin: 0 0 .75rem; }
.banner { padding: .6rem .8rem; border-radius: 4px; }
.banner.exact { background: #fef3c7; border-left: 4px solid #b45309; }
.banner.public { background: #e0f2fe; border-left: 4px solid #0369a1; }
.provenance dl { display: grid; grid-template-columns: max-content 1fr; gap: .15rem 1rem; margin: 0; }
.provenance dt { color: var(--muted); }
.provenance dd { margin: 0; }
.provenance h2 { font-size: 1.05rem; border: 0; margin-top: 1rem; }
.note, small { color: var(--muted); }
small { display: block; font-size: .8rem; font-weight: normal; }
.toc { columns: 3 16rem; padding-left: 1.2rem; }
table { border-collapse: collapse; width: 100%; margin: .25rem 0 1rem; font-size: .92rem; }
th, td { border-bottom: 1px solid var(--line); padding: .35rem .5rem; text-align: left; vertical-align: top; }
thead th { border-bottom: 2px solid var(--ink); }
td { font-variant-numeric: tabular-nums; }
table.figures { max-width: 60rem; }
blockquote { margin: .25rem 0; font-style: italic; font-weight: normal; }
.status { display: inline-block; white-space: nowrap; padding: .05rem .5rem; border-radius: 999px; font-weight: 600; }
.status.met { color: var(--met); background: var(--met-bg); }
.status.not-met { color: var(--notmet); background: var(--notmet-bg); }
.status.unknown { color: var(--muted); background: var(--na-bg); }
.suppressed { color: #0369a1; font-style: italic; }
.na { color: var(--muted); }
.charts { display: grid; grid-template-columns: repeat(auto-fill, minmax(26rem, 1fr)); gap: 1rem; }
figure.chart { margin: 0; border: 1px solid var(--line); border-radius: 4px; padding: .5rem; break-inside: avoid; }
figcaption { font-size: .88rem; font-weight: 600; margin-bottom: .25rem; }
figcaption small { font-weight: normal; }
svg.plot { width: 100%; height: auto; display: block; }
footer { margin-top: 2rem; color: var(--muted); font-size: .85rem; }
@media print { body { padding: 0; } .region { break-before: page; } nav { display: none; } }
"""


def _page(title: str, body: str) -> str:
    # The empty data: icon keeps the browser from asking for /favicon.ico.
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="jeugdhub report">
<title>{html.escape(title)}</title>
<link rel="icon" href="data:,">
<style>{_CSS}</style>
</head>
<body>
{body}
</body>
</html>
"""
