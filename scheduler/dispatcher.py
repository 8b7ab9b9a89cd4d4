"""The dispatcher: drains one channel's pending delivery rows within the platform's limits.

- One dispatcher per channel at a time: it holds the channel's lease (`scheduler/lease.py`);
  another process waits as a standby and takes over when the lease expires (PostgreSQL: within
  about a second of the holder's death, through an advisory lock). A holder that loses the
  lease stops claiming and drops the rows it had queued; its successor recovers them.
- Rows are claimed in small batches (status `sending`), sent by a few concurrent workers and
  their outcomes written back every `flush_interval`. In flight at any moment: at most
  `concurrency − 1 + batch_size` claimed rows plus those sent since the last write (about
  rate × flush_interval); only these can be sent twice after a crash (`recover` puts them back
  to pending).
- Pace: one global `aiolimiter.AsyncLimiter` (messages/second for the whole bot) and one per
  chat (one message per `per_chat_interval`). A 429 pauses the whole channel for `retry_after`.
- Network errors before the platform accepted the message are retried with exponential back-off
  (`not_before`), up to `max_attempts`; a timeout after sending is `uncertain`, never resent.
- 403 marks the chat inactive; a group that became a supergroup is followed, once.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from aiolimiter import AsyncLimiter
from sqlalchemy import and_, or_, select, update
from sqlalchemy.ext.asyncio import async_sessionmaker

from bot.db.models import Broadcast, BroadcastRun, Chat, Delivery, utcnow
from bot.metrics import METRICS
from bot.services.people import migrate_chat
from scheduler import outcomes
from scheduler.broadcasts import RunStats
from scheduler.lease import Lease
from scheduler.runs import finish_runs
from scheduler.senders import Button, Sender, parse_buttons

log = logging.getLogger(__name__)

MAX_RATE_LIMITED = 20  # 429s for one message before it goes back to the queue
PER_CHAT_LIMITERS = 4096

RunFinished = Callable[[Broadcast, RunStats], Awaitable[None]]


class DispatcherBusy(RuntimeError):
    """Another live process is dispatching this channel."""

    def __init__(self, channel: str, holder: str | None = None) -> None:
        super().__init__(channel)
        self.channel = channel
        self.holder = holder


@dataclass(frozen=True)
class Job:
    id: int
    run_id: int
    chat_pk: int
    chat_id: str
    text: str
    attempts: int
    buttons: tuple[tuple[Button, ...], ...] = ()


@dataclass
class Result:
    id: int
    run_id: int
    status: str
    attempts: int
    error: str | None = None
    message_id: str | None = None
    not_before: datetime | None = None


@dataclass
class DispatchStats:
    sent: int = 0
    failed: int = 0
    uncertain: int = 0
    skipped: int = 0
    retried: int = 0
    rate_limited: int = 0


@dataclass
class Limits:
    rate: float = 25.0  # messages/second, whole channel
    per_chat_interval: float = 1.0
    concurrency: int = 16
    batch_size: int = 64
    max_attempts: int = 5
    retry_base: float = 2.0
    idle_poll: float = 1.0
    flush_interval: float = 0.2


class Dispatcher:
    def __init__(self, sessions: async_sessionmaker, sender: Sender, limits: Limits, *,
                 clock: Callable[[], datetime] = utcnow,
                 on_run_finished: RunFinished | None = None,
                 lease: Lease | None = None) -> None:
        self.sessions = sessions
        self.sender = sender
        self.channel = sender.channel
        self.limits = limits
        self.clock = clock
        self.on_run_finished = on_run_finished
        self.stats = DispatchStats()
        unlimited = limits.rate <= 0
        # capacity 1, refilled `rate` times a second: an even pace with no start-up burst
        # (a full bucket of `rate` at once would exceed the platform's per-second limit)
        self._limiter = None if unlimited else AsyncLimiter(1, 1.0 / limits.rate)
        self._chat_limiters: OrderedDict[str, AsyncLimiter] = OrderedDict()
        self._paused_until = 0.0  # loop time until which a 429 holds the channel
        self._wake = asyncio.Event()
        self._results: list[Result] = []
        self._busy = 0
        self.lease = lease
        self._lost_lease = False
        self.holds_lease = False  # dispatching now (lease held, or no lease); health, metrics

    def wake(self) -> None:
        """New rows may be waiting (a broadcast fired, a run was resumed)."""
        self._wake.set()

    # -- outbox --------------------------------------------------------------------------------
    async def recover(self) -> int:
        """After a crash: rows left `sending` by this channel's (single) dispatcher go back to
        pending. They are the only ones that may be sent twice."""
        async with self.sessions() as session, session.begin():
            result = await session.execute(
                update(Delivery).where(Delivery.channel == self.channel,
                                       Delivery.status == "sending")
                .values(status="pending", updated_at=self.clock()))
        if result.rowcount:
            log.warning("%s: %d message(s) were in flight when the process stopped; sending "
                        "them again", self.channel, result.rowcount)
        return int(result.rowcount or 0)

    async def _claim(self, limit: int) -> list[Job]:
        now = self.clock()
        async with self.sessions() as session, session.begin():
            rows = (await session.execute(
                select(Delivery.id, Delivery.run_id, Delivery.chat_id, Chat.external_id,
                       Chat.active, BroadcastRun.text, Delivery.attempts, BroadcastRun.buttons)
                .join(Chat, Chat.id == Delivery.chat_id)
                .join(BroadcastRun, BroadcastRun.id == Delivery.run_id)
                .join(Broadcast, Broadcast.id == BroadcastRun.broadcast_id)
                .where(Delivery.channel == self.channel, Delivery.status == "pending",
                       or_(Delivery.not_before.is_(None), Delivery.not_before <= now),
                       Broadcast.status != "paused")
                .order_by(Delivery.id).limit(limit)
                .with_for_update(of=Delivery, skip_locked=True)
            )).all()
            if not rows:
                return []
            gone = [r.id for r in rows if not r.active]
            live = [r for r in rows if r.active]
            if gone:
                await session.execute(update(Delivery).where(Delivery.id.in_(gone)).values(
                    status="skipped", last_error=outcomes.REASON_INACTIVE, updated_at=now))
                self._results.extend(Result(i, r.run_id, "skipped", r.attempts)
                                     for i, r in zip(gone, [r for r in rows if not r.active],
                                                     strict=True))
                self.stats.skipped += len(gone)
                METRICS.delivery(self.channel, "skipped", len(gone))
            if live:  # only rows still pending: never a row someone else has claimed
                claimed = set((await session.scalars(
                    update(Delivery)
                    .where(Delivery.id.in_([r.id for r in live]), Delivery.status == "pending")
                    .values(status="sending", updated_at=now)
                    .returning(Delivery.id))).all())
                live = [r for r in live if r.id in claimed]
        return [Job(r.id, r.run_id, r.chat_id, r.external_id, r.text, r.attempts,
                    parse_buttons(r.buttons)) for r in live]

    async def _flush(self) -> None:
        if not self._results:
            return
        results, self._results = self._results, []
        await self._close_runs(results, sorted({r.run_id for r in results}))

    async def _sweep(self) -> None:
        """Close runs with nothing left to send that no outcome of ours touched (every row
        skipped by a cancel, a run that reached no chat)."""
        await self._close_runs([], None)

    async def _close_runs(self, results: list[Result], run_ids: list[int] | None) -> None:
        try:
            finished = await self._write(results, run_ids)
        except BaseException:
            self._results[:0] = results  # keep them for the next flush
            raise
        for broadcast, stats in finished:
            log.info("%s: broadcast %s run %s finished: %s", self.channel, broadcast.id,
                     stats.run.id, stats.by_status)
            if self.on_run_finished is not None:
                try:
                    await self.on_run_finished(broadcast, stats)
                except Exception:  # a summary that cannot be sent must not stop delivery
                    log.exception("could not send the summary of run %s", stats.run.id)

    async def _write(self, results: list[Result],
                     run_ids: list[int] | None) -> list[tuple[Broadcast, RunStats]]:
        now = self.clock()
        writes = [r for r in results if r.status != "skipped"]
        async with self.sessions() as session, session.begin():
            if writes:
                await session.execute(update(Delivery), [
                    {"id": r.id, "status": r.status, "attempts": r.attempts,
                     "last_error": (r.error or None) and r.error[:255],
                     "platform_message_id": r.message_id, "not_before": r.not_before,
                     "updated_at": now}
                    for r in writes
                ])
            return await finish_runs(session, now, run_ids)

    # -- sending -------------------------------------------------------------------------------
    def _chat_limiter(self, chat_id: str) -> AsyncLimiter:
        limiter = self._chat_limiters.get(chat_id)
        if limiter is None:
            limiter = AsyncLimiter(1, self.limits.per_chat_interval)
            self._chat_limiters[chat_id] = limiter
            if len(self._chat_limiters) > PER_CHAT_LIMITERS:
                self._chat_limiters.popitem(last=False)
        else:
            self._chat_limiters.move_to_end(chat_id)
        return limiter

    async def _wait_if_paused(self) -> None:
        loop = asyncio.get_running_loop()
        # a loop, not one sleep: another 429 may extend the pause while this one waits
        while (remaining := self._paused_until - loop.time()) > 0:  # noqa: ASYNC110
            await asyncio.sleep(remaining)

    async def _send_paced(self, chat_id: str, text: str,
                          buttons: tuple[tuple[Button, ...], ...] = ()) -> str:
        await self._wait_if_paused()
        if self.limits.per_chat_interval > 0:
            await self._chat_limiter(chat_id).acquire()
        if self._limiter is not None:
            await self._limiter.acquire()
        await self._wait_if_paused()
        return await self.sender.send(chat_id, text, buttons)

    async def _deliver(self, job: Job) -> Result:
        attempts, chat_id, moved = job.attempts, job.chat_id, False
        rate_limited = 0
        while True:
            attempts += 1
            try:
                message_id = await self._send_paced(chat_id, job.text, job.buttons)
                self.stats.sent += 1
                return Result(job.id, job.run_id, "sent", attempts, message_id=message_id)
            except outcomes.RateLimited as exc:
                self.stats.rate_limited += 1
                METRICS.got_rate_limited(self.channel)
                rate_limited += 1
                loop = asyncio.get_running_loop()
                self._paused_until = max(self._paused_until, loop.time() + exc.retry_after)
                log.warning("%s: 429, pausing the channel for %.1f s", self.channel,
                            exc.retry_after)
                if rate_limited >= MAX_RATE_LIMITED:
                    return Result(job.id, job.run_id, "pending", attempts, exc.reason)
            except outcomes.ChatMoved as exc:
                if moved:
                    return self._failed(job, attempts, "nhóm chuyển mã nhiều lần")
                moved = True
                if not await self._follow_migration(job, exc.new_id):
                    self.stats.skipped += 1
                    return Result(job.id, job.run_id, "skipped", attempts,
                                  outcomes.REASON_DUPLICATE_AFTER_MIGRATION)
                chat_id = exc.new_id
            except outcomes.ChatGone as exc:
                await self._mark_inactive(job.chat_pk)
                log.info("%s: chat %s is gone (%s)", self.channel, chat_id, exc.reason)
                return self._failed(job, attempts, outcomes.REASON_GONE)
            except outcomes.ChatNotFound:
                await self._mark_inactive(job.chat_pk)
                return self._failed(job, attempts, outcomes.REASON_NOT_FOUND)
            except outcomes.Uncertain as exc:
                self.stats.uncertain += 1
                log.warning("%s: no answer for chat %s: %s", self.channel, chat_id, exc.reason)
                return Result(job.id, job.run_id, "uncertain", attempts, outcomes.REASON_TIMEOUT)
            except outcomes.Transient as exc:
                if attempts >= self.limits.max_attempts:
                    return self._failed(job, attempts, outcomes.REASON_NETWORK)
                self.stats.retried += 1
                METRICS.retried(self.channel)
                delay = self.limits.retry_base * 2 ** (attempts - 1)
                return Result(job.id, job.run_id, "pending", attempts, exc.reason,
                              not_before=self.clock() + timedelta(seconds=delay))
            except outcomes.DeliveryError as exc:
                return self._failed(job, attempts, exc.reason)
            except Exception:
                log.exception("%s: unexpected error sending delivery %s", self.channel, job.id)
                return self._failed(job, attempts, "lỗi không xác định")

    def _failed(self, job: Job, attempts: int, reason: str) -> Result:
        self.stats.failed += 1
        return Result(job.id, job.run_id, "failed", attempts, reason)

    async def _mark_inactive(self, chat_pk: int) -> None:
        async with self.sessions() as session, session.begin():
            await session.execute(update(Chat).where(Chat.id == chat_pk).values(
                active=False, updated_at=self.clock()))

    async def _follow_migration(self, job: Job, new_id: str) -> bool:
        """Move the chat to its new id. False when the new id is already a chat of its own that
        this run reaches (its own row delivers there: this one must not send twice)."""
        async with self.sessions() as session, session.begin():
            twin = await session.scalar(select(Delivery.id).join(
                Chat, and_(Chat.id == Delivery.chat_id, Chat.channel == self.channel,
                           Chat.external_id == new_id)).where(Delivery.run_id == job.run_id))
            if twin is not None:
                await session.execute(update(Chat).where(Chat.id == job.chat_pk).values(
                    active=False, updated_at=self.clock()))
                return False
            await migrate_chat(session, self.channel, job.chat_id, new_id)
        return True

    # -- loop ----------------------------------------------------------------------------------
    async def _worker(self, queue: asyncio.Queue[Job]) -> None:
        while True:
            job = await queue.get()
            try:
                result = await self._deliver(job)
                self._results.append(result)  # after the await: _flush swaps the list
                METRICS.delivery(self.channel, result.status)  # final statuses only
            finally:
                self._busy -= 1
                queue.task_done()

    async def _flusher(self, stop: asyncio.Event) -> None:
        """Write outcomes every `flush_interval` until stopped (never cancelled mid-write), and
        renew the lease; losing it (this process stalled past its expiry) stops the claiming."""
        loop = asyncio.get_running_loop()
        renewed = loop.time()
        while not stop.is_set():
            due = self.lease is not None and (
                loop.time() - renewed >= self.lease.renew_interval)
            if self.lease is not None and due:
                try:
                    self._lost_lease = not await self.lease.acquire()
                    self.holds_lease = not self._lost_lease
                    renewed = loop.time()
                except Exception:
                    log.exception("%s: could not renew the dispatcher lease", self.channel)
                if self._lost_lease:
                    log.error("%s: lost the dispatcher lease; stopping", self.channel)
            try:
                await asyncio.wait_for(stop.wait(), self.limits.flush_interval)
            except TimeoutError:
                pass
            try:
                await self._flush()
            except Exception:
                log.exception("%s: could not record delivery outcomes; will retry",
                              self.channel)

    async def _take_lease(self, stop: asyncio.Event, until_idle: bool) -> bool:
        """Wait for the channel's lease (a standby while another process holds it). With
        until_idle, give up after one lease period: a live holder is sending already."""
        if self.lease is None:
            return True
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.lease.ttl.total_seconds() + 2
        announced = False
        while not await self.lease.acquire():
            if not announced:
                log.info("%s: another process is sending; waiting as a standby", self.channel)
                announced = True
            if until_idle and loop.time() > deadline:
                raise DispatcherBusy(self.channel)
            try:
                await asyncio.wait_for(stop.wait(), self.lease.poll_interval)
                return False
            except TimeoutError:
                pass
        return True

    async def run(self, stop: asyncio.Event, *, until_idle: bool = False) -> None:
        """Deliver until `stop` is set (or, with until_idle, until nothing is claimable)."""
        if not await self._take_lease(stop, until_idle):
            return
        self._lost_lease = False
        self.holds_lease = True
        try:
            await self._run(stop, until_idle)
        finally:
            self.holds_lease = False
            if self.lease is not None and not self._lost_lease:
                await self.lease.release()

    async def _run(self, stop: asyncio.Event, until_idle: bool) -> None:
        await self.recover()
        queue: asyncio.Queue[Job] = asyncio.Queue()
        workers = [asyncio.create_task(self._worker(queue))
                   for _ in range(max(1, self.limits.concurrency))]
        flush_stop = asyncio.Event()
        flusher = asyncio.create_task(self._flusher(flush_stop))
        try:
            while not stop.is_set() and not self._lost_lease:
                if self._busy < self.limits.concurrency:
                    await self._wait_if_paused()
                    jobs = await self._claim(self.limits.batch_size)
                    for job in jobs:
                        self._busy += 1
                        queue.put_nowait(job)
                    if jobs:
                        continue
                    if self._busy == 0:
                        await self._flush()
                        await self._sweep()
                        if until_idle and self._busy == 0 and not await self._claimable():
                            break
                        if until_idle:
                            continue
                self._wake.clear()
                try:
                    await asyncio.wait_for(self._wake.wait(), self.limits.idle_poll
                                           if self._busy == 0 else 0.05)
                except TimeoutError:
                    pass
            if self._lost_lease:  # the successor recovers these rows: do not send them
                while not queue.empty():
                    queue.get_nowait()
                    self._busy -= 1
                    queue.task_done()
            await queue.join()
        finally:
            for task in workers:
                task.cancel()
            await asyncio.gather(*workers, return_exceptions=True)
            flush_stop.set()
            await asyncio.gather(flusher, return_exceptions=True)
            await self._flush()

    async def drain(self) -> None:
        """Send everything that can be sent now, then return (tests, benchmarks, CLI)."""
        await self.run(asyncio.Event(), until_idle=True)

    async def _claimable(self) -> bool:
        now = self.clock()
        async with self.sessions() as session:
            return await session.scalar(
                select(Delivery.id)
                .join(BroadcastRun, BroadcastRun.id == Delivery.run_id)
                .join(Broadcast, Broadcast.id == BroadcastRun.broadcast_id)
                .where(Delivery.channel == self.channel, Delivery.status == "pending",
                       or_(Delivery.not_before.is_(None), Delivery.not_before <= now),
                       Broadcast.status != "paused").limit(1)) is not None

