"""The splicing RawEncoder writes exactly the bytes the contract codec writes for a RawMessage."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from services.contracts.codec import encode
from services.contracts.raw_encoder import RawEncoder
from services.contracts.vocabulary import RAW_FORMATS, SENDER_KINDS, RawFormat


@settings(max_examples=200, deadline=None)
@given(
    kind=st.sampled_from(SENDER_KINDS),
    code=st.text(max_size=20),
    seconds=st.integers(min_value=0, max_value=4_000_000_000),
    fmt=st.sampled_from(RAW_FORMATS),
    message_id=st.text(max_size=300),
    payload=st.binary(max_size=3000),
)
def test_splice_encoder_writes_exactly_what_the_codec_writes(
    kind: str, code: str, seconds: int, fmt: RawFormat, message_id: str, payload: bytes
) -> None:
    sender = {"kind": kind, "code": code}
    received = datetime.fromtimestamp(seconds, UTC)
    expected = encode(
        "RawMessage",
        {
            "received_at": received,
            "sender": sender,
            "message_id": message_id,
            "format": fmt,
            "payload": payload,
        },
    )
    assert RawEncoder(sender, received, fmt).encode(message_id, payload) == expected
