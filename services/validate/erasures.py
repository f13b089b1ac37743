"""validate's part of the erasure on request: refuse the messages of an erased youth (``JH050``).

The spec's code table (messages.md) has no code for this: it predates erasure. The hub adds
``JH050`` (docs/contract.md, "Codes the hub adds"), next to its ``JH040``. The check runs after
every other rule, on a message that would otherwise be accepted, with the youth's pseudonym under
the active key and its anchor (the record key during a key rotation): the erasure topic holds the
youth's pseudonym under every key, so either matches. The rejection names the rule, never the BSN
or the pseudonym.

Such a rejection stores nothing in the duplicate table: it depends on the erasure in force, not on
the message, so the same message sent again after a re-admission is judged anew (and accepted),
not answered ``duplicate``.
"""

from __future__ import annotations

from typing import Protocol

from services.privacy.erasure import ERASED_MESSAGE, ERASED_RULE
from services.validate.rules import Violation


class Refusals(Protocol):
    """What validate asks of the erasures (:class:`services.privacy.erasure.ErasureSet`)."""

    def refuses(self, pseudonym: str) -> bool: ...


def erased_violation(erasures: Refusals | None, pseudonym: str, anchor: str | None) -> Violation | None:
    """The ``JH050`` violation when the youth is erased and not re-admitted, else None."""
    if erasures is None:
        return None
    if erasures.refuses(pseudonym) or (
        anchor is not None and anchor != pseudonym and erasures.refuses(anchor)
    ):
        return Violation(ERASED_RULE, "bsn", ERASED_MESSAGE)
    return None
