"""A real Prometheus scrapes the real ingest, validate and aggregate processes, evaluates
deploy/prometheus/rules.yml and answers every query of the Grafana dashboards (deploy/grafana/).

The services run as processes on the session's Kafka broker and the workers process the worked
example; a ``prometheus`` process (Debian's package, installed by scripts/bootstrap.sh) listens on
127.0.0.1, keeps its data in a temporary directory and scrapes the three ``/metrics`` every second.
The test asks Prometheus' HTTP API for the counters and figure gauges and compares them with
``expected-figures.json``, and checks that the recording rules evaluate. Then it posts a batch
through ingest (and one request with a wrong token) and runs every panel query of both dashboards:
each must return a series with a number, so no panel is silently empty.
"""

from __future__ import annotations

import json
import math
import os
import random
import re
import shutil
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import yaml

from hubdev.dashboards import DASHBOARDS, GRAFANA_DIR, REGION_QUERY, panel_queries
from hubdev.localkafka.broker import free_port
from hubdev.paths import SPEC_EXAMPLES
from hubdev.processes import Child
from hubdev.records import placement
from hubdev.waiting import wait_until
from services.contracts.topics import AGGREGATES, RAW, RETOUR
from services.ingest.tokens import Sender, hash_token, write_token_file
from services.streaming.topic_admin import create_hub_topics
from tests.integration.hub_processes import (
    produce,
    read_all,
    running,
    service_env,
    service_process,
    write_keyring,
)
from tests.integration.messages_support import raw_records

REPO = Path(__file__).resolve().parents[2]
RULES = REPO / "deploy" / "prometheus" / "rules.yml"
AS_OF = "2026-03-31"
TOKEN = "it-prometheus-token-0123456789"
SENDER = Sender("provider", "10000001")  # the sender of hubdev.records' drawn placements
POSTED = 20
RATE_WINDOW = "1m"
"""``$__rate_interval`` in the test: longer than the time from the posts to the queries, so every
rate and quantile sees them; Grafana's own is four scrape intervals of the real Prometheus."""

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not SPEC_EXAMPLES.is_dir(), reason="worked example not available"),
]


def _prometheus_binary() -> str:
    found = shutil.which("prometheus")
    if found is None:
        message = "prometheus not on PATH: scripts/bootstrap.sh installs Debian's package"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return found


class Prometheus:
    def __init__(self, port: int) -> None:
        self.base = f"http://127.0.0.1:{port}"

    def get(self, path: str, **params: str) -> Any:
        url = f"{self.base}{path}"
        if params:
            url += "?" + urllib.parse.urlencode(params)
        with urllib.request.urlopen(url, timeout=5) as response:
            return json.load(response)

    def query(self, expr: str) -> list[dict[str, Any]]:
        body = self.get("/api/v1/query", query=expr)
        assert body["status"] == "success", body
        result: list[dict[str, Any]] = body["data"]["result"]
        return result

    def wait_for_value(self, expr: str, expected: float, timeout_s: float = 60.0) -> list[dict[str, Any]]:
        """Poll until the query has exactly one series with the expected value."""

        def wanted(result: list[dict[str, Any]]) -> bool:
            return len(result) == 1 and float(result[0]["value"][1]) == expected

        result = wait_until(lambda: self.query(expr), wanted, timeout_s)
        assert wanted(result), f"{expr}: wanted one series = {expected}, last answer {result}"
        return result


@contextmanager
def running_ingest(env: dict[str, str], workdir: Path) -> Iterator[Child]:
    """``jeugdhub ingest`` on a free port with one token (for :data:`SENDER`)."""
    tokens = workdir / "ingest-tokens.json"
    write_token_file(tokens, {hash_token(TOKEN): SENDER})
    port = free_port()
    extra = {
        "JEUGDHUB_INGEST_PORT": str(port),
        "JEUGDHUB_INGEST_TOKENS_FILE": str(tokens),
        "JEUGDHUB_INGEST_TRANSACTIONAL_ID": f"it-prometheus-{port}",
        "JEUGDHUB_INGEST_BACKLOG_INTERVAL_S": "1",
    }
    service = service_process("ingest", {**env, **extra}, workdir / "ingest.log", port).start()
    try:
        service.wait_ready()
        yield service
    finally:
        service.stop()


def post(ingest: Child, body: bytes, token: str) -> int:
    request = urllib.request.Request(
        f"http://127.0.0.1:{ingest.web_port}/v1/messages",
        data=body,
        method="POST",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)


def dashboard_expr(expr: str) -> str:
    """A panel's PromQL as Grafana would send it for the region NL."""
    return expr.replace("$__rate_interval", RATE_WINDOW).replace("$region", "NL")


def has_a_number(result: list[dict[str, Any]]) -> bool:
    return any(not math.isnan(float(series["value"][1])) for series in result)


@contextmanager
def prometheus(config: dict[str, Any], workdir: Path) -> Iterator[Prometheus]:
    binary = _prometheus_binary()
    port = free_port()
    config_path = workdir / "prometheus.yml"
    config_path.write_text(yaml.safe_dump(config, sort_keys=False))
    log_path = workdir / "prometheus.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [
                binary,
                f"--config.file={config_path}",
                f"--storage.tsdb.path={workdir / 'data'}",
                f"--web.listen-address=127.0.0.1:{port}",
                "--storage.tsdb.retention.time=1h",
                "--log.level=warn",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    server = Prometheus(port)
    try:
        deadline = time.monotonic() + 30
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"prometheus exited with {proc.returncode}:\n{log_path.read_text()}")
            try:
                with urllib.request.urlopen(f"{server.base}/-/ready", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"prometheus not ready:\n{log_path.read_text()}")
            time.sleep(0.2)
        yield server
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


def test_prometheus_scrapes_the_workers_and_evaluates_the_rules(
    kafka_bootstrap: str, unique_prefix: str, tmp_path: Path
) -> None:
    _prometheus_binary()
    expected = json.loads((SPEC_EXAMPLES / "expected-figures.json").read_text())
    national = next(row for row in expected["regions"] if row["region"] == "NL")
    lines = (SPEC_EXAMPLES / "feed.jsonl").read_bytes().splitlines()

    create_hub_topics(kafka_bootstrap, unique_prefix)
    produce(kafka_bootstrap, RAW.full_name(unique_prefix), raw_records(lines))
    env = service_env(
        kafka_bootstrap,
        unique_prefix,
        {
            "JEUGDHUB_KEYRING_FILE": str(write_keyring(tmp_path / "keyring.json")),
            "JEUGDHUB_REGIONS_FILE": str(SPEC_EXAMPLES / "regions.csv"),
            "JEUGDHUB_AS_OF": AS_OF,
        },
    )
    with (
        running("validate", env, tmp_path / "validate.log") as validate,
        running("aggregate", env, tmp_path / "aggregate.log") as aggregate,
        running_ingest(env, tmp_path) as ingest,
    ):
        read_all(kafka_bootstrap, RETOUR.full_name(unique_prefix), expect=len(lines))
        read_all(kafka_bootstrap, AGGREGATES.full_name(unique_prefix), expect=len(expected["regions"]))
        config = {
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s", "scrape_timeout": "1s"},
            "rule_files": [str(RULES)],
            "scrape_configs": [
                {
                    "job_name": "jeugdhub-validate",
                    "static_configs": [{"targets": [f"127.0.0.1:{validate.web_port}"]}],
                },
                {
                    "job_name": "jeugdhub-aggregate",
                    "static_configs": [{"targets": [f"127.0.0.1:{aggregate.web_port}"]}],
                },
                {
                    "job_name": "jeugdhub-ingest",
                    "static_configs": [{"targets": [f"127.0.0.1:{ingest.web_port}"]}],
                },
            ],
        }
        with prometheus(config, tmp_path) as server:
            for job in ("jeugdhub-validate", "jeugdhub-aggregate", "jeugdhub-ingest"):
                server.wait_for_value(f'up{{job="{job}"}}', 1)
            (series,) = server.wait_for_value("jeugdhub_validate_accepted_total", expected["accepted"])
            assert series["metric"]["job"] == "jeugdhub-validate"
            server.wait_for_value("sum(jeugdhub_validate_rejected_total)", expected["rejected"])
            server.wait_for_value("jeugdhub_validate_duplicates_total", expected["duplicates"])
            server.wait_for_value("jeugdhub_validate_messages_in_total", len(lines))

            server.wait_for_value("jeugdhub_aggregate_events_applied_total", expected["accepted"])
            (occupancy,) = server.wait_for_value(
                'jeugdhub_aggregate_occupancy{region="NL"}', national["occupancy"]
            )
            assert occupancy["metric"]["job"] == "jeugdhub-aggregate"
            for row in expected["regions"]:
                region = row["region"]
                server.wait_for_value(
                    f'jeugdhub_aggregate_transfers_between_providers_12m{{region="{region}"}}',
                    row["transfers_between_providers_12m"],
                )
                for kind, count in row["restrictive_measures_12m"].items():
                    server.wait_for_value(
                        f'jeugdhub_aggregate_restrictive_measures_12m{{region="{region}",kind="{kind}"}}',
                        count,
                    )

            # The recording rules of deploy/prometheus/rules.yml are loaded and evaluated.
            server.wait_for_value("jeugdhub:validate_consumer_lag_messages:sum", 0)
            senders = {
                series["metric"]["sender"] for series in server.query("jeugdhub_validate_rejected_total")
            }
            assert senders
            server.wait_for_value("count(jeugdhub:validate_rejected:increase1h_by_sender)", len(senders))
            groups = server.get("/api/v1/rules")["data"]["groups"]
            assert {group["name"] for group in groups} == {"jeugdhub-recording", "jeugdhub-alerts"}
            unhealthy = [
                r["name"] for g in groups for r in g["rules"] if r.get("health") not in ("ok", "unknown")
            ]
            assert not unhealthy, f"rules failing to evaluate: {unhealthy}"
            firing = [r["name"] for g in groups for r in g["rules"] if r.get("state") == "firing"]
            assert firing == [], "a healthy hub fires no alert"

            # The dashboards: traffic through ingest, then every panel query answers with a number.
            # A labelled series appears with its first value, which rate() cannot see: the refused
            # request creates the route's latency series, a scrape sees it, then the batch moves it.
            assert post(ingest, b"[]", "not-a-token-0123456789") == 401
            server.wait_for_value('jeugdhub_ingest_request_duration_seconds_count{route="/v1/messages"}', 1)
            rng = random.Random(15)
            batch = [placement(rng) for _ in range(POSTED)]
            assert post(ingest, json.dumps(batch).encode(), TOKEN) == 202
            server.wait_for_value("jeugdhub_validate_messages_in_total", len(lines) + POSTED)
            server.wait_for_value("jeugdhub_aggregate_events_applied_total", expected["accepted"] + POSTED)
            assert_every_dashboard_query_has_data(server)


def assert_every_dashboard_query_has_data(server: Prometheus, timeout_s: float = 30.0) -> None:
    """Every panel query of deploy/grafana/*.json returns a series with a number (not NaN)."""
    queries = [
        (name, title, dashboard_expr(expr))
        for name in DASHBOARDS
        for title, expr in panel_queries(json.loads((REPO / GRAFANA_DIR / f"{name}.json").read_text()))
    ]
    assert len(queries) > 40
    answers = wait_until(
        lambda: {q: server.query(q[2]) for q in queries},
        lambda got: all(has_a_number(result) for result in got.values()),
        timeout_s,
    )
    empty = [f"{q[0]} / {q[1]}: {q[2]} -> {answers[q]}" for q in queries if not has_a_number(answers[q])]
    assert not empty, "dashboard queries without data:\n" + "\n".join(empty)
    # The region variable: label_values(metric, label) is Grafana's; Prometheus' label API answers it.
    variable = re.fullmatch(r"label_values\((\w+), (\w+)\)", REGION_QUERY)
    assert variable is not None, REGION_QUERY
    metric, label = variable.groups()
    values = server.get(f"/api/v1/label/{label}/values", **{"match[]": metric})["data"]
    assert "NL" in values and len(values) > 1, values
