"""Acceptance: the worked example's accepted messages give exactly expected-figures.json."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest

from hubdev.paths import SPEC_EXAMPLES
from services.aggregate.facts import YouthFacts, build_youth_facts
from services.aggregate.figures import region_figures
from services.contracts.regions import load_region_table
from tests.unit.aggregate.aggregate_support import EXAMPLE_AS_OF, example_accepted_by_youth, figures_by_region

pytestmark = pytest.mark.skipif(
    not (SPEC_EXAMPLES / "expected-figures.json").is_file(),
    reason=f"worked example not found at {SPEC_EXAMPLES}",
)


def expected() -> dict[str, Any]:
    document: dict[str, Any] = json.loads((SPEC_EXAMPLES / "expected-figures.json").read_text())
    return document


def test_accepted_set_has_the_expected_size() -> None:
    by_youth = example_accepted_by_youth()
    assert sum(len(messages) for messages in by_youth.values()) == expected()["accepted"]


def test_every_figure_matches_expected_figures_json() -> None:
    regions = load_region_table(SPEC_EXAMPLES / "regions.csv")
    facts = [build_youth_facts(messages, regions) for messages in example_accepted_by_youth().values()]
    rows = region_figures(facts, EXAMPLE_AS_OF, regions)
    want = expected()
    assert [row["region"] for row in rows] == [row["region"] for row in want["regions"]]
    got = figures_by_region(rows)
    mismatches = [
        (region, key, got[region][key], value)
        for region, row in figures_by_region(want["regions"]).items()
        for key, value in row.items()
        if got[region][key] != value
    ]
    assert mismatches == []


def test_example_is_order_independent_and_survives_the_facts_topic() -> None:
    regions = load_region_table(SPEC_EXAMPLES / "regions.csv")
    by_youth = example_accepted_by_youth()
    baseline = region_figures(
        [build_youth_facts(m, regions) for m in by_youth.values()], EXAMPLE_AS_OF, regions
    )
    rng = random.Random(20260331)
    shuffled = []
    for messages in by_youth.values():
        copy = messages + rng.sample(messages, k=min(2, len(messages)))
        rng.shuffle(copy)
        facts = build_youth_facts(copy, regions)
        shuffled.append(YouthFacts.from_dict(json.loads(json.dumps(facts.to_dict()))))
    assert region_figures(shuffled, EXAMPLE_AS_OF, regions) == baseline
