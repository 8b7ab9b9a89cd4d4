"""Roles scoped to org subtrees, invite codes, and the audit log.

Every permission is decided here, on the server, at the moment of the action.
"""

from __future__ import annotations

import json
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.models import AuditLog, Invite, InviteUse, OrgUnit, RoleAssignment, User, utcnow


class Role(StrEnum):
    ADMIN = "admin"
    REPORTER = "reporter"
    SECRETARY = "secretary"
    MEMBER = "member"


ROLE_LABELS = {
    Role.ADMIN: "quản trị",
    Role.REPORTER: "báo cáo viên",
    Role.SECRETARY: "bí thư/phó bí thư",
    Role.MEMBER: "đảng viên",
}
# Roles a secretary may hand out below their own unit; admins may hand out any role.
SECRETARY_INVITABLE = frozenset({Role.SECRETARY, Role.MEMBER})
# No 0/O/1/I/L: codes are read aloud and typed by hand on Zalo.
CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
CODE_RE = re.compile(r"^[2-9A-HJKMNP-Z]{4}-?[2-9A-HJKMNP-Z]{4}$")
_DURATION_RE = re.compile(r"^(\d{1,4})\s*([dhm])$")


class RedeemStatus(StrEnum):
    BOUND = "bound"
    ALREADY = "already"
    UNKNOWN = "unknown"
    EXPIRED = "expired"
    USED_UP = "used_up"


class _UsedUpError(Exception):
    pass


@dataclass
class Redeemed:
    status: RedeemStatus
    role: Role | None = None
    unit: OrgUnit | None = None


def parse_duration(text: str) -> timedelta:
    """"7d", "12h", "30m" → timedelta; ValueError with a Vietnamese message otherwise."""
    match = _DURATION_RE.match(text.strip().lower())
    if not match or int(match.group(1)) == 0:
        raise ValueError(f"Thời hạn '{text}' không hợp lệ; dùng dạng 7d, 12h hoặc 30m")
    amount, unit = int(match.group(1)), match.group(2)
    return {"d": timedelta(days=amount), "h": timedelta(hours=amount),
            "m": timedelta(minutes=amount)}[unit]


def new_code() -> str:
    """8 characters with at least two digits, so a typed word is never taken for a code."""
    while True:
        raw = "".join(secrets.choice(CODE_ALPHABET) for _ in range(8))
        if sum(ch.isdigit() for ch in raw) >= 2:
            return f"{raw[:4]}-{raw[4:]}"


def looks_like_code(text: str) -> bool:
    """A message that is nothing but an invite code (used for codes typed on Zalo/console)."""
    normalized = normalize_code(text)
    return normalized is not None and sum(ch.isdigit() for ch in normalized) >= 2


def normalize_code(text: str) -> str | None:
    """Accept "k7m2-q9tx", "K7M2Q9TX", " K7M2-Q9TX " → "K7M2-Q9TX"; None if not a code."""
    compact = text.strip().upper().replace(" ", "")
    if not CODE_RE.match(compact):
        return None
    compact = compact.replace("-", "")
    return f"{compact[:4]}-{compact[4:]}"


async def audit(session: AsyncSession, actor: User | None, action: str, target: str,
                **details: object) -> None:
    session.add(AuditLog(
        actor_user_id=actor.id if actor else None,
        action=action,
        target=target[:128],
        details=json.dumps(details, ensure_ascii=False, default=str),
        created_at=utcnow(),
    ))


async def grant(session: AsyncSession, user: User, role: Role, unit: OrgUnit | None, *,
                source: str, granted_by: User | None = None) -> bool:
    """Give a role; False if the user already had it there. Audited."""
    existing = await session.scalar(select(RoleAssignment).where(
        RoleAssignment.user_id == user.id,
        RoleAssignment.role == role.value,
        RoleAssignment.org_unit_id.is_(None) if unit is None
        else RoleAssignment.org_unit_id == unit.id,
    ))
    if existing is not None:
        return False
    session.add(RoleAssignment(
        user_id=user.id, role=role.value, org_unit_id=unit.id if unit else None,
        source=source, granted_by=granted_by.id if granted_by else None, created_at=utcnow(),
    ))
    await audit(session, granted_by or user, "role.grant",
                f"user:{user.id}", role=role.value, unit=unit.code if unit else None,
                source=source)
    await session.flush()
    return True


async def roles_of(session: AsyncSession, user: User) -> list[tuple[Role, OrgUnit | None]]:
    """Roles of this user, and of the same person's linked identity on another channel."""
    from bot.services.identities import same_person

    rows = await session.execute(
        select(RoleAssignment.role, OrgUnit)
        .outerjoin(OrgUnit, OrgUnit.id == RoleAssignment.org_unit_id)
        .where(RoleAssignment.user_id.in_(await same_person(session, user)))
        .order_by(RoleAssignment.id)
    )
    seen: set[tuple[Role, int | None]] = set()
    result: list[tuple[Role, OrgUnit | None]] = []
    for role, unit in rows.all():
        key = (Role(role), unit.id if unit else None)
        if key not in seen:
            seen.add(key)
            result.append((Role(role), unit))
    return result


async def holds_over(session: AsyncSession, user: User, roles: set[Role], unit: OrgUnit,
                     *, strictly_above: bool = False) -> bool:
    """True if the user holds one of `roles` on `unit` or an ancestor of it (or is a global
    admin when admin is among `roles`). With strictly_above, the unit itself does not count."""
    for role, scope in await roles_of(session, user):
        if role not in roles:
            continue
        if scope is None:
            if role is Role.ADMIN:
                return True
            continue
        if unit.path.startswith(scope.path) and not (strictly_above and scope.id == unit.id):
            return True
    return False


async def may_invite(session: AsyncSession, actor: User, role: Role, unit: OrgUnit) -> bool:
    if await holds_over(session, actor, {Role.ADMIN}, unit):
        return True
    return role in SECRETARY_INVITABLE and await holds_over(
        session, actor, {Role.SECRETARY}, unit, strictly_above=True
    )


async def create_invite(session: AsyncSession, role: Role, unit: OrgUnit, *, uses: int = 1,
                        expires_in: timedelta = timedelta(days=7),
                        created_by: User | None = None, now: datetime | None = None) -> Invite:
    if uses < 1 or uses > 1000:
        raise ValueError("Số lần dùng phải từ 1 đến 1000")
    now = now or utcnow()
    invite = Invite(code=new_code(), role=role.value, org_unit_id=unit.id, max_uses=uses, uses=0,
                    expires_at=now + expires_in, created_by=created_by.id if created_by else None,
                    created_at=now)
    session.add(invite)
    await session.flush()
    await audit(session, created_by, "invite.create", f"invite:{invite.code}",
                role=role.value, unit=unit.code, uses=uses, expires_at=invite.expires_at)
    return invite


async def redeem(session: AsyncSession, code: str, user: User,
                 now: datetime | None = None) -> Redeemed:
    normalized = normalize_code(code)
    if normalized is None:
        return Redeemed(RedeemStatus.UNKNOWN)
    invite = await session.scalar(select(Invite).where(Invite.code == normalized))
    if invite is None:
        return Redeemed(RedeemStatus.UNKNOWN)
    unit = await session.get(OrgUnit, invite.org_unit_id)
    role = Role(invite.role)
    used_before = await session.scalar(select(InviteUse).where(
        InviteUse.invite_id == invite.id, InviteUse.user_id == user.id))
    if used_before is not None:
        return Redeemed(RedeemStatus.ALREADY, role, unit)
    now = now or utcnow()
    expires_at = invite.expires_at
    if expires_at.tzinfo is None:  # SQLite returns naive datetimes; they are stored in UTC
        expires_at = expires_at.replace(tzinfo=now.tzinfo)
    if expires_at <= now:
        return Redeemed(RedeemStatus.EXPIRED, role, unit)
    try:
        async with session.begin_nested():
            # Atomic: two people redeeming the last use at once cannot both succeed.
            claimed = await session.execute(
                update(Invite).where(Invite.id == invite.id, Invite.uses < Invite.max_uses)
                .values(uses=Invite.uses + 1)
            )
            if claimed.rowcount != 1:
                raise _UsedUpError
            session.add(InviteUse(invite_id=invite.id, user_id=user.id, used_at=now))
            await session.flush()
    except _UsedUpError:
        return Redeemed(RedeemStatus.USED_UP, role, unit)
    except IntegrityError:
        return Redeemed(RedeemStatus.ALREADY, role, unit)
    await grant(session, user, role, unit, source="invite")
    await audit(session, user, "invite.redeem", f"invite:{invite.code}",
                role=role.value, unit=unit.code if unit else None)
    return Redeemed(RedeemStatus.BOUND, role, unit)


async def bootstrap_admins(session: AsyncSession, channel: str, external_ids: list[int]) -> int:
    """Make sure every configured admin id holds the global admin role; returns how many new."""
    from bot.services.people import upsert_user

    added = 0
    for external_id in external_ids:
        user = await upsert_user(session, channel, str(external_id), None)
        added += await grant(session, user, Role.ADMIN, None, source="bootstrap")
    return added


def deep_link(bot_username: str, code: str) -> str | None:
    return f"https://t.me/{bot_username.lstrip('@')}?start={code}" if bot_username else None
