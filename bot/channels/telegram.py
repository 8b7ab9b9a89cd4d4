"""Telegram channel (python-telegram-bot 22): updates → `Incoming`, `Reply` → messages.

Private chats get everything; in groups the bot reacts only to commands, mentions and replies
to its own messages (privacy mode). Buttons are inline keyboards whose callback data the
router validates. 403 marks a chat inactive; a group → supergroup migration moves the chat.

Updates, by webhook or long polling, go through the durable inbox (`bot/inbox.py`): committed
before the webhook answers 200 or the next poll acknowledges them, handled from there.
"""

from __future__ import annotations

import asyncio
import io
import logging

from telegram import (
    BotCommand,
    BotCommandScopeAllGroupChats,
    BotCommandScopeAllPrivateChats,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputFile,
    Message,
    Update,
)
from telegram.constants import ChatMemberStatus, ChatType
from telegram.error import ChatMigrated, Conflict, Forbidden, TelegramError
from telegram.ext import (
    AIORateLimiter,
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    ChatMemberHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from bot.app import App
from bot.inbox import Accepted, Inbox
from bot.services.people import migrate_chat, set_chat_active
from bot.web import BadUpdate, WebServer
from handlers import texts
from handlers.render import split_text
from handlers.types import ChatKind, Incoming, Reply

log = logging.getLogger(__name__)

CHANNEL = "telegram"
WEBHOOK_SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
PRIVATE_COMMANDS = [
    BotCommand("start", "Trang đầu"),
    BotCommand("menu", "Danh mục câu hỏi"),
    BotCommand("help", "Hướng dẫn sử dụng"),
    BotCommand("toi", "Vai trò của tôi"),
    BotCommand("nhom", "Các nhóm đã liên kết"),
    BotCommand("moi", "Tạo mã mời"),
    BotCommand("thongbao", "Gửi thông báo tới các nhóm (báo cáo viên)"),
    BotCommand("daquantriet", "Bí thư xác nhận chi bộ đã quán triệt"),
    BotCommand("baocao", "Số liệu quán triệt"),
    BotCommand("dahoc", "Báo tôi đã học"),
    BotCommand("dotquantriet", "Mở đợt quán triệt (báo cáo viên)"),
    BotCommand("thuhoi", "Thu hồi vai trò (quản trị, bí thư)"),
    BotCommand("lienkettaikhoan", "Liên kết tài khoản Telegram với Zalo"),
    BotCommand("huylienkettaikhoan", "Hủy liên kết tài khoản"),
]
GROUP_COMMANDS = [
    BotCommand("help", "Hướng dẫn sử dụng"),
    BotCommand("menu", "Danh mục câu hỏi"),
    BotCommand("hoi", "Hỏi một câu, ví dụ: /hoi nq57 ban hành ngày nào"),
    BotCommand("lienket", "Liên kết nhóm với chi bộ/đơn vị"),
    BotCommand("huylienket", "Hủy liên kết nhóm"),
    BotCommand("daquantriet", "Bí thư xác nhận chi bộ đã quán triệt"),
    BotCommand("dahoc", "Báo tôi đã học"),
]
GONE_STATUSES = {ChatMemberStatus.LEFT, ChatMemberStatus.BANNED}


_CHAT_KEYS = ("message", "edited_message", "channel_post", "edited_channel_post",
              "my_chat_member", "chat_member", "chat_join_request")


def chat_of(body: dict) -> object:
    """The chat of a raw update (its updates are handled in order), or None."""
    for key in _CHAT_KEYS:
        part = body.get(key)
        if isinstance(part, dict) and isinstance(part.get("chat"), dict):
            return part["chat"].get("id")
    query = body.get("callback_query")
    if isinstance(query, dict):
        message = query.get("message")
        if isinstance(message, dict) and isinstance(message.get("chat"), dict):
            return message["chat"].get("id")
    return None


def keyboard(reply: Reply) -> InlineKeyboardMarkup | None:
    if not reply.buttons:
        return None
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(b.label, callback_data=b.payload) for b in row]
         for row in reply.buttons]
    )


class TelegramChannel:
    def __init__(self, app: App) -> None:
        self.app = app
        settings = app.settings
        self.max_chars = settings.telegram_max_reply_chars
        builder: ApplicationBuilder = (
            ApplicationBuilder()
            .token(settings.telegram_bot_token)
            .base_url(settings.telegram_api_base_url)
            .rate_limiter(AIORateLimiter(overall_max_rate=settings.telegram_reply_rate,
                                          max_retries=settings.telegram_max_retries))
            .updater(None)  # updates come through the inbox, by webhook or our own polling
        )
        self.webhook = bool(settings.telegram_webhook_url)
        self._accepting = False  # webhook posts are stored only while running
        self._polling = False
        if self.webhook and not settings.telegram_webhook_secret:
            raise ValueError("TELEGRAM_WEBHOOK_URL cần kèm TELEGRAM_WEBHOOK_SECRET")
        self.ptb: Application = builder.build()
        self.ptb.add_handler(ChatMemberHandler(self._on_my_status,
                                               ChatMemberHandler.MY_CHAT_MEMBER))
        self.ptb.add_handler(MessageHandler(filters.StatusUpdate.MIGRATE, self._on_migrate))
        self.ptb.add_handler(CallbackQueryHandler(self._on_button))
        self.ptb.add_handler(MessageHandler(filters.TEXT | filters.CAPTION, self._on_message))
        self.ptb.add_error_handler(self._on_error)
        self.inbox = Inbox.for_channel(app, CHANNEL, self._handle, chat_of=chat_of)
        self._failures: dict[int, BaseException] = {}  # id(update) → error of its handler

    # -- lifecycle -----------------------------------------------------------------------------
    async def _set_commands(self) -> None:
        bot = self.ptb.bot
        if not self.app.router.bot_username and bot.username:
            self.app.router.bot_username = bot.username  # for t.me invite links
        await bot.set_my_commands(PRIVATE_COMMANDS, scope=BotCommandScopeAllPrivateChats())
        await bot.set_my_commands(GROUP_COMMANDS, scope=BotCommandScopeAllGroupChats())
        log.info("Telegram bot @%s ready", bot.username)

    async def run(self, stop: asyncio.Event, web: WebServer | None = None) -> None:
        """Long polling, or webhook on the project's web server, until `stop` is set; the inbox
        is handled meanwhile (first what an earlier process left in it)."""
        settings = self.app.settings
        async with self.ptb:
            await self._set_commands()
            await self.ptb.start()
            handling = asyncio.create_task(self.inbox.run(stop))
            try:
                if self.webhook:
                    self._accepting = True  # posts may be stored from now on
                    await self.ptb.bot.set_webhook(
                        settings.telegram_webhook_url,
                        secret_token=settings.telegram_webhook_secret,
                        allowed_updates=Update.ALL_TYPES,
                    )
                    await stop.wait()
                    self._accepting = False  # 503 from now on: Telegram re-posts later
                else:
                    await self._poll(stop)
            finally:
                self._accepting = False
                if not stop.is_set():  # failed: nothing more is handled here
                    handling.cancel()
                await asyncio.gather(handling, return_exceptions=True)
                if self.ptb.running:
                    await self.ptb.stop()

    @property
    def running(self) -> bool:
        """Receiving updates (health check): started, and polling unless on a webhook."""
        return self.ptb.running and (self.webhook or self._polling)

    def mount(self, web: WebServer) -> None:
        """Serve the webhook from the project's web server (checks the secret header)."""
        settings = self.app.settings
        web.add_webhook(settings.telegram_webhook_path, settings.telegram_webhook_secret,
                        WEBHOOK_SECRET_HEADER, self._on_webhook)

    def _key(self, body: dict) -> str:
        """The update's inbox key; BadUpdate (HTTP 400) for a body that is no Telegram update."""
        update_id = body.get("update_id")
        if not isinstance(update_id, int) or isinstance(update_id, bool):
            raise BadUpdate("update_id is missing or not a number")
        try:
            Update.de_json(body, self.ptb.bot)
        except Exception as exc:  # `chat: 5`, a field of the wrong type …
            raise BadUpdate(f"update {update_id}: {type(exc).__name__}: {exc}") from exc
        return f"u:{update_id}"

    async def _on_webhook(self, body: dict) -> bool:
        """Store a webhook update in the inbox before Telegram gets its 200: handled once across
        processes (Telegram re-posts an update it got no answer for, possibly to another process
        behind the same URL). False (HTTP 503, Telegram posts it again later) while stopping or
        when the backlog is full — never accepted and then dropped."""
        key = self._key(body)
        if not self._accepting:
            return False
        return await self.inbox.accept(key, body) != Accepted.BUSY

    async def _poll(self, stop: asyncio.Event) -> None:
        """getUpdates: a batch is stored in the inbox before the next call's offset
        acknowledges it; a full inbox pauses polling."""
        settings = self.app.settings
        bot = self.ptb.bot
        backoff = 1.0
        while not stop.is_set():
            try:
                await bot.delete_webhook()  # polling and webhook exclude each other
                break
            except TelegramError as exc:
                log.warning("Telegram deleteWebhook failed: %s", exc)
                if await _stopped(stop, min(backoff, 30.0)):
                    return
                backoff *= 2
        offset: int | None = None
        backoff = 1.0
        self._polling = True
        try:
            while not stop.is_set():
                if await self.inbox.full():
                    await _stopped(stop, settings.inbox_poll_seconds)
                    continue
                poll = asyncio.ensure_future(bot.get_updates(
                    offset=offset, timeout=settings.telegram_poll_timeout,
                    allowed_updates=Update.ALL_TYPES))
                stopper = asyncio.ensure_future(stop.wait())
                done, _ = await asyncio.wait({poll, stopper},
                                             return_when=asyncio.FIRST_COMPLETED)
                if poll not in done:  # stopping: what it would return is fetched next time
                    poll.cancel()
                    await asyncio.gather(poll, return_exceptions=True)
                    break
                stopper.cancel()
                try:
                    updates = poll.result()
                    if updates:
                        await self.inbox.accept_many(
                            [(f"u:{u.update_id}", u.to_dict()) for u in updates],
                            check_backlog=False)
                        offset = updates[-1].update_id + 1  # acknowledged by the next call
                    backoff = 1.0
                except Conflict as exc:
                    log.error("Telegram getUpdates: %s (another process polls this bot, or a "
                              "webhook is set)", exc)
                    await _stopped(stop, min(backoff, 30.0))
                    backoff *= 2
                except Exception as exc:  # network, Telegram or database: not acknowledged
                    log.warning("Telegram getUpdates failed: %s: %s", type(exc).__name__, exc)
                    await _stopped(stop, min(backoff, 30.0))
                    backoff *= 2
                if settings.telegram_poll_interval:
                    await _stopped(stop, settings.telegram_poll_interval)
        finally:
            self._polling = False

    async def _handle(self, body: dict, last_attempt: bool) -> None:
        """One update from the inbox through PTB's handlers; raises if a handler failed (the
        inbox retries it; on the last attempt the chat is told something went wrong)."""
        update = Update.de_json(body, self.ptb.bot)
        if update is None:
            return
        try:
            await self.ptb.process_update(update)
        finally:
            error = self._failures.pop(id(update), None)
        if error is None:
            return
        if last_attempt and update.effective_chat is not None:
            try:
                await self.ptb.bot.send_message(update.effective_chat.id, texts.ERROR)
            except TelegramError:
                log.warning("could not tell chat %s about the error", update.effective_chat.id)
        raise error

    # -- updates → Incoming --------------------------------------------------------------------
    def _incoming(self, message: Message) -> Incoming | None:
        chat, user = message.chat, message.from_user
        if user is None or user.is_bot:
            return None
        text = message.text or message.caption or ""
        kind = ChatKind.PRIVATE if chat.type == ChatType.PRIVATE else ChatKind.GROUP
        addressed = True
        if kind is ChatKind.GROUP:
            username = self.ptb.bot.username or ""
            mention = f"@{username}" if username else None
            command = text.split()[0] if text.startswith("/") else ""
            for_other_bot = "@" in command and not command.lower().endswith(
                f"@{username.lower()}")
            replied = message.reply_to_message
            to_us = bool(replied and replied.from_user and replied.from_user.id == self.ptb.bot.id)
            mentioned = bool(mention and mention.lower() in text.lower())
            addressed = (bool(command) and not for_other_bot) or mentioned or to_us
            if mentioned and mention:
                idx = text.lower().index(mention.lower())
                text = (text[:idx] + text[idx + len(mention):]).strip()
        return Incoming(
            channel=CHANNEL,
            chat_id=str(chat.id),
            user_id=str(user.id),
            chat_kind=kind,
            user_name=user.full_name,
            chat_title=chat.title,
            text=text,
            addressed=addressed,
        )

    async def _on_message(self, update: Update, _context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        if message is None:
            return
        incoming = self._incoming(message)
        if incoming is None:
            return
        replies = await self.app.router.handle(incoming)
        await self.send(message.chat.id, replies)

    async def _on_button(self, update: Update, _context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        if query is None:
            return
        try:  # first: the app shows a spinner until this is answered
            await query.answer()
        except TelegramError as exc:  # already answered (a retry), or too old: go on
            log.info("callback query not answered: %s", exc)
        chat = query.message.chat if query.message else None
        if chat is None:
            return
        incoming = Incoming(
            channel=CHANNEL,
            chat_id=str(chat.id),
            user_id=str(query.from_user.id),
            chat_kind=ChatKind.PRIVATE if chat.type == ChatType.PRIVATE else ChatKind.GROUP,
            user_name=query.from_user.full_name,
            chat_title=chat.title,
            payload=query.data or "",
        )
        replies = await self.app.router.handle(incoming)
        await self.send(chat.id, replies)

    async def _on_my_status(self, update: Update, _context: ContextTypes.DEFAULT_TYPE) -> None:
        change = update.my_chat_member
        if change is None:
            return
        status = change.new_chat_member.status
        chat = change.chat
        kind = "private" if chat.type == ChatType.PRIVATE else "group"
        active = status not in GONE_STATUSES
        async with self.app.sessions() as session, session.begin():
            await set_chat_active(session, CHANNEL, str(chat.id), active, kind=kind,
                                  title=chat.title)
        log.info("chat %s: bot is now %s", chat.id, status)

    async def _on_migrate(self, update: Update, _context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        if message is None:
            return
        if message.migrate_to_chat_id:
            old, new = message.chat.id, message.migrate_to_chat_id
        elif message.migrate_from_chat_id:
            old, new = message.migrate_from_chat_id, message.chat.id
        else:
            return
        await self._migrate(old, new)

    async def _migrate(self, old: int, new: int) -> None:
        async with self.app.sessions() as session, session.begin():
            moved = await migrate_chat(session, CHANNEL, str(old), str(new))
        if moved:
            log.info("chat %s migrated to %s", old, new)

    # -- Reply → messages ----------------------------------------------------------------------
    async def send(self, chat_id: int, replies: list[Reply]) -> None:
        bot = self.ptb.bot
        try:
            for reply in replies:
                chunks = split_text(reply.text, self.max_chars) or [texts.ERROR]
                for i, chunk in enumerate(chunks):
                    markup = keyboard(reply) if i == len(chunks) - 1 else None
                    try:
                        await bot.send_message(chat_id, chunk, reply_markup=markup)
                    except ChatMigrated as exc:
                        await self._migrate(chat_id, exc.new_chat_id)
                        chat_id = exc.new_chat_id
                        await bot.send_message(chat_id, chunk, reply_markup=markup)
                if reply.file is not None:
                    upload = InputFile(io.BytesIO(reply.file.data), filename=reply.file.name)
                    sender = bot.send_photo if reply.file.is_image else bot.send_document
                    await sender(chat_id, upload)
        except Forbidden as exc:
            log.info("chat %s is gone (%s): marking it inactive", chat_id, exc.message)
            async with self.app.sessions() as session, session.begin():
                await set_chat_active(session, CHANNEL, str(chat_id), False)

    async def _on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        """A handler raised: the inbox decides (retry later, or tell the chat and park)."""
        if isinstance(update, Update) and context.error is not None:
            self._failures[id(update)] = context.error
        else:
            log.error("error in the Telegram application", exc_info=context.error)


async def _stopped(stop: asyncio.Event, seconds: float) -> bool:
    """Sleep `seconds` or until `stop`; True if stopping."""
    try:
        await asyncio.wait_for(stop.wait(), seconds)
    except TimeoutError:
        return False
    return True
