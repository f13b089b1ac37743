"""``jeugdhub validate``: run the validate worker (faust) until interrupted."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from services.cli import reads_settings

if TYPE_CHECKING:
    import faust


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
    from services.privacy.pseudonym import KeyringError, KeyRotationError, load_keyring
    from services.streaming.worker import create_topics_if_asked, start_worker
    from services.validate.keycheck import check_key_against_validated_topic
    from services.validate.service import create_app
    from services.validate.settings import ValidateSettings

    settings = ValidateSettings()

    def build_app() -> faust.App:
        keyring = load_keyring(settings.keyring_file, settings.keyring_json_value())
        if keyring is None:
            raise KeyringError(
                "no pseudonymisation keyring configured: set JEUGDHUB_KEYRING_FILE or JEUGDHUB_KEYRING_JSON"
            )
        regions = load_region_table(settings.regions_file)
        create_topics_if_asked(settings)
        check_key_against_validated_topic(settings.kafka_bootstrap, settings.topic_prefix, keyring)
        return create_app(settings, keyring, regions).app

    return start_worker(settings, build_app, "validate", (KeyringError, KeyRotationError, RegionTableError))
