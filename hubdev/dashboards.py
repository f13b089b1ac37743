"""The two Grafana dashboards (operations, figures) as code, and the files made from them.

``python -m hubdev.dashboards`` writes ``deploy/grafana/operations.json``, ``deploy/grafana/figures.json``
and the ConfigMap Grafana's dashboard sidecar loads (label ``grafana_dashboard: "1"``,
``deploy/k8s/components/monitoring/grafana-dashboards.yaml``); ``--check`` only compares. The
dashboards are built with the Grafana Foundation SDK (pinned in pyproject.toml) so that their JSON
follows its types; tests/unit/deploy/test_deploy_dashboards.py decodes them strictly with the Go SDK
of the same version (``hubdev/dashcheck``) and tests/integration/test_prometheus_scrape.py runs
every panel's query against a real Prometheus scraping the real services.

Every query uses only metrics the services export (``services/*/metrics.py``) and the recording
rules of ``deploy/prometheus/rules.yml``; rate windows are Grafana's ``$__rate_interval``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

with warnings.catch_warnings():
    # builders.dashboard warns at import that the v2 schema is preferred; the sidecar and the
    # Grafana versions operators run load the classic (v1) dashboard JSON built here.
    warnings.simplefilter("ignore", DeprecationWarning)
    from grafana_foundation_sdk.builders import common as common_builders
    from grafana_foundation_sdk.builders import dashboard as dashboard_builders
    from grafana_foundation_sdk.builders import prometheus as prometheus_builders
    from grafana_foundation_sdk.builders import stat as stat_builders
    from grafana_foundation_sdk.builders import table as table_builders
    from grafana_foundation_sdk.builders import timeseries as timeseries_builders
    from grafana_foundation_sdk.cog.encoder import JSONEncoder
    from grafana_foundation_sdk.models import common as common_models
    from grafana_foundation_sdk.models import dashboard as dashboard_models
    from grafana_foundation_sdk.models import prometheus as prometheus_models

REPO_ROOT = Path(__file__).resolve().parents[1]
GRAFANA_DIR = Path("deploy/grafana")
CONFIGMAP_FILE = Path("deploy/k8s/components/monitoring/grafana-dashboards.yaml")
CONFIGMAP_NAME = "jeugdhub-grafana-dashboards"
DATASOURCE = common_models.DataSourceRef(type_val="prometheus", uid="${datasource}")
RATE = "$__rate_interval"
"""Grafana's rate window (at least four scrape intervals); the integration test substitutes its own."""

Kind = Literal["timeseries", "stat", "table"]


@dataclass(frozen=True)
class Query:
    """One PromQL expression of a panel and how its series are named."""

    expr: str
    legend: str = ""


@dataclass(frozen=True)
class PanelSpec:
    """What a panel shows; layout and styling follow from ``kind`` and ``width``."""

    title: str
    description: str
    queries: tuple[Query, ...]
    kind: Kind = "timeseries"
    unit: str = "short"
    width: int = 12
    stacked: bool = False


@dataclass(frozen=True)
class RowSpec:
    title: str
    panels: tuple[PanelSpec, ...]


@dataclass(frozen=True)
class DashboardSpec:
    uid: str
    title: str
    description: str
    rows: tuple[RowSpec, ...]
    variables: tuple[str, ...] = field(default=())
    """Query variables besides ``datasource``: only ``region`` exists."""

    def panels(self) -> Iterator[PanelSpec]:
        for row in self.rows:
            yield from row.panels


def _rate(metric: str, by: str = "", selector: str = "") -> str:
    """``sum [by (…)] (rate(metric{selector}[$__rate_interval]))``: across every replica."""
    grouping = f" by ({by})" if by else ""
    return f"sum{grouping} (rate({metric}{selector}[{RATE}]))"


def _quantile(q: float, metric: str, selector: str = "") -> Query:
    expr = f"histogram_quantile({q}, sum by (le) (rate({metric}_bucket{selector}[{RATE}])))"
    return Query(expr, f"p{round(q * 100)}")


OPERATIONS = DashboardSpec(
    uid="jeugdhub-operations",
    title="Jeugdhub / Operations",
    description="Is the hub taking in, validating and aggregating messages, and how far behind is it? "
    "docs/operations.md, 'Dashboards', explains each panel.",
    rows=(
        RowSpec(
            "Message flow",
            (
                PanelSpec(
                    "Ingest: messages in and requests refused",
                    "Messages acknowledged with 202 (committed to the raw topic) and requests answered "
                    "with a problem, per second.",
                    (
                        Query(_rate("jeugdhub_ingest_messages_received_total"), "messages received"),
                        Query(_rate("jeugdhub_ingest_rejected_requests_total"), "requests refused"),
                    ),
                    unit="ops",
                    width=8,
                ),
                PanelSpec(
                    "Validate: in, accepted, rejected, duplicates",
                    "Raw records read and what became of them, per second.",
                    (
                        Query(_rate("jeugdhub_validate_messages_in_total"), "in"),
                        Query(_rate("jeugdhub_validate_accepted_total"), "accepted"),
                        Query(_rate("jeugdhub_validate_rejected_total"), "rejected"),
                        Query(_rate("jeugdhub_validate_duplicates_total"), "duplicates"),
                    ),
                    unit="ops",
                    width=8,
                ),
                PanelSpec(
                    "Aggregate: messages applied",
                    "Validated messages applied to the figures state, per second.",
                    (Query(_rate("jeugdhub_aggregate_events_applied_total"), "applied"),),
                    unit="ops",
                    width=8,
                ),
            ),
        ),
        RowSpec(
            "Rejections",
            (
                PanelSpec(
                    "Rule violations by rule",
                    "Rule violations in rejected messages per second, by rule code (the table of the "
                    "spec's messages.md).",
                    (Query(_rate("jeugdhub_validate_rule_violations_total", "code"), "{{code}}"),),
                    unit="ops",
                    stacked=True,
                    width=8,
                ),
                PanelSpec(
                    "Rule violations in the last hour by rule and sender kind",
                    "Which rules break, and whether providers or municipalities break them.",
                    (
                        Query(
                            "sort_desc(jeugdhub:validate_rule_violations:increase1h_by_code_sender_kind)",
                            "{{code}} {{sender_kind}}",
                        ),
                    ),
                    kind="table",
                    width=8,
                ),
                PanelSpec(
                    "Senders with most rejections in the last hour",
                    "The ten sender codes with most rejected messages; their dead letters and retours "
                    "say which rules.",
                    (Query("topk(10, jeugdhub:validate_rejected:increase1h_by_sender)", "{{sender}}"),),
                    kind="table",
                    width=8,
                ),
                PanelSpec(
                    "Ingest: refused requests by reason",
                    "Requests answered with a problem per second, by problem type.",
                    (Query(_rate("jeugdhub_ingest_rejected_requests_total", "reason"), "{{reason}}"),),
                    unit="ops",
                    stacked=True,
                    width=12,
                ),
                PanelSpec(
                    "Rejection ratio (15 min)",
                    "Rejected ÷ (accepted + rejected); JeugdhubRejectionRatioHigh fires above 0.2.",
                    (Query("jeugdhub:validate_rejection:ratio_rate15m", "rejected share"),),
                    unit="percentunit",
                    width=12,
                ),
            ),
        ),
        RowSpec(
            "Ingest",
            (
                PanelSpec(
                    "Requests by status code",
                    "HTTP requests per second by status code, every route.",
                    (Query(_rate("jeugdhub_ingest_requests_total", "status"), "{{status}}"),),
                    unit="reqps",
                    stacked=True,
                    width=8,
                ),
                PanelSpec(
                    "POST /v1/messages latency",
                    "Request handling time of message posts, including the wait for the Kafka commit.",
                    tuple(
                        _quantile(q, "jeugdhub_ingest_request_duration_seconds", '{route="/v1/messages"}')
                        for q in (0.5, 0.95, 0.99)
                    ),
                    unit="s",
                    width=8,
                ),
                PanelSpec(
                    "Kafka write latency",
                    "One Kafka transaction of ingest (begin, sends, commit), successful or not.",
                    tuple(_quantile(q, "jeugdhub_ingest_kafka_write_seconds") for q in (0.5, 0.95, 0.99)),
                    unit="s",
                    width=8,
                ),
                PanelSpec(
                    "Kafka producers ready",
                    "Fewest transactional producers ready on any ingest replica (0: senders get 503).",
                    (Query("min(jeugdhub_ingest_kafka_available_producers)", "producers"),),
                    kind="stat",
                    width=8,
                ),
                PanelSpec(
                    "API tokens loaded",
                    "Fewest tokens loaded by any ingest replica (0: every sender gets 401).",
                    (Query("min(jeugdhub_ingest_tokens)", "tokens"),),
                    kind="stat",
                    width=8,
                ),
                PanelSpec(
                    "Admission open",
                    "1 while every ingest replica admits messages; 0 while one answers 503 pipeline-behind.",
                    (Query("min(jeugdhub_ingest_admission_open)", "open"),),
                    kind="stat",
                    width=8,
                ),
            ),
        ),
        RowSpec(
            "Lag and staleness",
            (
                PanelSpec(
                    "End-to-end staleness per stage",
                    "Age of the oldest message each stage has not processed (0: idle), measured by "
                    "ingest from the consumer groups' commits. JeugdhubPipelineStale fires above 120 s.",
                    (Query("jeugdhub:pipeline_oldest_unprocessed_seconds:max", "{{stage}}"),),
                    unit="s",
                    width=8,
                ),
                PanelSpec(
                    "Backlog per stage (consumer groups)",
                    "Messages each stage has not processed, from the consumer groups' committed offsets.",
                    (Query("max by (stage) (jeugdhub_ingest_pipeline_backlog_messages)", "{{stage}}"),),
                    width=8,
                ),
                PanelSpec(
                    "Consumer lag reported by the workers",
                    "Records not yet processed, as of each worker's last batch (one value per partition).",
                    (
                        Query("jeugdhub:validate_consumer_lag_messages:sum", "validate"),
                        Query(
                            "sum(max by (partition) (jeugdhub_aggregate_consumer_lag_messages))", "aggregate"
                        ),
                    ),
                    width=8,
                ),
                PanelSpec(
                    "Validate processing latency",
                    "From ingest's commit of a raw record to validate's outputs being acknowledged.",
                    tuple(_quantile(q, "jeugdhub_validate_processing_latency_seconds") for q in (0.5, 0.99)),
                    unit="s",
                    width=8,
                ),
                PanelSpec(
                    "Aggregate recompute time",
                    "Time to compute every region's figures from the state.",
                    tuple(_quantile(q, "jeugdhub_aggregate_recompute_seconds") for q in (0.5, 0.99)),
                    unit="s",
                    width=8,
                ),
                PanelSpec(
                    "Backlog measurement age",
                    "Seconds since ingest last measured the backlog; JeugdhubBacklogUnmeasured fires "
                    "above 300 s.",
                    (
                        Query(
                            "time() - max(jeugdhub_ingest_pipeline_backlog_measured_timestamp_seconds)",
                            "age",
                        ),
                    ),
                    unit="s",
                    width=8,
                ),
            ),
        ),
        RowSpec(
            "Recovery",
            (
                PanelSpec(
                    "Targets up",
                    "Scrapable processes per service; a worker that refuses to start is missing here.",
                    (Query('sum by (job) (up{job=~"jeugdhub-.*"})', "{{job}}"),),
                    width=8,
                ),
                PanelSpec(
                    "Snapshot publisher",
                    "Aggregate workers publishing region snapshots: 1, briefly 0 during a rebalance.",
                    (Query("sum(jeugdhub_aggregate_snapshot_publisher)", "publishers"),),
                    width=8,
                ),
                PanelSpec(
                    "Publisher take-overs and held-back rounds",
                    "Take-overs of the publisher role, and publish rounds held back while a new "
                    "publisher's state catches up (a steady rise: it cannot).",
                    (
                        Query(_rate("jeugdhub_aggregate_publisher_takeovers_total"), "take-overs"),
                        Query(_rate("jeugdhub_aggregate_snapshots_held_back_total"), "held back"),
                    ),
                    unit="ops",
                    width=8,
                ),
                PanelSpec(
                    "Isolated ingest requests",
                    "Requests retried in a transaction of their own after a group commit failed on a "
                    "record Kafka refused.",
                    (Query(_rate("jeugdhub_ingest_isolated_requests_total"), "isolated"),),
                    unit="ops",
                    width=8,
                ),
                PanelSpec(
                    "State size",
                    "Keys in validate's duplicate table and youth in aggregate's figures state: what a "
                    "restarted worker restores from its changelogs.",
                    (
                        Query("max(jeugdhub_validate_dedup_entries)", "dedup keys"),
                        Query("max(jeugdhub_aggregate_youth_tracked)", "youth tracked"),
                    ),
                    width=8,
                ),
                PanelSpec(
                    "Snapshots published",
                    "Region snapshots written to the aggregates topic per second (every row when the "
                    "date moves at midnight).",
                    (Query(_rate("jeugdhub_aggregate_snapshots_published_total"), "snapshots"),),
                    unit="ops",
                    width=8,
                ),
            ),
        ),
    ),
)


def _figure(metric: str, region: str = '"$region"') -> str:
    """One figure for the chosen region; every aggregate replica exports the same, hence max."""
    return f"max(jeugdhub_aggregate_{metric}{{region={region}}})"


def _measures() -> str:
    return "jeugdhub_aggregate_restrictive_measures_12m"


def _by_region(metric: str) -> Query:
    return Query(f"max by (region) (jeugdhub_aggregate_{metric})", metric)


FIGURES = DashboardSpec(
    uid="jeugdhub-figures",
    title="Jeugdhub / Figures",
    description="The figures of the spec's metrics.md for one region (NL: national), as the aggregate "
    "workers export them. They move by the day: compare days, not minutes.",
    variables=("region",),
    rows=(
        RowSpec(
            "$region today",
            (
                PanelSpec(
                    "Occupancy, closed care",
                    "Youth with a gesloten placement open today.",
                    (Query(_figure("occupancy"), "closed"),),
                    kind="stat",
                    width=4,
                ),
                PanelSpec(
                    "Occupancy, residential",
                    "Youth with any placement open today.",
                    (Query(_figure("occupancy_residential"), "residential"),),
                    kind="stat",
                    width=4,
                ),
                PanelSpec(
                    "Perspective in time",
                    "Share of closed-care episodes whose six-month deadline fell in the last 12 months "
                    "that had a living perspective in time.",
                    (Query(_figure("perspective_in_time_rate"), "in time"),),
                    kind="stat",
                    unit="percentunit",
                    width=4,
                ),
                PanelSpec(
                    "Overdue without perspective",
                    "Open episodes past their deadline without a perspective.",
                    (Query(_figure("overdue_without_perspective"), "overdue"),),
                    kind="stat",
                    width=4,
                ),
                PanelSpec(
                    "Median length of stay",
                    "Median length in days of the episodes ended in the last 12 months.",
                    (Query(_figure("median_length_of_stay_days_12m"), "median"),),
                    kind="stat",
                    unit="d",
                    width=4,
                ),
                PanelSpec(
                    "Restrictive measures, 12 months",
                    "Restrictive measures started in the last 12 months, all kinds.",
                    (Query(f'sum(max by (kind) ({_measures()}{{region="$region"}}))', "measures"),),
                    kind="stat",
                    width=4,
                ),
            ),
        ),
        RowSpec(
            "$region over time",
            (
                PanelSpec(
                    "Occupancy over time",
                    "Youth in closed care and in any residential placement, per day.",
                    (
                        Query(_figure("occupancy"), "closed"),
                        Query(_figure("occupancy_residential"), "residential"),
                    ),
                ),
                PanelSpec(
                    "Transfers in the last 12 months",
                    "Transfers between providers (also a discharge here and a placement there) and "
                    "within one provider.",
                    (
                        Query(_figure("transfers_between_providers_12m"), "between providers"),
                        Query(_figure("transfers_within_provider_12m"), "within a provider"),
                    ),
                    stacked=True,
                ),
                PanelSpec(
                    "Perspective-in-time share",
                    "In-time ÷ cohort over the last 12 months; no value for an empty cohort.",
                    (Query(_figure("perspective_in_time_rate"), "share"),),
                    unit="percentunit",
                ),
                PanelSpec(
                    "Perspective cohort and in time",
                    "Closed-care episodes whose six-month deadline fell in the last 12 months, and those "
                    "with a living perspective in time.",
                    (
                        Query(_figure("perspective_cohort_12m"), "cohort"),
                        Query(_figure("perspective_in_time_12m"), "in time"),
                    ),
                ),
                PanelSpec(
                    "Overdue over time",
                    "Open episodes past their six-month deadline without a perspective.",
                    (Query(_figure("overdue_without_perspective"), "overdue"),),
                ),
                PanelSpec(
                    "Length of stay over time",
                    "Median length in days of the episodes ended in the last 12 months.",
                    (Query(_figure("median_length_of_stay_days_12m"), "median"),),
                    unit="d",
                ),
                PanelSpec(
                    "Restrictive measures by kind",
                    "Restrictive measures started in the last 12 months, per kind.",
                    (Query(f'max by (kind) ({_measures()}{{region="$region"}})', "{{kind}}"),),
                    stacked=True,
                    width=24,
                ),
            ),
        ),
        RowSpec(
            "All regions",
            (
                PanelSpec(
                    "Figures per region",
                    "One row per region of the region table, plus NL.",
                    (
                        _by_region("occupancy"),
                        _by_region("occupancy_residential"),
                        _by_region("transfers_between_providers_12m"),
                        _by_region("transfers_within_provider_12m"),
                        _by_region("perspective_in_time_rate"),
                        _by_region("overdue_without_perspective"),
                        _by_region("median_length_of_stay_days_12m"),
                        _by_region("episodes_ended_12m"),
                        Query(f"sum by (region) ({_measures()})", "restrictive_measures_12m"),
                    ),
                    kind="table",
                    width=24,
                ),
            ),
        ),
    ),
)


DASHBOARDS: dict[str, DashboardSpec] = {"operations": OPERATIONS, "figures": FIGURES}

PANEL_HEIGHT = {"timeseries": 8, "stat": 4, "table": 8}


def _target(query: Query, ref: str, kind: Kind) -> prometheus_builders.Dataquery:
    target = (
        prometheus_builders.Dataquery()
        .datasource(DATASOURCE)
        .ref_id(ref)
        .expr(query.expr)
        .legend_format(query.legend or "__auto")
    )
    if kind == "timeseries":
        return target.range()
    table = kind == "table"
    return target.instant().format(
        prometheus_models.PromQueryFormat.TABLE if table else prometheus_models.PromQueryFormat.TIME_SERIES
    )


def _panel(spec: PanelSpec, panel_id: int) -> Any:
    refs = [chr(ord("A") + i) for i in range(len(spec.queries))]
    builder: Any
    if spec.kind == "timeseries":
        builder = (
            timeseries_builders.Panel()
            .fill_opacity(10)
            .legend(
                common_builders.VizLegendOptions()
                .display_mode(common_models.LegendDisplayMode.LIST)
                .placement(common_models.LegendPlacement.BOTTOM)
                .show_legend(True)
            )
        )
        if spec.stacked:
            builder = builder.stacking(
                common_builders.StackingConfig().mode(common_models.StackingMode.NORMAL)
            )
    elif spec.kind == "stat":
        builder = (
            stat_builders.Panel()
            .graph_mode(common_models.BigValueGraphMode.AREA)
            .reduce_options(common_builders.ReduceDataOptions().calcs(["lastNotNull"]).values(False))
        )
    else:
        builder = table_builders.Panel()
        if len(spec.queries) > 1:
            builder = builder.with_transformation(
                dashboard_models.DataTransformerConfig(id_val="merge", options={})
            )
        builder = builder.with_transformation(
            dashboard_models.DataTransformerConfig(
                id_val="organize",
                options={"excludeByName": {"Time": True}, "renameByName": _table_names(spec)},
            )
        )
    builder = (
        builder.id(panel_id)
        .title(spec.title)
        .description(spec.description)
        .datasource(DATASOURCE)
        .unit(spec.unit)
        .span(spec.width)
        .height(PANEL_HEIGHT[spec.kind])
    )
    for ref, query in zip(refs, spec.queries, strict=True):
        builder = builder.with_target(_target(query, ref, spec.kind))
    return builder


def _table_names(spec: PanelSpec) -> dict[str, str]:
    """Instant table queries name their value column ``Value #<ref>``; show the legend instead."""
    if len(spec.queries) == 1:
        return {"Value": "value"}
    return {f"Value #{chr(ord('A') + i)}": q.legend for i, q in enumerate(spec.queries)}


def _variables(spec: DashboardSpec) -> list[Any]:
    out: list[Any] = [
        dashboard_builders.DatasourceVariable("datasource").label("Prometheus").type("prometheus")
    ]
    if "region" in spec.variables:
        out.append(
            dashboard_builders.QueryVariable("region")
            .label("Region")
            .description("A region of the region table, or NL for the country")
            .datasource(DATASOURCE)
            .query(REGION_QUERY)
            .definition(REGION_QUERY)
            .refresh(dashboard_models.VariableRefresh.ON_DASHBOARD_LOAD)
            .sort(dashboard_models.VariableSort.ALPHABETICAL_ASC)
            .current(dashboard_models.VariableOption(selected=True, text="NL", value="NL"))
        )
    return out


REGION_QUERY = "label_values(jeugdhub_aggregate_occupancy, region)"


def build(spec: DashboardSpec) -> dict[str, Any]:
    """The dashboard as the JSON object Grafana loads."""
    board = (
        dashboard_builders.Dashboard(spec.title)
        .uid(spec.uid)
        .description(spec.description)
        .tags(["jeugdhub", "generated"])
        .editable()
        .timezone(common_models.TimeZoneBrowser)
        .time("now-6h" if spec is OPERATIONS else "now-30d", "now")
        .refresh("1m" if spec is OPERATIONS else "15m")
        .tooltip(dashboard_models.DashboardCursorSync.CROSSHAIR)
    )
    for variable in _variables(spec):
        board = board.with_variable(variable)
    panel_id = 0
    for row in spec.rows:
        panel_id += 1
        board = board.with_row(dashboard_builders.Row(row.title).id(panel_id))
        for panel in row.panels:
            panel_id += 1
            board = board.with_panel(_panel(panel, panel_id))
    encoded: dict[str, Any] = json.loads(json.dumps(board.build(), cls=JSONEncoder))
    return encoded


def dashboard_json(spec: DashboardSpec) -> str:
    return json.dumps(build(spec), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def configmap_yaml(texts: dict[str, str]) -> str:
    document = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": CONFIGMAP_NAME,
            "labels": {"grafana_dashboard": "1"},
            "annotations": {"grafana_folder": "Jeugdhub"},
        },
        "data": {f"jeugdhub-{name}.json": text for name, text in sorted(texts.items())},
    }
    header = (
        "# Generated by `python -m hubdev.dashboards` from hubdev/dashboards.py: do not edit.\n"
        "# Grafana's dashboard sidecar (kube-prometheus-stack: grafana.sidecar.dashboards) loads every\n"
        '# ConfigMap labelled grafana_dashboard: "1"; the same JSON is in deploy/grafana/.\n'
    )
    return header + yaml.dump(document, Dumper=_BlockDumper, sort_keys=False, allow_unicode=True)


class _BlockDumper(yaml.SafeDumper):
    """Multi-line strings as ``|`` blocks, so the ConfigMap's JSON reads (and diffs) as JSON."""


def _str_block(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_BlockDumper.add_representer(str, _str_block)


def render_all() -> dict[Path, str]:
    """Every generated file (relative to the repository root) -> its content."""
    texts = {name: dashboard_json(spec) for name, spec in DASHBOARDS.items()}
    out = {GRAFANA_DIR / f"{name}.json": text for name, text in texts.items()}
    out[CONFIGMAP_FILE] = configmap_yaml(texts)
    return out


DASHCHECK_DIR = REPO_ROOT / "hubdev" / "dashcheck"
CACHE_ROOT = REPO_ROOT / "deploy" / "local" / "cache"


class DashcheckError(RuntimeError):
    """The strict decoder could not be built."""


def dashcheck_binary(cache_root: Path = CACHE_ROOT) -> Path:
    """The Go strict decoder (hubdev/dashcheck), built on first use into the cache.

    The cache directory is keyed on the sources (go.mod pins the SDK, go.sum its hash), so a new SDK
    version builds anew; the module and build caches live beside it (``go-mod``, ``go-build``),
    so later builds are offline. The first build compiles the SDK's packages: about two minutes.
    """
    digest = hashlib.sha256()
    for name in ("go.mod", "go.sum", "main.go"):
        digest.update((DASHCHECK_DIR / name).read_bytes())
    target = cache_root / f"dashcheck-{digest.hexdigest()[:16]}" / "dashcheck"
    if target.is_file():
        return target
    go = shutil.which("go")
    if go is None:
        raise DashcheckError(
            "Go (`go`) is not on PATH; it builds hubdev/dashcheck once: apt-get install golang-go"
        )
    cache_root.mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        "GOCACHE": str(cache_root / "go-build"),
        "GOMODCACHE": str(cache_root / "go-mod"),
        "GOFLAGS": "-modcacherw -mod=readonly",
    }
    scratch = Path(tempfile.mkdtemp(prefix=".dashcheck-", dir=cache_root))
    try:
        print(f"dashboards: building the strict decoder into {target.parent} (once)", file=sys.stderr)
        started = time.monotonic()
        result = subprocess.run(
            [go, "build", "-trimpath", "-o", str(scratch / "dashcheck"), "."],
            cwd=DASHCHECK_DIR,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise DashcheckError(f"go build of {DASHCHECK_DIR} failed:\n{result.stdout}{result.stderr}")
        if not target.is_file():
            try:
                scratch.rename(target.parent)
            except OSError:
                if not target.is_file():  # another process finished first otherwise
                    raise
        print(f"dashboards: built in {time.monotonic() - started:.0f} s", file=sys.stderr)
        return target
    finally:
        if scratch.exists():
            shutil.rmtree(scratch, ignore_errors=True)


def strict_check(paths: Sequence[Path]) -> subprocess.CompletedProcess[str]:
    """Run the Go strict decoder on dashboard JSON files (exit 0: all decode; 1: one does not)."""
    binary = dashcheck_binary()
    return subprocess.run(
        [str(binary), *map(str, paths)], capture_output=True, text=True, timeout=60, check=False
    )


def panel_queries(board: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """(panel title, PromQL) of every panel target of a dashboard's JSON."""
    for panel in board["panels"]:
        for target in panel.get("targets", []):
            yield panel["title"], target["expr"]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m hubdev.dashboards", description="write (or --check) the Grafana dashboards"
    )
    parser.add_argument("--check", action="store_true", help="compare only; exit 1 if a file differs")
    parser.add_argument("--root", type=Path, default=REPO_ROOT, help="repository root")
    parser.add_argument(
        "--strict",
        action="store_true",
        help="also decode the JSON strictly with the Go SDK (hubdev/dashcheck)",
    )
    args = parser.parse_args(argv)
    stale = []
    for relative, text in render_all().items():
        path = args.root / relative
        if path.is_file() and path.read_text(encoding="utf-8") == text:
            continue
        stale.append(relative)
        if not args.check:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
    for relative in stale:
        print(f"{'out of date' if args.check else 'wrote'}: {relative}", file=sys.stderr)
    if args.strict:
        result = strict_check([args.root / GRAFANA_DIR / f"{name}.json" for name in DASHBOARDS])
        print(result.stdout, end="")
        if result.returncode != 0:
            return 1
    return 1 if args.check and stale else 0


if __name__ == "__main__":
    raise SystemExit(main())
