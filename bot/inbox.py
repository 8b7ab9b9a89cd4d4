"""The durable inbox of incoming updates (Telegram and Zalo, webhook and polling).

- `accept` commits the raw update (its JSON) before the platform is told it arrived: the webhook
  answers 200 only after the commit, polling advances its offset only after it. The unique
  (channel, update_key) deduplicates re-deliveries, across processes.
- `run` handles pending rows: it claims them (`FOR UPDATE SKIP LOCKED` on PostgreSQL, so several
  processes share the work; SQLite has one process), sets a claim that expires after
  `inbox_claim_seconds` (renewed while the process lives, so a long handling is not taken over),
  hands each body to the channel's handler (one chat's updates in order, one at a time, in a
  process), and marks the row done after the handler has returned (its replies sent). A failure
  is retried after a back-off, at most `inbox_max_attempts` times in all, then the row is parked
  as `failed` (logged); other rows go on. A row cannot be done in the same transaction as its
  effects (the replies go over the network), so handling is at least once:
- On start, rows left claimed by a process of this host that no longer runs are released at
  once (a restart after a crash drains them without waiting for the claim to expire).

Guarantee: an acknowledged update is never lost; it is handled at least once. An update is
handled (answered) twice only if the process dies, or the database fails, between the handler's
replies and the row being marked done: at most the updates in flight at that moment — per
process `*_concurrent_updates` — and an update retried after a failure may repeat the replies
sent before that failure.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.db.models import InboxUpdate, utcnow
from bot.web import BadUpdate
from scheduler.lease import holder_id, holder_is_dead

log = logging.getLogger(__name__)

PENDING, DONE, FAILED = "pending", "done", "failed"
STOP_GRACE_SECONDS = 10.0  # on stop, updates being handled get this long to finish


class Accepted:
    """What `Inbox.accept` did with an update."""

    NEW, DUPLICATE, BUSY = "new", "duplicate", "busy"


# handler(body, last_attempt): raises to have the update retried (or parked on the last attempt)
Handler = Callable[[dict[str, Any], bool], Awaitable[None]]
# the chat an update belongs to: updates of one chat are handled one after the other, in order
ChatOf = Callable[[dict[str, Any]], object]


def unique_key() -> str:
    """A key for an update without an id of its own: never taken for a re-delivery."""
    return f"nokey:{uuid.uuid4().hex}"


async def store(session: AsyncSession, channel: str, key: str, body: dict[str, Any],
                now: datetime) -> bool:
    """Insert the update; False if this (channel, key) is already in the inbox."""
    dialect = session.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    result = await session.execute(
        insert(InboxUpdate).values(
            channel=channel, update_key=key[:128],
            # ASCII: a lone surrogate ("\ud83d" of a broken emoji) stays an escape instead of
            # failing the insert, which would hold up every update behind it
            body=json.dumps(body, separators=(",", ":")),
            state=PENDING, attempts=0, received_at=now)
        .on_conflict_do_nothing(index_elements=["channel", "update_key"]))
    return bool(result.rowcount)


async def backlog(session: AsyncSession, channel: str, limit: int) -> int:
    """Pending updates of the channel, counted up to `limit` (cheap when the inbox is long)."""
    sub = (select(InboxUpdate.id)
           .where(InboxUpdate.channel == channel, InboxUpdate.state == PENDING)
           .limit(limit).subquery())
    return int(await session.scalar(select(func.count()).select_from(sub)) or 0)


async def claim(session: AsyncSession, channel: str, holder: str, limit: int, *,
                now: datetime, claim_for: timedelta) -> list[tuple[int, str, int]]:
    """Claim up to `limit` pending rows nobody holds, oldest first: (id, body, attempts)."""
    ids = (select(InboxUpdate.id)
           .where(InboxUpdate.channel == channel, InboxUpdate.state == PENDING,
                  or_(InboxUpdate.claimed_until.is_(None), InboxUpdate.claimed_until <= now))
           .order_by(InboxUpdate.id).limit(limit)
           .with_for_update(skip_locked=True))
    rows = await session.execute(
        update(InboxUpdate).where(InboxUpdate.id.in_(ids.scalar_subquery()))
        .values(claimed_by=holder, claimed_until=now + claim_for,
                attempts=InboxUpdate.attempts + 1)
        .returning(InboxUpdate.id, InboxUpdate.body, InboxUpdate.attempts)
        .execution_options(synchronize_session=False))
    return sorted((int(i), str(b), int(a)) for i, b, a in rows.all())


async def release_dead(session: AsyncSession, channel: str, now: datetime) -> int:
    """Release the claims of processes of this host that no longer run; how many rows."""
    holders = (await session.scalars(
        select(InboxUpdate.claimed_by).distinct()
        .where(InboxUpdate.channel == channel, InboxUpdate.state == PENDING,
               InboxUpdate.claimed_until > now))).all()
    dead = [h for h in holders if h and holder_is_dead(h)]
    if not dead:
        return 0
    result = await session.execute(
        update(InboxUpdate)
        .where(InboxUpdate.channel == channel, InboxUpdate.state == PENDING,
               InboxUpdate.claimed_by.in_(dead))
        .values(claimed_by=None, claimed_until=None)
        .execution_options(synchronize_session=False))
    return int(result.rowcount or 0)


async def prune(session: AsyncSession, *, handled_before: datetime) -> int:
    """Forget handled and parked updates older than the platforms ever re-deliver."""
    result = await session.execute(delete(InboxUpdate).where(
        InboxUpdate.state != PENDING, InboxUpdate.received_at < handled_before))
    return int(result.rowcount or 0)


class Inbox:
    """One channel's inbox in this process: accepts updates and handles them."""

    def __init__(self, sessions: async_sessionmaker, channel: str, handler: Handler, *,
                 concurrency: int, max_backlog: int | Callable[[], int], max_attempts: int,
                 retry_base: float,
                 claim_seconds: float, poll_seconds: float, chat_of: ChatOf | None = None,
                 clock: Callable[[], datetime] = utcnow) -> None:
        self.sessions = sessions
        self.channel = channel
        self.handler = handler
        self.concurrency = max(1, concurrency)
        self._max_backlog = max_backlog
        self.max_attempts = max(1, max_attempts)
        self.retry_base = retry_base
        self.claim_for = timedelta(seconds=claim_seconds)
        self.poll_seconds = poll_seconds
        self.clock = clock
        self.holder = holder_id()
        self._wake = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()
        self.chat_of = chat_of
        self._chats: dict[str, tuple[asyncio.Lock, list[int]]] = {}  # chat → lock, users

    @property
    def max_backlog(self) -> int:
        value = self._max_backlog
        return value() if callable(value) else value

    @classmethod
    def for_channel(cls, app: Any, channel: str, handler: Handler,
                    chat_of: ChatOf | None = None) -> Inbox:
        s = app.settings
        return cls(app.sessions, channel, handler, chat_of=chat_of,
                   concurrency=getattr(s, f"{channel}_concurrent_updates"),
                   max_backlog=lambda: getattr(s, f"{channel}_webhook_max_backlog"),
                   max_attempts=s.inbox_max_attempts, retry_base=s.inbox_retry_base_seconds,
                   claim_seconds=s.inbox_claim_seconds, poll_seconds=s.inbox_poll_seconds)

    # -- receiving -----------------------------------------------------------------------------
    async def accept(self, key: str, body: dict[str, Any]) -> str:
        """Commit one update (NEW or DUPLICATE), or BUSY when the backlog is full."""
        return (await self.accept_many([(key, body)]))[0]

    async def accept_many(self, updates: list[tuple[str, dict[str, Any]]], *,
                          check_backlog: bool = True) -> list[str]:
        """Commit a batch in one transaction (a polled batch); BUSY for all when the backlog
        is full (pollers check `full()` before fetching instead, and store what they got).
        The caller acknowledges the batch to the platform only after this returns."""
        now = self.clock()
        async with self.sessions() as session, session.begin():
            limit = self.max_backlog
            if check_backlog and await backlog(session, self.channel, limit) >= limit:
                return [Accepted.BUSY] * len(updates)
            outcomes = [Accepted.NEW if await store(session, self.channel, key, body, now)
                        else Accepted.DUPLICATE for key, body in updates]
        for (key, _), outcome in zip(updates, outcomes, strict=True):
            if outcome == Accepted.DUPLICATE:
                log.info("%s update %s was already received: skipped", self.channel, key)
        if Accepted.NEW in outcomes:
            self._wake.set()
        return outcomes

    async def full(self) -> bool:
        """The backlog is at its limit (pollers pause). False if the database does not answer:
        the poller then fails to store, and backs off, without acknowledging anything."""
        limit = self.max_backlog
        try:
            async with self.sessions() as session:
                return await backlog(session, self.channel, limit) >= limit
        except Exception as exc:
            log.warning("%s inbox: could not count the backlog: %s", self.channel, exc)
            return False

    # -- handling ------------------------------------------------------------------------------
    async def run(self, stop: asyncio.Event) -> None:
        """Handle pending updates until `stop`; first whatever an earlier process left."""
        loop = asyncio.get_running_loop()
        await self._recover(starting=True)
        last_recover = last_renew = loop.time()
        try:
            while not stop.is_set():
                free = self.concurrency - len(self._tasks)
                if free > 0:
                    try:
                        await self._claim(free)
                    except Exception:
                        log.exception("%s inbox: could not claim updates", self.channel)
                # woken by a new update, a free slot or a retry coming due; else poll (updates
                # accepted by other processes, claims expired)
                await self._wait(stop, self.poll_seconds)
                if self._tasks and loop.time() - last_renew > self.claim_for.total_seconds() / 3:
                    last_renew = loop.time()
                    await self._renew()
                if loop.time() - last_recover > 30 * self.poll_seconds:
                    last_recover = loop.time()
                    await self._recover(starting=False)
        finally:
            await self._finish()

    async def _renew(self) -> None:
        """Extend the claims on updates still being handled here (a long report), so another
        process does not take them over while this one is alive."""
        try:
            async with self.sessions() as session, session.begin():
                await session.execute(
                    update(InboxUpdate)
                    .where(InboxUpdate.claimed_by == self.holder, InboxUpdate.state == PENDING)
                    .values(claimed_until=self.clock() + self.claim_for)
                    .execution_options(synchronize_session=False))
        except Exception as exc:
            log.warning("%s inbox: could not renew claims: %s", self.channel, exc)

    async def drain(self) -> None:
        """Handle everything pending now, then return (tests, one-shot tools)."""
        while True:
            if await self._claim(self.concurrency) == 0 and not self._tasks:
                return
            if self._tasks:
                await asyncio.wait(set(self._tasks))

    async def _wait(self, stop: asyncio.Event, timeout: float) -> None:  # noqa: ASYNC109
        waiters = [asyncio.ensure_future(self._wake.wait()), asyncio.ensure_future(stop.wait())]
        try:
            await asyncio.wait(waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters:
                waiter.cancel()
        self._wake.clear()  # after waking, so a signal never falls between clear and wait

    async def _recover(self, *, starting: bool) -> None:
        try:
            async with self.sessions() as session, session.begin():
                released = await release_dead(session, self.channel, self.clock())
                left = await backlog(session, self.channel, 1_000_000) if starting else 0
        except Exception as exc:
            log.warning("%s inbox: could not check for updates left by a dead process: %s",
                        self.channel, exc)
            return
        if released:
            log.warning("%s inbox: %d update(s) were being handled by a process that died: "
                        "handling them again (their replies may repeat)", self.channel, released)
        if left:
            log.info("%s inbox: %d update(s) left from before: handling them", self.channel,
                     left)

    async def _claim(self, limit: int) -> int:
        async with self.sessions() as session, session.begin():
            rows = await claim(session, self.channel, self.holder, limit, now=self.clock(),
                               claim_for=self.claim_for)
        for row in rows:
            task = asyncio.create_task(self._handle(*row))
            self._tasks.add(task)
            task.add_done_callback(self._done_callback)
        return len(rows)

    def _done_callback(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        self._wake.set()  # a slot is free
        if not task.cancelled() and task.exception() is not None:
            log.error("%s inbox: %s", self.channel, task.exception())

    async def _handle(self, row_id: int, raw: str, attempts: int) -> None:
        try:
            body = json.loads(raw)
            if not isinstance(body, dict):
                raise BadUpdate("not a JSON object")
        except ValueError as exc:
            await self._park(row_id, f"malformed: {exc}")
            return
        chat = self._chat(body)
        if chat is None:
            await self._run_handler(row_id, body, attempts)
            return
        # tasks start in claim (= arrival) order and take the chat's lock before any await:
        # one chat's updates are handled in order, one at a time (in this process)
        lock, users = self._chats.setdefault(chat, (asyncio.Lock(), [0]))
        users[0] += 1
        try:
            async with lock:
                await self._run_handler(row_id, body, attempts)
        finally:
            users[0] -= 1
            if not users[0]:
                self._chats.pop(chat, None)

    def _chat(self, body: dict[str, Any]) -> str | None:
        if self.chat_of is None:
            return None
        try:
            chat = self.chat_of(body)
        except Exception:
            return None
        return None if chat is None or chat == "" else str(chat)

    async def _run_handler(self, row_id: int, body: dict[str, Any], attempts: int) -> None:
        last = attempts >= self.max_attempts
        try:
            await self.handler(body, last)
        except asyncio.CancelledError:
            raise
        except BadUpdate as exc:
            await self._park(row_id, f"malformed: {exc}")
            return
        except Exception as exc:
            reason = f"{type(exc).__name__}: {exc}"
            if last:
                await self._park(row_id, f"{reason} (attempt {attempts})", exc)
            else:
                log.warning("%s inbox: update %s failed (attempt %d of %d), retried later: %s",
                            self.channel, row_id, attempts, self.max_attempts, reason)
                await self._retry(row_id, attempts, reason)
            return
        await self._mark(row_id, state=DONE, body="", handled_at=self.clock(),
                         claimed_until=None)

    async def _park(self, row_id: int, reason: str, exc: BaseException | None = None) -> None:
        log.error("%s inbox: update %s parked as failed: %s", self.channel, row_id,
                  reason[:200], exc_info=exc)
        await self._mark(row_id, state=FAILED, last_error=reason[:255],
                         handled_at=self.clock(), claimed_until=None)

    async def _retry(self, row_id: int, attempts: int, reason: str) -> None:
        wait = timedelta(seconds=self.retry_base * 2 ** max(0, attempts - 1))
        await self._mark(row_id, claimed_by=None, claimed_until=self.clock() + wait,
                         last_error=reason[:255])
        asyncio.get_running_loop().call_later(wait.total_seconds(), self._wake.set)

    async def _mark(self, row_id: int, **values: Any) -> None:
        """Write the outcome, if the row is still ours (else another process took it over)."""
        try:
            async with self.sessions() as session, session.begin():
                await session.execute(
                    update(InboxUpdate)
                    .where(InboxUpdate.id == row_id, InboxUpdate.claimed_by == self.holder,
                           InboxUpdate.state == PENDING)
                    .values(**values).execution_options(synchronize_session=False))
        except Exception:  # the claim expires: the update is handled again later
            log.exception("%s inbox: could not record the outcome of update %s",
                          self.channel, row_id)

    async def _finish(self) -> None:
        """On stop: let updates being handled finish (bounded), release what is left."""
        if self._tasks:
            _, pending = await asyncio.wait(set(self._tasks), timeout=STOP_GRACE_SECONDS)
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.wait(pending)
        with contextlib.suppress(Exception):
            async with self.sessions() as session, session.begin():
                await session.execute(
                    update(InboxUpdate)
                    .where(InboxUpdate.claimed_by == self.holder,
                           InboxUpdate.state == PENDING)
                    .values(claimed_by=None, claimed_until=None)
                    .execution_options(synchronize_session=False))
