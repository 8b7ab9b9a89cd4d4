"""Delivery as a running service: APScheduler wakes it at each broadcast's next firing (and
every `broadcast_sync_seconds` in case another process changed the database), runs are created
from the database, one dispatcher per channel drains the outbox, creators get summaries.

APScheduler keeps no state of its own here (memory job store, rebuilt from the database)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import select

from bot.app import App
from bot.db.models import Broadcast, User, utcnow
from scheduler import reminders, summaries
from scheduler.broadcasts import RunStats, aware
from scheduler.dispatcher import Dispatcher, DispatcherBusy, Limits
from scheduler.lease import Lease
from scheduler.outcomes import DeliveryError
from scheduler.runs import FireReport, finish_runs, fire_due
from scheduler.senders import Sender

if TYPE_CHECKING:
    from handlers.router import Router
    from handlers.types import Reply

log = logging.getLogger(__name__)
JOB_PREFIX = "broadcast-"


def limits_for(app: App, channel: str) -> Limits:
    s = app.settings
    return Limits(
        rate=s.broadcast_telegram_rate if channel == "telegram" else s.broadcast_zalo_rate,
        per_chat_interval=s.broadcast_per_chat_interval,
        concurrency=s.broadcast_concurrency,
        batch_size=s.broadcast_batch_size,
        max_attempts=s.broadcast_max_attempts,
        retry_base=s.broadcast_retry_base_seconds,
    )


def build_senders(app: App, *, demo: bool = False) -> dict[str, Sender]:
    """A sender per configured platform, and the demo's outbox file when `demo` (the database
    has the demo's console groups: `has_demo_chats`)."""
    s = app.settings
    senders: dict[str, Sender] = {}
    if demo:
        from scheduler.senders import ConsoleOutboxSender

        senders["console"] = ConsoleOutboxSender(s.demo_outbox_file, s.tz)
    if s.telegram_bot_token:
        from scheduler.senders import TelegramSender

        senders["telegram"] = TelegramSender(
            s.telegram_bot_token, s.telegram_api_base_url, timeout=s.broadcast_request_timeout,
            pool_size=s.broadcast_concurrency + 4)
    if s.zalo_bot_token:
        from bot.channels.zalo_client import ZaloClient
        from scheduler.senders import ZaloSender

        client = ZaloClient(s.zalo_api_base_url, s.zalo_bot_token,
                            request_timeout=s.broadcast_request_timeout)
        senders["zalo"] = ZaloSender(client,
                                     default_retry_after=s.broadcast_default_retry_after,
                                     remember_options=_chat_options(app))
    return senders


async def has_demo_chats(app: App) -> bool:
    from bot.services.demo import has_console_chats

    async with app.sessions() as session:
        return await has_console_chats(session)


def _chat_options(app: App):  # type: ignore[no-untyped-def]
    """Keep a broadcast's buttons as numbered options anyone in the Zalo chat may answer."""
    from bot.services import dialogs

    ttl = timedelta(hours=app.settings.zalo_broadcast_options_ttl_hours)

    async def remember(chat_id: str, payloads: list[str]) -> None:
        async with app.sessions() as session, session.begin():
            await dialogs.save_options(session, "zalo", chat_id, dialogs.ANYONE, payloads, ttl)

    return remember


class DeliveryService:
    def __init__(self, app: App, senders: dict[str, Sender], *,
                 clock: Callable[[], datetime] = utcnow) -> None:
        self.app = app
        self.senders = senders
        self.clock = clock
        self.dispatchers = {
            channel: Dispatcher(app.sessions, sender, limits_for(app, channel), clock=clock,
                                on_run_finished=self.summarize,
                                lease=Lease(app.sessions, channel,
                                            ttl=app.settings.dispatcher_lease_seconds))
            for channel, sender in senders.items()
        }
        self.scheduler = AsyncIOScheduler(timezone=UTC)
        self._tick_lock = asyncio.Lock()
        self._pruned_at: datetime | None = None

    # -- firings -------------------------------------------------------------------------------
    async def tick(self) -> FireReport:
        """Fire what is due, tell creators about missed or empty runs, wake the dispatchers."""
        settings = self.app.settings
        async with self._tick_lock:
            now = self.clock()
            async with self.app.sessions() as session, session.begin():
                report = await fire_due(session, self.app.kb, now=now, tz=settings.tz,
                                        grace=timedelta(minutes=settings.broadcast_grace_minutes))
                report.runs += await reminders.send_due(
                    session, now=now, tz=settings.tz, offsets=settings.reminder_offsets_days,
                    hour=settings.reminder_hour)
                empty = await finish_runs(session, now, report.runs)
            for notice in report.notices:
                await self.notify(notice.user_id, notice.text)
            for broadcast, stats in empty:
                await self.summarize(broadcast, stats)
            for dispatcher in self.dispatchers.values():
                dispatcher.wake()
            await self._sync_jobs()
            await self._prune(now)
        return report

    async def _prune(self, now: datetime) -> None:
        """Once an hour: drop handled updates from the inbox (kept for deduplication for
        `processed_updates_keep_days`), expired dialogs and questions older than
        `question_log_keep_days`, and delete the files behind Zalo links once the links have
        expired (FILE_LINK_TTL_HOURS)."""
        if self._pruned_at is not None and now - self._pruned_at < timedelta(hours=1):
            return
        from bot import inbox
        from bot.services import dialogs, question_stats

        settings = self.app.settings
        keep = timedelta(days=settings.processed_updates_keep_days)
        async with self.app.sessions() as session, session.begin():
            removed = await inbox.prune(session, handled_before=now - keep)
            removed += await dialogs.prune(session)
            removed += await question_stats.prune(session, settings.question_log_keep_days, now)
        self._pruned_at = now
        if removed:
            log.info("pruned %d old handled updates, expired dialogs and old questions", removed)
        try:
            files = await asyncio.to_thread(self.app.files.prune,
                                            settings.file_link_ttl_hours * 3600, now.timestamp())
        except OSError as exc:  # an unreadable FILES_DIR must not stop the firings
            log.warning("could not delete expired files in %s: %s", settings.files_dir, exc)
        else:
            if files:
                log.info("deleted %d file(s) whose links expired", files)

    def poke(self) -> None:
        """A broadcast was just created or resumed in this process: look now."""
        if self.scheduler.running:
            self.scheduler.add_job(self.tick, id="tick-now", replace_existing=True)

    async def _sync_jobs(self) -> None:
        if not self.scheduler.running:
            return
        async with self.app.sessions() as session:
            rows = (await session.execute(
                select(Broadcast.id, Broadcast.next_fire_at)
                .where(Broadcast.status == "active", Broadcast.next_fire_at.is_not(None))
            )).all()
        wanted = {f"{JOB_PREFIX}{bid}": aware(at) for bid, at in rows}
        for job in self.scheduler.get_jobs():
            if job.id.startswith(JOB_PREFIX) and job.id not in wanted:
                job.remove()
        now = self.clock()
        for job_id, at in wanted.items():
            self.scheduler.add_job(self.tick, DateTrigger(run_date=max(at, now)), id=job_id,
                                   replace_existing=True, misfire_grace_time=None)

    # -- messages to creators ------------------------------------------------------------------
    async def summarize(self, broadcast: Broadcast, stats: RunStats) -> None:
        if broadcast.created_by:
            await self.notify(broadcast.created_by,
                              summaries.run_summary(broadcast, stats, self.app.settings.tz))

    async def notify(self, user_id: int, text: str) -> None:
        async with self.app.sessions() as session:
            user = await session.get(User, user_id)
        sender = self.senders.get(user.channel) if user else None
        if user is None or sender is None:
            log.info("no channel to tell user %s: %s", user_id, text[:120])
            return
        try:
            await sender.send(user.external_id, text)
        except DeliveryError as exc:
            log.warning("could not tell user %s: %s", user_id, exc.reason)

    async def tell(self, user_id: int, reply: Reply) -> None:
        """A message with buttons for one user's private chat, on that user's channel (a link
        request to confirm, a role taken back): the router's `on_notice`."""
        async with self.app.sessions() as session:
            user = await session.get(User, user_id)
        sender = self.senders.get(user.channel) if user else None
        if user is None or sender is None:
            log.info("no channel to tell user %s: %s", user_id, reply.text[:120])
            return
        buttons = tuple(tuple((b.label, b.payload) for b in row) for row in reply.buttons)
        if user.channel == "zalo" and buttons:
            # numbered options: the user's own, so they come before any older ones of theirs
            from bot.services import dialogs

            ttl = timedelta(minutes=self.app.settings.zalo_options_ttl_minutes)
            async with self.app.sessions() as session, session.begin():
                await dialogs.save_options(session, "zalo", user.external_id, user.external_id,
                                           [b.payload for row in reply.buttons for b in row],
                                           ttl)
        try:
            await sender.send(user.external_id, reply.text, buttons)
        except DeliveryError as exc:
            log.warning("could not tell user %s: %s", user_id, exc.reason)

    def attach(self, router: Router) -> None:
        """Let the chat router wake this service and reach other users' private chats."""
        router.on_broadcast_created = self.poke
        router.on_notice = self.tell

    # -- lifecycle -----------------------------------------------------------------------------
    async def refuse_second_process(self) -> None:
        """SQLite allows one bot process: raise DispatcherBusy when a live process holds a
        channel's lease, instead of waiting as a standby (PostgreSQL: no-op, standbys wait).
        A lease left by a process of this host that no longer exists is taken over."""
        for channel, dispatcher in self.dispatchers.items():
            lease = dispatcher.lease
            if lease is not None and lease.single_process and not await lease.acquire():
                raise DispatcherBusy(channel, await lease.current_holder())

    @staticmethod
    async def _dispatch(dispatcher: Dispatcher, stop: asyncio.Event) -> None:
        """Dispatch while holding the channel's lease; a standby again if it is ever lost."""
        while not stop.is_set():
            try:
                await dispatcher.run(stop)
            except Exception:  # a database hiccup must not stop the bot: stand by, try again
                log.exception("%s: dispatcher stopped; trying again in 5 s", dispatcher.channel)
                try:
                    await asyncio.wait_for(stop.wait(), 5)
                except TimeoutError:
                    pass

    async def run(self, stop: asyncio.Event) -> None:
        for sender in self.senders.values():
            await sender.start()
        self.scheduler.start()
        self.scheduler.add_job(
            self.tick, IntervalTrigger(seconds=self.app.settings.broadcast_sync_seconds),
            id="sync", next_run_time=datetime.now(UTC), misfire_grace_time=None,
            coalesce=True, max_instances=1)
        try:
            await asyncio.gather(*(self._dispatch(d, stop) for d in self.dispatchers.values()),
                                 stop.wait())
        finally:
            # a firing in progress ends before the process closes the database under it (on a
            # stop, or when another part failed at start-up): cancelled mid-query it could hang
            self.scheduler.pause()
            async with self._tick_lock:
                self.scheduler.shutdown(wait=False)
            for sender in self.senders.values():
                await sender.close()
