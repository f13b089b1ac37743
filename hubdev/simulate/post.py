"""Posting a simulated feed to the ingest API (``POST /v1/messages``, docs in services/ingest).

Each sender posts with its own bearer token, so messages are grouped per sender into JSON-array
batches. The feed is consumed in windows; within a window every sender's batches go out in feed
order, one request at a time per sender, senders in parallel. That keeps what the contract cares
about: for one sender, the first copy of a message id arrives first (duplicates and ``JH030``).
A line that is not JSON cannot share a batch (ingest refuses the whole body), so it is posted alone
and ingest's ``400 invalid-json`` is the expected answer. ``429`` and ``503`` are retried after
their ``Retry-After``; ``--rate`` paces the messages per second overall.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from hubdev.simulate.feed import Line
from hubdev.simulate.output import sender_key

RETRY_STATUSES = frozenset({429, 502, 503, 504})
MAX_ATTEMPTS = 30


class PostError(RuntimeError):
    """Posting cannot go on (no token, token refused, the service unreachable for too long)."""


@dataclass
class PostReport:
    requests: int = 0
    messages: int = 0
    """Messages ingest took (HTTP 202)."""
    refused: Counter[str] = field(default_factory=Counter)
    """Messages refused by ingest itself, by problem type (lines that are not JSON, expectedly)."""
    retries: int = 0
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "messages": self.messages,
            "refused": dict(sorted(self.refused.items())),
            "retries": self.retries,
            "seconds": round(self.seconds, 3),
        }


def _is_json_object(payload: bytes) -> bool:
    return payload.startswith(b"{") and payload.endswith(b"}")


class Poster:
    """One run of posting: an aiohttp session, the tokens and the counters."""

    def __init__(
        self,
        url: str,
        tokens: Mapping[str, str],
        *,
        rate: float | None,
        batch_size: int,
        concurrency: int,
        timeout_s: float = 30.0,
    ) -> None:
        if batch_size < 1 or concurrency < 1 or (rate is not None and rate <= 0):
            raise ValueError("--batch-size and --concurrency must be >= 1, --rate > 0")
        self.url = url.rstrip("/") + "/v1/messages" if not url.rstrip("/").endswith("/v1/messages") else url
        self.tokens = dict(tokens)
        self.rate = rate
        self.batch_size = batch_size
        self.concurrency = concurrency
        self.timeout_s = timeout_s
        self.report = PostReport()
        self._semaphore: asyncio.Semaphore | None = None

    async def run(
        self,
        lines: Iterable[Line],
        *,
        wait_for_tokens_s: float = 0.0,
        on_window: Callable[[], None] | None = None,
    ) -> PostReport:
        """Post every line; *on_window* is called after each window ingest has answered in full
        (the simulator records its position there, so a stopped feed can continue)."""
        import aiohttp

        window = self.batch_size * self.concurrency
        if self.rate is not None:
            window = max(1, min(window, int(self.rate)))
        started = time.monotonic()
        self._semaphore = asyncio.Semaphore(self.concurrency)
        timeout = aiohttp.ClientTimeout(total=self.timeout_s)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            if wait_for_tokens_s > 0 and self.tokens:
                await self._wait_for_token(session, next(iter(self.tokens.values())), wait_for_tokens_s)
            pending: list[Line] = []
            sent = 0
            paced_from: float | None = None
            for line in lines:
                if paced_from is None:  # the rate counts from the first line, not from the time
                    paced_from = time.monotonic()  # taken to skip to it (--resume) or plan the feed
                pending.append(line)
                if len(pending) >= window:
                    await self._send_window(session, pending)
                    if on_window is not None:
                        on_window()
                    sent += len(pending)
                    pending = []
                    await self._pace(paced_from, sent)
            if pending:
                await self._send_window(session, pending)
                if on_window is not None:
                    on_window()
        self.report.seconds = time.monotonic() - started
        return self.report

    async def _wait_for_token(self, session: Any, token: str, limit_s: float) -> None:
        """Freshly registered tokens count once ingest re-reads its tokens file (every 10 s by
        default). Ask once a second, so the failed logins stay under ingest's brute-force limit."""
        url = self.url.rsplit("/v1/messages", 1)[0] + "/v1/retour?limit=1"
        deadline = time.monotonic() + limit_s
        while True:
            try:
                async with session.get(url, headers={"Authorization": f"Bearer {token}"}) as response:
                    if response.status != 401:
                        return
            except (TimeoutError, OSError) as exc:
                if time.monotonic() > deadline:
                    raise PostError(f"{url}: {exc}") from exc
            if time.monotonic() > deadline:
                raise PostError(f"{url}: the registered tokens were not taken up within {limit_s:g} s")
            await asyncio.sleep(1.0)

    async def _pace(self, started: float, sent: int) -> None:
        if self.rate is None:
            return
        ahead = sent / self.rate - (time.monotonic() - started)
        if ahead > 0:
            await asyncio.sleep(ahead)

    async def _send_window(self, session: Any, lines: list[Line]) -> None:
        per_sender: dict[str, list[bytes]] = {}
        for payload, sender in lines:
            per_sender.setdefault(sender_key(sender), []).append(payload)
        await asyncio.gather(
            *(self._send_sender(session, key, payloads) for key, payloads in per_sender.items())
        )

    async def _send_sender(self, session: Any, key: str, payloads: list[bytes]) -> None:
        token = self.tokens.get(key)
        if token is None:
            raise PostError(f"no token for sender {key} in the tokens file (see --issue-tokens)")
        batch: list[bytes] = []
        for payload in payloads:
            if _is_json_object(payload):
                batch.append(payload)
                if len(batch) >= self.batch_size:
                    await self._post(session, token, b"[" + b",".join(batch) + b"]", len(batch))
                    batch = []
            else:
                if batch:
                    await self._post(session, token, b"[" + b",".join(batch) + b"]", len(batch))
                    batch = []
                await self._post(session, token, payload, 1)
        if batch:
            await self._post(session, token, b"[" + b",".join(batch) + b"]", len(batch))

    async def _post(self, session: Any, token: str, body: bytes, count: int) -> None:
        import aiohttp

        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        assert self._semaphore is not None
        for attempt in range(1, MAX_ATTEMPTS + 1):
            try:
                async with self._semaphore, session.post(self.url, data=body, headers=headers) as response:
                    status = response.status
                    retry_after = response.headers.get("Retry-After")
                    text = await response.read()
            except (TimeoutError, aiohttp.ClientError) as exc:
                if attempt == MAX_ATTEMPTS:
                    raise PostError(f"{self.url}: {exc}") from exc
                self.report.retries += 1
                await asyncio.sleep(min(10.0, 0.2 * 2**attempt))
                continue
            self.report.requests += 1
            if status == 202:
                self.report.messages += count
                return
            if status in RETRY_STATUSES and attempt < MAX_ATTEMPTS:
                self.report.retries += 1
                await asyncio.sleep(_seconds(retry_after))
                continue
            problem = _problem_type(text)
            if status == 401:
                raise PostError(f"{self.url}: the token was refused (401 {problem}); issue tokens again")
            self.report.refused[f"{status} {problem}"] += count
            return


def _seconds(retry_after: str | None) -> float:
    try:
        return max(0.05, min(60.0, float(retry_after))) if retry_after else 1.0
    except ValueError:
        return 1.0


def _problem_type(body: bytes) -> str:
    import orjson

    try:
        problem = orjson.loads(body)
    except orjson.JSONDecodeError:
        return "unknown"
    kind = problem.get("type") if isinstance(problem, dict) else None
    return str(kind).rsplit("/", 1)[-1] if kind else "unknown"


def post_feed(
    lines: Iterable[Line],
    url: str,
    tokens: Mapping[str, str],
    *,
    rate: float | None = None,
    batch_size: int = 500,
    concurrency: int = 8,
    wait_for_tokens_s: float = 0.0,
    on_window: Callable[[], None] | None = None,
) -> PostReport:
    """Post every line; returns what ingest took and refused. Raises :class:`PostError`.

    ``wait_for_tokens_s``: first wait (up to that long) until ingest knows the tokens.
    ``on_window``: called after each window of lines has been posted in full.
    """
    poster = Poster(url, tokens, rate=rate, batch_size=batch_size, concurrency=concurrency)
    return asyncio.run(poster.run(lines, wait_for_tokens_s=wait_for_tokens_s, on_window=on_window))
