"""Access records of the ingest API: one per request, fit to be kept for five years.

The data-protection officer must be able to show who sent what and who read what (AVG art. 5(2)
and 32; NEN 7513's "who, what, when, from where, with what result"), without the log itself
becoming a second copy of the data. So an :class:`AccessRecord` says who (the token's sender and
the token's *id*, never the token), what (method, path, how many messages), when, from which
address and with what answer — and nothing of the body.

Everything in a record comes from the request, and a request can be hostile: a path of 8 KB,
control characters, bidi overrides or lone surrogates in a header, a BSN or a token in the path,
garbage in ``X-Forwarded-For``. :func:`access_record` is total: whatever it is given, it returns a
record that encodes (every text bounded, valid Unicode without control or format characters, digit
runs, dates and token-like runs masked), so no input can break or poison the audit write. The
shell (``app.py``, ``server.py``) collects the facts; this module does no I/O.
"""

from __future__ import annotations

import ipaddress
import re
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from services.contracts.codec import encode
from services.ingest.tokens import CODE_FORMATS, TOKEN_ID_HEX, Sender
from services.privacy.masking import safe_text

Credential = Literal["valid", "invalid", "none", "unchecked"]
"""A known token; an unknown one; no bearer token; refused before the token was looked at."""
CREDENTIALS: tuple[Credential, ...] = ("valid", "invalid", "none", "unchecked")

ACCEPTED = "accepted"
"""Outcome of ``POST /v1/messages`` answered 202 (the messages are on the raw topic)."""
RETOUR_READ = "retour-read"
"""Outcome of ``GET /v1/retour`` answered 200 (retour records handed out)."""
UNAUTHENTICATED_KEY = b"unauthenticated"
"""The Kafka key of a record without a valid token (others are keyed by the sender code)."""

MAX_PATH_CHARS = 256
MAX_METHOD_CHARS = 16
MAX_ADDRESS_CHARS = 64
MAX_ID_CHARS = 64
MAX_OUTCOME_CHARS = 40
_INT_MAX = 2**31 - 1
_LONG_MAX = 2**63 - 1
_MASK = "[masked]"
_REPLACEMENT = "\ufffd"
_TOKEN_LIKE = re.compile(r"[A-Za-z0-9_-]{24,}")
"""A run that could be a bearer token (43 URL-safe base64 characters) or part of one."""
_SLUG = re.compile(r"[a-z][a-z0-9-]{0,39}")
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_HEX_ID = re.compile(rf"[0-9a-f]{{{TOKEN_ID_HEX}}}")
_METHOD = re.compile(r"[A-Z]{1,16}")
_UNSAFE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})
"""Control, format (bidi overrides, zero-width), surrogate, private-use, unassigned, line and
paragraph separators: characters that can hide, reorder or break what a reader of the log sees."""


@dataclass(frozen=True, slots=True)
class AccessRecord:
    """One request; the fields of ``nl.jeugdhub.v1.AccessRecord`` (docs/privacy.md, Audit)."""

    time: datetime
    request_id: str
    instance: str
    method: str
    path: str | None
    sender: Sender | None
    token_id: str | None
    credential: Credential
    message_count: int
    body_bytes: int | None
    status: int
    outcome: str
    client_address: str

    def avro(self) -> dict[str, Any]:
        return {
            "time": self.time,
            "request_id": self.request_id,
            "instance": self.instance,
            "method": self.method,
            "path": self.path,
            "sender": None if self.sender is None else self.sender.as_dict(),
            "token_id": self.token_id,
            "credential": self.credential,
            "message_count": self.message_count,
            "body_bytes": self.body_bytes,
            "status": self.status,
            "outcome": self.outcome,
            "client_address": self.client_address,
        }


def access_record(
    *,
    time: datetime,
    request_id: str,
    instance: str,
    method: str,
    path: str | None,
    sender: Sender | None,
    token_id: str | None,
    credential: object,
    message_count: int,
    body_bytes: int | None,
    status: int,
    outcome: str,
    client_address: str,
) -> AccessRecord:
    """An :class:`AccessRecord` from the facts of a request, every field bounded and cleaned.

    Total: no input makes it raise, and what it returns always encodes (a property test holds it).
    """
    return AccessRecord(
        time=_utc_millis(time),
        request_id=request_id if isinstance(request_id, str) and _UUID.fullmatch(request_id) else "invalid",
        instance=_plain(instance, MAX_ID_CHARS) or "unknown",
        method=clean_method(method),
        path=clean_path(path),
        sender=_clean_sender(sender),
        token_id=token_id if isinstance(token_id, str) and _HEX_ID.fullmatch(token_id) else None,
        credential=_credential(credential),
        message_count=_clamp(message_count, 0, _INT_MAX),
        body_bytes=None if body_bytes is None else _clamp(body_bytes, 0, _LONG_MAX),
        status=_clamp(status, 0, 999),
        outcome=_outcome(outcome),
        client_address=clean_address(client_address),
    )


def encode_access(record: AccessRecord) -> tuple[bytes, bytes]:
    """(key, value) of *record* on the audit topic: keyed by sender code, Avro single-object encoded."""
    key = UNAUTHENTICATED_KEY if record.sender is None else record.sender.code.encode("utf-8")
    return key, encode("AccessRecord", record.avro())


# -- cleaning ---------------------------------------------------------------------------------------
def clean_text(value: object, limit: int) -> str:
    """*value* as text a log reader can trust: unsafe characters (see ``_UNSAFE_CATEGORIES``) replaced
    by U+FFFD, token-like runs, digit runs of 8+ and dates masked, then cut to *limit* characters.

    Masking comes before the cut, so a cut never leaves part of a BSN or token showing.
    """
    return safe_text(_TOKEN_LIKE.sub(_MASK, _safe_characters(value)), limit)


def _plain(value: object, limit: int) -> str:
    """Configuration text (the instance name): safe characters, bounded, nothing masked."""
    text = _safe_characters(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _safe_characters(value: object) -> str:
    text = value if isinstance(value, str) else ("" if value is None else repr(value))
    if text.isascii() and text.isprintable():
        return text
    return "".join(
        _REPLACEMENT if unicodedata.category(char) in _UNSAFE_CATEGORIES else char for char in text
    )


def clean_method(method: object) -> str:
    """An HTTP method as sent when it is 1-16 capital letters, else cleaned (and still bounded)."""
    if isinstance(method, str) and _METHOD.fullmatch(method):
        return method
    return clean_text(method, MAX_METHOD_CHARS) or "?"


def clean_path(path: object) -> str | None:
    """The request path, cleaned and cut to :data:`MAX_PATH_CHARS`; None stays None (no path read).

    Callers pass the percent-*decoded* path, so a BSN sent as ``%31%32…`` is masked like a plain one.
    """
    if path is None:
        return None
    return clean_text(path, MAX_PATH_CHARS)


def clean_address(address: object) -> str:
    """An IP address in its canonical form (IPv6 zone id dropped), or anything else cleaned and cut."""
    if isinstance(address, str):
        candidate = address.strip()
        if candidate.startswith("[") and candidate.endswith("]"):
            candidate = candidate[1:-1]
        try:
            return ipaddress.ip_address(candidate.split("%", 1)[0]).compressed
        except ValueError:
            pass
    return clean_text(address, MAX_ADDRESS_CHARS) or "unknown"


def _clean_sender(sender: Sender | None) -> Sender | None:
    pattern = None if sender is None else CODE_FORMATS.get(sender.kind)
    if sender is None or pattern is None:
        return None
    if isinstance(sender.code, str) and pattern.fullmatch(sender.code):
        return sender
    # Only the tokens file names senders, and `tokens add` checks codes; a hand-edited file might not.
    return Sender(sender.kind, clean_text(sender.code, MAX_ID_CHARS) or "?")


def _outcome(value: object) -> str:
    return value if isinstance(value, str) and _SLUG.fullmatch(value) else "other"


def _credential(value: object) -> Credential:
    for credential in CREDENTIALS:
        if value == credential:
            return credential
    return "unchecked"


def _clamp(value: object, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        return low
    return max(low, min(high, value))


def _utc_millis(time: object) -> datetime:
    if not isinstance(time, datetime):
        return datetime.now(UTC).replace(microsecond=0)
    aware = time if time.tzinfo is not None else time.replace(tzinfo=UTC)
    utc = aware.astimezone(UTC)
    return utc.replace(microsecond=utc.microsecond // 1000 * 1000)
