"""``jeugdhub report --from-topic`` against the real broker: the provisional history on the daily topic
(records written as the aggregate service writes them: contract codec, in a Kafka transaction) makes
the same page as the feed it was computed from, and says what the topic lacks."""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from kafka import KafkaProducer

from hubdev.localkafka.broker import free_port
from hubdev.paths import SPEC_EXAMPLES
from hubdev.processes import JEUGDHUB
from services.cli import main
from services.contracts.canonical import record_from_json
from services.contracts.codec import encode
from services.contracts.regions import load_region_table
from services.contracts.topics import FIGURES_DAILY
from services.privacy.pseudonym import ephemeral_keyring
from services.regulator.report import CHART_FIGURES
from services.regulator.targets import evaluate, figure
from services.replay.offline import figures_document, judge_lines
from tests.unit.regulator.report_support import (
    figure_cells,
    parse,
    region_sections,
    shown_number,
    target_statuses,
)

pytestmark = pytest.mark.integration

EXAMPLES = SPEC_EXAMPLES
REGIONS = str(EXAMPLES / "regions.csv")
BASELINE = date(2025, 6, 30)
MONTH_ENDS = [date(2025, 10, 31), date(2025, 11, 30), date(2025, 12, 31), date(2026, 1, 31), date(2026, 2, 28),
              date(2026, 3, 31)]  # fmt: skip
MISSING = date(2025, 12, 31)
LATE = date(2026, 2, 28)
PERIOD = ["--from", "2025-10-01", "--to", "2026-03-31", "--every", "month", "--regions", REGIONS]


def example_documents() -> dict[date, dict[str, Any]]:
    """The worked example's exact figures as of the baseline, every month end and one mid-month day."""
    regions = load_region_table(REGIONS)
    result = judge_lines((EXAMPLES / "feed.jsonl").read_bytes().splitlines(), ephemeral_keyring(), regions)
    return {on: figures_document(result, on, regions) for on in [BASELINE, *MONTH_ENDS, date(2025, 11, 15)]}


def publish(bootstrap: str, topic: str, documents: dict[date, dict[str, Any]], skip: set[date]) -> int:
    """Write one DailyRegionFigures per region and day, in one transaction, as the hub does."""
    producer = KafkaProducer(
        bootstrap_servers=bootstrap, transactional_id=f"it-report-{uuid.uuid4().hex[:8]}", acks="all"
    )
    written = 0
    try:
        producer.init_transactions()
        producer.begin_transaction()
        for on, document in documents.items():
            if on in skip:
                continue
            for row in document["regions"]:
                snapshot = {**row, "as_of": on.isoformat(), "computed_at": f"{on.isoformat()}T21:59:58Z"}
                value = {**record_from_json("RegionSnapshot", snapshot), "written_late": on == LATE}
                key = f"{row['region']}:{on.isoformat()}".encode()
                producer.send(topic, key=key, value=encode("DailyRegionFigures", value))
                written += 1
        producer.flush()
        producer.commit_transaction()
    finally:
        producer.close()
    return written


@pytest.fixture(scope="module")
def documents() -> dict[date, dict[str, Any]]:
    if not EXAMPLES.is_dir():
        pytest.skip(f"worked example not found at {EXAMPLES}")
    return example_documents()


@pytest.fixture
def daily_topic(
    kafka_bootstrap: str,
    unique_prefix: str,
    create_topics: Callable[..., None],
    monkeypatch: pytest.MonkeyPatch,
) -> str:
    topic = FIGURES_DAILY.full_name(unique_prefix)
    create_topics([topic], partitions=FIGURES_DAILY.partitions, config=FIGURES_DAILY.config())
    monkeypatch.setenv("JEUGDHUB_KAFKA_BOOTSTRAP", kafka_bootstrap)
    monkeypatch.setenv("JEUGDHUB_TOPIC_PREFIX", unique_prefix)
    monkeypatch.delenv("JEUGDHUB_BASELINE_DATE", raising=False)
    return topic


def test_the_topic_makes_the_feeds_page_and_says_what_it_lacks(
    kafka_bootstrap: str, daily_topic: str, documents: dict[date, dict[str, Any]], tmp_path: Path
) -> None:
    publish(kafka_bootstrap, daily_topic, documents, skip={MISSING})
    out = tmp_path / "report.html"
    argv = ["report", "--from-topic", *PERIOD, "--baseline", BASELINE.isoformat(), "--output", str(out)]
    assert main(argv) == 0
    tree = parse(out.read_text())
    sections = region_sections(tree)
    latest = {row["region"]: row for row in documents[MONTH_ENDS[-1]]["regions"]}
    then = {row["region"]: row for row in documents[BASELINE]["regions"]}
    assert list(sections) == list(latest)
    word = {True: "met", False: "not-met", None: "unknown"}
    for region, section in sections.items():
        for key, (now_text, baseline_text) in figure_cells(section).items():
            assert shown_number(now_text) == figure(latest[region], key), (region, key)
            assert shown_number(baseline_text) == figure(then[region], key), (region, key)
        results = evaluate(latest[region], then[region], MONTH_ENDS[-1], BASELINE)
        assert target_statuses(section) == {r.name: word[r.met] for r in results}
        charts = section.find("figure", **{"class": "chart"})
        assert [c.attrs["data-figure"] for c in charts] == list(CHART_FIGURES)
    text = " ".join(tree.root.all_text().split())
    assert f"topic {daily_topic} on {kafka_bootstrap}" in text
    assert "not recorded by this source" in text  # the topic has figures, not message counts
    regions = len(latest)
    assert (
        f"{5 * regions} daily records of 5 dates read from {daily_topic}; {regions} of them written late"
        in text
    )
    assert f"1 requested date has no records on the topic: {MISSING}" in text
    assert "2025-10-31 to 2026-03-31, 5 dates (every month)" in text  # the mid-month day is not a month end


def test_without_the_baseline_on_the_topic_targets_are_not_evaluated(
    kafka_bootstrap: str, daily_topic: str, documents: dict[date, dict[str, Any]], tmp_path: Path
) -> None:
    publish(kafka_bootstrap, daily_topic, documents, skip={BASELINE})
    out = tmp_path / "report.html"
    assert (
        main(["report", "--from-topic", *PERIOD, "--baseline", BASELINE.isoformat(), "--output", str(out)])
        == 0
    )
    tree = parse(out.read_text())
    assert not tree.root.find("table", data_table="targets")
    assert len(tree.root.find("p", data_targets="none")) == len(region_sections(tree))
    assert f"the topic holds no figures as of the baseline {BASELINE}" in tree.root.all_text()


def test_an_empty_topic_a_missing_topic_and_no_kafka_end_in_one_line(
    kafka_bootstrap: str,
    daily_topic: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    out = tmp_path / "report.html"
    argv = ["report", "--from-topic", *PERIOD, "--output", str(out)]
    assert main(argv) == 2
    assert capsys.readouterr().err.strip() == (
        "jeugdhub report: the daily topic holds no figures for the month dates in [2025-10-01, 2026-03-31]"
    )
    # A missing topic and an unreachable broker: each waits out its timeout (10 s), so the two
    # commands run side by side, as processes (the environment is the process's).
    nowhere = {**os.environ, "JEUGDHUB_TOPIC_PREFIX": f"nothing{uuid.uuid4().hex[:6]}."}
    nobody = {**nowhere, "JEUGDHUB_KAFKA_BOOTSTRAP": f"127.0.0.1:{free_port()}"}
    with ThreadPoolExecutor(2) as pool:
        missing, unreachable = pool.map(partial(_report_process, argv), (nowhere, nobody))
    assert missing.returncode == 1
    assert "does not exist on" in missing.stderr
    assert unreachable.returncode == 1
    (line,) = unreachable.stderr.strip().splitlines()
    assert line.startswith("jeugdhub report: Kafka: ")
    assert not out.exists()


def _report_process(argv: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [JEUGDHUB, *argv],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
        check=False,
    )
