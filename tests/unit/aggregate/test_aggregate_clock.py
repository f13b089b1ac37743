"""The as-of date sources: JEUGDHUB_AS_OF_FILE is read at every call (tests move the day with it),
refused at start when unusable, and never together with JEUGDHUB_AS_OF."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from pydantic import ValidationError

from services.aggregate.clock import AsOfFileError, from_file
from services.aggregate.settings import AggregateSettings


def test_the_file_is_read_again_at_every_call(tmp_path: Path) -> None:
    path = tmp_path / "as-of"
    path.write_text("2026-03-31\n")
    today = from_file(path)
    assert today() == date(2026, 3, 31)
    path.write_text("2026-04-01")
    assert today() == date(2026, 4, 1)


def test_an_unreadable_file_later_keeps_the_last_date(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "as-of"
    path.write_text("2026-03-31")
    today = from_file(path)
    path.write_text("")  # a writer caught half-way
    assert today() == date(2026, 3, 31)
    path.unlink()
    assert today() == date(2026, 3, 31)
    assert "keeping the last date" in caplog.text


def test_a_missing_or_bad_file_is_refused_at_start(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        from_file(tmp_path / "absent")
    (tmp_path / "bad").write_text("31-03-2026")
    with pytest.raises(AsOfFileError, match="YYYY-MM-DD"):
        from_file(tmp_path / "bad")


def test_a_pinned_date_and_a_file_are_not_both_allowed(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("JEUGDHUB_AS_OF", "2026-03-31")
    monkeypatch.setenv("JEUGDHUB_AS_OF_FILE", str(tmp_path / "as-of"))
    with pytest.raises(ValidationError, match="not both"):
        AggregateSettings()
