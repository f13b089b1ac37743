"""A token added with ``jeugdhub tokens add`` works on its first request (issue 13, item 1).

The README's example adds a token and posts with it at once; ingest re-read its tokens file only
every ``JEUGDHUB_INGEST_TOKENS_RELOAD_S`` (10 s), so that first request got 401. Now an unknown token
makes ingest look at the file (one ``stat``) before it answers.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from aiohttp.test_utils import TestClient, TestServer

from services.ingest.app import create_app
from services.ingest.settings import IngestSettings
from services.ingest.tokens import Sender, add_token
from tests.unit.ingest.test_ingest_http import FakeReader, FakeWriter


def test_a_token_added_while_ingest_runs_works_on_its_first_request(tmp_path: Path) -> None:
    path = tmp_path / "ingest-tokens.json"
    add_token(path, Sender("municipality", "0363"))  # someone else's token: the file exists
    settings = IngestSettings(ingest_tokens_file=path, ingest_tokens_reload_s=3600)

    async def main() -> None:
        app = create_app(settings, writer=FakeWriter(), reader=FakeReader())
        async with TestClient(TestServer(app, host="127.0.0.1")) as client:
            unknown = await client.get("/v1/retour", headers={"Authorization": "Bearer not-a-token"})
            assert unknown.status == 401
            token = add_token(path, Sender("provider", "12345678"))
            answer = await client.get("/v1/retour", headers={"Authorization": f"Bearer {token}"})
            assert answer.status == 200, await answer.text()
            metrics = await (await client.get("/metrics")).text()
            assert "jeugdhub_ingest_tokens 2.0" in metrics

    asyncio.run(main())
