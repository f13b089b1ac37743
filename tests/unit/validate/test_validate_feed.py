"""Cross-check of the rules against the worked example in shared/spec/examples.

``expected-rejections.jsonl`` lists the codes each rejected message must carry at least. Codes that
are not the rules' business (``SCHEMA``: the schema check; ``JH030``: dedup) are left out, as are
lines that do not match the schema; every other message, including both copies of a conflicting
re-send (``JH030`` is decided by dedup, not here), must pass the rules without a violation.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from hubdev.paths import SPEC_EXAMPLES
from services.contracts.regions import RegionTable, load_region_table
from services.validate.rules import check_rules

NOT_OURS = frozenset({"SCHEMA", "JH030"})
OPTIONAL_FIELDS: dict[str, tuple[str, ...]] = {"measure": ("end_date", "placement_id")}

pytestmark = pytest.mark.skipif(
    not (SPEC_EXAMPLES / "feed.jsonl").exists(), reason="spec examples not present"
)


def _feed() -> Iterator[tuple[int, dict[str, Any]]]:
    """Parsed feed lines with missing optional fields filled in; the non-JSON line is skipped."""
    for line_no, line in enumerate(
        (SPEC_EXAMPLES / "feed.jsonl").read_text(encoding="utf-8").splitlines(), 1
    ):
        try:
            msg = json.loads(line)
        except ValueError:
            continue
        msg.setdefault("cancels_message_id", None)
        if msg.get("status") == "new":
            for name in OPTIONAL_FIELDS.get(msg.get("message_type", ""), ()):
                msg.setdefault(name, None)
        yield line_no, msg


def _expected() -> dict[str | None, set[str]]:
    """message_id -> union of the codes its rejections must carry (a message may appear twice)."""
    expected: dict[str | None, set[str]] = {}
    for line in (SPEC_EXAMPLES / "expected-rejections.jsonl").read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        expected.setdefault(record["message_id"], set()).update(record["codes"])
    return expected


@pytest.fixture(scope="module")
def regions() -> RegionTable:
    return load_region_table(SPEC_EXAMPLES / "regions.csv")


def test_expected_rule_violations_are_found(regions: RegionTable) -> None:
    expected = _expected()
    ours = {mid: codes - NOT_OURS for mid, codes in expected.items() if mid is not None and codes - NOT_OURS}
    assert len(ours) >= 10  # the example breaks each rule once
    found: dict[str | None, set[str]] = {}
    for _line_no, msg in _feed():
        if msg["message_id"] in ours:
            found.setdefault(msg["message_id"], set()).update(v.code for v in check_rules(msg, regions))
    missing = {mid: codes - found.get(mid, set()) for mid, codes in ours.items()}
    missing = {mid: codes for mid, codes in missing.items() if codes}
    assert missing == {}


def test_other_messages_pass_the_rules(regions: RegionTable) -> None:
    expected = _expected()
    false_positives = []
    checked = 0
    for line_no, msg in _feed():
        codes = expected.get(msg["message_id"], set())
        if "SCHEMA" in codes:
            continue  # does not match the schema: never reaches the rules
        if codes - NOT_OURS:
            continue  # covered by the test above
        # Both copies of a conflicting re-send (JH030) are valid as far as stateless rules go.
        checked += 1
        violations = check_rules(msg, regions)
        if violations:
            false_positives.append((line_no, [v.to_dict() for v in violations]))
    assert false_positives == []
    assert checked > 700
