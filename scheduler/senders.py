"""One message to one chat on one platform, with the platform's errors translated into
`scheduler.outcomes`. Broadcast senders have their own HTTP clients and no built-in retries:
the dispatcher paces, retries and records (interactive replies keep PTB's rate limiter)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Protocol
from zoneinfo import ZoneInfo

import httpx
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    NetworkError,
    RetryAfter,
    TelegramError,
    TimedOut,
)
from telegram.request import HTTPXRequest

from bot.channels.zalo_client import ZaloClient, ZaloError, ZaloTimeout
from handlers.render import numbered
from handlers.texts import OPTIONS_HINT_GROUP
from scheduler.outcomes import (
    ChatGone,
    ChatMoved,
    ChatNotFound,
    RateLimited,
    Rejected,
    Transient,
    Uncertain,
)

Button = tuple[str, str]  # label, payload
Buttons = tuple[tuple[Button, ...], ...]


def parse_buttons(stored: str | None) -> Buttons:
    """A run's buttons as stored (JSON rows of {label, payload}; "" for none)."""
    if not stored:
        return ()
    return tuple(tuple((b["label"], b["payload"]) for b in row) for row in json.loads(stored))


class Sender(Protocol):
    channel: str

    async def start(self) -> None: ...

    async def send(self, chat_id: str, text: str, buttons: Buttons = ()) -> str:
        """Send; returns the platform's message id or raises a `DeliveryError`."""
        ...

    async def close(self) -> None: ...


def _chat_ref(chat_id: str) -> int | str:
    return int(chat_id) if chat_id.lstrip("-").isdigit() else chat_id


OptionsStore = Callable[[str, list[str]], Awaitable[None]]


class TelegramSender:
    channel = "telegram"

    def __init__(self, token: str, base_url: str, *, timeout: float, pool_size: int) -> None:
        request = HTTPXRequest(connection_pool_size=pool_size, read_timeout=timeout,
                               write_timeout=timeout, connect_timeout=min(timeout, 10.0),
                               pool_timeout=timeout)
        self.bot = Bot(token, base_url=base_url, request=request)

    async def start(self) -> None:
        await self.bot.initialize()

    async def close(self) -> None:
        await self.bot.shutdown()

    async def send(self, chat_id: str, text: str, buttons: Buttons = ()) -> str:
        markup = InlineKeyboardMarkup(
            [[InlineKeyboardButton(label, callback_data=payload) for label, payload in row]
             for row in buttons]) if buttons else None
        try:
            message = await self.bot.send_message(_chat_ref(chat_id), text, reply_markup=markup)
        except RetryAfter as exc:
            wait = exc.retry_after
            seconds = wait.total_seconds() if isinstance(wait, timedelta) else float(wait)
            raise RateLimited(seconds) from None
        except ChatMigrated as exc:
            raise ChatMoved(str(exc.new_chat_id)) from None
        except Forbidden as exc:
            raise ChatGone(exc.message) from None
        except BadRequest as exc:
            if "not found" in exc.message.lower():
                raise ChatNotFound(exc.message) from None
            raise Rejected(exc.message[:200]) from None
        except TimedOut as exc:
            if isinstance(exc.__cause__, httpx.ConnectTimeout | httpx.PoolTimeout):
                raise Transient("hết thời gian kết nối (chưa gửi)") from None
            raise Uncertain("không nhận được phản hồi") from None
        except NetworkError as exc:  # connection refused/reset, 5xx: not accepted
            raise Transient(exc.message[:200]) from None
        except TelegramError as exc:
            raise Rejected(exc.message[:200]) from None
        return str(message.message_id)


class ZaloSender:
    channel = "zalo"

    def __init__(self, client: ZaloClient, *, default_retry_after: float,
                 remember_options: OptionsStore | None = None) -> None:
        self.client = client
        self.default_retry_after = default_retry_after
        self.remember_options = remember_options

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        await self.client.close()

    async def send(self, chat_id: str, text: str, buttons: Buttons = ()) -> str:
        """Zalo has no buttons: they become numbered options, which anyone in the chat may
        answer with the number (stored for the whole chat before sending)."""
        if buttons:
            labels = [label for row in buttons for label, _ in row]
            text = numbered(text, labels, OPTIONS_HINT_GROUP)
            if self.remember_options is not None:
                await self.remember_options(chat_id, [p for row in buttons for _, p in row])
        try:
            result = await self.client.call("sendMessage", chat_id=chat_id, text=text)
        except ZaloTimeout:
            raise Uncertain("không nhận được phản hồi") from None
        except ZaloError as exc:
            if exc.status == 429:
                raise RateLimited(self.default_retry_after) from None
            if exc.status == 403:
                raise ChatGone(exc.description) from None
            if exc.status == 404 or "not found" in exc.description.lower():
                raise ChatNotFound(exc.description) from None
            if exc.status == 0 or exc.status >= 500:
                raise Transient(exc.description[:200]) from None
            raise Rejected(exc.description[:200]) from None
        if isinstance(result, dict):
            return str(result.get("message_id", ""))
        return ""


class ConsoleOutboxSender:
    """The demo's channel: console groups and people have no platform, so a delivery to them is
    appended to a file (`DEMO_OUTBOX_FILE`) the operator can read; every delivery is counted
    like any other (`nqbot broadcast show`)."""

    channel = "console"

    def __init__(self, path: str, tz: ZoneInfo) -> None:
        self.path = Path(path)
        self.tz = tz
        self.sent = 0

    async def start(self) -> None:
        await asyncio.to_thread(self.path.parent.mkdir, parents=True, exist_ok=True)

    async def close(self) -> None:
        return None

    async def send(self, chat_id: str, text: str, buttons: Buttons = ()) -> str:
        labels = [label for row in buttons for label, _ in row]
        body = numbered(text, labels, OPTIONS_HINT_GROUP) if labels else text
        stamp = datetime.now(self.tz).strftime("%d/%m/%Y %H:%M:%S")
        entry = f"[{stamp}] → {chat_id}\n{body}\n{'-' * 60}\n"
        try:
            await asyncio.to_thread(self._append, entry)
        except OSError as exc:
            raise Transient(f"không ghi được {self.path}: {exc.strerror}") from None
        self.sent += 1
        return f"demo-{self.sent}"

    def _append(self, entry: str) -> None:
        with self.path.open("a", encoding="utf-8") as out:
            out.write(entry)
