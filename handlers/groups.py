"""Group links (/lienket, /huylienket, /nhom) and invites made in chat (/moi)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import select

from bot.db.models import OrgUnit
from bot.services import links, orgs, roles
from bot.services.links import LinkStatus
from bot.services.roles import ROLE_LABELS, Role
from handlers import payloads, texts
from handlers.browse import menu_button
from handlers.render import shorten
from handlers.types import Button, ChatKind, Reply

if TYPE_CHECKING:
    from handlers.router import Context

MAX_UNIT_BUTTONS = 8
ROLE_ALIASES = {
    "bithu": Role.SECRETARY, "bi-thu": Role.SECRETARY, "secretary": Role.SECRETARY,
    "dangvien": Role.MEMBER, "member": Role.MEMBER,
    "baocaovien": Role.REPORTER, "bcv": Role.REPORTER, "reporter": Role.REPORTER,
    "quantri": Role.ADMIN, "admin": Role.ADMIN,
}


def _unit_label(unit: OrgUnit) -> str:
    return f"{unit.name} ({unit.code})"


async def link_command(ctx: Context, argument: str) -> Reply:
    if ctx.incoming.chat_kind is not ChatKind.GROUP:
        return Reply(texts.LINK_GROUP_ONLY)
    code = argument.strip().split()[0] if argument.strip() else ""
    if code:
        return await link_to(ctx, code)
    scopes = await links.scope_units(ctx.session, ctx.user)
    if not scopes:
        return Reply(texts.LINK_NO_SCOPE)
    candidates: list[OrgUnit] = []
    for scope in scopes:
        if scope is None:
            roots = await ctx.session.scalars(select(OrgUnit).where(OrgUnit.depth == 0))
            candidates.extend(roots.all())
            continue
        candidates.append(scope)
        children = await ctx.session.scalars(
            select(OrgUnit).where(OrgUnit.parent_id == scope.id).order_by(OrgUnit.id))
        candidates.extend(children.all())
    buttons = [[Button(shorten(_unit_label(u), 60), payloads.link(u.code))]
               for u in candidates[:MAX_UNIT_BUTTONS]]
    return Reply(texts.LINK_USAGE, buttons)


async def link_to(ctx: Context, code: str) -> Reply:
    """Link this group to the unit `code` (also the target of the unit buttons)."""
    if ctx.incoming.chat_kind is not ChatKind.GROUP:
        return Reply(texts.LINK_GROUP_ONLY)
    unit = await orgs.get_unit(ctx.session, code)
    if unit is None:
        return Reply(texts.LINK_UNKNOWN_UNIT.format(code=shorten(code, 40)))
    result = await links.link(ctx.session, ctx.chat, unit, ctx.user)
    message = {
        LinkStatus.LINKED: texts.LINK_DONE,
        LinkStatus.ALREADY: texts.LINK_ALREADY,
        LinkStatus.NOT_ALLOWED: texts.LINK_NOT_ALLOWED,
    }[result.status]
    return Reply(message.format(unit=_unit_label(result.unit or unit)))


async def unlink_command(ctx: Context) -> Reply:
    if ctx.incoming.chat_kind is not ChatKind.GROUP:
        return Reply(texts.LINK_GROUP_ONLY)
    result = await links.unlink(ctx.session, ctx.chat, ctx.user)
    if result.status is LinkStatus.NOT_LINKED:
        return Reply(texts.UNLINK_NONE)
    message = texts.UNLINK_DONE if result.status is LinkStatus.UNLINKED else (
        texts.UNLINK_NOT_ALLOWED)
    unit = _unit_label(result.unit) if result.unit else ""
    return Reply(message.format(unit=unit))


async def groups_command(ctx: Context) -> Reply:
    rows = await links.linked_groups(ctx.session, ctx.user)
    if not rows:
        return Reply(texts.GROUPS_NONE, [[menu_button()]])
    lines = [
        f"• {chat.title or chat.external_id} → {_unit_label(unit)}"
        + ("" if chat.active else texts.GROUPS_INACTIVE)
        for chat, unit in rows
    ]
    return Reply(texts.GROUPS_TITLE.format(count=len(rows)) + "\n" + "\n".join(lines),
                 [[menu_button()]])


async def invite_command(ctx: Context, argument: str, bot_username: str) -> Reply:
    if ctx.incoming.chat_kind is not ChatKind.PRIVATE:
        return Reply(texts.INVITE_PRIVATE_ONLY)  # a code posted in a group is anyone's
    parts = argument.split()
    role = ROLE_ALIASES.get(parts[0].lower()) if parts else None
    if role is None or len(parts) < 2:
        return Reply(texts.INVITE_USAGE)
    unit = await orgs.get_unit(ctx.session, parts[1])
    if unit is None:
        return Reply(texts.LINK_UNKNOWN_UNIT.format(code=shorten(parts[1], 40)))
    uses = int(parts[2]) if len(parts) > 2 and parts[2].isdigit() else 1
    if not await roles.may_invite(ctx.session, ctx.user, role, unit):
        return Reply(texts.INVITE_NOT_ALLOWED.format(role=ROLE_LABELS[role],
                                                     unit=_unit_label(unit)))
    try:
        invite = await roles.create_invite(ctx.session, role, unit, uses=uses,
                                           created_by=ctx.user)
    except ValueError as exc:
        return Reply(str(exc))
    link = roles.deep_link(bot_username, invite.code) if ctx.incoming.channel == "telegram" \
        else None
    expires = invite.expires_at.astimezone(ctx.tz).strftime("%d/%m/%Y %H:%M")
    return Reply(texts.INVITE_CREATED.format(
        role=ROLE_LABELS[role], unit=_unit_label(unit), code=invite.code, uses=invite.max_uses,
        expires=expires, link=f"\n{link}" if link else ""))
