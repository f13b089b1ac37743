"""``jeugdhub simulate`` options: period, output, summary, tokens."""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import subprocess
import sys
from datetime import date
from pathlib import Path

import orjson
import pytest

from hubdev.simulate.__main__ import main
from hubdev.simulate.commands import period_of, register
from hubdev.simulate.output import read_token_map
from hubdev.waiting import wait_until
from services.ingest.tokens import hash_token, read_token_file
from tests.unit.simulate.build_support import compiled_build, env_for

SMALL = ["--history-days", "30", "--scale", "0.1", "--other-care-scale", "0.05", "-q"]


def _args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers(dest="command"))
    return parser.parse_args(["simulate", *argv])


def test_period_from_year_or_dates() -> None:
    assert period_of(_args()) == (date(2023, 1, 1), date(2023, 12, 31))
    assert period_of(_args("--year", "2020")) == (date(2020, 1, 1), date(2020, 12, 31))
    assert period_of(_args("--start", "2024-03-01")) == (date(2024, 3, 1), date(2025, 2, 28))
    assert period_of(_args("--end", "2024-02-29")) == (date(2023, 3, 2), date(2024, 2, 29))
    with pytest.raises(ValueError, match="not both"):
        period_of(_args("--year", "2020", "--start", "2020-01-01"))


def test_output_file_and_summary(tmp_path: Path) -> None:
    out, summary = tmp_path / "feed.jsonl", tmp_path / "summary.json"
    assert (
        main(
            [
                "--start",
                "2023-01-01",
                "--end",
                "2023-03-31",
                *SMALL,
                "-o",
                str(out),
                "--summary",
                str(summary),
            ]
        )
        == 0
    )
    document = orjson.loads(summary.read_bytes())
    assert document["feed"]["lines"] == out.read_bytes().count(b"\n")
    assert document["config"]["origin"] == "2022-12-02"
    assert [row["year"] for row in document["closed_care_calibration"]] == [2022, 2023]


def test_bad_options_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--start", "2023-02-01", "--end", "2023-01-01", "-q"]) == 2
    assert main(["--year", "2023", "--providers", "2", "-q"]) == 2
    assert main(["--year", "2023", "--regions", str(tmp_path / "missing.csv"), "-q"]) == 2
    assert "jeugdhub simulate:" in capsys.readouterr().err


def test_issue_tokens_for_every_sender(tmp_path: Path) -> None:
    ingest_file, plain_file = tmp_path / "ingest-tokens.json", tmp_path / "sim-tokens.json"
    assert (
        main(["--providers", "10", "--register-tokens", str(ingest_file), "--tokens", str(plain_file), "-q"])
        == 0
    )
    hashed = read_token_file(ingest_file)
    plain = read_token_map(plain_file)
    assert len(plain) == 10 + 21  # providers + municipalities of the example region table
    for key, token in plain.items():
        kind, code = key.split(":")
        sender = hashed[hash_token(token)]
        assert (sender.kind, sender.code) == (kind, code)
    assert plain_file.stat().st_mode & 0o777 == 0o600


def test_register_tokens_without_a_place_for_them_is_refused(tmp_path: Path) -> None:
    assert main(["--register-tokens", str(tmp_path / "t.json"), "-q"]) == 2
    assert not (tmp_path / "t.json").exists()


def _long_feed_with_workers(out: Path, build_mode: str) -> subprocess.Popen[bytes]:
    """A ten-year national feed written by two worker processes, in a process group of its own;
    returns once the first lines are in ``out``."""
    if build_mode == "compiled":
        compiled_build()
    proc = subprocess.Popen(
        [sys.executable, "-m", "hubdev.simulate", "--start", "2015-01-01", "--end", "2024-12-31",
         "--workers", "2", "-o", str(out)],
        env=env_for(build_mode),
        stderr=subprocess.PIPE,
        start_new_session=True,
        # A background job of a non-interactive shell (CI) inherits SIGINT ignored; a terminal's does not.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )  # fmt: skip
    wait_until(lambda: out.exists() and out.stat().st_size > 0, timeout_s=60, interval_s=0.05)
    assert out.stat().st_size > 0, "the workers wrote nothing within a minute"
    return proc


def _group_is_empty(pgid: int, within_s: float = 10.0) -> bool:
    def empty() -> bool:
        try:
            os.killpg(pgid, 0)  # anyone left in the group?
        except ProcessLookupError:
            return True
        return False

    return wait_until(empty, timeout_s=within_s, interval_s=0.05)


@pytest.mark.parametrize("build_mode", ["pure", "compiled"])
def test_ctrl_c_stops_the_parent_and_its_workers_quietly(tmp_path: Path, build_mode: str) -> None:
    """A terminal's Ctrl-C signals the whole process group: no traceback, no worker left behind."""
    proc = _long_feed_with_workers(tmp_path / "feed.jsonl", build_mode)
    os.killpg(proc.pid, signal.SIGINT)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130
    assert b"interrupted" in stderr
    assert b"Traceback" not in stderr
    assert _group_is_empty(proc.pid), "a simulator worker outlived its parent"


@pytest.mark.parametrize("build_mode", ["pure", "compiled"])
def test_workers_end_when_their_parent_is_killed(tmp_path: Path, build_mode: str) -> None:
    """SIGKILL gives the parent no chance to stop anyone: the workers notice the closed pipe."""
    proc = _long_feed_with_workers(tmp_path / "feed.jsonl", build_mode)
    proc.kill()
    try:
        proc.wait(timeout=30)
        assert _group_is_empty(proc.pid), "simulator workers kept running after their parent died"
        assert proc.stderr is not None
        assert b"Traceback" not in proc.stderr.read()  # EOF: every process holding stderr is gone
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate(timeout=30)
