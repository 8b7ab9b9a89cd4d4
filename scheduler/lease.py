"""A renewable lease per channel in the database: only its holder dispatches that channel.

Taken when free or expired, renewed by the holder while it runs, released on a clean stop. A
process killed with -9 leaves an expired lease after `ttl` seconds, then the next one takes
over and recovers the rows left in flight. (A database row, so it works the same on SQLite and
PostgreSQL; wall-clock time, so it is independent of the clock tests move by hand.)"""

from __future__ import annotations

import os
import socket
import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import async_sessionmaker

from bot.db.models import DispatcherLease


def holder_id() -> str:
    return f"{socket.gethostname()[:48]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class Lease:
    def __init__(self, sessions: async_sessionmaker, channel: str, *, ttl: float,
                 holder: str | None = None) -> None:
        self.sessions = sessions
        self.channel = channel
        self.ttl = timedelta(seconds=ttl)
        self.holder = holder or holder_id()

    async def acquire(self) -> bool:
        """Take (or keep) the lease; False while another live process holds it."""
        now = datetime.now(UTC)
        async with self.sessions() as session, session.begin():
            taken = await session.execute(
                update(DispatcherLease)
                .where(DispatcherLease.channel == self.channel,
                       or_(DispatcherLease.holder == self.holder,
                           DispatcherLease.expires_at < now))
                .values(holder=self.holder, expires_at=now + self.ttl))
            if taken.rowcount == 1:
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

    async def current_holder(self) -> str | None:
        async with self.sessions() as session:
            row = await session.get(DispatcherLease, self.channel)
            if row is None:
                return None
            expires = row.expires_at if row.expires_at.tzinfo else row.expires_at.replace(
                tzinfo=UTC)
            return row.holder if expires >= datetime.now(UTC) else None

    async def release(self) -> None:
        async with self.sessions() as session, session.begin():
            await session.execute(
                update(DispatcherLease)
                .where(DispatcherLease.channel == self.channel,
                       DispatcherLease.holder == self.holder)
                .values(expires_at=datetime.now(UTC) - timedelta(seconds=1)))
