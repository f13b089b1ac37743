"""Child processes with their own log file: the services ``jeugdhub run`` starts, the ones the
integration tests start, and the benchmarks' workers — one wrapper for all three.

The callers differ only in how a child is tied to its parent, so those are fields: ``own_session``
(``jeugdhub run``: Ctrl-C in the terminal reaches only ``run``, which stops its children in order;
a stop then signals the child's whole process group) and ``death_signal`` (Linux sends it to the
child when the parent dies, so no service or worker is left running, adopted by PID 1).
"""

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

JEUGDHUB = str(Path(sys.executable).with_name("jeugdhub"))
"""The ``jeugdhub`` console script of this interpreter's environment."""


@dataclass
class Child:
    """One child process; stdout and stderr are appended to ``log_path``."""

    name: str
    argv: list[str]
    env: dict[str, str]
    log_path: Path
    web_port: int | None = None
    cwd: Path | None = None
    own_session: bool = False
    death_signal: signal.Signals | None = None
    tail_lines: int = 0
    """Log lines quoted in a start-up error (tests and benchmarks; ``run`` names the file only)."""
    proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    def start(self) -> Child:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        preexec = None
        if self.death_signal is not None and sys.platform.startswith("linux"):
            preexec = functools.partial(set_parent_death_signal, self.death_signal)
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                self.argv,
                env=self.env,
                cwd=self.cwd,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=self.own_session,
                preexec_fn=preexec,
            )
        return self

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    @property
    def exit_code(self) -> int | None:
        return None if self.proc is None else self.proc.poll()

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def url(self, path: str) -> str | None:
        return None if self.web_port is None else f"http://127.0.0.1:{self.web_port}{path}"

    def get(self, path: str, timeout_s: float = 2.0) -> tuple[int, bytes]:
        """(status, body) of a GET on the child's web port; OSError when it does not answer."""
        url = self.url(path)
        if url is None:
            raise OSError(f"{self.name} has no web port")
        try:
            with urllib.request.urlopen(url, timeout=timeout_s) as response:
                return int(response.status), response.read()
        except urllib.error.HTTPError as exc:
            with exc:
                return exc.code, exc.read()

    def answer(self, path: str, timeout_s: float = 1.0) -> tuple[int, bytes] | None:
        """:meth:`get`, or None when the child has no web port or does not answer."""
        try:
            return self.get(path, timeout_s)
        except OSError:
            return None

    def metric(self, name: str) -> float | None:
        """The value of an unlabelled metric on /metrics, or None."""
        answer = self.answer("/metrics", timeout_s=2.0)
        if answer is None or answer[0] != 200:
            return None
        for line in answer[1].decode().splitlines():
            if line.startswith(name + " "):
                return float(line.split()[1])
        return None

    def readiness(self) -> tuple[bool, dict[str, Any]]:
        """Ready or not, and the ``/readyz`` body (a faust worker's says how far its recovery got)."""
        answer = self.answer("/readyz")
        if answer is None:
            return False, {}
        try:
            body = json.loads(answer[1])
        except ValueError:
            body = {}
        return answer[0] == 200, body if isinstance(body, dict) else {}

    def ready(self) -> bool:
        return self.readiness()[0]

    def wait_ready(self, timeout_s: float = 60.0, progress: Callable[[str], None] | None = None) -> None:
        """Wait until ``/readyz`` answers 200; *progress* hears of a changelog recovery (at most
        every 5 s). The timeout counts from the start or from the last recovery progress, so a
        long recovery that keeps moving is waited for."""
        deadline = time.monotonic() + timeout_s
        last_said, last_restored = 0.0, -1
        while time.monotonic() < deadline:
            if not self.alive:
                raise RuntimeError(f"{self.name} exited with {self.exit_code}; see {self._log_reference()}")
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
            time.sleep(0.2)
        raise TimeoutError(f"{self.name} not ready after {timeout_s:.0f} s; see {self._log_reference()}")

    def kill(self) -> None:
        """SIGKILL: no clean shutdown, no final commit."""
        if self.alive and self.proc is not None:
            self._signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self, timeout_s: float = 30.0) -> None:
        """SIGTERM, and SIGKILL if the child has not exited after *timeout_s*."""
        if not self.alive or self.proc is None:
            return
        self._signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self.kill()

    def log_tail(self, lines: int = 40) -> str:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def _signal(self, signum: signal.Signals) -> None:
        assert self.proc is not None
        if self.own_session:
            os.killpg(self.proc.pid, signum)
        else:
            self.proc.send_signal(signum)

    def _log_reference(self) -> str:
        if not self.tail_lines:
            return str(self.log_path)
        return f"{self.log_path}:\n{self.log_tail(self.tail_lines)}"


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
