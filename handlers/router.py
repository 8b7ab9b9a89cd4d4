"""The conversation core: one `Incoming` in, a list of `Reply` out, same for every channel."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.config import Settings
from bot.db.models import Chat, User
from bot.metrics import METRICS
from bot.services import dialogs
from bot.services.people import upsert_chat, upsert_user
from bot.services.qa import QAService
from content.normalize import fold
from handlers import (
    account,
    broadcast_composer,
    browse,
    confirm,
    groups,
    qa,
    question_review,
    reports_chat,
    revoke,
    texts,
)
from handlers.payloads import parse
from handlers.types import ChatKind, Incoming, Reply

log = logging.getLogger(__name__)

GREETINGS = {"xin chao", "chao", "chao ban", "chao bot", "hello", "hi", "alo", "chao ad"}


@dataclass
class Context:
    incoming: Incoming
    session: AsyncSession
    user: User
    chat: Chat
    qa: QAService
    page_size: int
    tz: ZoneInfo
    bot_username: str
    now: datetime = field(default_factory=lambda: datetime.now(UTC))
    limits: dict[str, int] = field(default_factory=dict)  # one message, per platform
    draft_ttl: timedelta = timedelta(hours=1)
    created_broadcast: int | None = None  # set by the composer; the router wakes the scheduler
    confirm_slack: float = 1.5  # settings.confirm_total_slack
    confirm_ttl: timedelta = timedelta(minutes=30)  # settings.confirm_dialog_ttl_minutes
    report_laggards: int = 10  # settings.report_max_laggards
    # messages for other users' private chats (a link request to confirm), sent after the commit
    notices: list[tuple[int, Reply]] = field(default_factory=list)


def _utc_now() -> datetime:
    return datetime.now(UTC)


def update_kind(incoming: Incoming) -> str:
    """For metrics: button (a payload), command (/…), message (other text), other."""
    if incoming.payload is not None:
        return "button"
    text = (incoming.text or "").strip()
    if text.startswith("/"):
        return "command"
    return "message" if text else "other"


class Router:
    def __init__(
        self, sessions: async_sessionmaker, qa_service: QAService, *, page_size: int = 6,
        tz: ZoneInfo | None = None, bot_username: str = "", settings: Settings | None = None,
        clock: Callable[[], datetime] = _utc_now,
    ) -> None:
        self.sessions = sessions
        self.qa = qa_service
        self.page_size = page_size
        self.tz = tz or ZoneInfo("Asia/Ho_Chi_Minh")
        self.bot_username = bot_username
        self.clock = clock
        config = settings or Settings.model_construct()  # the defaults, without the environment
        self.broadcast_limits = {"telegram": config.telegram_max_reply_chars,
                                 "zalo": config.zalo_max_message_chars}
        self.draft_ttl = timedelta(minutes=config.broadcast_draft_ttl_minutes)
        self.confirm_slack = config.confirm_total_slack
        self.confirm_ttl = timedelta(minutes=config.confirm_dialog_ttl_minutes)
        self.report_laggards = config.report_max_laggards
        # set by the running service to wake its scheduler once a new broadcast is committed
        self.on_broadcast_created: Callable[[], None] | None = None
        # set by the running service to reach another user's private chat (user id, message)
        self.on_notice: Callable[[int, Reply], Awaitable[None]] | None = None

    async def handle(self, incoming: Incoming) -> list[Reply]:
        if incoming.chat_kind is ChatKind.GROUP and not incoming.addressed:
            return []  # privacy: never answer group chatter that is not for the bot
        started, failed = time.perf_counter(), True
        try:
            replies = await self._handle(incoming)
            failed = False
            return replies
        finally:
            METRICS.observe_update(incoming.channel, update_kind(incoming),
                                   time.perf_counter() - started, failed=failed)

    async def _handle(self, incoming: Incoming) -> list[Reply]:
        await question_review.before_transaction(self.sessions, self.qa, incoming)
        async with self.sessions() as session, session.begin():
            user = await upsert_user(
                session, incoming.channel, incoming.user_id, incoming.user_name
            )
            chat = await upsert_chat(
                session,
                incoming.channel,
                incoming.chat_id,
                incoming.chat_kind.value,
                incoming.chat_title,
            )
            ctx = Context(incoming, session, user, chat, self.qa, self.page_size, self.tz,
                          self.bot_username, now=self.clock(), limits=self.broadcast_limits,
                          draft_ttl=self.draft_ttl, confirm_slack=self.confirm_slack,
                          confirm_ttl=self.confirm_ttl, report_laggards=self.report_laggards)
            replies = await self._dispatch(ctx)
        if ctx.created_broadcast is not None and self.on_broadcast_created is not None:
            try:  # after the commit, so the scheduler finds the new row
                self.on_broadcast_created()
            except Exception:
                log.exception("waking the scheduler after broadcast #%s failed",
                              ctx.created_broadcast)
        await self._send_notices(ctx)
        return replies

    async def _send_notices(self, ctx: Context) -> None:
        """After the commit: best effort (whoever is told can also ask again in their chat)."""
        for user_id, reply in ctx.notices:
            if self.on_notice is None:
                log.info("no way to reach user %s now; they will see it on asking", user_id)
                continue
            try:
                await self.on_notice(user_id, reply)
            except Exception:
                log.exception("telling user %s failed", user_id)

    async def _dispatch(self, ctx: Context) -> list[Reply]:
        incoming = ctx.incoming
        await self._leave_dialogs(ctx)
        if question_review.owns(incoming.payload):
            return [await question_review.on_payload(ctx, incoming.payload or "")]
        if incoming.payload is not None:
            action = parse(incoming.payload)
            if action is not None and action.kind == "link":
                return [await groups.link_to(ctx, action.unit_code)]
            if action is not None and action.kind in ("broadcast", "compose"):
                return [await broadcast_composer.on_action(ctx, action)]
            if action is not None and action.kind == "confirm":
                return [await confirm.on_action(ctx, action)]
            if action is not None and action.kind == "report":
                return [await reports_chat.on_action(ctx, action)]
            # access control: identity links, revocations
            if action is not None and action.kind == "identity":
                return [await account.on_action(ctx, action)]
            if action is not None and action.kind == "revoke":
                return [await revoke.on_action(ctx, action)]
            return self._on_payload(ctx, incoming.payload)
        return await self._on_text(ctx, incoming.text or "")

    # -- dialogs left open (the composer, a confirmation) ---------------------------------------
    @staticmethod
    async def _leave_dialogs(ctx: Context) -> None:
        """Any command or button sets open dialogs aside (kept, not taking typed text), except
        the dialog whose own button this is, which it resumes."""
        incoming = ctx.incoming
        if incoming.payload is None and not (incoming.text or "").lstrip().startswith("/"):
            return
        action = parse(incoming.payload) if incoming.payload is not None else None
        keep = {"compose": broadcast_composer.KIND, "confirm": confirm.KIND}.get(
            action.kind if action else "")
        await dialogs.park(ctx.session, incoming.channel, incoming.chat_id, incoming.user_id,
                           keep=keep)

    @staticmethod
    async def _set_aside(ctx: Context, live: set[str]) -> list[Reply]:
        """A live dialog did not take this text (a question): keep it aside and say how to go
        back; the text is answered as a question."""
        kept = sorted(live & set(texts.DIALOG_KEPT))
        if kept:
            incoming = ctx.incoming
            await dialogs.park(ctx.session, incoming.channel, incoming.chat_id,
                               incoming.user_id)
        return [Reply(texts.DIALOG_KEPT[kind]) for kind in kept]

    def _on_payload(self, ctx: Context, payload: str) -> list[Reply]:
        action = parse(payload)
        reply = None
        if action is not None:
            if action.kind == "menu":
                reply = browse.main_menu(ctx.qa.kb)
            elif action.kind == "help":
                reply = browse.help_reply(ctx.incoming.chat_kind)
            elif action.kind == "document":
                reply = browse.topics(ctx.qa.kb, action.document)
            elif action.kind == "topic":
                reply = browse.questions(
                    ctx.qa.kb, action.document, action.topic, action.page, ctx.page_size
                )
            elif action.kind == "entry":
                entry = ctx.qa.kb.entries.get(action.entry_id)
                reply = qa.answer_card(ctx.qa.kb, entry) if entry else None
            elif action.kind == "more":
                entry = ctx.qa.kb.entries.get(action.entry_id)
                reply = qa.more_card(ctx.qa.kb, entry) if entry and entry.more else None
        if reply is None:
            log.info("refused button payload %r from %s", payload[:80], ctx.incoming.channel)
            return [Reply(texts.STALE_BUTTON, [[browse.menu_button()]])]
        return [reply]

    async def _on_text(self, ctx: Context, text: str) -> list[Reply]:
        stripped = text.strip()
        if stripped.startswith("/"):
            command, _, argument = stripped.partition(" ")
            command = command.split("@", 1)[0].lower()
            if command == "/start":
                greeting = browse.start(ctx.qa.kb, ctx.incoming.user_name)
                if argument.strip() and ctx.incoming.chat_kind is ChatKind.PRIVATE:
                    return [await account.redeem(ctx, argument.strip()), greeting]
                return [greeting]
            if command in ("/toi", "/whoami"):
                return [await account.whoami(ctx)]
            if command in ("/lienketzalo", "/lienkettelegram", "/lienkettaikhoan"):
                return [await account.link_code(ctx)]
            if command == "/huylienkettaikhoan":
                return [await account.unlink_command(ctx)]
            if command == "/thuhoi":
                return [await revoke.command(ctx, argument)]
            if command == "/lienket":
                return [await groups.link_command(ctx, argument)]
            if command == "/huylienket":
                return [await groups.unlink_command(ctx)]
            if command == "/nhom":
                return [await groups.groups_command(ctx)]
            if command == "/moi":
                return [await groups.invite_command(ctx, argument, self.bot_username)]
            if command in ("/help", "/trogiup", "/huongdan"):
                return [browse.help_reply(ctx.incoming.chat_kind)]
            if command in ("/menu", "/danhmuc"):
                return [browse.main_menu(ctx.qa.kb)]
            if command in ("/hoi", "/h"):
                return await qa.ask(ctx, argument)
            if command == "/thongbao":
                return [await broadcast_composer.command(ctx, argument)]
            if command in ("/huy", "/hủy"):
                cancelled = await confirm.cancel(ctx)  # a confirmation being made, if any
                return [cancelled or await broadcast_composer.quit_command(ctx)]
            if command == "/daquantriet":
                return [await confirm.command(ctx, argument)]
            if command == "/dahoc":
                return [await confirm.studied(ctx)]
            if command == "/baocao":
                return [await reports_chat.command(ctx, argument)]
            if command == question_review.COMMAND:
                return [await question_review.command(ctx, argument)]
            if command == "/dotquantriet":
                return [await reports_chat.campaign_command(ctx, argument)]
            if len(command) > 1 and command[1:].isascii() and command[1:].isalnum():
                return [Reply(texts.UNKNOWN_COMMAND.format(command=command[:32]),
                              [[browse.menu_button()]])]
        incoming = ctx.incoming
        live = await dialogs.live_kinds(ctx.session, incoming.channel, incoming.chat_id,
                                        incoming.user_id, ctx.now)
        if incoming.chat_kind is ChatKind.PRIVATE and broadcast_composer.KIND in live:
            composed = await broadcast_composer.on_text(ctx, text)  # a live draft comes first
            if composed is not None:
                return [composed]
        if (searched := await question_review.on_text(ctx, text, live)) is not None:
            return [searched]
        # "đã quán triệt", "tôi đã học", or an answer to a confirmation under way
        confirmed = await confirm.on_text(ctx, text, in_dialog=confirm.KIND in live)
        if confirmed is not None:
            return [confirmed]
        if ctx.incoming.chat_kind is ChatKind.PRIVATE and account.looks_like_code(stripped):
            return [await account.redeem(ctx, stripped)]
        if fold(stripped).strip(" !.?") in GREETINGS:
            return [browse.start(ctx.qa.kb, ctx.incoming.user_name)]
        set_aside = await self._set_aside(ctx, live)
        return [*await qa.ask(ctx, text), *set_aside]
