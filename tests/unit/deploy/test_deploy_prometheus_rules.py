"""deploy/prometheus: promtool accepts the rules and the example config, the rules' unit tests pass,
every hub metric the rules use exists, and docs/operations.md lists every metric the services export.

promtool comes with Debian's ``prometheus`` package, which scripts/bootstrap.sh installs.
"""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest
import yaml
from prometheus_client import CollectorRegistry

from services.aggregate.metrics import new_metrics as aggregate_metrics
from services.ingest.metrics import new_metrics as ingest_metrics
from services.validate.metrics import new_metrics as validate_metrics
from tests.unit.deploy.deploy_support import PROMETHEUS_DIR, REPO

SUFFIXES = {
    "counter": ("_total", "_created"),
    "gauge": ("",),
    "histogram": ("_bucket", "_sum", "_count", "_created"),
}


def _promtool(*args: str) -> str:
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool not on PATH: scripts/bootstrap.sh installs Debian's prometheus package")
    result = subprocess.run(
        [promtool, *args], cwd=PROMETHEUS_DIR, capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, f"promtool {' '.join(args)}:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def _families(registry: CollectorRegistry) -> dict[str, str]:
    """Metric family name (as exposed, without _total) -> type, also for labelled metrics with no child."""
    return {family.name: family.type for family in registry.collect()}


def _exported_series_names() -> dict[str, str]:
    """Every series name the three services can export -> its family name."""
    out = {}
    for registry in (validate_metrics().registry, aggregate_metrics().registry, ingest_metrics().registry):
        for family, kind in _families(registry).items():
            for suffix in SUFFIXES[kind]:
                out[f"{family}{suffix}"] = family
    return out


def test_promtool_checks_the_rules() -> None:
    assert "SUCCESS" in _promtool("check", "rules", "rules.yml")


def test_promtool_rule_unit_tests_pass() -> None:
    assert "SUCCESS" in _promtool("test", "rules", "rules.test.yml")


def test_promtool_checks_the_example_config() -> None:
    assert "SUCCESS" in _promtool("check", "config", "prometheus.yml")


def test_rules_use_only_metrics_the_services_export() -> None:
    exported = _exported_series_names()
    rules = yaml.safe_load((PROMETHEUS_DIR / "rules.yml").read_text(encoding="utf-8"))
    used: set[str] = set()
    for group in rules["groups"]:
        for rule in group["rules"]:
            used.update(re.findall(r"\bjeugdhub_[a-z0-9_]+", rule["expr"]))
    assert used, "the rules use no hub metric?"
    unknown = sorted(used - set(exported))
    assert not unknown, f"rules.yml uses metrics no service exports: {unknown}"


def test_every_alert_has_severity_summary_and_a_runbook_section() -> None:
    rules = yaml.safe_load((PROMETHEUS_DIR / "rules.yml").read_text(encoding="utf-8"))
    operations = (REPO / "docs" / "operations.md").read_text(encoding="utf-8")
    headings = {
        re.sub(r"[^a-z0-9 -]", "", line.lstrip("#").strip().lower()).replace(" ", "-")
        for line in operations.splitlines()
        if line.startswith("#")
    }
    alerts = [rule for group in rules["groups"] for rule in group["rules"] if "alert" in rule]
    assert alerts
    for alert in alerts:
        assert alert["labels"]["severity"] in {"critical", "warning", "info"}
        assert alert["annotations"]["summary"]
        anchor = alert["annotations"]["runbook"].partition("#")[2]
        assert anchor == alert["alert"].lower()
        assert anchor in headings, f"docs/operations.md has no section for {alert['alert']}"


def test_every_runbook_entry_says_what_it_means_what_to_check_and_what_to_do() -> None:
    rules = yaml.safe_load((PROMETHEUS_DIR / "rules.yml").read_text(encoding="utf-8"))
    operations = (REPO / "docs" / "operations.md").read_text(encoding="utf-8")
    sections = re.split(r"^#{2,3} ", operations, flags=re.MULTILINE)
    by_title = {section.partition("\n")[0].strip(): section for section in sections}
    for group in rules["groups"]:
        for rule in group["rules"]:
            if "alert" not in rule:
                continue
            text = by_title[rule["alert"]]
            positions = [text.find(f"**{part}.**") for part in ("Means", "Check", "Do")]
            assert -1 not in positions and positions == sorted(positions), (
                f"docs/operations.md, {rule['alert']}: needs **Means.**, **Check.** and **Do.** in this order"
            )


def test_operations_doc_lists_every_metric() -> None:
    operations = (REPO / "docs" / "operations.md").read_text(encoding="utf-8")
    families = set(_exported_series_names().values())
    missing = sorted(f for f in families if f"`{f}" not in operations)
    assert not missing, f"docs/operations.md does not list: {missing}"


def _labels() -> dict[str, set[str]]:
    """Every series name the services export -> its label names."""
    out: dict[str, set[str]] = {}
    for registry in (validate_metrics().registry, aggregate_metrics().registry, ingest_metrics().registry):
        for collector in list(registry._collector_to_names):  # the families, also those without a child
            names = set(getattr(collector, "_labelnames", ()))
            for series in registry._collector_to_names[collector]:
                out[series] = names
    return out


def test_rules_group_only_by_labels_the_metric_has() -> None:
    """``sum by (sender) (…rule_violations_total…)`` would be an empty result, not an error: catch it."""
    labels = _labels()
    rules = yaml.safe_load((PROMETHEUS_DIR / "rules.yml").read_text(encoding="utf-8"))
    checked = 0
    for group in rules["groups"]:
        for rule in group["rules"]:
            for by, inner in re.findall(r"\bby \(([^)]*)\)\s*\((.*)", rule["expr"], flags=re.S):
                metrics = set(re.findall(r"\bjeugdhub_[a-z0-9_]+", inner))
                for metric in metrics:
                    wanted = {name.strip() for name in by.split(",")} - {"job", "instance", "le"}
                    assert wanted <= labels[metric], f"{rule.get('record') or rule['alert']}: {metric}"
                    checked += 1
    assert checked >= 5
