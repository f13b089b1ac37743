"""Integration-test fixtures: one real Kafka broker per pytest session, plus unique names.

The broker is started once (about 5 s warm; the first run on a machine also resolves the jars
with Maven) and shared by every test, so tests isolate themselves by name: each takes fresh
topics, groups or faust app ids from the fixtures below instead of cleaning up after itself.

Set ``JEUGDHUB_TEST_KAFKA_BOOTSTRAP=host:port`` to run against an already running broker (for
instance ``python -m hubdev.localkafka start``) and skip the start/stop.
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping

import pytest

from hubdev.localkafka.broker import Broker
from services.streaming.topic_admin import ensure_topics

BOOTSTRAP_ENV = "JEUGDHUB_TEST_KAFKA_BOOTSTRAP"


def _progress(line: str) -> None:
    # Session fixtures run with output captured; the terminal reporter shows this on failure.
    print(f"localkafka: {line}", flush=True)


@pytest.fixture(scope="session")
def kafka_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Broker | None]:
    """The session's broker, or None when ``JEUGDHUB_TEST_KAFKA_BOOTSTRAP`` points at another one.

    Stopped in the finaliser even when tests fail; if pytest itself dies, the JVM gets SIGTERM
    from the kernel (parent-death signal), so no ``kafka.Kafka`` process outlives the run.
    """
    if os.environ.get(BOOTSTRAP_ENV):
        yield None
        return
    broker = Broker(tmp_path_factory.mktemp("kafka"), progress=_progress)
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()


@pytest.fixture(scope="session")
def kafka_bootstrap(kafka_broker: Broker | None) -> str:
    """``"127.0.0.1:<port>"`` of the session's broker."""
    if kafka_broker is None:
        return os.environ[BOOTSTRAP_ENV]
    return kafka_broker.bootstrap


def _unique(request: pytest.FixtureRequest, kind: str) -> str:
    test = re.sub(r"[^A-Za-z0-9]+", "-", request.node.name).strip("-")[:60]
    return f"it-{kind}-{test}-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def unique_topic(request: pytest.FixtureRequest) -> str:
    """A topic name no other test uses (not created: see ``create_topics``)."""
    return _unique(request, "topic")


@pytest.fixture
def unique_group(request: pytest.FixtureRequest) -> str:
    """A consumer group id (or faust app id) no other test uses."""
    return _unique(request, "group")


@pytest.fixture
def unique_prefix() -> str:
    """A ``JEUGDHUB_TOPIC_PREFIX``-style prefix that gives a test its own copy of the hub's topics."""
    return f"it{uuid.uuid4().hex[:10]}."


@pytest.fixture
def create_topics(kafka_bootstrap: str) -> Callable[..., None]:
    """``create_topics(names, partitions=1, config=None)``: create and wait for leaders.

    The broker does not auto-create topics, so a test creates what it produces to or consumes.
    """

    def create(names: Iterable[str], partitions: int = 1, config: Mapping[str, str] | None = None) -> None:
        ensure_topics(kafka_bootstrap, names, partitions=partitions, config=config)

    return create
