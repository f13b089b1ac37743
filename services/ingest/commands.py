"""``jeugdhub ingest`` and ``jeugdhub tokens``; imports stay inside the commands (fast ``--help``)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from services.cli import reads_settings


def register(sub: Any) -> None:
    """Add the ingest subcommands to the ``jeugdhub`` argparse subparsers object."""
    ingest = sub.add_parser(
        "ingest",
        help="run the ingest HTTP API (settings: JEUGDHUB_* variables)",
        description="Run the ingest HTTP API: authenticated senders post messages (POST /v1/messages), "
        "each goes to the raw topic in a Kafka transaction; senders read their retours (GET "
        "/v1/retour). Configured only by the environment variables below (docs/ingest.md).",
    )
    reads_settings(ingest, "services.ingest.settings:IngestSettings")
    ingest.set_defaults(func=cmd_ingest)

    tokens = sub.add_parser("tokens", help="manage the ingest API tokens (stored as SHA-256 hashes)")
    actions = tokens.add_subparsers(dest="tokens_action", required=True)
    add = actions.add_parser("add", help="create a token for a sender and print it once")
    revoke = actions.add_parser("revoke", help="remove every token of a sender")
    listing = actions.add_parser(
        "list", help="list the senders that have tokens and their token ids (never the tokens)"
    )
    for parser in (add, revoke):
        parser.add_argument("--kind", required=True, choices=["provider", "municipality"])
        parser.add_argument("--code", required=True, help="AGB code (8 digits) or gemeentecode (4 digits)")
    for parser in (add, revoke, listing):
        parser.add_argument(
            "--file", help="tokens file (default: JEUGDHUB_INGEST_TOKENS_FILE or var/ingest-tokens.json)"
        )
        reads_settings(parser, "services.ingest.settings:IngestSettings", ("ingest_tokens_file",))
    add.set_defaults(func=cmd_tokens_add)
    revoke.set_defaults(func=cmd_tokens_revoke)
    listing.set_defaults(func=cmd_tokens_list)


def cmd_ingest(args: argparse.Namespace) -> int:
    from services.ingest.server import run
    from services.ingest.settings import IngestSettings
    from services.observability.logs import setup_logging

    settings = IngestSettings()  # a bad variable: one line from services.cli.main, exit 2
    setup_logging(settings.log_level)
    return run(settings)


def _tokens_file(args: argparse.Namespace) -> Path:
    if args.file:
        return Path(args.file)
    from services.ingest.tokens import configured_tokens_file

    return configured_tokens_file()


def cmd_tokens_add(args: argparse.Namespace) -> int:
    from services.ingest.tokens import TokenFileError, add_token, check_sender, hash_token, token_id

    try:
        sender = check_sender(args.kind, args.code)
        path = _tokens_file(args)
        token = add_token(path, sender)
    except (ValueError, OSError) as exc:
        kind = "bad tokens file" if isinstance(exc, TokenFileError) else "refused"
        print(f"jeugdhub tokens add: {kind}: {exc}", file=sys.stderr)
        return 2
    print(
        f"token for {sender.kind} {sender.code} (token id {token_id(hash_token(token))}) stored as its "
        f"hash in {path}; it is shown only now:",
        file=sys.stderr,
    )
    print(token)
    return 0


def cmd_tokens_revoke(args: argparse.Namespace) -> int:
    from services.ingest.tokens import check_sender, revoke_sender

    try:
        sender = check_sender(args.kind, args.code)
        path = _tokens_file(args)
        removed = revoke_sender(path, sender)
    except (ValueError, OSError) as exc:
        print(f"jeugdhub tokens revoke: {exc}", file=sys.stderr)
        return 2
    print(f"removed {removed} token(s) of {sender.kind} {sender.code} from {path}")
    return 0 if removed else 1


def cmd_tokens_list(args: argparse.Namespace) -> int:
    from services.ingest.tokens import read_token_file, token_ids

    try:
        tokens = read_token_file(_tokens_file(args))
    except (ValueError, OSError) as exc:
        print(f"jeugdhub tokens list: {exc}", file=sys.stderr)
        return 2
    by_sender = token_ids(tokens)
    for sender in sorted(by_sender, key=lambda s: (s.kind, s.code)):
        ids = by_sender[sender]
        print(f"{sender.kind:12} {sender.code:10} {len(ids)} token(s): {', '.join(ids)}")
    return 0
