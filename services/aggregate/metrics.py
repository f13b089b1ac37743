"""Prometheus metrics of the aggregate worker: the figures as gauges (label ``region``, and ``kind``
for measures), progress against the national targets (labels ``region`` and ``target``) plus
service health. Never a pseudonym in a label."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from services.aggregate.figures import FIGURE_KEYS
from services.compiled import register_build_info
from services.regulator.targets import evaluate

_SCALAR = [k for k in FIGURE_KEYS if k not in ("region", "restrictive_measures_12m")]


@dataclass(frozen=True)
class AggregateMetrics:
    registry: CollectorRegistry
    figures: dict[str, Gauge]
    measures: Gauge
    events_applied: Counter
    youth_tracked: Gauge
    recompute_seconds: Histogram
    snapshots_published: Counter
    lag: Gauge
    publisher: Gauge
    publisher_takeovers: Counter
    snapshots_held_back: Counter
    daily_written: Counter
    public_snapshots_published: Counter
    full_recompute_seconds: Histogram
    target_value: Gauge
    target_met: Gauge
    target_baseline: Gauge
    target_path: Gauge
    youth_expired: Counter
    retention_sweep_seconds: Histogram

    def set_figures(self, rows: Sequence[dict[str, Any]]) -> None:
        for row in rows:
            region = row["region"]
            for key in _SCALAR:
                value = row[key]
                self.figures[key].labels(region=region).set(math.nan if value is None else float(value))
            for kind, count in row["restrictive_measures_12m"].items():
                self.measures.labels(region=region, kind=kind).set(count)

    def set_targets(
        self,
        rows: Sequence[dict[str, Any]],
        baseline_rows: Sequence[dict[str, Any]],
        as_of: date,
        baseline: date,
    ) -> None:
        """The four targets of metrics.md per region (``regulator/targets.py``): the value shown,
        met (1/0) and figure(B); NaN where the spec's value is null (no baseline figure, an empty
        cohort), met NaN then too."""
        by_region = {row["region"]: row for row in baseline_rows}
        for row in rows:
            region = row["region"]
            row_b = by_region.get(region)
            if row_b is None:
                continue
            for result in evaluate(row, row_b, as_of, baseline):
                labels = {"region": region, "target": result.name}
                self.target_value.labels(**labels).set(_number(result.value))
                self.target_met.labels(**labels).set(math.nan if result.met is None else float(result.met))
                self.target_baseline.labels(**labels).set(_number(result.baseline_value))
                if result.name == "closed_placements":
                    self.target_path.labels(region=region).set(_number(result.path))


def _number(value: float | int | None) -> float:
    return math.nan if value is None else float(value)


def new_metrics() -> AggregateMetrics:
    registry = CollectorRegistry()
    register_build_info(registry)  # which core build runs (services.compiled)
    figures = {
        key: Gauge(
            f"jeugdhub_aggregate_{key}",
            f"metrics.md figure {key} per region (NL: national)",
            ["region"],
            registry=registry,
        )
        for key in _SCALAR
    }
    return AggregateMetrics(
        registry=registry,
        figures=figures,
        measures=Gauge(
            "jeugdhub_aggregate_restrictive_measures_12m",
            "Restrictive measures started in the last 12 months, per region and kind",
            ["region", "kind"],
            registry=registry,
        ),
        events_applied=Counter(
            "jeugdhub_aggregate_events_applied", "Validated messages applied", registry=registry
        ),
        youth_tracked=Gauge(
            "jeugdhub_aggregate_youth_tracked", "Youth with facts in the figures state", registry=registry
        ),
        recompute_seconds=Histogram(
            "jeugdhub_aggregate_recompute_seconds",
            "Time to compute the region figures from the state",
            buckets=(0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
            registry=registry,
        ),
        snapshots_published=Counter(
            "jeugdhub_aggregate_snapshots_published",
            "Region snapshots written to the aggregates topic",
            registry=registry,
        ),
        lag=Gauge(
            "jeugdhub_aggregate_consumer_lag_messages",
            "Validated records not yet applied, per partition",
            ["partition"],
            registry=registry,
        ),
        publisher=Gauge(
            "jeugdhub_aggregate_snapshot_publisher",
            "1 while this worker is the one publisher of region snapshots (owns validated partition 0)",
            registry=registry,
        ),
        publisher_takeovers=Counter(
            "jeugdhub_aggregate_publisher_takeovers",
            "Times this worker became the snapshot publisher (fenced the previous one, read the tail)",
            registry=registry,
        ),
        snapshots_held_back=Counter(
            "jeugdhub_aggregate_snapshots_held_back",
            "Publish rounds held back because the figures state is behind what is already published",
            registry=registry,
        ),
        public_snapshots_published=Counter(
            "jeugdhub_aggregate_public_snapshots_published",
            "Public forms of region snapshots written to the public aggregates topic (with the exact "
            "ones, only when the public form changed)",
            registry=registry,
        ),
        full_recompute_seconds=Histogram(
            "jeugdhub_aggregate_full_recompute_seconds",
            "Time to recompute every youth's contribution for another date (the targets' baseline, "
            "a late day of the history)",
            buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
            registry=registry,
        ),
        target_value=Gauge(
            "jeugdhub_aggregate_target_value",
            "metrics.md target value per region and target: ratio figure(D)/figure(B) "
            "(transfers_between_providers, separations), the rate (perspective_in_time), figure(D) "
            "(closed_placements); NaN when null",
            ["region", "target"],
            registry=registry,
        ),
        target_met=Gauge(
            "jeugdhub_aggregate_target_met",
            "1 when the target is met, 0 when not, NaN when unknown (null value)",
            ["region", "target"],
            registry=registry,
        ),
        target_baseline=Gauge(
            "jeugdhub_aggregate_target_baseline",
            "The target's figure as of the baseline date JEUGDHUB_BASELINE_DATE (figure(B))",
            ["region", "target"],
            registry=registry,
        ),
        target_path=Gauge(
            "jeugdhub_aggregate_target_path",
            "closed_placements: the straight path from figure(B) on B to 0 on 2030-12-31, at D",
            ["region"],
            registry=registry,
        ),
        youth_expired=Counter(
            "jeugdhub_aggregate_youth_expired",
            "Youth whose state this worker dropped because they left every figure more than the "
            "retention horizon ago (table entry deleted, facts tombstoned; docs/privacy.md, Retention)",
            registry=registry,
        ),
        retention_sweep_seconds=Histogram(
            "jeugdhub_aggregate_retention_sweep_seconds",
            "Time of a retention sweep's search for expired youth (once a day, on the event loop)",
            buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
            registry=registry,
        ),
        daily_written=Counter(
            "jeugdhub_aggregate_daily_figures_written",
            "Records written to the daily figures topic (one per region and day); late: computed after "
            "the day ended, from the state then",
            ["late"],
            registry=registry,
        ),
    )
