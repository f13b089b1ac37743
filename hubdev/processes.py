"""Child processes of ``jeugdhub run``: start, watch, stop — each with its own log file."""

from __future__ import annotations

import functools
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hubdev.localkafka.broker import set_parent_death_signal

_DIE_WITH_RUN = functools.partial(set_parent_death_signal, signal.SIGKILL)


@dataclass
class Child:
    name: str
    argv: list[str]
    env: dict[str, str]
    log_path: Path
    web_port: int | None = None
    proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            # Own process group: Ctrl-C in the terminal reaches only `jeugdhub run`, which stops
            # the children in order (simulator first, Kafka last). The parent-death signal (the
            # local broker's mechanism) makes Linux SIGKILL the child if `run` dies without
            # stopping it (SIGKILL, a crash), so no service is left running, adopted by PID 1.
            # SIGKILL, not SIGTERM: a Kafka that `run` started gets its SIGTERM at the same moment,
            # and a faust worker's graceful stop then waits ~40 s for a broker that is going away
            # (measured); the services are at-least-once and lose nothing acknowledged by a kill.
            self.proc = subprocess.Popen(
                self.argv,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=_DIE_WITH_RUN if sys.platform.startswith("linux") else None,
            )

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    @property
    def exit_code(self) -> int | None:
        return None if self.proc is None else self.proc.poll()

    def url(self, path: str) -> str | None:
        return None if self.web_port is None else f"http://127.0.0.1:{self.web_port}{path}"

    def get(self, path: str, timeout_s: float = 1.0) -> tuple[int, bytes] | None:
        url = self.url(path)
        if url is None:
            return None
        try:
            with urllib.request.urlopen(url, timeout=timeout_s) as response:
                return int(response.status), response.read()
        except urllib.error.HTTPError as exc:
            with exc:
                return exc.code, exc.read()
        except OSError:
            return None

    def readiness(self) -> tuple[bool, dict[str, Any]]:
        """Ready or not, and the ``/readyz`` body (a faust worker's says how far its recovery got)."""
        answer = self.get("/readyz")
        if answer is None:
            return False, {}
        try:
            body = json.loads(answer[1])
        except ValueError:
            body = {}
        return answer[0] == 200, body if isinstance(body, dict) else {}

    def ready(self) -> bool:
        return self.readiness()[0]

    def wait_ready(self, timeout_s: float, progress: Callable[[str], None] | None = None) -> None:
        """Wait until ``/readyz`` answers 200; *progress* hears of a changelog recovery (at most
        every 5 s). The timeout counts from the start or from the last recovery progress, so a
        long recovery that keeps moving is waited for."""
        deadline = time.monotonic() + timeout_s
        last_said, last_restored = 0.0, -1
        while time.monotonic() < deadline:
            if not self.alive:
                raise RuntimeError(f"{self.name} exited with {self.exit_code}; see {self.log_path}")
            ready, body = self.readiness()
            if ready:
                return
            text = recovery_text(body)
            if text is not None:
                restored = int(body.get("restored", 0))
                if restored > last_restored:
                    deadline = max(deadline, time.monotonic() + timeout_s)
                    last_restored = restored
                if progress is not None and time.monotonic() - last_said >= 5.0:
                    progress(f"{self.name}: {text}")
                    last_said = time.monotonic()
            time.sleep(0.3)
        raise TimeoutError(f"{self.name} not ready after {timeout_s:.0f} s; see {self.log_path}")

    def stop(self, timeout_s: float = 20.0) -> None:
        if not self.alive or self.proc is None:
            return
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(5)


def recovery_text(readyz: dict[str, Any]) -> str | None:
    """The recovery progress of a ``/readyz`` body as words (e.g. "… 12,345 / 50,000 records (25 %)")."""
    if readyz.get("status") != "recovering":
        return None
    try:
        restored, total = int(readyz["restored"]), int(readyz["total"])
    except (KeyError, TypeError, ValueError):
        return None
    share = restored / total if total else 0.0
    return f"restoring state from its changelogs: {restored:,} / {total:,} records ({share:.0%})"


def jeugdhub_argv(*args: str) -> list[str]:
    """The ``jeugdhub`` command of this interpreter's environment."""
    return [sys.executable, "-m", "services.cli", *args]
