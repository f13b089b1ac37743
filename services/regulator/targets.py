"""Progress against the national ambitions (metrics.md, "Targets (v1.1)"), per region and ``NL``.

API (called by ``history``, the aggregate service's gauges and ``report``)::

    results = evaluate(row_d, row_b, as_of=D, baseline=B)   # rows: figures rows of one region
    target_columns(results, B)                              # flat columns for CSV/JSON history
    targets_object(results, B)                              # nested JSON (replay --baseline)
    target_level(spec, results[i].baseline_value, B, on)    # the target as a figure value, for charts

:data:`TARGETS` lists the four targets in the spec's order; each :class:`TargetResult` says

- ``value``: what the spec shows: the ratio figure(D) ÷ figure(B) for ``transfers_between_providers``
  and ``separations`` (``None`` when figure(B) = 0), the rate for ``perspective_in_time`` (``None``
  when the cohort is 0), figure(D) for ``closed_placements``;
- ``met``: ``None`` when ``value`` is ``None``, else the spec's condition: ratio < 0.05, ratio ≤ 0.20,
  rate = 1, figure(D) ≤ path(D). It is decided on the integers, not on the value rounded to 4
  decimals (20001 → 1000 is met although 0.049997 shows as 0.05);
- ``baseline_value``: figure(B) (the rate at B for ``perspective_in_time``);
- ``path``: only for ``closed_placements``: the straight line from figure(B) on B to 0 on
  2030-12-31 (:data:`PATH_END`), evaluated on D, 0 after that date.

Ratios, rates and the path are rounded to 4 decimals. :func:`check_baseline` refuses a baseline on
or after :data:`PATH_END` (no path to draw). The rows may be exact or public
(:func:`services.regulator.public.public_row`): a null figure gives a null value and ``met``, so
targets evaluated on public rows are computed from public figures only and reveal nothing more.
For a public row ``perspective_in_time`` is met when its shown rate is 1 (its counts are rounded).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from fractions import Fraction
from typing import Any, Literal

PATH_END = date(2030, 12, 31)
"""The closed-placements path reaches 0 on this date ("towards 0 closed placements in 2030")."""
DECIMALS = 4

Kind = Literal["ratio_below", "ratio_at_most", "rate_one", "path"]


@dataclass(frozen=True, slots=True)
class TargetSpec:
    name: str
    figure: str
    """The figure's key; a restrictive kind as ``restrictive_measures_12m.<kind>``."""
    kind: Kind
    threshold: Fraction | None
    """The ratio bound of the ratio kinds (0.05, 0.20)."""
    title: str


TARGETS: tuple[TargetSpec, ...] = (
    TargetSpec(
        "transfers_between_providers",
        "transfers_between_providers_12m",
        "ratio_below",
        Fraction(5, 100),
        "transfers between institutions < 5 % of the baseline",
    ),
    TargetSpec(
        "perspective_in_time",
        "perspective_in_time_rate",
        "rate_one",
        None,
        "every youth in closed care a stable perspective within ½ year",
    ),
    TargetSpec(
        "separations",
        "restrictive_measures_12m.separatie",
        "ratio_at_most",
        Fraction(20, 100),
        "80 % fewer separations",
    ),
    TargetSpec(
        "closed_placements",
        "placements_started_12m",
        "path",
        None,
        "towards 0 closed placements in 2030",
    ),
)
TARGET_NAMES = tuple(t.name for t in TARGETS)


@dataclass(frozen=True, slots=True)
class TargetResult:
    name: str
    figure: str
    value: float | int | None
    met: bool | None
    baseline_value: float | int | None
    path: float | None = None


def check_baseline(baseline: date) -> None:
    """A baseline must lie before :data:`PATH_END`; raises ValueError naming the date otherwise."""
    if baseline >= PATH_END:
        raise ValueError(f"the baseline date {baseline.isoformat()} must lie before {PATH_END.isoformat()}")


def figure(row: Mapping[str, Any], key: str) -> Any:
    """A figure of a row by key, ``restrictive_measures_12m.<kind>`` reaching into the object."""
    head, _, kind = key.partition(".")
    value = row[head]
    return value[kind] if kind else value


def path_value(baseline_value: int, baseline: date, on: date) -> Fraction:
    """The straight line from ``baseline_value`` on ``baseline`` to 0 on :data:`PATH_END`, at ``on``
    (0 after :data:`PATH_END`; above ``baseline_value`` before ``baseline``)."""
    check_baseline(baseline)
    remaining = max((PATH_END - on).days, 0)
    return Fraction(baseline_value * remaining, (PATH_END - baseline).days)


def evaluate(
    row_d: Mapping[str, Any], row_b: Mapping[str, Any], as_of: date, baseline: date
) -> list[TargetResult]:
    """The four targets for one region as of ``as_of``: ``row_d`` its figures as of D, ``row_b`` as of B."""
    check_baseline(baseline)
    if row_d["region"] != row_b["region"]:
        raise ValueError(f"rows of different regions: {row_d['region']} and {row_b['region']}")
    return [_evaluate(spec, row_d, row_b, as_of, baseline) for spec in TARGETS]


def _evaluate(
    spec: TargetSpec, row_d: Mapping[str, Any], row_b: Mapping[str, Any], as_of: date, baseline: date
) -> TargetResult:
    now, then = figure(row_d, spec.figure), figure(row_b, spec.figure)
    if spec.kind == "rate_one":
        if now is None:
            return TargetResult(spec.name, spec.figure, None, None, then)
        if "suppressed" in row_d:  # public: its counts are rounded, its rate is not
            met = now == 1
        else:
            met = row_d["perspective_in_time_12m"] == row_d["perspective_cohort_12m"]
        return TargetResult(spec.name, spec.figure, now, met, then)
    if spec.kind == "path":
        if then is None:
            return TargetResult(spec.name, spec.figure, now, None, then)
        path = path_value(then, baseline, as_of)
        met = None if now is None else now <= path
        return TargetResult(spec.name, spec.figure, now, met, then, _rounded(path))
    if now is None or not then:
        return TargetResult(spec.name, spec.figure, None, None, then)
    ratio = Fraction(now, then)
    assert spec.threshold is not None
    met = ratio < spec.threshold if spec.kind == "ratio_below" else ratio <= spec.threshold
    return TargetResult(spec.name, spec.figure, _rounded(ratio), met, then)


def _rounded(value: Fraction) -> float:
    return round(float(value), DECIMALS)


def target_level(
    spec: TargetSpec, baseline_value: float | int | None, baseline: date, on: date
) -> float | None:
    """The target expressed as a value of the figure on ``on`` (for charts): the ratio bound times
    figure(B) (5 % or 20 % of it), 1 for the rate, the path; ``None`` without a baseline figure."""
    if spec.kind == "rate_one":
        return 1.0
    if baseline_value is None:
        return None
    if spec.kind == "path":
        return _rounded(path_value(int(baseline_value), baseline, on))
    assert spec.threshold is not None
    return _rounded(spec.threshold * Fraction(baseline_value))


def target_columns(results: Iterable[TargetResult], baseline: date) -> dict[str, Any]:
    """Flat columns, appended after the spec's history columns when a baseline is given:
    ``baseline``, then per target ``target.<name>.value``, ``target.<name>.met`` (and
    ``target.closed_placements.path``), in :data:`TARGETS` order; ``None`` for null."""
    columns: dict[str, Any] = {"baseline": baseline.isoformat()}
    for result in results:
        columns[f"target.{result.name}.value"] = result.value
        columns[f"target.{result.name}.met"] = result.met
        if result.name == "closed_placements":
            columns[f"target.{result.name}.path"] = result.path
    return columns


def targets_object(results: Iterable[TargetResult], baseline: date) -> dict[str, Any]:
    """The nested JSON form (``replay --baseline``): ``baseline``, then per target name an object
    with ``figure``, ``value``, ``met``, ``baseline_value`` (and ``path`` for closed_placements)."""
    out: dict[str, Any] = {"baseline": baseline.isoformat()}
    for result in results:
        item: dict[str, Any] = {
            "figure": result.figure,
            "value": result.value,
            "met": result.met,
            "baseline_value": result.baseline_value,
        }
        if result.name == "closed_placements":
            item["path"] = result.path
        out[result.name] = item
    return out


def target_column_names() -> list[str]:
    """The names :func:`target_columns` gives, in order (a CSV header when no row is evaluated yet)."""
    names = ["baseline"]
    for spec in TARGETS:
        names += [f"target.{spec.name}.value", f"target.{spec.name}.met"]
        if spec.name == "closed_placements":
            names.append(f"target.{spec.name}.path")
    return names
