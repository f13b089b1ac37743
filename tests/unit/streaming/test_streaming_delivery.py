"""deliver(): transient Kafka errors are retried, anything else ends the process before an ack."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiokafka.errors import KafkaConnectionError, KafkaTimeoutError, MessageSizeTooLargeError

from services.streaming import delivery


class Stopped(Exception):
    pass


def _failing(errors: list[BaseException]) -> tuple[delivery.Send, list[int]]:
    calls = [0]

    async def send() -> list[Any]:
        calls[0] += 1
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        if errors:
            future.set_exception(errors.pop(0))
        else:
            future.set_result(None)
        return [future]

    return send, calls


def test_transient_errors_are_retried_until_delivered() -> None:
    send, calls = _failing([KafkaTimeoutError(), KafkaConnectionError()])
    retries = asyncio.run(delivery.deliver(send, "t", first_backoff_s=0.001))
    assert (retries, calls[0]) == (2, 3)


def test_a_refused_send_stops_the_process(monkeypatch: pytest.MonkeyPatch) -> None:
    def stop(reason: str) -> None:
        raise Stopped(reason)

    monkeypatch.setattr(delivery, "stop_without_commit", stop)
    send, calls = _failing([MessageSizeTooLargeError()])
    with pytest.raises(Stopped, match="MessageSizeTooLargeError"):
        asyncio.run(delivery.deliver(send, "t", first_backoff_s=0.001))
    assert calls[0] == 1


def test_an_exception_from_send_itself_stops_the_process(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        delivery, "stop_without_commit", lambda reason: (_ for _ in ()).throw(Stopped(reason))
    )

    async def send() -> list[Any]:
        raise TypeError("no partitions")

    with pytest.raises(Stopped, match="TypeError"):
        asyncio.run(delivery.deliver(send, "t"))
