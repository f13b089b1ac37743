"""``jeugdhub validate``: run the validate worker (faust) until interrupted."""

from __future__ import annotations

import argparse
import logging
import sys
from typing import Any

from services.cli import reads_settings


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "validate",
        help="run the validate worker: raw -> validated/rejected/retour",
        description="Run the validate worker (faust): every raw message becomes a pseudonymised "
        "validated message or a rejection, and a retour for its sender. Needs a pseudonymisation "
        "keyring (JEUGDHUB_KEYRING_FILE or JEUGDHUB_KEYRING_JSON). Configured only by the environment "
        "variables below (docs/architecture.md).",
    )
    reads_settings(parser, "services.validate.settings:ValidateSettings")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from services.contracts.regions import RegionTableError, load_region_table
    from services.observability.logs import setup_logging
    from services.privacy.pseudonym import KeyringError, KeyRotationError, load_keyring
    from services.streaming.topic_admin import create_hub_topics
    from services.streaming.worker import run_worker
    from services.validate.keycheck import check_key_against_validated_topic
    from services.validate.service import create_app
    from services.validate.settings import ValidateSettings

    settings = ValidateSettings()
    setup_logging(settings.log_level)
    log = logging.getLogger("jeugdhub.validate")
    log.info("starting", extra={"settings": settings.masked()})
    try:
        keyring = load_keyring(settings.keyring_file, settings.keyring_json_value())
        if keyring is None:
            raise KeyringError(
                "no pseudonymisation keyring configured: set JEUGDHUB_KEYRING_FILE or JEUGDHUB_KEYRING_JSON"
            )
        regions = load_region_table(settings.regions_file)
        if settings.create_topics:
            create_hub_topics(settings.kafka_bootstrap, settings.topic_prefix)
        check_key_against_validated_topic(
            settings.kafka_bootstrap, settings.topic_prefix, keyring.active_key_id
        )
    except (KeyringError, KeyRotationError, RegionTableError, OSError) as exc:
        log.error("refusing to start", extra={"reason": str(exc)})
        print(f"jeugdhub validate: {exc}", file=sys.stderr)
        return 2
    service = create_app(settings, keyring, regions)
    return run_worker(service.app, settings)
