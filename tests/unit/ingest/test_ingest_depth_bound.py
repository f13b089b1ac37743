"""The bracket count that spares a single-message request the depth walk must never hide a too-deep
message: whenever it says "cannot be deeper", the walk agrees (property), and a contract message
takes the short way."""

from __future__ import annotations

from typing import Any

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from hubdev.records import placement
from services.ingest import problems as P
from services.ingest.checks import may_nest_deeper_than, nests_deeper_than, parse_json
from services.ingest.problems import Problem

JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**62), max_value=2**62)
    | st.text(alphabet='{[]}ab"\\', max_size=6),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=3), children, max_size=4)
    ),
    max_leaves=40,
)


@settings(max_examples=400, deadline=None)
@given(JSON, st.integers(min_value=1, max_value=8))
def test_the_bracket_count_bounds_the_depth(value: Any, limit: int) -> None:
    text = orjson.dumps(value)
    if not may_nest_deeper_than(text, limit):
        assert not nests_deeper_than(value, limit)


def test_a_contract_message_needs_no_walk_and_a_deep_one_is_still_refused() -> None:
    body = orjson.dumps(placement(message_id="m-1"))
    assert not may_nest_deeper_than(body, 32)
    deep = body[:-1] + b', "extra": ' + b"[" * 40 + b"]" * 40 + b"}"
    assert may_nest_deeper_than(deep, 32)
    refused = parse_json(deep, max_batch=10, max_message_bytes=900 * 1024, max_depth=32)
    assert isinstance(refused, Problem) and refused.kind is P.JSON_TOO_DEEP
    # brackets inside strings only make the count larger: the walk then decides
    quoted = orjson.dumps({"note": "[" * 40, "message_id": "m-2"})
    assert may_nest_deeper_than(quoted, 32) and not nests_deeper_than(orjson.loads(quoted), 32)
