"""One person, two channels: link a Telegram and a Zalo identity with a one-time code, so the
roles held on one side count on the other.

A link code says what it is: "LK-" and eight characters of the invite alphabet, which has no L,
so an invite code is never read as a link code nor the other way round. Whoever sends the code
names the pair; the link then waits until every account whose roles would be shared (or, when
neither holds a role, the account that sent the code) has confirmed, in that account, with the
other account named. An account is linked with at most one other; either side can undo it.
Every step is audited."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import exists, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.models import LinkCode, RoleAssignment, User, utcnow
from bot.services.roles import CODE_ALPHABET, audit

CODE_TTL = timedelta(minutes=15)
CONFIRM_TTL = timedelta(minutes=30)  # a claimed code waits this long for the confirmations
LINK_PREFIX = "LK"
_LINK_RE = re.compile(r"^LK-?([2-9A-HJKMNP-Z]{4})-?([2-9A-HJKMNP-Z]{4})$")


class LinkOutcome(StrEnum):
    PENDING = "pending"  # claimed; waiting for a confirmation (see LinkRequest.waiting_for)
    LINKED = "linked"
    DECLINED = "declined"
    UNKNOWN = "unknown"
    EXPIRED = "expired"
    SAME_CHANNEL = "same_channel"
    ALREADY_LINKED = "already_linked"  # one of the two accounts is linked already
    NOT_YOURS = "not_yours"  # a confirmation pressed by someone it was not asked of


@dataclass
class LinkRequest:
    row: LinkCode
    owner: User  # made the code
    claimer: User  # sent it from the other channel

    def other(self, user: User) -> User:
        return self.claimer if user.id == self.owner.id else self.owner

    @property
    def waiting_for(self) -> list[User]:
        if self.row.status != "pending":
            return []
        return ([] if self.row.owner_ok else [self.owner]) + (
            [] if self.row.claimer_ok else [self.claimer])


def new_link_code() -> str:
    raw = "".join(secrets.choice(CODE_ALPHABET) for _ in range(8))
    return f"{LINK_PREFIX}-{raw[:4]}-{raw[4:]}"


def normalize_link_code(text: str) -> str | None:
    """"lk-k7m2-q9tx", "LK K7M2 Q9TX" → "LK-K7M2-Q9TX"; None if not a link code."""
    match = _LINK_RE.match(text.strip().upper().replace(" ", ""))
    return f"{LINK_PREFIX}-{match.group(1)}-{match.group(2)}" if match else None


def looks_like_link_code(text: str) -> bool:
    return normalize_link_code(text) is not None


def _aware(value: datetime, now: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=now.tzinfo)


async def partner(session: AsyncSession, user: User) -> User | None:
    """The account this one is linked with, if any."""
    if user.linked_user_id:
        return await session.get(User, user.linked_user_id)
    return await session.scalar(select(User).where(User.linked_user_id == user.id))


async def has_own_roles(session: AsyncSession, user: User) -> bool:
    return bool(await session.scalar(select(exists().where(RoleAssignment.user_id == user.id))))


async def create_code(session: AsyncSession, user: User, now: datetime | None = None) -> str:
    now = now or utcnow()
    code = new_link_code()
    session.add(LinkCode(code=code, user_id=user.id, expires_at=now + CODE_TTL, status="open",
                         owner_ok=False, claimer_ok=False))
    await session.flush()
    await audit(session, user, "identity.code", f"user:{user.id}", code=code)
    return code


async def claim(session: AsyncSession, code: str, user: User,
                now: datetime | None = None) -> tuple[LinkOutcome, LinkRequest | None]:
    """`user` sent a link code: record the pair and who must confirm. Nothing is shared yet."""
    normalized = normalize_link_code(code)
    row = normalized and await session.scalar(select(LinkCode).where(LinkCode.code == normalized))
    if not row or row.status != "open":
        return LinkOutcome.UNKNOWN, None
    now = now or utcnow()
    if _aware(row.expires_at, now) <= now:
        return LinkOutcome.EXPIRED, None
    owner = await session.get(User, row.user_id)
    if owner is None:
        return LinkOutcome.UNKNOWN, None
    request = LinkRequest(row, owner, user)
    if owner.channel == user.channel:
        return LinkOutcome.SAME_CHANNEL, request
    if await partner(session, owner) is not None or await partner(session, user) is not None:
        return LinkOutcome.ALREADY_LINKED, request
    holders = [u for u in (owner, user) if await has_own_roles(session, u)] or [user]
    claimed = await session.execute(
        update(LinkCode).where(LinkCode.id == row.id, LinkCode.status == "open")
        .values(status="pending", claimed_by=user.id, used_at=now,
                expires_at=now + CONFIRM_TTL, owner_ok=owner not in holders,
                claimer_ok=user not in holders)
        .execution_options(synchronize_session=False))
    if claimed.rowcount != 1:
        return LinkOutcome.UNKNOWN, None
    await session.refresh(row)
    await audit(session, user, "identity.claim", f"user:{user.id}", code=row.code,
                owner=owner.id, confirm_by=[u.id for u in holders])
    return LinkOutcome.PENDING, request


async def load_request(session: AsyncSession, request_id: int) -> LinkRequest | None:
    row = await session.get(LinkCode, request_id)
    if row is None or row.claimed_by is None:
        return None
    owner = await session.get(User, row.user_id)
    claimer = await session.get(User, row.claimed_by)
    if owner is None or claimer is None:
        return None
    return LinkRequest(row, owner, claimer)


async def answer(session: AsyncSession, request_id: int, user: User, agree: bool,
                 now: datetime | None = None) -> tuple[LinkOutcome, LinkRequest | None]:
    """`user` pressed «Đồng ý» or «Không» on a link request. Checked now: only an account the
    request waits for may answer, once, before it expires; the link happens when none is left."""
    now = now or utcnow()
    request = await load_request(session, request_id)
    if request is None or request.row.status != "pending":
        return LinkOutcome.UNKNOWN, request
    if user.id not in {u.id for u in request.waiting_for}:
        return LinkOutcome.NOT_YOURS, request
    if _aware(request.row.expires_at, now) <= now:
        return LinkOutcome.EXPIRED, request
    row = request.row
    side = LinkCode.owner_ok if user.id == request.owner.id else LinkCode.claimer_ok
    if not agree:
        done = await session.execute(
            update(LinkCode).where(LinkCode.id == row.id, LinkCode.status == "pending")
            .values(status="declined").execution_options(synchronize_session=False))
        await session.refresh(row)
        if done.rowcount == 1:
            await audit(session, user, "identity.decline", f"user:{user.id}", code=row.code,
                        other_user=request.other(user).id)
        return LinkOutcome.DECLINED, request
    done = await session.execute(
        update(LinkCode).where(LinkCode.id == row.id, LinkCode.status == "pending",
                               side.is_(False))
        .values({side.key: True}).execution_options(synchronize_session=False))
    await session.refresh(row)
    if done.rowcount != 1:
        return LinkOutcome.UNKNOWN, request
    await audit(session, user, "identity.confirm", f"user:{user.id}", code=row.code,
                other_user=request.other(user).id)
    if request.waiting_for:
        return LinkOutcome.PENDING, request
    owner, claimer = request.owner, request.claimer
    if await partner(session, owner) is not None or await partner(session, claimer) is not None:
        row.status = "cancelled"
        await session.flush()
        return LinkOutcome.ALREADY_LINKED, request
    claimer.linked_user_id = owner.id
    row.status = "linked"
    await session.flush()
    await audit(session, user, "identity.link", f"user:{claimer.id}", other_user=owner.id,
                channels=f"{claimer.channel}+{owner.channel}", code=row.code)
    return LinkOutcome.LINKED, request


async def waiting_for(session: AsyncSession, user: User,
                      now: datetime | None = None) -> list[LinkRequest]:
    """Live link requests this account has still to confirm (newest first)."""
    now = now or utcnow()
    rows = (await session.scalars(
        select(LinkCode).where(LinkCode.status == "pending",
                               or_(LinkCode.user_id == user.id, LinkCode.claimed_by == user.id))
        .order_by(LinkCode.id.desc()))).all()
    result = []
    for row in rows:
        if _aware(row.expires_at, now) <= now:
            continue
        request = await load_request(session, row.id)
        if request is not None and user.id in {u.id for u in request.waiting_for}:
            result.append(request)
    return result


async def unlink(session: AsyncSession, user: User, actor: User | None) -> User | None:
    """Undo this account's link (from either side); returns the account it was linked with.
    `actor` None is the operator at the command line."""
    other = await partner(session, user)
    if other is None:
        return None
    for side in (user, other):
        if side.linked_user_id is not None:
            side.linked_user_id = None
    await session.flush()
    await audit(session, actor, "identity.unlink", f"user:{user.id}", other_user=other.id,
                channels=f"{user.channel}+{other.channel}",
                by="cli" if actor is None else f"user:{actor.id}")
    return other


async def all_links(session: AsyncSession) -> list[tuple[User, User]]:
    """Every linked pair (the account that points, the account pointed to)."""
    users = (await session.scalars(
        select(User).where(User.linked_user_id.is_not(None)).order_by(User.id))).all()
    pairs = []
    for user in users:
        other = await session.get(User, user.linked_user_id)
        if other is not None:
            pairs.append((user, other))
    return pairs


async def same_person(session: AsyncSession, user: User) -> list[int]:
    """Ids of every identity linked with this user (including the user)."""
    ids = {user.id}
    if user.linked_user_id:
        ids.add(user.linked_user_id)
    rows = await session.scalars(select(User.id).where(or_(
        User.linked_user_id.in_(ids), User.id.in_(ids))))
    ids.update(rows.all())
    return sorted(ids)
