"""Telegram channel (python-telegram-bot 22): updates → `Incoming`, `Reply` → messages.

Private chats get everything; in groups the bot reacts only to commands, mentions and replies
to its own messages (privacy mode). Buttons are inline keyboards whose callback data the
router validates. 403 marks a chat inactive; a group → supergroup migration moves the chat.
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
from telegram.error import ChatMigrated, Forbidden, TelegramError
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
from bot.services import dialogs
from bot.services.people import migrate_chat, set_chat_active
from bot.web import WebServer
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
            .concurrent_updates(settings.telegram_concurrent_updates)
        )
        self.webhook = bool(settings.telegram_webhook_url)
        self._accepting = False  # webhook posts are queued only while running
        self._enqueuing = 0
        self._drained = asyncio.Event()
        if self.webhook:
            if not settings.telegram_webhook_secret:
                raise ValueError("TELEGRAM_WEBHOOK_URL cần kèm TELEGRAM_WEBHOOK_SECRET")
            builder = builder.updater(None)
        self.ptb: Application = builder.build()
        self.ptb.add_handler(ChatMemberHandler(self._on_my_status,
                                               ChatMemberHandler.MY_CHAT_MEMBER))
        self.ptb.add_handler(MessageHandler(filters.StatusUpdate.MIGRATE, self._on_migrate))
        self.ptb.add_handler(CallbackQueryHandler(self._on_button))
        self.ptb.add_handler(MessageHandler(filters.TEXT | filters.CAPTION, self._on_message))
        self.ptb.add_error_handler(self._on_error)

    # -- lifecycle -----------------------------------------------------------------------------
    async def _set_commands(self) -> None:
        bot = self.ptb.bot
        if not self.app.router.bot_username and bot.username:
            self.app.router.bot_username = bot.username  # for t.me invite links
        await bot.set_my_commands(PRIVATE_COMMANDS, scope=BotCommandScopeAllPrivateChats())
        await bot.set_my_commands(GROUP_COMMANDS, scope=BotCommandScopeAllGroupChats())
        log.info("Telegram bot @%s ready", bot.username)

    async def run(self, stop: asyncio.Event, web: WebServer | None = None) -> None:
        """Long polling, or webhook on the project's web server, until `stop` is set."""
        settings = self.app.settings
        async with self.ptb:
            await self._set_commands()
            await self.ptb.start()
            if self.webhook:
                self._accepting = True  # PTB runs: posts may be queued from now on
                await self.ptb.bot.set_webhook(
                    settings.telegram_webhook_url,
                    secret_token=settings.telegram_webhook_secret,
                    allowed_updates=Update.ALL_TYPES,
                )
                await stop.wait()
                # refuse new posts first (503: Telegram re-posts them), let the ones being
                # queued land, then stop PTB: nothing may be queued behind its stop marker
                self._accepting = False
                while self._enqueuing:
                    self._drained.clear()
                    await self._drained.wait()
            else:
                assert self.ptb.updater is not None
                await self.ptb.updater.start_polling(
                    allowed_updates=Update.ALL_TYPES,
                    poll_interval=settings.telegram_poll_interval,
                    timeout=settings.telegram_poll_timeout,
                )
                await stop.wait()
                await self.ptb.updater.stop()
            await self.ptb.stop()

    @property
    def running(self) -> bool:
        """Receiving updates (health check): started, and polling unless on a webhook."""
        if not self.ptb.running:
            return False
        return self.webhook or bool(self.ptb.updater and self.ptb.updater.running)

    def mount(self, web: WebServer) -> None:
        """Serve the webhook from the project's web server (checks the secret header)."""
        settings = self.app.settings
        web.add_webhook(settings.telegram_webhook_path, settings.telegram_webhook_secret,
                        WEBHOOK_SECRET_HEADER, self._enqueue)

    async def _enqueue(self, body: dict) -> bool:
        """A webhook update, handled once across processes: Telegram re-posts an update it
        got no answer for, possibly to another process behind the same URL. False (HTTP 503,
        Telegram posts it again later) while stopping or when the backlog is full — never
        accepted and then dropped."""
        if not self._accepting or (self.ptb.update_queue.qsize()
                                   >= self.app.settings.telegram_webhook_max_backlog):
            return False
        self._enqueuing += 1
        try:
            update = Update.de_json(body, self.ptb.bot)
            if update is None:
                return True
            async with self.app.sessions() as session, session.begin():
                if not await dialogs.first_time(session, CHANNEL, f"u:{update.update_id}"):
                    log.info("update %s was already received: skipped", update.update_id)
                    return True
            await self.ptb.update_queue.put(update)
            return True
        finally:
            self._enqueuing -= 1
            if not self._enqueuing:
                self._drained.set()

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
        await query.answer()  # first: the app shows a spinner until this is answered
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
        log.error("error while handling a Telegram update", exc_info=context.error)
        if isinstance(update, Update) and update.effective_chat is not None:
            try:
                await self.ptb.bot.send_message(update.effective_chat.id, texts.ERROR)
            except TelegramError:
                log.warning("could not tell chat %s about the error", update.effective_chat.id)
