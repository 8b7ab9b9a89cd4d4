"""Zalo channel (Zalo Bot Platform): the same handlers, buttons rendered as numbered options.

The platform has no buttons, so each reply's buttons become "1. …, 2. …" and the options are
kept in the database per (chat, user) with an expiry; the next "1", "2" … (or "@bot 2", or a
quote-reply in a group) presses the button. Updates go through the durable inbox
(`bot/inbox.py`): committed before the webhook answers 200, handled from there, deduplicated by
message id (webhook re-deliveries, polling replays; a message without an id is never taken for
another); the bot's own echoed messages are dropped.
"""

from __future__ import annotations

import asyncio
import logging
import re
import unicodedata
from datetime import timedelta
from typing import Any

from bot.app import App
from bot.channels.zalo_client import ZaloClient, ZaloError, sleep_floor
from bot.inbox import Accepted, Inbox, unique_key
from bot.services import dialogs
from bot.web import BadUpdate, WebServer
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


def update_key(update: dict[str, Any]) -> str:
    """The inbox key of an unwrapped update: chat and message id; BadUpdate (HTTP 400) for a
    message without a chat or sender. A message without an id gets a key of its own: deduping
    it on anything else (the event name) would swallow every later message of the chat."""
    message = update.get("message")
    if not isinstance(message, dict):
        raise BadUpdate("message is not an object")
    chat, sender = message.get("chat"), message.get("from")
    if not isinstance(chat, dict) or not isinstance(sender, dict):
        raise BadUpdate("message without chat or sender object")
    chat_id, user_id = chat.get("id"), sender.get("id")
    if not isinstance(chat_id, str | int) or not isinstance(user_id, str | int) or (
            isinstance(chat_id, bool) or isinstance(user_id, bool)) or not (
            str(chat_id) and str(user_id)):
        raise BadUpdate("message without chat id or sender id")
    message_id = message.get("message_id")
    if isinstance(message_id, str | int) and not isinstance(message_id, bool) and str(
            message_id):
        return f"{chat_id}:{message_id}"
    return unique_key()


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
        self.running = False  # receiving updates (health check)
        self.inbox = Inbox.for_channel(app, CHANNEL, self._handle,
                                       chat_of=lambda u: u["message"]["chat"]["id"])

    # -- lifecycle -----------------------------------------------------------------------------
    async def start(self) -> None:
        me = await self.client.get_me()
        self.bot_id = str(me.get("id", ""))
        self.bot_name = str(me.get("account_name") or me.get("display_name") or "")
        log.info("Zalo bot %s ready", self.bot_name or self.bot_id)

    async def run(self, stop: asyncio.Event) -> None:
        settings = self.app.settings
        handling: asyncio.Task[None] | None = None
        try:
            await self.start()
            handling = asyncio.create_task(self.inbox.run(stop))  # first what was left
            self.running = True
            if self.webhook:
                await self.client.set_webhook(settings.zalo_webhook_url,
                                              settings.zalo_webhook_secret)
                await stop.wait()
            else:
                if await self.client.get_webhook_info():
                    await self.client.delete_webhook()  # polling and webhook exclude each other
                await self._poll(stop)
        finally:
            self.running = False
            if handling is not None:
                if not stop.is_set():  # failed: nothing more is handled here
                    handling.cancel()
                await asyncio.gather(handling, return_exceptions=True)
            await self.client.close()

    async def _poll(self, stop: asyncio.Event) -> None:
        loop = asyncio.get_running_loop()
        backoff = 1.0
        while not stop.is_set():
            if await self.inbox.full():  # a full inbox pauses polling
                try:
                    await asyncio.wait_for(stop.wait(), self.app.settings.inbox_poll_seconds)
                except TimeoutError:
                    pass
                continue
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
            if update is not None:  # getUpdates has no offset: stored at once, or lost
                await self._store_polled(update)
            await sleep_floor(started, self.app.settings.zalo_poll_floor)

    async def _store_polled(self, update: dict[str, Any]) -> None:
        try:
            key = update_key(update)
        except BadUpdate as exc:
            log.warning("Zalo getUpdates: malformed update ignored: %s", exc)
            return
        for attempt in range(3):
            try:
                await self.inbox.accept_many([(key, update)], check_backlog=False)
                return
            except Exception as exc:
                log.error("Zalo update not stored (attempt %d): %s: %s", attempt + 1,
                          type(exc).__name__, exc)
                await asyncio.sleep(1.0)
        log.error("Zalo update lost: the database did not answer")

    def mount(self, web: WebServer) -> None:
        settings = self.app.settings
        web.add_webhook(settings.zalo_webhook_path, settings.zalo_webhook_secret,
                        WEBHOOK_SECRET_HEADER, self._on_webhook)

    async def _on_webhook(self, body: dict[str, Any]) -> bool:
        """Store the update in the inbox, then answer 200 (it is handled from there, by this
        process or the next one to start: stored even while starting or stopping, as Zalo does
        not say that it re-posts); 503 when the backlog is full; 400 for a body that is no
        update."""
        update = unwrap(body)
        if update is None:
            raise BadUpdate("no message in the body")
        return await self.inbox.accept(update_key(update), update) != Accepted.BUSY

    # -- updates -------------------------------------------------------------------------------
    async def _handle(self, update: dict[str, Any], last_attempt: bool) -> None:
        """One update from the inbox; raises if it failed (the inbox retries it; on the last
        attempt the chat is told something went wrong)."""
        try:
            await self.handle_update(update)
        except Exception:
            if last_attempt:
                message = update.get("message") or {}
                chat = message.get("chat") if isinstance(message, dict) else None
                if isinstance(chat, dict) and chat.get("id"):
                    try:
                        await self.client.send_message(str(chat["id"]), texts.ERROR)
                    except ZaloError as exc:
                        log.warning("could not tell chat %s about the error: %s",
                                    chat["id"], exc)
            raise

    async def handle_update(self, update: dict[str, Any]) -> None:
        message = update.get("message") or {}
        chat = message.get("chat") or {}
        sender = message.get("from") or {}
        chat_id, user_id = str(chat.get("id", "")), str(sender.get("id", ""))
        if not chat_id or not user_id:
            return
        if sender.get("is_bot") or (self.bot_id and user_id == self.bot_id):
            return  # the platform echoes the bot's own messages
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
            name = unicodedata.normalize("NFC", self.bot_name)
            text = re.sub(rf"@{re.escape(name)}(?!\w)", " ", unicodedata.normalize("NFC", text),
                          flags=re.IGNORECASE)
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
