"""Structured logging: one JSON object per line, for every Jeugdhub process.

Log lines name events and counts, never message contents: no BSN, birth date or payload is ever
passed to a logger (the privacy tests scan the log files for them).

Repeats are summarised (:class:`RepeatLimiter`): while Kafka is down, aiokafka logs a connection
error for every reconnect attempt and ingest a warning for every refused request; under load that
was ~70 KiB/s of identical lines (issue 12, defect 8), enough to fill a disk or drown the first,
useful line. Each kind of warning or error is written once, then counted for an interval and
reported as "N more like this suppressed".
"""

from __future__ import annotations

import logging
import logging.config
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TextIO

import orjson
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

_STANDARD = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message", "asctime"}

SUPPRESSED_FIELD = "repeats_suppressed"
"""On a passed record (or a summary line): how many records of its kind were dropped before it."""
WINDOW_FIELD = "repeats_window_s"
"""The interval those records were dropped in."""
LIKE_FIELD = "like"
"""On a summary line: the message template (never its arguments) of the records it counts."""
_SUMMARY_FLAG = "_jeugdhub_repeat_summary"


class LogSettings(BaseSettings):
    """How repeated log records are summarised (read where logging is set up)."""

    model_config = SettingsConfigDict(env_prefix="JEUGDHUB_", frozen=True, extra="ignore")

    log_repeat_interval_s: float = Field(
        10.0,
        ge=0,
        description="JEUGDHUB_LOG_REPEAT_INTERVAL_S: a warning or error of one kind (logger, level, "
        "message template) is written once per interval, the repeats counted in one summary; 0 writes all",
    )


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return orjson.dumps(entry, default=str).decode()


Kind = tuple[str, int, str]
"""(logger name, level number, message template): the arguments do not count, so
``Unable connect to "%s": %s`` is one kind whatever the address and error."""


@dataclass
class _Window:
    until: float
    suppressed: int = 0


class RepeatLimiter(logging.Filter):
    """A handler filter: the first record of a kind passes, its repeats within ``interval_s`` do not.

    Only records at ``min_level`` (WARNING) or above are limited; the hub's INFO lines are rare and
    each tells something. When a window ends with repeats, they are reported once: on the next
    record of that kind (which passes with ``repeats_suppressed``), or by :meth:`due` /
    :meth:`drain` as a summary record if none comes. So an outage of any length writes at most two
    lines per kind per interval. Thread-safe (faust logs from its consumer thread too).
    """

    def __init__(
        self,
        interval_s: float = 10.0,
        min_level: int = logging.WARNING,
        clock: Callable[[], float] = time.monotonic,
        max_kinds: int = 1024,
    ) -> None:
        super().__init__()
        self.interval_s = interval_s
        self.min_level = min_level
        self.clock = clock
        self.max_kinds = max_kinds
        self._windows: dict[Kind, _Window] = {}
        self._lock = threading.Lock()

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < self.min_level or self.interval_s <= 0 or hasattr(record, _SUMMARY_FLAG):
            return True
        kind: Kind = (record.name, record.levelno, str(record.msg))
        now = self.clock()
        with self._lock:
            window = self._windows.get(kind)
            if window is not None and now < window.until:
                window.suppressed += 1
                return False
            if window is not None and window.suppressed:
                setattr(record, SUPPRESSED_FIELD, window.suppressed)
                setattr(record, WINDOW_FIELD, self.interval_s)
            if window is None and len(self._windows) >= self.max_kinds:
                return True  # too many kinds to track (pathological): write it rather than guess
            self._windows[kind] = _Window(until=now + self.interval_s)
            return True

    def due(self, now: float | None = None) -> list[logging.LogRecord]:
        """Summaries of the windows that ended with repeats; forgets every ended window."""
        moment = self.clock() if now is None else now
        with self._lock:
            ended = [kind for kind, window in self._windows.items() if moment >= window.until]
            return self._summaries([(kind, self._windows.pop(kind)) for kind in ended])

    def drain(self) -> list[logging.LogRecord]:
        """Summaries of every window with repeats, ended or not (at shutdown)."""
        with self._lock:
            windows = list(self._windows.items())
            self._windows.clear()
            return self._summaries(windows)

    def _summaries(self, windows: list[tuple[Kind, _Window]]) -> list[logging.LogRecord]:
        out = []
        for (name, level, template), window in windows:
            if not window.suppressed:
                continue
            record = logging.LogRecord(
                name, level, "", 0, "%d more like this suppressed", (window.suppressed,), None
            )
            setattr(record, LIKE_FIELD, template)
            setattr(record, SUPPRESSED_FIELD, window.suppressed)
            setattr(record, WINDOW_FIELD, self.interval_s)
            setattr(record, _SUMMARY_FLAG, True)
            out.append(record)
        return out


class JsonStreamHandler(logging.StreamHandler[TextIO]):
    """stderr, with a :class:`RepeatLimiter`; writes the limiter's summaries as their windows end.

    Ended windows are checked at most once a second, when any record is handled, and all that are
    left when the handler is closed (``logging.shutdown`` at exit, or a new ``dictConfig``).
    """

    def __init__(self, repeat_interval_s: float = 10.0) -> None:
        super().__init__()
        self.limiter = RepeatLimiter(repeat_interval_s)
        self.addFilter(self.limiter)
        self._next_sweep = 0.0

    def handle(self, record: logging.LogRecord) -> bool:
        now = self.limiter.clock()
        if now >= self._next_sweep:
            self._next_sweep = now + 1.0
            for summary in self.limiter.due(now):
                super().handle(summary)
        return bool(super().handle(record))

    def close(self) -> None:
        for summary in self.limiter.drain():
            super().handle(summary)
        super().close()


def logging_config(level: str = "INFO", repeat_interval_s: float | None = None) -> dict[str, Any]:
    """A ``dictConfig`` for faust's Worker (``logging_config=``) and for plain commands.

    ``repeat_interval_s``: see :class:`LogSettings` (read from the environment when None).
    """
    interval = LogSettings().log_repeat_interval_s if repeat_interval_s is None else repeat_interval_s
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": f"{__name__}.JsonFormatter"}},
        "handlers": {
            "stderr": {
                "class": f"{__name__}.JsonStreamHandler",
                "formatter": "json",
                "repeat_interval_s": interval,
            }
        },
        "root": {"handlers": ["stderr"], "level": level.upper()},
    }


def setup_logging(level: str = "INFO") -> None:
    logging.config.dictConfig(logging_config(level))
