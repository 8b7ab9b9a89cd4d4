"""One person, two channels: link a Telegram and a Zalo identity with a one-time code, so the
roles held on one side count on the other."""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.models import LinkCode, User, utcnow
from bot.services.roles import audit, new_code, normalize_code

CODE_TTL = timedelta(minutes=15)


class LinkOutcome(StrEnum):
    LINKED = "linked"
    UNKNOWN = "unknown"
    EXPIRED = "expired"
    SAME_CHANNEL = "same_channel"


async def create_code(session: AsyncSession, user: User, now: datetime | None = None) -> str:
    now = now or utcnow()
    code = new_code()
    session.add(LinkCode(code=code, user_id=user.id, expires_at=now + CODE_TTL))
    await session.flush()
    return code


async def redeem(session: AsyncSession, code: str, user: User,
                 now: datetime | None = None) -> tuple[LinkOutcome, User | None]:
    normalized = normalize_code(code)
    row = normalized and await session.scalar(select(LinkCode).where(LinkCode.code == normalized))
    if not row or row.used_at is not None:
        return LinkOutcome.UNKNOWN, None
    now = now or utcnow()
    expires = row.expires_at if row.expires_at.tzinfo else row.expires_at.replace(
        tzinfo=now.tzinfo)
    if expires <= now:
        return LinkOutcome.EXPIRED, None
    other = await session.get(User, row.user_id)
    if other is None:
        return LinkOutcome.UNKNOWN, None
    if other.channel == user.channel:
        return LinkOutcome.SAME_CHANNEL, other
    claimed = await session.execute(
        update(LinkCode).where(LinkCode.id == row.id, LinkCode.used_at.is_(None))
        .values(used_at=now))
    if claimed.rowcount != 1:
        return LinkOutcome.UNKNOWN, None
    user.linked_user_id = other.id
    await audit(session, user, "identity.link", f"user:{user.id}", other_user=other.id,
                channels=f"{user.channel}+{other.channel}")
    await session.flush()
    return LinkOutcome.LINKED, other


async def same_person(session: AsyncSession, user: User) -> list[int]:
    """Ids of every identity linked with this user (including the user)."""
    ids = {user.id}
    if user.linked_user_id:
        ids.add(user.linked_user_id)
    rows = await session.scalars(select(User.id).where(or_(
        User.linked_user_id.in_(ids), User.id.in_(ids))))
    ids.update(rows.all())
    return sorted(ids)
