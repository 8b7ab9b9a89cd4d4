"""Who dispatches a channel: one process at a time, a standby takes over when it dies.

- A lease row per channel (`dispatcher_leases`): the holder ("host:pid:uuid") and an expiry,
  renewed while it runs, released on a clean stop. It records who holds the role on both
  databases, and on SQLite it *is* the role: taken when free, expired, or held by a process of
  this host that no longer exists (a restart right after a crash takes over at once).
- PostgreSQL adds a session-level advisory lock (`pg_try_advisory_lock`, key derived from the
  channel name) on a dedicated connection held for as long as the role is: when the process
  dies its connection closes, the lock goes with it and a standby polling every
  `poll_interval` (1 s) takes over — no waiting for the row to expire. The lock decides; the
  row is overwritten by whoever holds the lock. The holder checks its lock connection at every
  renewal (every second); a taker that cannot prove the previous holder dead (another host)
  waits `takeover_grace` first, so a holder that lost only its lock connection has stopped
  claiming before the rows it left `sending` are recovered.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import socket
import uuid
from datetime import UTC, datetime, timedelta

import psutil
from sqlalchemy import or_, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, async_sessionmaker

from bot.db.models import DispatcherLease

log = logging.getLogger(__name__)

POLL_SECONDS = 1.0  # PostgreSQL: a standby tries the lock this often; the holder checks it


def _host() -> str:
    return socket.gethostname()[:48]


def holder_id() -> str:
    return f"{_host()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def holder_is_dead(holder: str) -> bool:
    """True when `holder` names a process of this host that no longer runs (or is a zombie).
    Holders on other hosts, or ids that are not "host:pid:uuid", are never known to be dead."""
    parts = holder.rsplit(":", 2)
    if len(parts) != 3 or parts[0] != _host() or not parts[1].isdigit():
        return False
    pid = int(parts[1])
    if pid == os.getpid():
        return False
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True
    except psutil.Error:  # exists, but not ours to inspect: alive
        return False


def describe_holder(holder: str | None) -> str:
    """"máy X, tiến trình 123" for a "host:pid:uuid" holder (for messages to the operator)."""
    if not holder:
        return "không rõ"
    parts = holder.rsplit(":", 2)
    if len(parts) == 3 and parts[1].isdigit():
        return f"máy {parts[0]}, tiến trình {parts[1]}"
    return holder


def advisory_key(channel: str) -> int:
    """A stable signed 64-bit key for `pg_advisory_lock`, from the channel name."""
    digest = hashlib.sha256(f"nqbot-dispatcher:{channel}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


class Lease:
    def __init__(self, sessions: async_sessionmaker, channel: str, *, ttl: float,
                 holder: str | None = None, poll: float = POLL_SECONDS) -> None:
        self.sessions = sessions
        self.channel = channel
        self.ttl = timedelta(seconds=ttl)
        self.holder = holder or holder_id()
        self._engine = sessions.kw.get("bind")
        dialect = self._engine.dialect.name if self._engine is not None else ""
        self.advisory = dialect == "postgresql"
        self.single_process = dialect == "sqlite"  # SQLite: one bot process, no standby
        self.key = advisory_key(channel)
        self._conn: AsyncConnection | None = None
        # a standby polls this often; the holder renews (and checks its lock) this often
        self.poll_interval = poll if self.advisory else ttl / 3
        self.renew_interval = min(poll, ttl / 3) if self.advisory else ttl / 3
        self.takeover_grace = 2 * self.renew_interval

    async def acquire(self) -> bool:
        """Take (or keep) the role; False while another live process holds it."""
        if not self.advisory:
            return await self._take_row(force=False)
        fresh = self._conn is None
        if not await self._hold_lock():
            return False
        try:
            previous = await self._live_other()
            await self._take_row(force=True)
        except BaseException:
            if fresh:
                await self._drop()
            raise
        if fresh and previous is not None:
            log.warning("%s: took the dispatcher lock from %s (not known dead); waiting %.0f s "
                        "before sending", self.channel, previous, self.takeover_grace)
            await asyncio.sleep(self.takeover_grace)
        return True

    async def _live_other(self) -> str | None:
        """The row's holder if it is someone else, unexpired and not known dead."""
        async with self.sessions() as session:
            row = (await session.execute(
                select(DispatcherLease.holder, DispatcherLease.expires_at)
                .where(DispatcherLease.channel == self.channel))).first()
        if row is None or row.holder == self.holder:
            return None
        if _aware(row.expires_at) < datetime.now(UTC) or holder_is_dead(row.holder):
            return None
        return row.holder

    async def _take_row(self, *, force: bool) -> bool:
        now = datetime.now(UTC)
        dead = None
        if not force:  # a read first, in its own transaction (SQLite: no read→write upgrade)
            async with self.sessions() as session:
                current = (await session.execute(
                    select(DispatcherLease.holder, DispatcherLease.expires_at)
                    .where(DispatcherLease.channel == self.channel))).first()
            # a released lease has expired: taking it over is the normal case, not worth a
            # warning; only an unexpired lease of a dead process is
            if (current is not None and current.holder != self.holder
                    and _aware(current.expires_at) >= now and holder_is_dead(current.holder)):
                dead = current.holder
        async with self.sessions() as session, session.begin():
            stmt = update(DispatcherLease).where(DispatcherLease.channel == self.channel)
            if not force:
                stmt = stmt.where(or_(DispatcherLease.holder == self.holder,
                                      DispatcherLease.expires_at < now,
                                      *([DispatcherLease.holder == dead] if dead else [])))
            taken = await session.execute(stmt.values(holder=self.holder,
                                                      expires_at=now + self.ttl))
            if taken.rowcount == 1:
                if dead:
                    log.warning("%s: the dispatcher lease of %s (a process that no longer "
                                "exists) was taken over", self.channel, dead)
                return True
            if await session.scalar(select(DispatcherLease.channel).where(
                    DispatcherLease.channel == self.channel)) is not None:
                return False
            try:
                async with session.begin_nested():
                    session.add(DispatcherLease(channel=self.channel, holder=self.holder,
                                                expires_at=now + self.ttl))
                    await session.flush()
                return True
            except IntegrityError:
                return False

    # -- PostgreSQL advisory lock --------------------------------------------------------------
    async def _hold_lock(self) -> bool:
        if self._conn is not None:
            try:
                await self._conn.execute(text("SELECT 1"))
                return True
            except Exception:
                log.error("%s: the connection holding the dispatcher lock is gone",
                          self.channel)
                await self._drop()
                return False
        assert self._engine is not None
        conn = await self._engine.connect()
        try:
            conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
            got = await conn.scalar(text("SELECT pg_try_advisory_lock(:key)"),
                                    {"key": self.key})
        except BaseException:
            await conn.invalidate()
            await conn.close()
            raise
        if not got:
            await conn.close()
            return False
        self._conn = conn
        return True

    async def _drop(self) -> None:
        """Give up the advisory lock: unlock, or close the connection when that fails (a pooled
        connection must never keep the lock)."""
        conn, self._conn = self._conn, None
        if conn is None:
            return
        try:
            await conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": self.key})
        except Exception:
            try:
                await conn.invalidate()
            except Exception:
                log.debug("could not invalidate the lock connection", exc_info=True)
        try:
            await conn.close()
        except Exception:
            log.debug("could not close the lock connection", exc_info=True)

    # -- reading, releasing --------------------------------------------------------------------
    async def current_holder(self) -> str | None:
        async with self.sessions() as session:
            row = await session.get(DispatcherLease, self.channel)
            if row is None:
                return None
            return row.holder if _aware(row.expires_at) >= datetime.now(UTC) else None

    async def release(self) -> None:
        try:
            async with self.sessions() as session, session.begin():
                await session.execute(
                    update(DispatcherLease)
                    .where(DispatcherLease.channel == self.channel,
                           DispatcherLease.holder == self.holder)
                    .values(expires_at=datetime.now(UTC) - timedelta(seconds=1)))
        finally:
            await self._drop()
