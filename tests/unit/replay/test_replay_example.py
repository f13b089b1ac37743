"""``jeugdhub replay`` on the published worked example gives exactly its expected figures."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from services.cli import main

EXAMPLES = Path(__file__).resolve().parents[3].parent / "shared" / "spec" / "examples"
pytestmark = pytest.mark.skipif(not EXAMPLES.is_dir(), reason=f"worked example not found at {EXAMPLES}")


def test_replay_reproduces_expected_figures(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out, rejections = tmp_path / "figures.json", tmp_path / "rejections.jsonl"
    code = main(
        [
            "replay",
            str(EXAMPLES / "feed.jsonl"),
            "--as-of",
            "2026-03-31",
            "--regions",
            str(EXAMPLES / "regions.csv"),
            "--output",
            str(out),
            "--rejections",
            str(rejections),
        ]
    )
    assert code == 0
    got = json.loads(out.read_text())
    expected = json.loads((EXAMPLES / "expected-figures.json").read_text())
    assert {k: got[k] for k in ("as_of", "accepted", "rejected", "duplicates")} == {
        k: expected[k] for k in ("as_of", "accepted", "rejected", "duplicates")
    }
    assert [r["region"] for r in got["regions"]] == [r["region"] for r in expected["regions"]]
    for got_row, expected_row in zip(got["regions"], expected["regions"], strict=True):
        assert {k: got_row[k] for k in expected_row} == expected_row
    # the line that is not JSON is reported with its number
    assert ":401: not a JSON message" in capsys.readouterr().err


def test_replay_records_every_expected_rejection(tmp_path: Path) -> None:
    rejections = tmp_path / "rejections.jsonl"
    main(["replay", str(EXAMPLES / "feed.jsonl"), "--as-of", "2026-03-31", "--regions", str(EXAMPLES / "regions.csv"),
          "--output", str(tmp_path / "f.json"), "--rejections", str(rejections)])  # fmt: skip
    got = [json.loads(line) for line in rejections.read_text().splitlines()]
    expected = [
        json.loads(line) for line in (EXAMPLES / "expected-rejections.jsonl").read_text().splitlines()
    ]
    assert len(got) == len(expected)
    remaining = list(got)
    for want in expected:
        match = next(
            (
                r
                for r in remaining
                if r["message_id"] == want["message_id"]
                and set(want["codes"]) <= {e["code"] for e in r["errors"]}
            ),
            None,
        )
        assert match is not None, f"no rejection for {want}"
        remaining.remove(match)
    bsns = set()
    for line in (EXAMPLES / "feed.jsonl").read_text().splitlines():
        try:
            bsns.add(json.loads(line)["bsn"])
        except (ValueError, KeyError, TypeError):
            continue
    for record in got:  # nothing identifying in the dead letters: BSN masked, birth date removed
        text = json.dumps(record)
        assert not any(bsn in text for bsn in bsns if len(bsn) >= 4)
        if record["payload_redacted"] is not None:
            assert "birth_date" not in json.loads(record["payload_redacted"])
        for error in record["errors"]:
            assert error["code"] and error["message"]


def test_replay_refuses_a_bad_as_of(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["replay", str(EXAMPLES / "feed.jsonl"), "--as-of", "31-03-2026"])
    assert "--as-of must be YYYY-MM-DD" in capsys.readouterr().err
