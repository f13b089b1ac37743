"""A minimal faust app with a changelog-backed table, run as a real worker subprocess.

The app sums int values per key into a ``totals`` table (store ``memory://``, so after a restart
the only way back to the old totals is replaying the changelog topic). Every 0.2 s the worker
writes ``{"recovered": ..., "table": {...}}`` to a JSON file, which is how the test process
observes the table without a web server. Run as a script it is the worker; imported it gives
the test :class:`CounterWorker` to start and stop one.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Self, cast

from hubdev.processes import Child

TABLE = "totals"


def changelog_topic(app_id: str) -> str:
    """The changelog faust creates for the ``totals`` table (``<app id>-<table>-changelog``)."""
    return f"{app_id}-{TABLE}-changelog"


def create_app(app_id: str, bootstrap: str, source_topic: str, workdir: Path, snapshot: Path) -> Any:
    """Build the faust app; imported lazily so the test process does not load faust at all."""
    import faust

    app = faust.App(
        app_id,
        broker=f"kafka://{bootstrap}",
        store="memory://",
        web_enabled=False,
        datadir=str(workdir / "faust-data"),
        topic_partitions=1,
        topic_replication_factor=1,
        table_standby_replicas=0,
        # Short sessions so a restarted worker is not kept waiting for the old member to expire.
        broker_session_timeout=6.0,
        broker_heartbeat_interval=1.0,
        broker_rebalance_timeout=10.0,
        broker_commit_interval=0.5,
        broker_request_timeout=20.0,
    )
    source = app.topic(source_topic, key_type=str, key_serializer="raw", value_serializer="json")
    totals = app.Table(TABLE, default=int, key_type=str, value_type=int, partitions=1)

    async def total(stream: Any) -> None:
        async for key, value in stream.items():
            totals[key] += value

    async def write_snapshot() -> None:
        state = {
            "pid": os.getpid(),
            "recovered": cast(Any, app.tables).recovery.completed.is_set(),
            "table": {str(k): int(v) for k, v in totals.items()},
        }
        tmp = snapshot.with_suffix(".tmp")
        tmp.write_text(json.dumps(state), encoding="utf-8")
        os.replace(tmp, snapshot)

    # Decorators applied as calls: faust is untyped, and mypy --strict rejects untyped decorators.
    app.agent(source, name="total")(total)
    app.timer(0.2)(write_snapshot)
    return app


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--app-id", required=True)
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--topic", required=True)
    parser.add_argument("--workdir", type=Path, required=True)
    parser.add_argument("--snapshot", type=Path, required=True)
    args = parser.parse_args(argv)

    import faust

    app = create_app(args.app_id, args.bootstrap, args.topic, args.workdir, args.snapshot)
    # faust.Worker (not `app.main()`): the click CLI would re-enable the web server.
    faust.Worker(app, loglevel="INFO").execute_from_commandline()


@dataclass
class CounterWorker:
    """One worker subprocess; ``with CounterWorker(...) as w: w.wait_for(...)``."""

    app_id: str
    bootstrap: str
    topic: str
    workdir: Path
    child: Child | None = field(default=None, init=False)

    @property
    def snapshot_path(self) -> Path:
        return self.workdir / "snapshot.json"

    @property
    def log_path(self) -> Path:
        return self.workdir / "worker.log"

    def start(self) -> Self:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.snapshot_path.unlink(missing_ok=True)
        cmd = [
            sys.executable,
            str(Path(__file__).resolve()),
            "--app-id",
            self.app_id,
            "--bootstrap",
            self.bootstrap,
            "--topic",
            self.topic,
            "--workdir",
            str(self.workdir),
            "--snapshot",
            str(self.snapshot_path),
        ]
        env = dict(os.environ)
        self.child = Child(
            "faust counter", cmd, env, self.log_path, own_session=True, death_signal=signal.SIGTERM
        ).start()
        return self

    def stop(self, timeout_s: float = 30.0) -> int | None:
        """SIGTERM (faust commits offsets and leaves the group), SIGKILL after *timeout_s*."""
        child, self.child = self.child, None
        if child is None:
            return None
        child.stop(timeout_s)
        return child.exit_code

    def snapshot(self) -> dict[str, Any] | None:
        try:
            data: dict[str, Any] = json.loads(self.snapshot_path.read_text(encoding="utf-8"))
        except (FileNotFoundError, json.JSONDecodeError):
            return None
        return data

    def wait_for(self, check: Callable[[dict[str, Any]], bool], timeout_s: float = 60.0) -> dict[str, Any]:
        """Poll the snapshot until *check* holds; on timeout or worker death fail with the log tail."""
        deadline = time.monotonic() + timeout_s
        last: dict[str, Any] | None = None
        while time.monotonic() < deadline:
            if self.child is None or not self.child.alive:
                raise AssertionError(self._report("faust worker exited", last))
            last = self.snapshot()
            if last is not None and check(last):
                return last
            time.sleep(0.1)
        raise AssertionError(self._report(f"no matching snapshot within {timeout_s:.0f} s", last))

    def _report(self, headline: str, last: dict[str, Any] | None) -> str:
        lines = self.log_path.read_text(encoding="utf-8", errors="replace").splitlines()[-60:]
        return f"{headline}; last snapshot {last}\n--- tail of {self.log_path} ---\n" + "\n".join(lines)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


if __name__ == "__main__":
    main()
