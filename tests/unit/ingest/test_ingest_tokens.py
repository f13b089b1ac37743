"""Token store: only hashes on disk, constant-time lookup, the file's shape, reload on change."""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path

import orjson
import pytest

from services.ingest.tokens import (
    Sender,
    TokenFileError,
    TokenFileWatcher,
    TokenStore,
    add_token,
    bearer_token,
    check_sender,
    hash_token,
    new_token,
    parse_token_map,
    read_token_file,
    revoke_sender,
    token_id,
)

PROVIDER = Sender("provider", "12345678")
MUNICIPALITY = Sender("municipality", "0363")


def test_new_tokens_are_long_random_and_url_safe() -> None:
    tokens = {new_token() for _ in range(100)}
    assert len(tokens) == 100
    for token in tokens:
        assert len(token) == 43  # 32 bytes, base64url without padding
        assert set(token) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def test_hash_is_sha256_hex_of_the_token() -> None:
    assert hash_token("abc") == hashlib.sha256(b"abc").hexdigest()


@pytest.mark.parametrize(
    ("header", "token"),
    [
        ("Bearer abc", "abc"),
        ("bearer abc", "abc"),
        ("BEARER   abc  ", "abc"),
        ("Basic abc", None),
        ("Bearer", None),
        ("Bearer ", None),
        ("", None),
        (None, None),
        ("abc", None),
    ],
)
def test_bearer_header_parsing(header: str | None, token: str | None) -> None:
    assert bearer_token(header) == token


def test_store_authenticates_known_tokens_only() -> None:
    token = new_token()
    store = TokenStore({hash_token(token): PROVIDER})
    assert store.authenticate(token) == PROVIDER
    assert store.authenticate(token + "x") is None
    assert store.authenticate(token[:-1]) is None
    assert store.authenticate(hash_token(token)) is None  # the stored hash is not a token
    assert store.authenticate("") is None
    assert store.authenticate(None) is None


def test_store_replace_swaps_the_table() -> None:
    old, new = new_token(), new_token()
    store = TokenStore({hash_token(old): PROVIDER})
    store.replace({hash_token(new): MUNICIPALITY})
    assert store.authenticate(old) is None
    assert store.authenticate(new) == MUNICIPALITY
    assert len(store) == 1


def test_add_token_stores_only_the_hash_owner_readable(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "tokens.json"
    token = add_token(path, PROVIDER)
    text = path.read_text()
    assert token not in text
    data = orjson.loads(text)
    assert data == {hash_token(token): {"kind": "provider", "code": "12345678"}}
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    second = add_token(path, MUNICIPALITY)
    assert read_token_file(path) == {hash_token(token): PROVIDER, hash_token(second): MUNICIPALITY}
    assert not [p for p in path.parent.iterdir() if p.name != "tokens.json"]  # no temp files left


def test_revoke_removes_every_token_of_a_sender(tmp_path: Path) -> None:
    path = tmp_path / "tokens.json"
    add_token(path, PROVIDER)
    add_token(path, PROVIDER)
    kept = add_token(path, MUNICIPALITY)
    assert revoke_sender(path, PROVIDER) == 2
    assert read_token_file(path) == {hash_token(kept): MUNICIPALITY}
    assert revoke_sender(path, PROVIDER) == 0


def test_missing_file_is_an_empty_table(tmp_path: Path) -> None:
    assert read_token_file(tmp_path / "absent.json") == {}


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"not json", "not JSON"),
        (b"[]", "JSON object"),
        (b'{"abc": {"kind": "provider", "code": "1"}}', "SHA-256"),
        (b'{"' + b"A" * 64 + b'": {"kind": "provider", "code": "1"}}', "SHA-256"),
        (b'{"' + b"a" * 64 + b'": {"kind": "user", "code": "1"}}', "kind, code"),
        (b'{"' + b"a" * 64 + b'": {"kind": "provider", "code": 1}}', "kind, code"),
        (b'{"' + b"a" * 64 + b'": {"kind": "provider", "code": "1", "x": 1}}', "kind, code"),
    ],
)
def test_malformed_files_are_refused_with_the_file_name(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "tokens.json"
    path.write_bytes(content)
    with pytest.raises(TokenFileError, match=message) as info:
        read_token_file(path)
    assert str(path) in str(info.value)


def test_parse_token_map_accepts_the_documented_shape() -> None:
    digest = "a" * 64
    assert parse_token_map({digest: {"kind": "municipality", "code": "0363"}}) == {digest: MUNICIPALITY}


def test_watcher_reloads_only_when_the_file_changed(tmp_path: Path) -> None:
    path = tmp_path / "tokens.json"
    store = TokenStore()
    watcher = TokenFileWatcher(path, store)
    assert watcher.load() is True  # first load, file absent: empty table
    assert watcher.load() is False
    token = add_token(path, PROVIDER)
    assert watcher.load() is True
    assert store.authenticate(token) == PROVIDER
    assert watcher.load() is False
    revoke_sender(path, PROVIDER)
    os.utime(path, ns=(1, 1))  # a different mtime even on coarse clocks
    assert watcher.load() is True
    assert store.authenticate(token) is None


def test_watcher_keeps_the_old_table_when_the_new_file_is_bad(tmp_path: Path) -> None:
    path = tmp_path / "tokens.json"
    token = add_token(path, PROVIDER)
    store = TokenStore()
    watcher = TokenFileWatcher(path, store)
    watcher.load()
    path.write_bytes(b"{broken")
    with pytest.raises(TokenFileError):
        watcher.load()
    assert store.authenticate(token) == PROVIDER


@pytest.mark.parametrize(
    ("kind", "code", "ok"),
    [
        ("provider", "12345678", True),
        ("municipality", "0363", True),
        ("provider", "1234567", False),
        ("provider", "0363", False),
        ("municipality", "12345678", False),
        ("municipality", "03a3", False),
        ("user", "0363", False),
    ],
)
def test_check_sender_enforces_the_code_formats(kind: str, code: str, ok: bool) -> None:
    if ok:
        assert check_sender(kind, code) == Sender(kind, code)  # type: ignore[arg-type]
    else:
        with pytest.raises(ValueError, match=r"must be (an 8-digit AGB code|a 4-digit gemeentecode|one of)"):
            check_sender(kind, code)


def test_tokens_add_and_list_show_token_ids_never_tokens(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The id the access records name a token by is what an officer finds with ``tokens list``."""
    from services.cli import main

    path = tmp_path / "tokens.json"
    tokens = []
    for _ in range(2):
        assert main(["tokens", "add", "--kind", "provider", "--code", "12345678", "--file", str(path)]) == 0
        out, err = capsys.readouterr()
        token = out.strip()
        tokens.append(token)
        assert f"(token id {token_id(hash_token(token))})" in err and token not in err
    assert main(["tokens", "list", "--file", str(path)]) == 0
    out, _ = capsys.readouterr()
    ids = sorted(token_id(hash_token(t)) for t in tokens)
    assert out.split() == ["provider", "12345678", "2", "token(s):", f"{ids[0]},", ids[1]]
    assert all(t not in out and hash_token(t) not in out for t in tokens)
