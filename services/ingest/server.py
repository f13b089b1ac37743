"""``jeugdhub ingest``: run the HTTP server until SIGTERM/SIGINT, then drain and stop."""

from __future__ import annotations

import asyncio
import logging
import signal

from aiohttp import web

from services.ingest.app import create_app
from services.ingest.settings import IngestSettings
from services.ingest.tokens import TokenFileError

log = logging.getLogger("jeugdhub.ingest")


async def serve(settings: IngestSettings, stop: asyncio.Event) -> None:
    """Serve until *stop* is set. In-flight requests get up to 10 s to finish on shutdown."""
    app = create_app(settings)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=10.0, handle_signals=False)
    await runner.setup()
    try:
        site = web.TCPSite(runner, settings.ingest_host, settings.ingest_port, backlog=1024)
        await site.start()
        log.info(
            "ingest listening",
            extra={"host": settings.ingest_host, "port": site_port(runner), "settings": settings.masked()},
        )
        await stop.wait()
        log.info("ingest stopping")
    finally:
        await runner.cleanup()


def site_port(runner: web.AppRunner) -> int | None:
    for address in runner.addresses:
        if isinstance(address, tuple) and len(address) >= 2:
            return int(address[1])
    return None


def run(settings: IngestSettings) -> int:
    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await serve(settings, stop)

    try:
        asyncio.run(main())
    except TokenFileError as exc:
        log.error("cannot start: bad tokens file", extra={"error": str(exc)})
        return 2
    except OSError as exc:
        log.error("cannot start", extra={"error": str(exc)})
        return 2
    return 0
