"""A real Prometheus scrapes the real validate and aggregate workers and evaluates deploy/prometheus/rules.yml.

The workers run as processes on the session's Kafka broker and process the worked example; a
``prometheus`` process (Debian's package, installed by scripts/bootstrap.sh) listens on 127.0.0.1,
keeps its data in a temporary directory and scrapes both ``/metrics`` every second. The test asks
Prometheus' HTTP API for the counters and figure gauges and compares them with
``expected-figures.json``, and checks that the recording rules evaluate.
"""

from __future__ import annotations

import json
import os
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
from hub_processes import produce, read_all, running, service_env, write_keyring
from messages_support import raw_records

from hubdev.localkafka.broker import free_port
from hubdev.paths import SPEC_EXAMPLES
from hubdev.waiting import wait_until
from services.contracts.topics import AGGREGATES, RAW, RETOUR
from services.streaming.topic_admin import create_hub_topics

REPO = Path(__file__).resolve().parents[2]
RULES = REPO / "deploy" / "prometheus" / "rules.yml"
AS_OF = "2026-03-31"

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
            ],
        }
        with prometheus(config, tmp_path) as server:
            for job in ("jeugdhub-validate", "jeugdhub-aggregate"):
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
