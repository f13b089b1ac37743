"""The aggregate republishes a youth's facts when a re-read message is already in its table.

A crash (or a fenced-out worker) between the table's changelog record and the facts record leaves
the message stored but its facts never published; when the message is read again after the
restart, it is no change to the table. The worker must publish the facts all the same.
"""

from __future__ import annotations

import random
from datetime import date
from pathlib import Path

import orjson
import pytest
from kafka import KafkaProducer

from hubdev.waiting import wait_until
from services.aggregate.records import message_key
from services.contracts.canonical import validated_from_json, validated_to_json
from services.contracts.codec import decode, encode
from services.contracts.regions import load_region_table
from services.contracts.topics import COMPACTED_STATE_CONFIG, VALIDATED, YOUTH_FACTS
from services.privacy.pseudonym import ephemeral_keyring
from services.streaming.changelog import faust_json
from services.streaming.partitioner import partition_for
from services.streaming.topic_admin import create_hub_topics, ensure_topics
from services.validate.pipeline import RawInput, process
from tests.integration.hub_processes import produce, read_all, running, service_env
from tests.integration.messages_support import placement, valid_bsn

pytestmark = pytest.mark.integration


def test_facts_are_published_for_a_message_already_in_the_table(
    kafka_bootstrap: str, unique_prefix: str, tmp_path: Path
) -> None:
    create_hub_topics(kafka_bootstrap, unique_prefix)
    rng = random.Random(5)
    outcome = process(
        RawInput(orjson.dumps(placement(rng, valid_bsn(rng), date(2010, 1, 1))), "json", None, None, None, 1),
        lambda _: None,
        ephemeral_keyring(),
        load_region_table(),
    )
    assert outcome.validated is not None
    value = encode("ValidatedMessage", validated_from_json(outcome.validated))
    message = validated_to_json(decode("ValidatedMessage", value))
    youth = message["youth_pseudonym"]

    # the table's changelog already holds the message: the crash came after it, before the facts
    changelog = f"{unique_prefix}jeugdhub-aggregate-youth-messages-changelog"
    partitions = VALIDATED.partitions
    ensure_topics(kafka_bootstrap, [changelog], partitions=partitions, config=dict(COMPACTED_STATE_CONFIG))
    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    producer.send(
        changelog,
        key=faust_json(youth),
        value=faust_json({message_key(message): message}),
        partition=partition_for(youth.encode(), partitions),
    )
    producer.flush()
    producer.close()
    produce(kafka_bootstrap, VALIDATED.full_name(unique_prefix), [(youth.encode(), value)])

    env = service_env(kafka_bootstrap, unique_prefix, {"JEUGDHUB_AS_OF": "2026-03-31"})
    with running("aggregate", env, tmp_path / "aggregate.log"):
        facts = wait_until(
            lambda: [r.key.decode() for r in read_all(kafka_bootstrap, YOUTH_FACTS.full_name(unique_prefix))],
            lambda keys: youth in keys,
        )
    assert youth in facts, "the facts of a message found already stored are published"
