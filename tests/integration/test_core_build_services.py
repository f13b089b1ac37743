"""The workers as real processes run the compiled core when bootstrap has made it (issue 18).

``jeugdhub validate`` and ``jeugdhub aggregate`` started the way the other integration tests start
them (the default ``JEUGDHUB_CORE_BUILD=auto``) say which build they run in
``jeugdhub_core_build_info``; with a C compiler on the machine that must be ``compiled``, so a
failed or stale build fails here instead of running at half speed unnoticed. Their figures on the
worked example equal replay's (computed by the interpreted core in a child process), so the
compiled workers and the interpreted core agree on the real broker too.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from services import compiled
from services.contracts.topics import RAW
from services.streaming.topic_admin import create_hub_topics
from tests.integration.hub_processes import (
    example_env,
    produce,
    running,
    wait_for_published,
)
from tests.integration.messages_support import raw_records

EXAMPLES = Path(__file__).resolve().parents[2].parent / "shared" / "spec" / "examples"
pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not EXAMPLES.is_dir(), reason="worked example not available"),
]
AS_OF = "2026-03-31"
BUILD_INFO = re.compile(
    rb'^jeugdhub_core_build_info\{build="(\w+)",digest="(\w*)",reason="([^"]*)"\} 1\.0$', re.M
)


def _pure_replay_rows(tmp_path: Path) -> list[dict[str, Any]]:
    """``jeugdhub replay`` of the example by the interpreted core (a child with ``pure``)."""
    out = tmp_path / "replay.json"
    code = "import sys, services; from services.cli import main; assert services.BUILD.startswith('pure'); raise SystemExit(main())"
    subprocess.run(
        [sys.executable, "-c", code, "replay", str(EXAMPLES / "feed.jsonl"), "--as-of", AS_OF,
         "--regions", str(EXAMPLES / "regions.csv"), "--output", str(out)],
        env={**os.environ, "JEUGDHUB_CORE_BUILD": "pure"},
        check=True,
    )  # fmt: skip
    rows: list[dict[str, Any]] = json.loads(out.read_bytes())["regions"]
    return rows


def _build_info(metrics: bytes) -> tuple[str, str, str]:
    found = BUILD_INFO.findall(metrics)
    assert len(found) == 1, metrics.decode()[-2000:]
    build, digest, reason = found[0]
    return build.decode(), digest.decode(), reason.decode()


def test_workers_run_the_compiled_core_and_publish_replays_figures(
    kafka_bootstrap: str, unique_prefix: str, tmp_path: Path
) -> None:
    expected = compiled.expected_build()
    create_hub_topics(kafka_bootstrap, unique_prefix)
    lines = (EXAMPLES / "feed.jsonl").read_bytes().splitlines()
    produce(kafka_bootstrap, RAW.full_name(unique_prefix), raw_records(lines))
    env = example_env(
        kafka_bootstrap,
        unique_prefix,
        tmp_path,
        {
            "JEUGDHUB_AS_OF": AS_OF,
            "JEUGDHUB_CORE_BUILD": os.environ.get("JEUGDHUB_CORE_BUILD", "auto"),
        },
    )
    replay_rows = _pure_replay_rows(tmp_path)
    with (
        running("validate", env, tmp_path / "validate.log") as validate,
        running("aggregate", env, tmp_path / "aggregate.log") as aggregate,
    ):
        assert wait_for_published(kafka_bootstrap, unique_prefix, replay_rows, AS_OF) == replay_rows
        for worker in (validate, aggregate):
            status, metrics = worker.get("/metrics")
            assert status == 200
            build, digest, reason = _build_info(metrics)
            assert build == expected, (
                f"{worker.name} runs the {build} core ({reason}): python -m services.compiled build"
            )
            if build == "compiled":
                assert digest == compiled.build_path().name and reason == ""
