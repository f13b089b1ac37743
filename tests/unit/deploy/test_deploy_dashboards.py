"""The Grafana dashboards: committed = generator output, strict decoding against the Grafana
Foundation SDK's Go types (with negative controls), only metrics the services export, and every
panel explained in docs/operations.md. That every query returns data from the real services is
tests/integration/test_prometheus_scrape.py's part.

The strict decoder (hubdev/dashcheck) is built with Go on first use and cached under
deploy/local/cache/; without Go the test fails and says so.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from hubdev import dashboards
from hubdev.dashboards import CONFIGMAP_FILE, DASHBOARDS, GRAFANA_DIR, panel_queries, render_all
from tests.unit.deploy.deploy_support import PROMETHEUS_DIR, REPO, load_documents
from tests.unit.deploy.test_deploy_prometheus_rules import _exported_series_names

Board = dict[str, Any]


def _committed(name: str) -> Board:
    board: Board = json.loads((REPO / GRAFANA_DIR / f"{name}.json").read_text(encoding="utf-8"))
    return board


def test_committed_files_equal_the_generator_output() -> None:
    for relative, text in render_all().items():
        committed = (REPO / relative).read_text(encoding="utf-8")
        assert committed == text, f"{relative} is out of date: run `python -m hubdev.dashboards`"
    assert dashboards.main(["--check", "--root", str(REPO)]) == 0


def test_check_fails_on_a_stale_copy(tmp_path: Path) -> None:
    assert dashboards.main(["--root", str(tmp_path)]) == 0
    stale = tmp_path / GRAFANA_DIR / "figures.json"
    stale.write_text(stale.read_text().replace("Occupancy", "Bezetting", 1))
    assert dashboards.main(["--check", "--root", str(tmp_path)]) == 1


def _strict(paths: list[Path]) -> tuple[int, str]:
    try:
        result = dashboards.strict_check(paths)
    except dashboards.DashcheckError as exc:
        pytest.fail(str(exc))
    return result.returncode, result.stdout + result.stderr


def test_both_dashboards_decode_strictly_with_the_go_sdk() -> None:
    paths = [REPO / GRAFANA_DIR / f"{name}.json" for name in DASHBOARDS]
    code, output = _strict(paths)
    assert code == 0, output
    assert output.count(": ok") == len(paths), output


def _set(path: tuple[Any, ...], value: Any) -> Callable[[Board], None]:
    def change(board: Board) -> None:
        node: Any = board
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value

    return change


# A misspelt field at every level the SDK types (dashboard, panel, panel options, query) and a
# value of the wrong type: each must make the decoder fail and name the field.
NEGATIVE_CONTROLS = {
    "dashboard": (_set(("refreshh",), "1m"), "unexpected field 'refreshh'"),
    "panel": (_set(("panels", 1, "titel"), "x"), "unexpected field 'titel'"),
    "panel-options": (_set(("panels", 1, "options", "graphModee"), "area"), "unexpected field 'graphModee'"),
    "query": (_set(("panels", 1, "targets", 0, "exprr"), "up"), "unexpected field 'exprr'"),
    "wrong-type": (_set(("panels", 1, "id"), "seven"), "panels[1].id"),
}


@pytest.mark.parametrize("control", sorted(NEGATIVE_CONTROLS))
def test_strict_decoding_refuses_an_unknown_field_or_a_wrong_type(control: str, tmp_path: Path) -> None:
    change, expected = NEGATIVE_CONTROLS[control]
    board = copy.deepcopy(_committed("figures"))
    change(board)
    path = tmp_path / "figures.json"
    path.write_text(json.dumps(board))
    code, output = _strict([path])
    assert code == 1, f"the decoder accepted {control}: {output}"
    assert expected in output, output


def _recording_rules() -> set[str]:
    rules = yaml.safe_load((PROMETHEUS_DIR / "rules.yml").read_text(encoding="utf-8"))
    return {rule["record"] for group in rules["groups"] for rule in group["rules"] if "record" in rule}


def test_queries_use_only_exported_metrics_and_recording_rules() -> None:
    exported, recorded = set(_exported_series_names()), _recording_rules()
    for name in DASHBOARDS:
        for title, expr in panel_queries(_committed(name)):
            metrics = set(re.findall(r"\bjeugdhub_[a-z0-9_]+", expr))
            rules = set(re.findall(r"\bjeugdhub:[a-z0-9_:]+", expr))
            assert metrics or rules or "up{" in expr, f"{name} / {title}: {expr} reads no hub metric"
            assert metrics <= exported, f"{name} / {title}: not exported: {sorted(metrics - exported)}"
            assert rules <= recorded, f"{name} / {title}: no such recording rule: {sorted(rules - recorded)}"
            # a fixed window would be empty when it is shorter than a few scrapes, or blur when long
            for window in re.findall(r"\[([^\]]+)\]", expr):
                assert window == "$__rate_interval", f"{name} / {title}: window [{window}] in {expr}"


def test_figures_queries_follow_the_region_variable() -> None:
    board = _committed("figures")
    (region,) = [v for v in board["templating"]["list"] if v["name"] == "region"]
    assert region["current"]["value"] == "NL"
    for title, expr in panel_queries(board):
        if "by (region)" not in expr:  # the per-region table shows every region
            assert 'region="$region"' in expr, f"{title}: {expr} ignores $region"


def test_the_configmap_carries_both_dashboards_for_the_sidecar() -> None:
    (config_map,) = load_documents(REPO / CONFIGMAP_FILE)
    assert config_map["kind"] == "ConfigMap"
    assert config_map["metadata"]["labels"]["grafana_dashboard"] == "1"
    for name in DASHBOARDS:
        text = config_map["data"][f"jeugdhub-{name}.json"]
        assert json.loads(text) == _committed(name)
    (kustomization,) = load_documents(REPO / CONFIGMAP_FILE.parent / "kustomization.yaml")
    assert CONFIGMAP_FILE.name in kustomization["resources"]


def test_operations_md_explains_every_panel() -> None:
    text = (REPO / "docs" / "operations.md").read_text(encoding="utf-8")
    section = text.split("\n## Dashboards\n", 1)
    assert len(section) == 2, "docs/operations.md has no '## Dashboards' section"
    body = section[1].split("\n## ", 1)[0]
    for name in DASHBOARDS:
        titles = {panel["title"] for panel in _committed(name)["panels"] if panel["type"] != "row"}
        missing = sorted(title for title in titles if f"| {title} |" not in body)
        assert not missing, f"docs/operations.md, 'Dashboards', lacks rows for {name} panels {missing}"
