"""validate refuses the messages of an erased youth (JH050) until it is re-admitted; nothing it
writes or logs holds the BSN."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import pytest

from services.contracts.codec import decode
from services.privacy.erasure import ERASED_RULE, ErasureSet, erasure_record, pseudonyms_of
from services.validate.answer import answer_batch
from tests.unit.validate.test_validate_answer_batch import KEYRING, OUT, REGIONS, SENDER, DictTable, Rec, raw

BSN = "972308660"  # the BSN of raw()'s message
IDS = [f"0f8fad5b-d9cb-469f-a165-7086772895{n:02d}" for n in range(10)]


def erasures_of(action: str, at: datetime, erasures: ErasureSet | None = None) -> ErasureSet:
    erasures = erasures or ErasureSet()
    for key_id, pseudonym in pseudonyms_of(BSN, KEYRING).items():
        erasures.apply(pseudonym, erasure_record(pseudonym, key_id, action, at))  # type: ignore[arg-type]
    return erasures


def test_an_erased_youth_is_refused_with_jh050_then_accepted_after_readmission(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    table = DictTable()
    erased_at = datetime(2026, 2, 1, tzinfo=UTC)
    erasures = erasures_of("erase", erased_at)
    other = raw(IDS[1], bsn="123456782")

    batch = answer_batch(OUT, [Rec(raw(IDS[0]), 0, 1), Rec(other, 0, 2)], table, KEYRING, REGIONS, erasures)

    assert [len(batch.records[t]) for t in ("validated", "rejected", "retour")] == [1, 1, 2]
    rejection = decode("Rejection", batch.records["rejected"][0][1])
    assert [e["code"] for e in rejection["errors"]] == [ERASED_RULE]
    assert batch.counts.rules == {(ERASED_RULE, "provider"): 1}
    assert f"{SENDER['code']}:{IDS[0]}" not in table.data  # judged anew after a re-admission
    everything = b"".join(k + v for records in batch.records.values() for k, v in records)
    assert BSN.encode() not in everything
    for pseudonym in pseudonyms_of(BSN, KEYRING).values():
        assert pseudonym.encode() not in b"".join(
            v for _, v in batch.records["rejected"] + batch.records["retour"]
        )
    assert BSN not in caplog.text

    erasures_of("readmit", erased_at + timedelta(days=1), erasures)
    again = answer_batch(OUT, [Rec(raw(IDS[0]), 0, 3)], table, KEYRING, REGIONS, erasures)
    assert [len(again.records[t]) for t in ("validated", "rejected")] == [1, 0]
    assert again.counts.accepted == 1
