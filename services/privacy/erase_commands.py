"""``jeugdhub erase``: erase a youth on request (or re-admit one), by BSN, with the hub's keyring.

The BSN is the only thing the requester has; the command turns it into the youth's pseudonym under
every key of the keyring (services/privacy/erasure.py) and writes one ``ErasureRecord`` per
pseudonym to ``jeugdhub.erasures.v1`` (``acks=all``, idempotent). It prints how many pseudonyms it
wrote and when, never the BSN or a pseudonym. ``--bsn-stdin`` reads the BSN from standard input, so
it is not in the shell history or the process list (``ps`` shows every argument to every user of
the machine). docs/privacy.md, "Erasure", gives the procedure.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from services.cli import COMMAND_ERROR, KAFKA_ERROR, reads_settings


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "erase",
        help="erase a youth on request (or --readmit one), by BSN",
        description="Write an erasure (or a re-admission) of the youth with this BSN to the erasures "
        "topic, under every key of the keyring: the aggregate forgets the youth (the figures change as "
        "if its messages had never been accepted) and validate refuses its later messages (JH050) "
        "until it is re-admitted. The BSN is never stored, logged or printed. Prefer --bsn-stdin: "
        "--bsn puts the BSN in the shell history and in the process list (docs/privacy.md, Erasure).",
    )
    reads_settings(
        parser,
        "services.settings:KeyringSettings",
        ("kafka_bootstrap", "topic_prefix", "keyring_file", "keyring_json"),
    )
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--bsn", help="the youth's BSN (visible in shell history and ps: see --bsn-stdin)")
    source.add_argument("--bsn-stdin", action="store_true", help="read the BSN from the first line of stdin")
    parser.add_argument("--readmit", action="store_true", help="re-admit an erased youth instead of erasing")
    parser.add_argument(
        "--reference", help="case reference of the request (free text, at most 200 characters)"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from datetime import UTC, datetime

    from kafka.errors import KafkaError

    from services.privacy.erasure import ErasureAction, ErasureError, erasure_record, pseudonyms_of
    from services.privacy.erasure_topic import write_erasures
    from services.privacy.pseudonym import KeyringError, load_keyring
    from services.settings import KeyringSettings

    bsn = sys.stdin.readline().strip() if args.bsn_stdin else str(args.bsn)
    try:
        settings = KeyringSettings()
        keyring = load_keyring(settings.keyring_file, settings.keyring_json_value())
        if keyring is None:
            raise KeyringError(
                "no pseudonymisation keyring configured: set JEUGDHUB_KEYRING_FILE or JEUGDHUB_KEYRING_JSON"
            )
        pseudonyms = pseudonyms_of(bsn, keyring)
    except (ErasureError, KeyringError) as exc:
        print(f"jeugdhub erase: {exc}", file=sys.stderr)
        return COMMAND_ERROR
    finally:
        bsn = ""
    action: ErasureAction = "readmit" if args.readmit else "erase"
    now = datetime.now(UTC)
    records = [
        erasure_record(pseudonym, key_id, action, now, args.reference)
        for key_id, pseudonym in pseudonyms.items()
    ]
    try:
        write_erasures(settings.kafka_bootstrap, settings.topic_prefix, records)
    except (KafkaError, OSError) as exc:
        print(
            f"jeugdhub erase: Kafka did not confirm every record ({type(exc).__name__}); "
            "run the command again (a repeat is harmless)",
            file=sys.stderr,
        )
        return KAFKA_ERROR
    when = records[0]["requested_at"].isoformat(timespec="milliseconds").replace("+00:00", "Z")
    done = "re-admission" if args.readmit else "erasure"
    print(f"{done} written for {len(records)} pseudonym(s) (keys: {', '.join(pseudonyms)}) at {when}")
    return 0
