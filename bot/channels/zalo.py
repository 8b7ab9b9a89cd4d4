"""Zalo channel (Zalo Bot Platform): the same handlers, buttons rendered as numbered options.

The platform has no buttons, so each reply's buttons become "1. …, 2. …" and the options are
kept in the database per (chat, user) with an expiry; the next "1", "2" … (or "@bot 2", or a
quote-reply in a group) presses the button. Updates are deduplicated by message id in the
database (webhook re-deliveries, polling replays) and the bot's own echoed messages are dropped.
"""

from __future__ import annotations

import asyncio
import logging
import re
from datetime import timedelta
from typing import Any

from bot.app import App
from bot.channels.zalo_client import ZaloClient, ZaloError, sleep_floor
from bot.services import dialogs
from bot.web import WebServer
from handlers import texts
from handlers.render import numbered
from handlers.types import ChatKind, Incoming, Reply, ReplyFile

log = logging.getLogger(__name__)

CHANNEL = "zalo"
WEBHOOK_SECRET_HEADER = "X-Bot-Api-Secret-Token"
_NUMBER_RE = re.compile(r"^\s*(\d{1,2})\s*[.)]?\s*$")


def unwrap(body: dict[str, Any]) -> dict[str, Any] | None:
    """Webhook bodies come wrapped in {ok, result} or bare; polling results are bare."""
    update = body.get("result") if "result" in body else body
    return update if isinstance(update, dict) and "message" in update else None


class ZaloChannel:
    def __init__(self, app: App, client: ZaloClient | None = None) -> None:
        self.app = app
        settings = app.settings
        self.client = client or ZaloClient(settings.zalo_api_base_url, settings.zalo_bot_token,
                                           poll_timeout=settings.zalo_poll_timeout)
        self.webhook = bool(settings.zalo_webhook_url)
        if self.webhook and not settings.zalo_webhook_secret:
            raise ValueError("ZALO_WEBHOOK_URL cần kèm ZALO_WEBHOOK_SECRET")
        self.bot_id: str = ""
        self.bot_name: str = ""
        self._tasks: set[asyncio.Task[None]] = set()
        self.running = False  # receiving updates (health check)

    # -- lifecycle -----------------------------------------------------------------------------
    async def start(self) -> None:
        me = await self.client.get_me()
        self.bot_id = str(me.get("id", ""))
        self.bot_name = str(me.get("account_name") or me.get("display_name") or "")
        log.info("Zalo bot %s ready", self.bot_name or self.bot_id)

    async def run(self, stop: asyncio.Event) -> None:
        settings = self.app.settings
        try:
            await self.start()
            self.running = True
            if self.webhook:
                await self.client.set_webhook(settings.zalo_webhook_url,
                                              settings.zalo_webhook_secret)
                await stop.wait()
            else:
                if await self.client.get_webhook_info():
                    await self.client.delete_webhook()  # polling and webhook exclude each other
                await self._poll(stop)
            if self._tasks:
                await asyncio.gather(*self._tasks, return_exceptions=True)
        finally:
            self.running = False
            await self.client.close()

    async def _poll(self, stop: asyncio.Event) -> None:
        loop = asyncio.get_running_loop()
        backoff = 1.0
        while not stop.is_set():
            started = loop.time()
            poll = asyncio.ensure_future(self.client.get_updates())
            stopper = asyncio.ensure_future(stop.wait())
            done, _ = await asyncio.wait({poll, stopper}, return_when=asyncio.FIRST_COMPLETED)
            if poll not in done:
                poll.cancel()
                break
            stopper.cancel()
            try:
                update = poll.result()
                backoff = 1.0
            except ZaloError as exc:
                log.warning("Zalo getUpdates failed: %s", exc)
                await asyncio.sleep(min(backoff, 30.0))
                backoff *= 2
                continue
            if update is not None:
                await self.handle_update(update)
            await sleep_floor(started, self.app.settings.zalo_poll_floor)

    def mount(self, web: WebServer) -> None:
        settings = self.app.settings
        web.add_webhook(settings.zalo_webhook_path, settings.zalo_webhook_secret,
                        WEBHOOK_SECRET_HEADER, self._on_webhook)

    async def _on_webhook(self, body: dict[str, Any]) -> None:
        """Answer 200 at once; handle the update in the background."""
        update = unwrap(body)
        if update is None:
            return
        task = asyncio.create_task(self.handle_update(update))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- updates -------------------------------------------------------------------------------
    async def handle_update(self, update: dict[str, Any]) -> None:
        message = update.get("message") or {}
        chat = message.get("chat") or {}
        sender = message.get("from") or {}
        chat_id, user_id = str(chat.get("id", "")), str(sender.get("id", ""))
        if not chat_id or not user_id:
            return
        if sender.get("is_bot") or (self.bot_id and user_id == self.bot_id):
            return  # the platform echoes the bot's own messages
        key = f"{chat_id}:{message.get('message_id') or update.get('event_name')}"
        async with self.app.sessions() as session, session.begin():
            if not await dialogs.first_time(session, CHANNEL, key):
                return
        kind = ChatKind.GROUP if str(chat.get("chat_type", "")).upper() == "GROUP" else (
            ChatKind.PRIVATE)
        if update.get("event_name") not in (None, "message.text.received"):
            await self._send(chat_id, user_id, kind, [Reply(texts.UNSUPPORTED_MESSAGE)])
            return
        text = self._strip_mention(str(message.get("text") or ""))
        name = sender.get("display_name") or sender.get("first_name")
        incoming = Incoming(CHANNEL, chat_id, user_id, chat_kind=kind, user_name=name,
                            text=text, addressed=True)
        number = _NUMBER_RE.match(text)
        if number:
            async with self.app.sessions() as session:
                payload = await dialogs.resolve_option(session, CHANNEL, chat_id, user_id,
                                                       int(number.group(1)))
                answering = payload is None and await dialogs.in_dialog(
                    session, CHANNEL, chat_id, user_id)
            if payload is None and not answering:
                await self._send(chat_id, user_id, kind, [Reply(texts.STALE_OPTION)])
                return
            if payload is not None:  # else a number answering a question ("23" present)
                incoming = Incoming(CHANNEL, chat_id, user_id, chat_kind=kind, user_name=name,
                                    payload=payload, addressed=True)
        replies = await self.app.router.handle(incoming)
        await self._send(chat_id, user_id, kind, replies)

    def _strip_mention(self, text: str) -> str:
        if self.bot_name:
            text = re.sub(rf"@{re.escape(self.bot_name)}\b", " ", text, flags=re.IGNORECASE)
        return " ".join(text.split())

    async def _send(self, chat_id: str, user_id: str, kind: ChatKind,
                    replies: list[Reply]) -> None:
        hint = texts.OPTIONS_HINT_GROUP if kind is ChatKind.GROUP else texts.OPTIONS_HINT
        with_buttons = [r for r in replies if r.buttons]
        if with_buttons:  # stored before sending, so a quick "1" always finds its options
            options = [b.payload for b in with_buttons[-1].flat_buttons()]
            ttl = timedelta(minutes=self.app.settings.zalo_options_ttl_minutes)
            async with self.app.sessions() as session, session.begin():
                await dialogs.save_options(session, CHANNEL, chat_id, user_id, options, ttl)
        for reply in replies:
            labels = [b.label for b in reply.flat_buttons()]
            try:
                await self.client.send_message(chat_id, numbered(reply.text, labels, hint))
                if reply.file is not None:
                    await self._send_file(chat_id, reply.file)
            except ZaloError as exc:
                log.warning("Zalo send to %s failed: %s", chat_id, exc)
                return

    async def _send_file(self, chat_id: str, file: ReplyFile) -> None:
        """Zalo sends no files: a signed, expiring link on the project's server instead."""
        settings = self.app.settings
        if not settings.public_base_url:
            await self.client.send_message(chat_id, texts.FILE_NOT_ON_ZALO.format(name=file.name))
            return
        store = self.app.files
        file_id = await asyncio.to_thread(store.save, file.name, file.data)
        url = store.link(settings.public_base_url, file_id, settings.file_link_ttl_hours * 3600)
        if file.is_image:
            await self.client.send_photo(chat_id, url, caption=file.name)
        else:
            await self.client.send_message(chat_id, texts.FILE_LINK.format(
                name=file.name, url=url, hours=settings.file_link_ttl_hours))
