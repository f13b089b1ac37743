"""The public aggregates topic and the target gauges on the real broker: validate + aggregate as
processes and the worked example (with its small regions, so counts are suppressed and rounded).

Per region, the public topic holds exactly the public form (services/regulator/public.py) of the
exact topic's records, in the same order and with the same as-of and computed-at, each written only
when the public form changed; its last record is the public form of replay's figures; and it
carries no position header (its offsets and message count are exact figures). The same worker,
given ``JEUGDHUB_BASELINE_DATE``, exports the four targets per region as gauges equal to
``regulator.targets.evaluate`` on replay's figures as of the date and as of the baseline."""

from __future__ import annotations

import math
import re
from collections import defaultdict
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from hubdev.paths import SPEC_EXAMPLES
from hubdev.processes import Child
from hubdev.waiting import wait_until
from services.contracts.canonical import record_to_json
from services.contracts.codec import decode
from services.contracts.topics import AGGREGATES, AGGREGATES_PUBLIC, RAW
from services.regulator.public import public_row
from services.regulator.targets import evaluate
from services.streaming.topic_admin import create_hub_topics
from tests.integration.hub_processes import produce, read_all, running_all, service_env, write_keyring
from tests.integration.messages_support import raw_records
from tests.integration.test_aggregate_daily import replay_rows, wait_for_snapshots

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not SPEC_EXAMPLES.is_dir(), reason="worked example not available"),
]
AS_OF = date(2026, 3, 31)
BASELINE = date(2025, 12, 31)
STAMPS = ("as_of", "computed_at")
TARGET_SAMPLE = re.compile(
    r'^jeugdhub_aggregate_target_(value|met)\{region="([^"]+)",target="([^"]+)"\} (\S+)$'
)


def _target_gauges(worker: Child) -> dict[tuple[str, str, str], float]:
    status, body = worker.get("/metrics")
    assert status == 200
    out = {}
    for line in body.decode().splitlines():
        found = TARGET_SAMPLE.match(line)
        if found:
            kind, region, target, value = found.groups()
            out[(kind, region, target)] = float(value)
    return out


def _expected_targets(lines: list[bytes]) -> dict[tuple[str, str, str], float]:
    out = {}
    for row_d, row_b in zip(replay_rows(lines, AS_OF), replay_rows(lines, BASELINE), strict=True):
        for result in evaluate(row_d, row_b, AS_OF, BASELINE):
            key = (row_d["region"], result.name)
            out[("value", *key)] = math.nan if result.value is None else float(result.value)
            out[("met", *key)] = math.nan if result.met is None else float(result.met)
    return out


def _same(a: dict[tuple[str, str, str], float], b: dict[tuple[str, str, str], float]) -> bool:
    return a.keys() == b.keys() and all(a[k] == b[k] or (math.isnan(a[k]) and math.isnan(b[k])) for k in a)


def _by_region(records: list[Any], schema: str) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for record in records:
        value = record_to_json(schema, decode(schema, record.value))
        assert record.key.decode() == value["region"]
        out[value["region"]].append(value)
    return out


def _expected_public(exact: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The public records a region's exact records call for: one per change of the public form."""
    out: list[dict[str, Any]] = []
    last: tuple[str, dict[str, Any]] | None = None
    for value in exact:
        form = public_row({k: v for k, v in value.items() if k not in STAMPS})
        if (value["as_of"], form) != last:
            out.append({**form, "as_of": value["as_of"], "computed_at": value["computed_at"]})
            last = (value["as_of"], form)
    return out


def test_the_public_topic_is_the_public_form_of_the_exact_one_and_the_targets_are_gauges(
    kafka_bootstrap: str, unique_prefix: str, tmp_path: Path
) -> None:
    create_hub_topics(kafka_bootstrap, unique_prefix)
    lines = (SPEC_EXAMPLES / "feed.jsonl").read_bytes().splitlines()
    env = service_env(
        kafka_bootstrap,
        unique_prefix,
        {
            "JEUGDHUB_KEYRING_FILE": str(write_keyring(tmp_path / "keyring.json")),
            "JEUGDHUB_REGIONS_FILE": str(SPEC_EXAMPLES / "regions.csv"),
            "JEUGDHUB_AS_OF": AS_OF.isoformat(),
            "JEUGDHUB_BATCH_SIZE": "20",  # small rounds: several exact records per region
            "JEUGDHUB_PUBLISH_INTERVAL_S": "0.25",
            "JEUGDHUB_BASELINE_DATE": BASELINE.isoformat(),
        },
    )
    services = (("validate", env, tmp_path / "validate.log"), ("aggregate", env, tmp_path / "aggregate.log"))
    with running_all(*services) as (_validate, aggregate):
        produce(kafka_bootstrap, RAW.full_name(unique_prefix), raw_records(lines))
        wait_for_snapshots(kafka_bootstrap, unique_prefix, AS_OF, replay_rows(lines, AS_OF))
        exact_records = read_all(kafka_bootstrap, AGGREGATES.full_name(unique_prefix), timeout_s=10)
        public_records = read_all(kafka_bootstrap, AGGREGATES_PUBLIC.full_name(unique_prefix), timeout_s=10)
        # The baseline rows follow the state within 10 s (docs/aggregate.md, "Targets").
        expected_targets = _expected_targets(lines)
        gauges = wait_until(lambda: _target_gauges(aggregate), lambda g: _same(g, expected_targets), 30)
        assert _same(gauges, expected_targets), f"{gauges} != {expected_targets}"

    exact, public = (
        _by_region(exact_records, "RegionSnapshot"),
        _by_region(public_records, "PublicRegionSnapshot"),
    )
    assert set(public) == set(exact) == {row["region"] for row in replay_rows(lines, AS_OF)}
    for region, values in exact.items():
        assert public[region] == _expected_public(values), region
    final = {
        region: {k: v for k, v in values[-1].items() if k not in STAMPS} for region, values in public.items()
    }
    assert final == {row["region"]: public_row(row) for row in replay_rows(lines, AS_OF)}
    assert any(values[-1]["suppressed"] for values in public.values())  # the example has small counts
    assert all(not record.headers for record in public_records)
