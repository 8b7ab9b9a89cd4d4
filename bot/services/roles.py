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
BOOTSTRAP = "bootstrap"  # the source of admin grants that come from ADMIN_TELEGRAM_IDS
_DURATION_RE = re.compile(r"^(\d{1,4})\s*([dhm])$")


class RedeemStatus(StrEnum):
    BOUND = "bound"
    ALREADY = "already"
    UNKNOWN = "unknown"
    EXPIRED = "expired"
    USED_UP = "used_up"
    REVOKED = "revoked"


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
    if invite.revoked_at is not None:
        return Redeemed(RedeemStatus.REVOKED, role, unit)
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
                update(Invite).where(Invite.id == invite.id, Invite.uses < Invite.max_uses,
                                     Invite.revoked_at.is_(None))
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


async def reconcile_admins(session: AsyncSession, channel: str,
                           external_ids: list[int]) -> tuple[int, int]:
    """Make the admins that come from the setting (source "bootstrap") exactly the configured
    ids: grant the new ones, take the role back from ids no longer listed. An admin role given
    another way (invite, command line) is not touched. Returns (granted, revoked)."""
    from bot.services.people import upsert_user

    wanted = {str(i) for i in external_ids}
    added = 0
    for external_id in sorted(wanted):
        user = await upsert_user(session, channel, external_id, None)
        added += await grant(session, user, Role.ADMIN, None, source=BOOTSTRAP)
    stale = (await session.execute(
        select(RoleAssignment, User).join(User, User.id == RoleAssignment.user_id).where(
            RoleAssignment.source == BOOTSTRAP, RoleAssignment.role == Role.ADMIN.value,
            User.channel == channel))).all()
    removed = 0
    for assignment, user in stale:
        if user.external_id not in wanted:
            await _delete_grant(session, assignment, None, reason="removed from the setting")
            removed += 1
    await session.flush()
    return added, removed


# -- revocation ---------------------------------------------------------------------------------
@dataclass
class Grant:
    assignment: RoleAssignment
    user: User
    unit: OrgUnit | None

    @property
    def role(self) -> Role:
        return Role(self.assignment.role)


async def may_revoke(session: AsyncSession, actor: User | None, grant: Grant) -> bool:
    """The operator (None) always; in chat, the same rule as inviting: an admin over the unit
    takes back any role, a secretary strictly above it a secretary's or member's role; a
    whole-tree grant only a whole-tree admin."""
    return actor is None or _may_revoke(await roles_of(session, actor), grant)


def _may_revoke(held: list[tuple[Role, OrgUnit | None]], grant: Grant) -> bool:
    if grant.unit is None:
        return any(role is Role.ADMIN and scope is None for role, scope in held)
    for role, scope in held:
        if role is Role.ADMIN and (scope is None or grant.unit.path.startswith(scope.path)):
            return True
        if (role is Role.SECRETARY and scope is not None and grant.role in SECRETARY_INVITABLE
                and grant.unit.path.startswith(scope.path) and scope.id != grant.unit.id):
            return True
    return False


async def grants(session: AsyncSession, *, user: User | None = None,
                 under: OrgUnit | None = None) -> list[Grant]:
    """Role grants (of one user, or inside one unit's subtree), ordered by unit and user."""
    query = (select(RoleAssignment, User, OrgUnit)
             .join(User, User.id == RoleAssignment.user_id)
             .outerjoin(OrgUnit, OrgUnit.id == RoleAssignment.org_unit_id))
    if user is not None:
        query = query.where(RoleAssignment.user_id == user.id)
    if under is not None:
        query = query.where(OrgUnit.path.startswith(under.path))
    rows = await session.execute(query.order_by(OrgUnit.path, User.id, RoleAssignment.id))
    return [Grant(a, u, unit) for a, u, unit in rows.all()]


async def get_grant(session: AsyncSession, grant_id: int) -> Grant | None:
    assignment = await session.get(RoleAssignment, grant_id)
    if assignment is None:
        return None
    user = await session.get(User, assignment.user_id)
    unit = await session.get(OrgUnit, assignment.org_unit_id) if assignment.org_unit_id else None
    return Grant(assignment, user, unit) if user is not None else None


async def revocable_grants(session: AsyncSession, actor: User,
                           under: OrgUnit | None = None) -> list[Grant]:
    """The grants `actor` may take back (within their admin and secretary subtrees)."""
    held = await roles_of(session, actor)  # once: one query for the whole list
    scopes = [unit for role, unit in held if role in (Role.ADMIN, Role.SECRETARY)]
    if not scopes:
        return []
    if None in scopes and under is None:
        candidates = await grants(session)
    else:
        roots = [under] if under is not None else [u for u in scopes if u is not None]
        candidates = [g for root in roots for g in await grants(session, under=root)]
    seen: set[int] = set()
    result = []
    for grant_ in candidates:
        if grant_.assignment.id not in seen and _may_revoke(held, grant_):
            seen.add(grant_.assignment.id)
            result.append(grant_)
    return result


async def revoke_grant(session: AsyncSession, grant_id: int, actor: User | None) -> Grant | None:
    """Take a role back, the permission checked now; None if it is gone or not the actor's
    to take. Audited."""
    grant_ = await get_grant(session, grant_id)
    if grant_ is None or not await may_revoke(session, actor, grant_):
        return None
    await _delete_grant(session, grant_.assignment, actor)
    return grant_


async def _delete_grant(session: AsyncSession, assignment: RoleAssignment, actor: User | None,
                        reason: str = "") -> None:
    unit = await session.get(OrgUnit, assignment.org_unit_id) if assignment.org_unit_id else None
    await audit(session, actor, "role.revoke", f"user:{assignment.user_id}",
                role=assignment.role, unit=unit.code if unit else None,
                source=assignment.source, by="cli" if actor is None else f"user:{actor.id}",
                **({"reason": reason} if reason else {}))
    await session.delete(assignment)
    await session.flush()


def invite_state(invite: Invite, now: datetime) -> str:
    """còn hiệu lực | hết hạn | đã dùng hết | đã thu hồi"""
    if invite.revoked_at is not None:
        return "đã thu hồi"
    expires = invite.expires_at if invite.expires_at.tzinfo else invite.expires_at.replace(
        tzinfo=now.tzinfo)
    if expires <= now:
        return "hết hạn"
    if invite.uses >= invite.max_uses:
        return "đã dùng hết"
    return "còn hiệu lực"


def invite_expiry_local(invite: Invite, tz) -> str:  # type: ignore[no-untyped-def]
    expires = invite.expires_at if invite.expires_at.tzinfo else invite.expires_at.replace(
        tzinfo=utcnow().tzinfo)
    return expires.astimezone(tz).strftime("%d/%m/%Y %H:%M")


async def list_invites(session: AsyncSession, *, include_closed: bool = False,
                       now: datetime | None = None) -> list[tuple[Invite, OrgUnit | None]]:
    now = now or utcnow()
    rows = (await session.execute(
        select(Invite, OrgUnit).outerjoin(OrgUnit, OrgUnit.id == Invite.org_unit_id)
        .order_by(Invite.id))).all()
    return [(i, u) for i, u in rows if include_closed or invite_state(i, now) == "còn hiệu lực"]


async def revoke_invite(session: AsyncSession, code: str, actor: User | None,
                        now: datetime | None = None) -> Invite | None:
    """Stop an invite from binding anyone else (roles already bound stay: revoke those as
    grants). None if there is no such invite. Audited."""
    normalized = normalize_code(code)
    invite = normalized and await session.scalar(select(Invite).where(Invite.code == normalized))
    if not invite:
        return None
    if invite.revoked_at is None:
        invite.revoked_at = now or utcnow()
        await audit(session, actor, "invite.revoke", f"invite:{invite.code}", role=invite.role,
                    uses=invite.uses, by="cli" if actor is None else f"user:{actor.id}")
        await session.flush()
    return invite


def deep_link(bot_username: str, code: str) -> str | None:
    return f"https://t.me/{bot_username.lstrip('@')}?start={code}" if bot_username else None
