"""validate's metrics stay bounded with thousands of senders (issue 13, item 7): the sender code
labels one metric only; rule violations are per rule code and sender kind."""

from __future__ import annotations

from typing import Any, cast

from prometheus_client import generate_latest

from services.contracts.records import RetourJSON, SenderJSON, ViolationJSON
from services.validate.answer import BatchCounts
from services.validate.metrics import new_metrics
from services.validate.pipeline import Outcome

RULES = ["CS002", "CS058", "JH010", "JH020", "JH030", "JH040", "RS035", "RS036", "S300", "SCHEMA"]
RULES += ["TR002", "TR018", "TR134", "UNPROCESSABLE"]


def _rejected(sender: dict[str, str] | None, *rules: str) -> Outcome:
    errors: list[ViolationJSON] = [{"code": rule, "field": "", "message": ""} for rule in rules]
    retour: RetourJSON = {
        "message_id": None,
        "sender": cast(SenderJSON | None, sender),  # also a kind the contract does not have
        "received_at": None,
        "status": "rejected",
        "errors": errors,
    }
    return Outcome("rejected", retour)


def _series(text: str, name: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith(name + "{")]


def test_rule_violations_are_labelled_by_sender_kind_not_code() -> None:
    metrics, counts = new_metrics(), BatchCounts()
    counts.add(_rejected({"kind": "provider", "code": "12345678"}, "CS002", "CS002", "S300"))
    counts.add(_rejected({"kind": "provider", "code": "87654321"}, "CS002"))
    counts.add(_rejected({"kind": "municipality", "code": "0363"}, "JH010"))
    counts.add(_rejected(None, "SCHEMA"))
    counts.add(_rejected({"kind": "robot", "code": "1"}, "SCHEMA"))  # not a kind the contract has
    counts.record(metrics)
    text = generate_latest(metrics.registry).decode()
    assert sorted(_series(text, "jeugdhub_validate_rule_violations_total")) == [
        'jeugdhub_validate_rule_violations_total{code="CS002",sender_kind="provider"} 2.0',
        'jeugdhub_validate_rule_violations_total{code="JH010",sender_kind="municipality"} 1.0',
        'jeugdhub_validate_rule_violations_total{code="S300",sender_kind="provider"} 1.0',
        'jeugdhub_validate_rule_violations_total{code="SCHEMA",sender_kind="unknown"} 2.0',
    ]
    assert sorted(_series(text, "jeugdhub_validate_rejected_total")) == [
        'jeugdhub_validate_rejected_total{sender="0363"} 1.0',
        'jeugdhub_validate_rejected_total{sender="1"} 1.0',
        'jeugdhub_validate_rejected_total{sender="12345678"} 1.0',
        'jeugdhub_validate_rejected_total{sender="87654321"} 1.0',
        'jeugdhub_validate_rejected_total{sender="unknown"} 1.0',
    ]


def test_five_thousand_senders_breaking_every_rule() -> None:
    """The figures docs/operations.md ("Cardinality") gives: one series per sender, 14 x 3 at most."""
    metrics, counts = new_metrics(), BatchCounts()
    for i in range(5000):
        sender: dict[str, Any] = (
            {"kind": "provider", "code": f"{10_000_000 + i}"}
            if i < 4650
            else {"kind": "municipality", "code": f"{i:04d}"}
        )
        for rule in RULES:
            counts.add(_rejected(sender, rule))
    counts.add(_rejected(None, "SCHEMA"))
    counts.record(metrics)
    text = generate_latest(metrics.registry).decode()
    assert len(_series(text, "jeugdhub_validate_rejected_total")) == 5001
    assert len(_series(text, "jeugdhub_validate_rule_violations_total")) <= len(RULES) * 3
    assert len(text) < 800_000  # was 12.8 MB with rule x sender code
