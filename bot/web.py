"""The project's aiohttp web server: webhooks and a health check."""

from __future__ import annotations

import hmac
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

log = logging.getLogger(__name__)
UpdateSink = Callable[[dict[str, Any]], Awaitable[None]]


def secret_matches(given: str | None, expected: str) -> bool:
    """Constant-time comparison of a webhook secret header."""
    return bool(expected) and hmac.compare_digest((given or "").encode(), expected.encode())


def webhook_handler(secret: str, header: str, sink: UpdateSink):  # type: ignore[no-untyped-def]
    async def handle(request: web.Request) -> web.Response:
        if not secret_matches(request.headers.get(header), secret):
            return web.Response(status=401, text="unauthorized")
        try:
            body = await request.json()
        except ValueError:
            return web.Response(status=400, text="invalid json")
        if not isinstance(body, dict):
            return web.Response(status=400, text="invalid update")
        await sink(body)
        return web.Response(text="ok")

    return handle


async def health(_request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


class WebServer:
    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.app = web.Application(client_max_size=1024 * 1024)
        self.app.router.add_get("/healthz", health)
        self._runner: web.AppRunner | None = None

    def add_files(self, handler) -> None:  # type: ignore[no-untyped-def]
        self.app.router.add_get("/files/{file_id}", handler)

    def add_webhook(self, path: str, secret: str, header: str, sink: UpdateSink) -> None:
        self.app.router.add_post(path, webhook_handler(secret, header, sink))

    async def start(self) -> int:
        self._runner = web.AppRunner(self.app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        sockets = site._server.sockets if site._server else []  # type: ignore[union-attr]
        self.port = sockets[0].getsockname()[1] if sockets else self.port
        log.info("web server listening on %s:%s", self.host, self.port)
        return self.port

    async def stop(self) -> None:
        if self._runner:
            await self._runner.cleanup()
