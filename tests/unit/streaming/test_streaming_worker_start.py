"""Both workers' start-up (services/streaming/worker.py:start_worker): a refused configuration ends
with one line and exit status 2 before faust starts; anything else is a bug and is raised."""

from __future__ import annotations

from typing import Any

import pytest

import services.streaming.worker as worker
from services.contracts.regions import RegionTableError
from services.settings import WorkerSettings


@pytest.fixture
def started(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    apps: list[Any] = []
    monkeypatch.setattr(worker, "setup_logging", lambda level: None)

    def run_worker(app: Any, settings: WorkerSettings) -> int:
        apps.append(app)
        return 0

    monkeypatch.setattr(worker, "run_worker", run_worker)
    return apps


def test_the_built_app_runs(started: list[Any]) -> None:
    app: Any = object()
    assert worker.start_worker(WorkerSettings(), lambda: app, "aggregate") == 0
    assert started == [app]


@pytest.mark.parametrize("error", [RegionTableError("regions.csv:3: bad row"), FileNotFoundError(2, "gone")])
def test_a_refused_configuration_is_one_line_and_exit_2(
    started: list[Any], error: Exception, capsys: pytest.CaptureFixture[str]
) -> None:
    def build() -> Any:
        raise error

    assert worker.start_worker(WorkerSettings(), build, "aggregate", (RegionTableError,)) == 2
    assert capsys.readouterr().err == f"jeugdhub aggregate: {error}\n"
    assert started == []


def test_an_unexpected_error_is_raised(started: list[Any]) -> None:
    def build() -> Any:
        raise KeyError("a bug")

    with pytest.raises(KeyError):
        worker.start_worker(WorkerSettings(), build, "validate", (RegionTableError,))
    assert started == []
