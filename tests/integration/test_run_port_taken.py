"""``jeugdhub run`` refuses a taken default port at once, in one line that names the port, the
process holding it and ``--free-ports`` (issue 13, item 2). Before, it moved to a random port without
a word. (A restart getting its ports back is tested with the README's hub in
test_readme_quickstart.py; the TIME_WAIT case itself in tests/unit/run/test_run_ports.py.)"""

from __future__ import annotations

import os
import socket
import subprocess
import time
from pathlib import Path

import pytest

from hubdev.processes import JEUGDHUB

pytestmark = pytest.mark.integration


def test_a_taken_port_stops_run_before_anything_starts(kafka_bootstrap: str, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("JEUGDHUB_")}
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        started = time.monotonic()
        result = subprocess.run(
            [JEUGDHUB, "run", "--kafka-bootstrap", kafka_bootstrap, "--no-view", f"--port=ingest={port}"],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert result.returncode == 1, result.stdout + result.stderr
    assert time.monotonic() - started < 30
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(
        f"jeugdhub run: port {port} (ingest) on 127.0.0.1 is in use by pid {os.getpid()} ("
    )
    assert lines[0].endswith("; stop it, or use --free-ports")
    assert "waiting for" not in result.stdout and not (tmp_path / "var" / "run" / "logs").exists()
