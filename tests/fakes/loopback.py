"""What the fake platform servers share: an aiohttp server on a free loopback port that routes
`/bot<token>/<method>` to the fake, and a polling wait for tests."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from aiohttp import web


class LoopbackServer:
    _runner: web.AppRunner | None = None
    port: int = 0

    async def _handle(self, request: web.Request) -> web.Response:  # pragma: no cover
        raise NotImplementedError

    async def start(self) -> Any:
        app = web.Application()
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self

    async def stop(self) -> None:
        if self._runner:
            await self._runner.cleanup()

    @staticmethod
    async def wait_for(predicate: Callable[[], Any], timeout: float = 10.0) -> Any:  # noqa: ASYNC109
        """Poll until `predicate()` is truthy; fail the test if it never is."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            result = predicate()
            if result:
                return result
            await asyncio.sleep(0.02)
        raise AssertionError("the bot did not do what the test waited for")




async def start_webhook(channel: Any) -> tuple[int, asyncio.Event, asyncio.Task[None], Any]:
    """Mount a channel's webhook on the project's web server (a free loopback port) and run
    the channel: (port, stop event, channel task, web server) for `stop_webhook`."""
    from bot.web import WebServer

    web_server = WebServer("127.0.0.1", 0)
    channel.mount(web_server)
    port = await web_server.start()
    stop = asyncio.Event()
    return port, stop, asyncio.create_task(channel.run(stop)), web_server


async def stop_webhook(stop: asyncio.Event, task: asyncio.Task[None], web_server: Any) -> None:
    stop.set()
    await asyncio.wait_for(task, 15)
    await web_server.stop()
