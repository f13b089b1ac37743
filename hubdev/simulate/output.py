"""Writing a simulated feed: JSON lines to a file or stdout, and the simulator's tokens file.

Kept apart from generation (:mod:`hubdev.simulate.feed` does no I/O) so the same feed can be
written, posted (:mod:`hubdev.simulate.post`) or inspected in a test without touching disk.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import BinaryIO

import orjson

from hubdev.simulate.render import Delivered

TokenMap = dict[str, str]
"""``"provider:99123456"`` / ``"municipality:0363"`` → bearer token (plain text)."""


def sender_key(sender: Mapping[str, str]) -> str:
    return f"{sender['kind']}:{sender['code']}"


def write_lines(batches: Iterable[Sequence[Delivered]], handle: BinaryIO) -> int:
    """Write every line (each ends in its newline already); returns the number of lines."""
    count = 0
    write = handle.write
    for batch in batches:
        write(b"".join([payload for _, payload, _ in batch]))
        count += len(batch)
    return count


def read_token_map(path: Path) -> TokenMap:
    """The simulator's tokens file: a JSON object ``{"<kind>:<code>": "<token>"}``."""
    data = orjson.loads(path.read_bytes())
    if not isinstance(data, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in data.items()
    ):
        raise ValueError(f'{path}: expected a JSON object of "kind:code": "token" pairs')
    return dict(data)


def write_token_map(path: Path, tokens: Mapping[str, str]) -> None:
    """Atomic replace, readable by the owner only: these are live credentials."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(orjson.dumps(dict(sorted(tokens.items())), option=orjson.OPT_INDENT_2))
            handle.write(b"\n")
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def issue_tokens(
    senders: Iterable[Mapping[str, str]], ingest_tokens_file: Path, token_map_file: Path | None
) -> TokenMap:
    """A token for every sender: hashes into the ingest's tokens file (its format, through its own
    functions), the plain tokens returned and, if given, written to ``token_map_file`` (merged with
    what is there).

    A sender whose token in ``token_map_file`` is still registered for it keeps that token, so
    repeated runs (``jeugdhub run`` each time) do not pile up tokens in the ingest's file, and ingest
    knows them from the first request."""
    from services.ingest.tokens import check_sender, hash_token, new_token, read_token_file, write_token_file

    hashed = read_token_file(ingest_tokens_file)
    plain = read_token_map(token_map_file) if token_map_file is not None and token_map_file.exists() else {}
    made: TokenMap = {}
    changed = False
    for sender in senders:
        checked = check_sender(sender["kind"], sender["code"])
        key = sender_key(sender)
        token = plain.get(key)
        if token is None or hashed.get(hash_token(token)) != checked:
            token = new_token()
            hashed[hash_token(token)] = checked
            changed = True
        made[key] = token
    if changed:
        write_token_file(ingest_tokens_file, hashed)
    if token_map_file is not None and any(plain.get(key) != token for key, token in made.items()):
        write_token_map(token_map_file, {**plain, **made})
    return made
