"""Linking chat groups to org units (who may, and which groups a scope covers)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.models import Chat, OrgUnit, User, utcnow
from bot.services.roles import Role, audit, holds_over, roles_of

LINKING_ROLES = {Role.ADMIN, Role.SECRETARY, Role.REPORTER}


class LinkStatus(StrEnum):
    LINKED = "linked"
    ALREADY = "already"
    NOT_ALLOWED = "not_allowed"
    NOT_LINKED = "not_linked"
    UNLINKED = "unlinked"


@dataclass
class LinkResult:
    status: LinkStatus
    unit: OrgUnit | None = None


async def link(session: AsyncSession, chat: Chat, unit: OrgUnit, actor: User) -> LinkResult:
    if not await holds_over(session, actor, LINKING_ROLES, unit):
        return LinkResult(LinkStatus.NOT_ALLOWED, unit)
    if chat.org_unit_id == unit.id:
        return LinkResult(LinkStatus.ALREADY, unit)
    if chat.org_unit_id is not None:
        current = await session.get(OrgUnit, chat.org_unit_id)
        if current is not None and not await holds_over(session, actor, LINKING_ROLES, current):
            return LinkResult(LinkStatus.NOT_ALLOWED, current)
    previous = chat.org_unit_id
    chat.org_unit_id, chat.linked_by, chat.linked_at = unit.id, actor.id, utcnow()
    await audit(session, actor, "chat.link", f"chat:{chat.channel}:{chat.external_id}",
                unit=unit.code, previous_unit_id=previous)
    await session.flush()
    return LinkResult(LinkStatus.LINKED, unit)


async def unlink(session: AsyncSession, chat: Chat, actor: User) -> LinkResult:
    if chat.org_unit_id is None:
        return LinkResult(LinkStatus.NOT_LINKED)
    unit = await session.get(OrgUnit, chat.org_unit_id)
    if unit is not None and not await holds_over(session, actor, LINKING_ROLES, unit):
        return LinkResult(LinkStatus.NOT_ALLOWED, unit)
    chat.org_unit_id, chat.linked_by, chat.linked_at = None, actor.id, utcnow()
    await audit(session, actor, "chat.unlink", f"chat:{chat.channel}:{chat.external_id}",
                unit=unit.code if unit else None)
    await session.flush()
    return LinkResult(LinkStatus.UNLINKED, unit)


async def scope_units(session: AsyncSession, user: User,
                      roles: set[Role] = LINKING_ROLES) -> list[OrgUnit | None]:
    """The roots of the user's subtrees for these roles (None = the whole tree)."""
    return [unit for role, unit in await roles_of(session, user) if role in roles]


async def linked_groups(session: AsyncSession, user: User) -> list[tuple[Chat, OrgUnit]]:
    """Linked groups anywhere in the user's subtrees (each prefix query uses the path index)."""
    scopes = await scope_units(session, user)
    if not scopes:
        return []
    query = select(Chat, OrgUnit).join(OrgUnit, OrgUnit.id == Chat.org_unit_id)
    if None not in scopes:
        query = query.where(or_(*(OrgUnit.path.startswith(u.path) for u in scopes if u)))
    rows = await session.execute(query.order_by(OrgUnit.path, Chat.id))
    return [(chat, unit) for chat, unit in rows.all()]
