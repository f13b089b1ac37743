"""API tokens: one random bearer token per sender, stored only as its SHA-256 hash.

The tokens file (or the Kubernetes Secret mounted as that file) maps ``sha256-hex -> {kind, code}``.
A leaked file therefore gives no usable token. Tokens carry 256 bits of randomness, so one unsalted
SHA-256 is enough (a slow password hash protects low-entropy secrets, not these).

Lookup is a dict access keyed by the *hash* of the presented token followed by
``hmac.compare_digest``: the lookup's timing can at most reveal a prefix of a SHA-256 digest, which
does not help anyone build a matching token, and the final comparison is constant-time. Comparing
against every stored hash would cost O(senders) per request for no extra safety.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import orjson

from services.contracts.vocabulary import SENDER_KINDS, SenderKind

_HEX64 = re.compile(r"^[0-9a-f]{64}$")
# The contract's code formats (RS036 / RS035); `tokens add` refuses anything else.
CODE_FORMATS: dict[str, re.Pattern[str]] = {
    "provider": re.compile(r"^[0-9]{8}$"),
    "municipality": re.compile(r"^[0-9]{4}$"),
}


class TokenFileError(ValueError):
    """The tokens file cannot be read or does not have the expected shape."""


@dataclass(frozen=True, slots=True)
class Sender:
    kind: SenderKind
    code: str

    def as_dict(self) -> dict[str, str]:
        return {"kind": self.kind, "code": self.code}


TOKEN_ID_HEX = 16


def token_id(digest: str) -> str:
    """The id of the token whose SHA-256 hex digest is *digest*: its first 16 hex digits.

    The id names a token in the access records (docs/privacy.md, Audit), in ``tokens list`` and in
    ``tokens add``'s output, so an officer can tell which of a sender's tokens was used and find it
    in the tokens file; it is useless for anything else (the token has 256 random bits; the id is 64
    bits of its hash). The token itself is never stored, logged or written anywhere.
    """
    return digest[:TOKEN_ID_HEX]


def new_token() -> str:
    """A fresh bearer token: 32 random bytes, URL-safe base64 (43 characters)."""
    return secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def bearer_token(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header, or None."""
    if not authorization:
        return None
    scheme, _, value = authorization.strip().partition(" ")
    if scheme.lower() != "bearer":
        return None
    value = value.strip()
    return value or None


def check_sender(kind: str, code: str) -> Sender:
    """A sender with a code in the contract's format, or ValueError saying which rule it breaks."""
    if kind not in CODE_FORMATS:
        raise ValueError(f"kind must be one of {', '.join(SENDER_KINDS)}, got {kind!r}")
    if not CODE_FORMATS[kind].match(code):
        need = "an 8-digit AGB code" if kind == "provider" else "a 4-digit gemeentecode"
        raise ValueError(f"a {kind} code must be {need}, got {code!r}")
    return Sender(cast(SenderKind, kind), code)


def parse_token_map(data: Any) -> dict[str, Sender]:
    """Check the decoded tokens file: ``{sha256-hex: {"kind": ..., "code": ...}}``."""
    if not isinstance(data, dict):
        raise TokenFileError("the tokens file must hold a JSON object mapping sha256 hashes to senders")
    out: dict[str, Sender] = {}
    for digest, sender in data.items():
        if not isinstance(digest, str) or not _HEX64.match(digest):
            raise TokenFileError(f"key {str(digest)[:12]!r}... is not a lower-case SHA-256 hex digest")
        if (
            not isinstance(sender, dict)
            or sender.get("kind") not in SENDER_KINDS
            or not isinstance(sender.get("code"), str)
            or set(sender) != {"kind", "code"}
        ):
            raise TokenFileError(f"entry {digest[:12]}...: value must be exactly {{kind, code}}")
        out[digest] = Sender(sender["kind"], sender["code"])
    return out


def token_map_json(tokens: Mapping[str, Sender]) -> bytes:
    return orjson.dumps(
        {digest: s.as_dict() for digest, s in sorted(tokens.items())},
        option=orjson.OPT_INDENT_2 | orjson.OPT_APPEND_NEWLINE,
    )


class TokenStore:
    """The in-memory token table; :meth:`replace` swaps it in one assignment (safe in asyncio)."""

    def __init__(self, tokens: Mapping[str, Sender] | None = None) -> None:
        self._tokens: dict[str, Sender] = dict(tokens or {})

    def __len__(self) -> int:
        return len(self._tokens)

    def replace(self, tokens: Mapping[str, Sender]) -> None:
        self._tokens = dict(tokens)

    def authenticate(self, token: str | None) -> Sender | None:
        found = self.identify(token)
        return None if found is None else found[0]

    def identify(self, token: str | None) -> tuple[Sender, str] | None:
        """The token's sender and :func:`token_id`, or None for a missing or unknown token."""
        if not token:
            return None
        digest = hash_token(token)
        sender = self._tokens.get(digest)
        # Compare against a real digest either way so both paths do the same work.
        expected = digest if sender is not None else "0" * 64
        if sender is None or not hmac.compare_digest(expected.encode(), digest.encode()):
            return None
        return sender, token_id(digest)


# -- the file ------------------------------------------------------------------------------------
def configured_tokens_file() -> Path:
    """The one tokens file of every command by default: ``JEUGDHUB_INGEST_TOKENS_FILE``, else
    ``var/ingest-tokens.json`` under the working directory. ``tokens add``, ``ingest`` and ``run``
    all take it from here, so a token added by hand works against the hub ``run`` starts."""
    from services.ingest.settings import IngestSettings

    return IngestSettings().ingest_tokens_file


def read_token_file(path: Path) -> dict[str, Sender]:
    """The file's table; a missing file is an empty table (nobody can send yet)."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise TokenFileError(f"{path}: {exc.strerror}") from exc
    try:
        data = orjson.loads(raw) if raw.strip() else {}
    except orjson.JSONDecodeError as exc:
        raise TokenFileError(f"{path}: not JSON: {exc}") from exc
    try:
        return parse_token_map(data)
    except TokenFileError as exc:
        raise TokenFileError(f"{path}: {exc}") from exc


def write_token_file(path: Path, tokens: Mapping[str, Sender]) -> None:
    """Atomic replace (temporary file + rename), readable by the owner only."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(token_map_json(tokens))
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def add_token(path: Path, sender: Sender) -> str:
    """Create a token for *sender*, store its hash in *path*, return the token (shown once)."""
    tokens = read_token_file(path)
    token = new_token()
    tokens[hash_token(token)] = sender
    write_token_file(path, tokens)
    return token


def token_ids(tokens: Mapping[str, Sender]) -> dict[Sender, list[str]]:
    """Each sender's token ids (sorted), for ``tokens list``."""
    out: dict[Sender, list[str]] = {}
    for digest, sender in tokens.items():
        out.setdefault(sender, []).append(token_id(digest))
    return {sender: sorted(ids) for sender, ids in out.items()}


def revoke_sender(path: Path, sender: Sender) -> int:
    """Remove every token of *sender*; returns how many were removed."""
    tokens = read_token_file(path)
    kept = {digest: s for digest, s in tokens.items() if s != sender}
    write_token_file(path, kept)
    return len(tokens) - len(kept)


class TokenFileWatcher:
    """Re-reads the tokens file when its modification time or size changed (Secret rotation)."""

    def __init__(self, path: Path, store: TokenStore) -> None:
        self.path = path
        self.store = store
        self._stamp: tuple[int, int] | None = None
        self._loaded = False

    def _current_stamp(self) -> tuple[int, int] | None:
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            return None
        return (stat.st_mtime_ns, stat.st_size)

    def load(self) -> bool:
        """Load if changed; returns True when the table was replaced. Raises TokenFileError."""
        stamp = self._current_stamp()
        if self._loaded and stamp == self._stamp:
            return False
        tokens = read_token_file(self.path)
        self.store.replace(tokens)
        self._stamp = stamp
        self._loaded = True
        return True

    def refresh(self) -> bool:
        """:meth:`load` for an unknown token: one ``stat``, a re-read only if the file changed, so a
        token just added (``jeugdhub tokens add``) works at once instead of after the next periodic
        reload. Never raises: a bad file keeps the table (the periodic reload logs why)."""
        try:
            return self.load()
        except TokenFileError:
            return False
