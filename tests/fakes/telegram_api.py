"""A small, strict fake of the Telegram Bot API on loopback (aiohttp), for end-to-end tests.

The real python-telegram-bot client talks to it over HTTP (`base_url`), so tests exercise PTB's
request code, error mapping and polling loop. It implements what the bot calls, returns Telegram's
HTTP status codes and error bodies, lets tests inject updates and faults, and records every call.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.fakes.loopback import LoopbackServer

MAX_TEXT = 4096
MAX_CALLBACK_DATA = 64


@dataclass
class Call:
    method: str
    params: dict[str, Any]
    at: float
    accepted: bool = False


@dataclass
class Fault:
    status: int
    description: str
    parameters: dict[str, Any] | None = None
    times: int = 1


@dataclass
class FakeTelegram(LoopbackServer):
    token: str = "123456:TEST-TOKEN"
    bot_id: int = 123456
    username: str = "nq_test_bot"
    calls: list[Call] = field(default_factory=list)
    _updates: list[dict[str, Any]] = field(default_factory=list)
    _update_ids: itertools.count = field(default_factory=lambda: itertools.count(1))
    _message_ids: itertools.count = field(default_factory=lambda: itertools.count(1000))
    _new_update: asyncio.Event = field(default_factory=asyncio.Event)
    _faults: dict[int, list[Fault]] = field(default_factory=dict)
    _gone: dict[int, str] = field(default_factory=dict)
    _migrated: dict[int, int] = field(default_factory=dict)
    webhook: dict[str, Any] | None = None
    # flood control: at most `rate_limit` accepted sends in any 1 s window, else 429
    rate_limit: float | None = None
    retry_after: int = 1
    too_many: int = 0  # 429s answered
    latency: float = 0.0  # seconds each send takes to answer
    hang: set[int] = field(default_factory=set)  # chats whose sends are accepted, answered late
    hang_seconds: float = 3.0
    _accepted: Any = field(default_factory=lambda: __import__("collections").deque())
    revoked: bool = False  # the token was revoked (BotFather /revoke): every call gets 401
    refused: int = 0  # calls answered 401 (wrong or revoked token)


    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/bot"

    # -- test controls -----------------------------------------------------------------------
    def revoke(self) -> None:
        """As after BotFather's /revoke: the bot's token is refused from now on."""
        self.revoked = True

    def pop_update(self, update_id: int) -> dict[str, Any]:
        """Take an injected update out of the queue (to post it to a webhook instead)."""
        update = next(u for u in self._updates if u["update_id"] == update_id)
        self._updates.remove(update)
        return update

    def _push(self, update: dict[str, Any]) -> int:
        update_id = next(self._update_ids)
        self._updates.append({"update_id": update_id, **update})
        self._new_update.set()
        return update_id

    @staticmethod
    def _chat(chat_id: int, kind: str, title: str | None) -> dict[str, Any]:
        chat: dict[str, Any] = {"id": chat_id, "type": kind}
        if kind == "private":
            chat["first_name"] = title or "Người dùng"
        else:
            chat["title"] = title or f"Nhóm {chat_id}"
        return chat

    def user(self, user_id: int, name: str = "Bác Ba") -> dict[str, Any]:
        return {"id": user_id, "is_bot": False, "first_name": name}

    def send_text(self, chat_id: int, user_id: int, text: str, *, kind: str = "private",
                  title: str | None = None, reply_to_bot: bool = False,
                  name: str = "Bác Ba") -> int:
        message: dict[str, Any] = {
            "message_id": next(self._message_ids),
            "date": int(time.time()),
            "chat": self._chat(chat_id, kind, title),
            "from": self.user(user_id, name),
            "text": text,
        }
        entities = []
        if text.startswith("/"):
            entities.append({"type": "bot_command", "offset": 0,
                             "length": len(text.split()[0])})
        mention = f"@{self.username}"
        if mention in text:
            entities.append({"type": "mention", "offset": text.index(mention),
                             "length": len(mention)})
        if entities:
            message["entities"] = entities
        if reply_to_bot:
            message["reply_to_message"] = {
                "message_id": 1, "date": int(time.time()), "text": "…",
                "chat": self._chat(chat_id, kind, title),
                "from": {"id": self.bot_id, "is_bot": True, "first_name": "Bot",
                         "username": self.username},
            }
        return self._push({"message": message})

    def press(self, chat_id: int, user_id: int, data: str, *, kind: str = "private",
              message_id: int = 1) -> int:
        return self._push({"callback_query": {
            "id": f"cb{next(self._message_ids)}",
            "from": self.user(user_id),
            "chat_instance": str(chat_id),
            "data": data,
            "message": {"message_id": message_id, "date": int(time.time()), "text": "…",
                        "chat": self._chat(chat_id, kind, None)},
        }})

    def my_status(self, chat_id: int, new_status: str, *, by: int = 1,
                  kind: str = "group", title: str | None = None) -> int:
        bot_user = {"id": self.bot_id, "is_bot": True, "first_name": "Bot",
                    "username": self.username}
        old_status = "left" if new_status in ("member", "administrator") else "member"
        return self._push({"my_chat_member": {
            "chat": self._chat(chat_id, kind, title),
            "from": self.user(by),
            "date": int(time.time()),
            "old_chat_member": {"status": old_status, "user": bot_user},
            "new_chat_member": {"status": new_status, "user": bot_user,
                                **({"until_date": 0} if new_status == "kicked" else {})},
        }})

    def migrate(self, old_id: int, new_id: int, title: str | None = None) -> int:
        """The group becomes a supergroup: later sends to the old id fail with 400."""
        self._migrated[old_id] = new_id
        return self._push({"message": {
            "message_id": next(self._message_ids), "date": int(time.time()),
            "chat": self._chat(old_id, "group", title),
            "from": self.user(1),
            "migrate_to_chat_id": new_id,
        }})

    def kick(self, chat_id: int, kind: str = "group") -> None:
        """Later sends to this chat fail with 403, as when the bot was removed."""
        what = "supergroup chat" if kind == "supergroup" else "group chat"
        self._gone[chat_id] = f"Forbidden: bot was kicked from the {what}"

    def fail_next(self, chat_id: int, fault: Fault) -> None:
        self._faults.setdefault(chat_id, []).append(fault)

    def sent(self, chat_id: int | None = None, method: str = "sendMessage") -> list[Call]:
        return [c for c in self.calls if c.method == method
                and (chat_id is None or int(c.params.get("chat_id", 0)) == chat_id)]


    def confirmed(self, update_id: int) -> bool:
        return all(u["update_id"] > update_id for u in self._updates)

    # -- request handling ----------------------------------------------------------------------
    async def _params(self, request: web.Request) -> dict[str, Any]:
        params: dict[str, Any] = dict(request.query)
        if request.can_read_body:
            if request.content_type == "application/json":
                params.update(await request.json())
            else:
                form = await request.post()
                for key, value in form.items():
                    params[key] = value if isinstance(value, str) else "<file>"
        for key, value in list(params.items()):
            if isinstance(value, str) and value[:1] in "[{":
                try:
                    params[key] = json.loads(value)
                except ValueError:
                    pass
        return params

    @staticmethod
    def _error(status: int, description: str,
               parameters: dict[str, Any] | None = None) -> web.Response:
        body: dict[str, Any] = {"ok": False, "error_code": status, "description": description}
        if parameters:
            body["parameters"] = parameters
        return web.json_response(body, status=status)

    @staticmethod
    def _ok(result: Any) -> web.Response:
        return web.json_response({"ok": True, "result": result})

    async def _handle(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token or self.revoked:
            self.refused += 1
            return self._error(401, "Unauthorized")
        method = request.match_info["method"].lower()
        params = await self._params(request)
        call = Call(method=_CANONICAL.get(method, method), params=params, at=time.monotonic())
        self.calls.append(call)
        handler = getattr(self, f"_m_{method}", None)
        if handler is None:
            return self._error(404, "Not Found: method not found")
        if method == "sendmessage":
            return await self._m_sendmessage(params, call)
        return await handler(params)

    async def _m_getme(self, _params: dict[str, Any]) -> web.Response:
        return self._ok({"id": self.bot_id, "is_bot": True, "first_name": "Trợ lý Nghị quyết",
                         "username": self.username, "can_join_groups": True,
                         "can_read_all_group_messages": False, "supports_inline_queries": False})

    async def _m_deletewebhook(self, _params: dict[str, Any]) -> web.Response:
        self.webhook = None
        return self._ok(True)

    async def _m_setwebhook(self, params: dict[str, Any]) -> web.Response:
        secret = str(params.get("secret_token", ""))
        if not params.get("url") or (secret and not all(c.isalnum() or c in "_-" for c in secret)):
            return self._error(400, "Bad Request: bad webhook")
        self.webhook = {"url": params["url"], "secret_token": secret}
        return self._ok(True)

    async def _m_setmycommands(self, params: dict[str, Any]) -> web.Response:
        commands = params.get("commands") or []
        if not isinstance(commands, list) or not commands:
            return self._error(400, "Bad Request: commands must be non-empty")
        return self._ok(True)

    async def _m_getupdates(self, params: dict[str, Any]) -> web.Response:
        offset = int(params.get("offset") or 0)
        timeout = min(float(params.get("timeout") or 0), 1.0)
        if offset:
            self._updates = [u for u in self._updates if u["update_id"] >= offset]
        if not self._updates and timeout:
            self._new_update.clear()
            try:
                await asyncio.wait_for(self._new_update.wait(), timeout)
            except TimeoutError:
                pass
        limit = int(params.get("limit") or 100)
        return self._ok(self._updates[:limit])

    def _check_chat(self, params: dict[str, Any]) -> web.Response | None:
        chat_id = int(params.get("chat_id", 0))
        if chat_id in self._migrated:
            return self._error(400, "Bad Request: group chat was upgraded to a supergroup chat",
                               {"migrate_to_chat_id": self._migrated[chat_id]})
        if chat_id in self._gone:
            return self._error(403, self._gone[chat_id])
        queue = self._faults.get(chat_id)
        if queue:
            fault = queue[0]
            fault.times -= 1
            if fault.times <= 0:
                queue.pop(0)
            return self._error(fault.status, fault.description, fault.parameters)
        return None

    def _message(self, params: dict[str, Any], **extra: Any) -> dict[str, Any]:
        chat_id = int(params["chat_id"])
        message = {
            "message_id": next(self._message_ids),
            "date": int(time.time()),
            "chat": {"id": chat_id, "type": "private" if chat_id > 0 else "group",
                     **({"first_name": "Người dùng"} if chat_id > 0 else {"title": "Nhóm"})},
            "from": {"id": self.bot_id, "is_bot": True, "first_name": "Bot",
                     "username": self.username},
            **extra,
        }
        if params.get("reply_markup"):
            message["reply_markup"] = params["reply_markup"]
        return message

    def _check_markup(self, params: dict[str, Any]) -> web.Response | None:
        markup = params.get("reply_markup") or {}
        for row in markup.get("inline_keyboard", []) if isinstance(markup, dict) else []:
            for button in row:
                data = button.get("callback_data", "")
                if len(data.encode()) > MAX_CALLBACK_DATA:
                    return self._error(400, "Bad Request: BUTTON_DATA_INVALID")
                if not button.get("text"):
                    return self._error(400, "Bad Request: text buttons are unallowed")
        return None

    def _flood(self) -> web.Response | None:
        if self.rate_limit is None:
            return None
        now = time.monotonic()
        while self._accepted and now - self._accepted[0] >= 1.0:
            self._accepted.popleft()
        if len(self._accepted) >= self.rate_limit:
            self.too_many += 1
            return self._error(429, f"Too Many Requests: retry after {self.retry_after}",
                               {"retry_after": self.retry_after})
        self._accepted.append(now)
        return None

    def delivered(self, method: str = "sendMessage") -> list[Call]:
        """Sends the fake accepted (not refused with an error)."""
        return [c for c in self.calls if c.method == method and c.accepted]

    async def _m_sendmessage(self, params: dict[str, Any],
                             call: Call | None = None) -> web.Response:
        if self.latency:
            await asyncio.sleep(self.latency)
        text = str(params.get("text", ""))
        if not text.strip():
            return self._error(400, "Bad Request: message text is empty")
        if len(text) > MAX_TEXT:
            return self._error(400, "Bad Request: message is too long")
        problem = self._check_chat(params) or self._check_markup(params) or self._flood()
        if problem:
            return problem
        if call is not None:
            call.accepted = True
        if int(params["chat_id"]) in self.hang:
            await asyncio.sleep(self.hang_seconds)
        return self._ok(self._message(params, text=text))

    async def _m_editmessagetext(self, params: dict[str, Any]) -> web.Response:
        problem = self._check_chat(params) or self._check_markup(params)
        if problem:
            return problem
        return self._ok(self._message(params, text=str(params.get("text", ""))))

    async def _m_answercallbackquery(self, _params: dict[str, Any]) -> web.Response:
        return self._ok(True)

    async def _m_sendphoto(self, params: dict[str, Any]) -> web.Response:
        photo = [{"file_id": "ph1", "file_unique_id": "uph1", "width": 1, "height": 1}]
        return self._check_chat(params) or self._ok(self._message(params, photo=photo))

    async def _m_senddocument(self, params: dict[str, Any]) -> web.Response:
        document = {"file_id": "doc1", "file_unique_id": "udoc1"}
        return self._check_chat(params) or self._ok(self._message(params, document=document))

    async def _m_sendchataction(self, params: dict[str, Any]) -> web.Response:
        return self._check_chat(params) or self._ok(True)


_CANONICAL = {
    "sendmessage": "sendMessage",
    "getupdates": "getUpdates",
    "getme": "getMe",
    "deletewebhook": "deleteWebhook",
    "setwebhook": "setWebhook",
    "setmycommands": "setMyCommands",
    "editmessagetext": "editMessageText",
    "answercallbackquery": "answerCallbackQuery",
    "sendphoto": "sendPhoto",
    "senddocument": "sendDocument",
    "sendchataction": "sendChatAction",
}
