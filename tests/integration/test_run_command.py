"""``jeugdhub run`` end to end: the three services and the simulator as real processes on the real
broker, for half a minute, then a clean stop.

The session's broker and a topic prefix of its own stand in for the local Kafka that ``make run``
starts (``--kafka-bootstrap``, ``--topic-prefix``); ``--free-ports`` keeps it clear of 8080/6066/6067.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
from collections import Counter
from pathlib import Path

import pytest

from hubdev.processes import JEUGDHUB
from services.contracts.codec import decode
from services.contracts.topics import AGGREGATES, RETOUR, VALIDATED
from tests.integration.hub_processes import read_all

pytestmark = pytest.mark.integration
DURATION_S = 30


def test_run_posts_a_simulated_feed_through_the_whole_hub_and_stops_cleanly(
    kafka_bootstrap: str, unique_prefix: str, tmp_path: Path
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("JEUGDHUB_")}
    result = subprocess.run(
        [
            JEUGDHUB,
            "run",
            "--kafka-bootstrap",
            kafka_bootstrap,
            "--topic-prefix",
            unique_prefix,
            "--free-ports",
            "--no-view",
            "--rate",
            "100",
            "--duration",
            str(DURATION_S),
            "--state-dir",
            str(tmp_path / "run"),
        ],
        cwd=tmp_path,  # faust's data dir (var/faust) lands here
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    out = result.stdout
    assert result.returncode == 0, out + result.stderr

    # Every service's /metrics URL is printed, on a free port of 127.0.0.1.
    urls = dict(re.findall(r"(ingest|validate|aggregate)\s+ready: (http://127\.0\.0\.1:\d+/metrics)", out))
    assert set(urls) == {"ingest", "validate", "aggregate"}, out
    assert not {"8080", "6066", "6067"} & {url.rsplit(":", 1)[1].split("/")[0] for url in urls.values()}
    assert "simulator posting 100 messages/s to ingest" in out
    assert f"stopped. Logs: {tmp_path / 'run' / 'logs'}" in out

    # Status lines report accepted messages, and the simulator's feed went all the way through.
    accepted = [int(n.replace(",", "")) for n in re.findall(r"accepted ([\d,]+) rejected", out)]
    assert accepted and accepted[-1] > 0, out
    statuses = Counter(
        decode("Retour", r.value)["status"]
        for r in read_all(kafka_bootstrap, RETOUR.full_name(unique_prefix))
    )
    assert statuses["accepted"] > 100 and statuses["rejected"] > 0, statuses
    assert len(read_all(kafka_bootstrap, VALIDATED.full_name(unique_prefix))) >= statuses["accepted"]
    snapshots = {
        r.key.decode(): decode("RegionSnapshot", r.value)
        for r in read_all(kafka_bootstrap, AGGREGATES.full_name(unique_prefix))
    }
    assert "NL" in snapshots and len(snapshots) > 1, sorted(snapshots)
    # The feed starts with the history before its first day (placements started over a year ago,
    # some still running), so after half a minute the open placements show, not the new ones.
    assert snapshots["NL"]["occupancy"] > 0, snapshots["NL"]

    # Nothing is left running: no service listens any more (connections are refused).
    for url in urls.values():
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(
                ("127.0.0.1", int(url.rsplit(":", 1)[1].split("/")[0])), timeout=2
            ).close()
