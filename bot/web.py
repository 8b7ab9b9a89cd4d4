"""The project's aiohttp web server: webhooks, health check, metrics and file links."""

from __future__ import annotations

import hmac
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

log = logging.getLogger(__name__)
UpdateSink = Callable[[dict[str, Any]], Awaitable[bool | None]]


class BadUpdate(ValueError):
    """A webhook body that is not an update of the channel: HTTP 400, logged once, not stored."""


def secret_matches(given: str | None, expected: str) -> bool:
    """Constant-time comparison of a webhook secret header."""
    return bool(expected) and hmac.compare_digest((given or "").encode(), expected.encode())


def webhook_handler(secret: str, header: str, sink: UpdateSink):  # type: ignore[no-untyped-def]
    async def handle(request: web.Request) -> web.Response:
        if not secret_matches(request.headers.get(header), secret):
            return web.Response(status=401, text="unauthorized")
        try:
            body = await request.json()
        except ValueError:  # UnicodeDecodeError included
            log.warning("webhook %s: body is not JSON: refused", request.path)
            return web.Response(status=400, text="invalid json")
        if not isinstance(body, dict):
            log.warning("webhook %s: body is not a JSON object: refused", request.path)
            return web.Response(status=400, text="invalid update")
        try:
            accepted = await sink(body)
        except BadUpdate as exc:
            log.warning("webhook %s: malformed update refused: %s", request.path, exc)
            return web.Response(status=400, text="invalid update")
        except Exception as exc:  # not stored (database unreachable): the platform re-posts it
            log.error("webhook %s: update not stored, answered 503: %s: %s", request.path,
                      type(exc).__name__, exc)
            return web.Response(status=503, text="busy")
        if accepted is False:  # stopping or overloaded: the platform re-posts it
            return web.Response(status=503, text="busy")
        return web.Response(text="ok")

    return handle


HealthCheck = Callable[[], Awaitable[tuple[int, dict[str, Any]]]]
MetricsRender = Callable[[], Awaitable[bytes]]


async def _always_ok() -> tuple[int, dict[str, Any]]:
    return 200, {"status": "ok"}


class WebServer:
    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.app = web.Application(client_max_size=1024 * 1024)
        self.app.router.add_get("/healthz", self._health)
        self._health_check: HealthCheck = _always_ok
        self._runner: web.AppRunner | None = None

    def set_health(self, check: HealthCheck) -> None:
        """`check()` → (HTTP status, JSON body) for /healthz."""
        self._health_check = check

    async def _health(self, _request: web.Request) -> web.Response:
        status, body = await self._health_check()
        return web.json_response(body, status=status)

    def add_metrics(self, render: MetricsRender) -> None:
        """GET /metrics: Prometheus text format from `render()` (awaited: it may query)."""
        from prometheus_client import CONTENT_TYPE_LATEST

        async def serve(_request: web.Request) -> web.Response:
            response = web.Response(body=await render())
            response.headers["Content-Type"] = CONTENT_TYPE_LATEST
            return response

        self.app.router.add_get("/metrics", serve)

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
