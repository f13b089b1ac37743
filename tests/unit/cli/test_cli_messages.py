"""Every ``jeugdhub`` command ends a user's mistake with one line and a non-zero exit, checks its
output paths before the work, and lists the environment variables it reads (issue 13, item 5)."""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from services import cli
from services.cli import explain, main

MISSING_DIR = "/nonexistent-jeugdhub-test-dir"


def _fail_if_called(*_args: Any, **_kwargs: Any) -> Any:
    raise AssertionError("the work started before the output path was checked")


def _one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


def test_replay_of_a_missing_file_says_so(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["replay", "nope.jsonl", "--as-of", "2026-03-31"]) == 2
    assert _one_line(capsys.readouterr().err) == "jeugdhub replay: cannot read nope.jsonl: no such file"


def test_replay_checks_its_outputs_before_the_work(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("services.replay.offline.judge_lines", _fail_if_called)
    feed = tmp_path / "feed.jsonl"
    feed.write_text("{}\n")
    code = main(["replay", str(feed), "--as-of", "2026-03-31", "--output", f"{MISSING_DIR}/f.json"])
    assert code == 2
    assert _one_line(capsys.readouterr().err) == (
        f"jeugdhub replay: cannot write {MISSING_DIR}/f.json: directory {MISSING_DIR} does not exist"
    )
    assert main(["replay", str(feed), "--as-of", "2026-03-31", "--rejections", str(tmp_path)]) == 2
    assert (
        _one_line(capsys.readouterr().err) == f"jeugdhub replay: cannot write {tmp_path}: it is a directory"
    )


def test_simulate_checks_its_outputs_before_the_feed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("hubdev.simulate.feed.Simulation", _fail_if_called)
    assert main(["simulate", "-o", f"{MISSING_DIR}/x.jsonl"]) == 2
    assert f"cannot write {MISSING_DIR}/x.jsonl: directory {MISSING_DIR} does not exist" in _one_line(
        capsys.readouterr().err
    )
    assert main(["simulate", "-o", str(tmp_path / "x.jsonl"), "--summary", str(tmp_path)]) == 2
    assert _one_line(capsys.readouterr().err).startswith("jeugdhub simulate: cannot write")
    assert not (tmp_path / "x.jsonl").exists()


def test_rebuild_checks_its_output_before_reading_kafka(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("services.aggregate.rebuild.rebuild", _fail_if_called)
    assert main(["rebuild", "--output", f"{MISSING_DIR}/f.json"]) == 2
    assert "jeugdhub rebuild: cannot write" in _one_line(capsys.readouterr().err)


def test_a_bad_setting_is_one_line_naming_the_variable(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("JEUGDHUB_WEB_PORT", "eighty")
    assert main(["validate"]) == 2
    line = _one_line(capsys.readouterr().err)
    assert line.startswith("jeugdhub validate: bad setting JEUGDHUB_WEB_PORT: ")
    assert "eighty" not in line  # values are never echoed (a setting may be a secret)
    monkeypatch.setenv("JEUGDHUB_INGEST_PORT", "-1")
    assert main(["ingest"]) == 2
    assert _one_line(capsys.readouterr().err).startswith(
        "jeugdhub ingest: bad setting JEUGDHUB_INGEST_PORT: "
    )


def test_kafka_not_reachable_is_one_line_and_exit_1(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from kafka.errors import KafkaTimeoutError

    def no_brokers(*_args: Any) -> list[str]:
        raise KafkaTimeoutError("Unable to bootstrap from 127.0.0.1:1")

    monkeypatch.setattr("services.streaming.topic_admin.create_hub_topics", no_brokers)
    assert main(["topics", "--create", "--bootstrap", "127.0.0.1:1"]) == 1
    line = _one_line(capsys.readouterr().err)
    assert line.startswith("jeugdhub topics: Kafka: KafkaTimeoutError: Unable to bootstrap")


def test_a_missing_file_anywhere_names_the_file_but_a_bug_keeps_its_traceback() -> None:
    assert explain(FileNotFoundError(2, "No such file or directory", "x.csv")) == (
        2,
        "x.csv: No such file or directory",
    )
    assert explain(RuntimeError("a bug")) is None
    assert explain(KeyError("a bug")) is None


def test_the_command_as_a_process_prints_one_line(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "services.cli", "replay", "nope.jsonl", "--as-of", "2026-03-31"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={"PYTHONPATH": str(Path(cli.__file__).resolve().parents[1]), "PATH": "/usr/bin:/bin"},
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert _one_line(done.stderr) == "jeugdhub replay: cannot read nope.jsonl: no such file"


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stopped:
        main(["--version"])
    assert stopped.value.code == 0
    name, version = capsys.readouterr().out.split()
    assert name == "jeugdhub" and version[0].isdigit()


def _help(*argv: str, capsys: pytest.CaptureFixture[str]) -> str:
    with pytest.raises(SystemExit):
        main([*argv, "--help"])
    return capsys.readouterr().out


def _variables(source: str) -> list[str]:
    module_name, _, class_name = source.partition(":")
    settings: Any = getattr(importlib.import_module(module_name), class_name)
    return [f"JEUGDHUB_{name.upper()}" for name in settings.model_fields]


@pytest.mark.parametrize(
    ("command", "source"),
    [
        (["ingest"], "services.ingest.settings:IngestSettings"),
        (["validate"], "services.validate.settings:ValidateSettings"),
        (["aggregate"], "services.aggregate.settings:AggregateSettings"),
    ],
)
def test_service_help_describes_and_lists_every_variable(
    command: list[str], source: str, capsys: pytest.CaptureFixture[str]
) -> None:
    text = _help(*command, capsys=capsys)
    usage, description = text.split("\n\n")[:2]
    assert usage.startswith(f"usage: jeugdhub {command[0]}")
    assert len(description.split()) > 10  # a description, not just the usage line
    variables = _variables(source)
    assert len(variables) > 10
    missing = [variable for variable in variables if f"\n  {variable}\n" not in text]
    assert missing == []


def test_other_commands_list_what_they_read(capsys: pytest.CaptureFixture[str]) -> None:
    assert "\n  JEUGDHUB_INGEST_TOKENS_FILE\n" in _help("tokens", "add", capsys=capsys)
    assert "\n  JEUGDHUB_KEYRING_FILE\n" in _help("replay", capsys=capsys)
    assert "\n  JEUGDHUB_REGIONS_FILE\n" in _help("simulate", capsys=capsys)
    assert "\n  JEUGDHUB_KAFKA_BOOTSTRAP\n" in _help("rebuild", capsys=capsys)
    run = _help("run", capsys=capsys)
    assert "The whole hub on this machine" in run
    assert "JEUGDHUB_* variables in your environment are not passed on" in " ".join(run.split())


def test_topics_counts_partitions_in_words(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["topics"]) == 0
    out = capsys.readouterr().out
    assert " 1 partition " in out
    assert " 1 partitions" not in out
    assert " 6 partitions " in out
