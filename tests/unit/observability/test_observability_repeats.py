"""RepeatLimiter and the JSON handler: repeated warnings are summarised, exactly (issue 12, defect 8).

The real outage (a stopped broker under a running ingest) is tests/integration/test_log_flood.py.
"""

from __future__ import annotations

import io
import logging
import os
import subprocess
import sys

import orjson
import pytest

from services.observability.logs import (
    JsonFormatter,
    JsonStreamHandler,
    LogSettings,
    RepeatLimiter,
    logging_config,
)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def record(
    msg: str = 'Unable connect to "%s": %s',
    args: tuple[object, ...] = ("127.0.0.1:9092", "refused"),
    name: str = "aiokafka",
    level: int = logging.ERROR,
) -> logging.LogRecord:
    return logging.LogRecord(name, level, __file__, 1, msg, args, None)


def test_first_passes_repeats_within_the_interval_do_not() -> None:
    clock = Clock()
    limiter = RepeatLimiter(10.0, clock=clock)
    assert limiter.filter(record())
    passed = []
    for n in range(99):
        clock.now += 0.05
        passed.append(limiter.filter(record(args=(f"127.0.0.1:{n}", "refused"))))  # other arguments
    assert not any(passed)


def test_next_record_after_the_interval_carries_the_count() -> None:
    clock = Clock()
    limiter = RepeatLimiter(10.0, clock=clock)
    assert limiter.filter(record())
    for _ in range(41):
        clock.now += 0.2
        assert not limiter.filter(record())
    clock.now = 1010.0  # the window ends exactly now
    later = record()
    assert limiter.filter(later)
    assert later.__dict__["repeats_suppressed"] == 41
    assert later.__dict__["repeats_window_s"] == 10.0
    # a new window started with it
    clock.now += 1
    assert not limiter.filter(record())
    assert limiter.due(clock.now) == []


def test_a_kind_is_logger_level_and_template() -> None:
    limiter = RepeatLimiter(10.0, clock=Clock())
    assert limiter.filter(record())
    assert limiter.filter(record(name="aiokafka.conn"))
    assert limiter.filter(record(level=logging.WARNING))
    assert limiter.filter(record(msg="Unable to update metadata from %s"))
    assert not limiter.filter(record(args=("elsewhere", "timeout")))


def test_info_and_debug_are_never_limited() -> None:
    limiter = RepeatLimiter(10.0, clock=Clock())
    assert all(limiter.filter(record(level=logging.INFO)) for _ in range(5))
    assert all(limiter.filter(record(level=logging.DEBUG)) for _ in range(5))


def test_interval_zero_writes_everything() -> None:
    limiter = RepeatLimiter(0.0, clock=Clock())
    assert all(limiter.filter(record()) for _ in range(5))


def test_due_summarises_ended_windows_once_and_forgets_them() -> None:
    clock = Clock()
    limiter = RepeatLimiter(10.0, clock=clock)
    limiter.filter(record())
    limiter.filter(record(name="jeugdhub.ingest", msg="request failed", args=(), level=logging.WARNING))
    for _ in range(7):
        limiter.filter(record())
    assert limiter.due(1009.9) == []
    (summary,) = limiter.due(1010.0)  # the ingest window had no repeats: no summary for it
    assert (summary.name, summary.levelno) == ("aiokafka", logging.ERROR)
    assert summary.getMessage() == "7 more like this suppressed"
    assert summary.__dict__["like"] == 'Unable connect to "%s": %s'  # the template, never the arguments
    assert summary.__dict__["repeats_suppressed"] == 7
    assert limiter.due(1020.0) == []
    # forgotten: the next one passes as a first, without a count
    again = record()
    assert limiter.filter(again) and "repeats_suppressed" not in again.__dict__


def test_drain_reports_open_windows() -> None:
    clock = Clock()
    limiter = RepeatLimiter(10.0, clock=clock)
    for _ in range(4):
        limiter.filter(record())
    (summary,) = limiter.drain()
    assert summary.__dict__["repeats_suppressed"] == 3
    assert limiter.drain() == []


def test_summaries_pass_the_limiter() -> None:
    clock = Clock()
    limiter = RepeatLimiter(10.0, clock=clock)
    limiter.filter(record())
    limiter.filter(record())
    summaries = limiter.drain()
    limiter.filter(record())
    assert all(limiter.filter(s) for s in summaries + summaries)


def test_too_many_kinds_are_written_not_tracked() -> None:
    limiter = RepeatLimiter(10.0, clock=Clock(), max_kinds=2)
    limiter.filter(record(msg="a"))
    limiter.filter(record(msg="b"))
    assert limiter.filter(record(msg="c")) and limiter.filter(record(msg="c"))
    assert not limiter.filter(record(msg="a"))


def _lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [orjson.loads(line) for line in stream.getvalue().splitlines()]


def test_handler_writes_first_then_a_summary_when_the_window_ends() -> None:
    clock = Clock()
    stream = io.StringIO()
    handler = JsonStreamHandler(10.0)
    handler.setStream(stream)
    handler.setFormatter(JsonFormatter())
    handler.limiter.clock = clock
    for _ in range(500):
        handler.handle(record())
        clock.now += 0.01
    clock.now = 1012.0
    handler.handle(record(name="jeugdhub.ingest", msg="kafka producer ready", args=(), level=logging.INFO))
    handler.handle(record())
    for _ in range(3):
        handler.handle(record())
    handler.close()
    lines = _lines(stream)
    assert [(line["logger"], line["msg"]) for line in lines] == [
        ("aiokafka", 'Unable connect to "127.0.0.1:9092": refused'),
        ("aiokafka", "499 more like this suppressed"),
        ("jeugdhub.ingest", "kafka producer ready"),
        ("aiokafka", 'Unable connect to "127.0.0.1:9092": refused'),
        ("aiokafka", "3 more like this suppressed"),  # at close
    ]
    assert lines[1]["level"] == "error" and lines[1]["repeats_suppressed"] == 499
    assert lines[1]["like"] == 'Unable connect to "%s": %s'
    assert "repeats_suppressed" not in lines[3]


def test_logging_config_reads_the_interval_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JEUGDHUB_LOG_REPEAT_INTERVAL_S", "2.5")
    assert LogSettings().log_repeat_interval_s == 2.5
    assert logging_config("info")["handlers"]["stderr"]["repeat_interval_s"] == 2.5
    assert logging_config("info", repeat_interval_s=0)["handlers"]["stderr"]["repeat_interval_s"] == 0


SCRIPT = """
import logging
from services.observability.logs import setup_logging
setup_logging("INFO")
for _ in range(10):
    logging.getLogger("aiokafka").error("Unable to update metadata from %s", [1])
logging.getLogger("jeugdhub.ingest").info("ingest stopping")
"""


def test_setup_logging_limits_repeats_in_a_real_process() -> None:
    # a process of its own: dictConfig replaces (and closes) every handler, pytest's included
    env = {**os.environ, "JEUGDHUB_LOG_REPEAT_INTERVAL_S": "60"}
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, check=True, timeout=60
    )
    lines = [orjson.loads(line) for line in done.stderr.splitlines()]
    assert [(line["logger"], line["msg"]) for line in lines] == [
        ("aiokafka", "Unable to update metadata from [1]"),
        ("jeugdhub.ingest", "ingest stopping"),
        ("aiokafka", "9 more like this suppressed"),  # at exit (logging.shutdown)
    ]
    assert lines[2]["repeats_window_s"] == 60.0
