"""A small fake of the Zalo Bot Platform API on loopback (aiohttp), for end-to-end tests.

`getUpdates` returns one update per call, or HTTP 408 when idle (as the platform does); sends
are checked against the 2,000-character limit; errors 400/401/403/429 can be injected per chat.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.fakes.loopback import LoopbackServer

MAX_TEXT = 2000


@dataclass
class Call:
    method: str
    params: dict[str, Any]
    at: float


@dataclass
class FakeZalo(LoopbackServer):
    token: str = "1234567890:zalo-test-secret"
    bot_id: str = "bot-zalo-1"
    bot_name: str = "BotNghiQuyet"
    calls: list[Call] = field(default_factory=list)
    webhook: dict[str, Any] | None = None
    _updates: list[dict[str, Any]] = field(default_factory=list)
    _ids: itertools.count = field(default_factory=lambda: itertools.count(1))
    _faults: dict[str, list[tuple[int, str]]] = field(default_factory=dict)
    latency: float = 0.0  # seconds each sendMessage takes to answer (recorded on arrival)



    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # -- test controls -----------------------------------------------------------------------
    def update(self, chat_id: str, user_id: str, text: str, *, group: bool = False,
               name: str = "Bác Ba", message_id: str | None = None,
               event: str = "message.text.received") -> dict[str, Any]:
        return {
            "event_name": event,
            "message": {
                "message_id": message_id or f"m{next(self._ids):06x}",
                "date": int(time.time() * 1000),
                "from": {"id": user_id, "display_name": name, "is_bot": user_id == self.bot_id},
                "chat": {"id": chat_id, "chat_type": "GROUP" if group else "PRIVATE"},
                "text": text,
            },
        }

    def queue(self, update: dict[str, Any]) -> dict[str, Any]:
        self._updates.append(update)
        return update

    def fail_next(self, chat_id: str, status: int, description: str) -> None:
        self._faults.setdefault(chat_id, []).append((status, description))

    def sent(self, chat_id: str | None = None) -> list[Call]:
        return [c for c in self.calls if c.method == "sendMessage"
                and (chat_id is None or c.params.get("chat_id") == chat_id)]


    # -- requests ------------------------------------------------------------------------------
    @staticmethod
    def _error(status: int, description: str) -> web.Response:
        return web.json_response({"ok": False, "error_code": status,
                                  "description": description}, status=status)

    @staticmethod
    def _ok(result: Any) -> web.Response:
        return web.json_response({"ok": True, "result": result})

    async def _handle(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return self._error(401, "Unauthorized")
        method = request.match_info["method"]
        params = await request.json() if request.can_read_body else {}
        self.calls.append(Call(method, params, time.monotonic()))
        handler = getattr(self, f"_m_{method}", None)
        if handler is None:
            return self._error(400, "Invalid API name")
        return await handler(params)

    async def _m_getMe(self, _params: dict[str, Any]) -> web.Response:
        return self._ok({"id": self.bot_id, "account_name": self.bot_name,
                         "account_type": "BASIC", "can_join_groups": True})

    async def _m_getUpdates(self, params: dict[str, Any]) -> web.Response:
        deadline = time.monotonic() + min(float(params.get("timeout") or 0), 0.3)
        while not self._updates and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.02)
        if not self._updates:
            return self._error(408, "Request timeout")
        return self._ok(self._updates.pop(0))

    async def _m_setWebhook(self, params: dict[str, Any]) -> web.Response:
        secret = str(params.get("secret_token", ""))
        if not str(params.get("url", "")).startswith("https://") or not 8 <= len(secret) <= 256:
            return self._error(400, "Bad request")
        self.webhook = {"url": params["url"], "secret_token": secret}
        return self._ok({"url": params["url"], "updated_at": int(time.time() * 1000)})

    async def _m_deleteWebhook(self, _params: dict[str, Any]) -> web.Response:
        self.webhook = None
        return self._ok({"url": "", "updated_at": int(time.time() * 1000)})

    async def _m_getWebhookInfo(self, _params: dict[str, Any]) -> web.Response:
        if self.webhook is None:
            return self._error(404, "Not Found")
        return self._ok({"url": self.webhook["url"], "updated_at": 0})

    async def _m_sendMessage(self, params: dict[str, Any]) -> web.Response:
        if self.latency:
            await asyncio.sleep(self.latency)
        text = str(params.get("text", ""))
        if not 1 <= len(text) <= MAX_TEXT:
            return self._error(400, "Bad request: text must be 1-2000 characters")
        queue = self._faults.get(str(params.get("chat_id")))
        if queue:
            status, description = queue.pop(0)
            return self._error(status, description)
        return self._ok({"message_id": f"out{next(self._ids):06x}",
                         "date": int(time.time() * 1000)})

    async def _m_sendPhoto(self, params: dict[str, Any]) -> web.Response:
        return self._ok({"message_id": f"out{next(self._ids):06x}",
                         "date": int(time.time() * 1000)})

    async def _m_sendChatAction(self, _params: dict[str, Any]) -> web.Response:
        return self._ok(True)
