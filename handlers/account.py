"""Who am I, and binding a role by an invite code (/start CODE, or the code typed alone)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.services import identities, roles
from bot.services.orgs import level_label
from bot.services.roles import ROLE_LABELS, RedeemStatus
from handlers import texts
from handlers.browse import menu_button
from handlers.types import Reply

if TYPE_CHECKING:
    from handlers.router import Context

_MESSAGES = {
    RedeemStatus.BOUND: texts.INVITE_BOUND,
    RedeemStatus.ALREADY: texts.INVITE_ALREADY,
    RedeemStatus.UNKNOWN: texts.INVITE_UNKNOWN,
    RedeemStatus.EXPIRED: texts.INVITE_EXPIRED,
    RedeemStatus.USED_UP: texts.INVITE_USED_UP,
}


def _unit_name(unit) -> str:  # type: ignore[no-untyped-def]
    return f"{unit.name} ({unit.code})" if unit is not None else texts.WHOLE_TREE


def _other_channel(channel: str) -> str:
    return "Zalo" if channel == "telegram" else "Telegram"


async def link_code(ctx: Context) -> Reply:
    code = await identities.create_code(ctx.session, ctx.user)
    return Reply(texts.LINK_CODE_CREATED.format(
        code=code, other=_other_channel(ctx.incoming.channel)))


async def redeem(ctx: Context, code: str) -> Reply:
    """An invite code binds a role; failing that, a link code joins two identities."""
    result = await roles.redeem(ctx.session, code, ctx.user)
    if result.status is RedeemStatus.UNKNOWN:
        outcome, _other = await identities.redeem(ctx.session, code, ctx.user)
        this = texts.CHANNEL_NAMES.get(ctx.incoming.channel, ctx.incoming.channel)
        other = _other_channel(ctx.incoming.channel)
        if outcome is identities.LinkOutcome.LINKED:
            return Reply(texts.LINK_CODE_DONE.format(this=this, other=other), [[menu_button()]])
        if outcome is identities.LinkOutcome.SAME_CHANNEL:
            return Reply(texts.LINK_CODE_SAME.format(other=other))
        if outcome is identities.LinkOutcome.EXPIRED:
            return Reply(texts.LINK_CODE_EXPIRED)
    text = _MESSAGES[result.status].format(
        role=ROLE_LABELS.get(result.role, "") if result.role else "",
        unit=_unit_name(result.unit),
    )
    return Reply(text, [[menu_button()]])


async def whoami(ctx: Context) -> Reply:
    name = ctx.user.display_name or ctx.incoming.user_id
    channel = texts.CHANNEL_NAMES.get(ctx.incoming.channel, ctx.incoming.channel)
    text = texts.WHOAMI.format(name=name, channel=channel)
    held = await roles.roles_of(ctx.session, ctx.user)
    if held:
        lines = [
            f"• {ROLE_LABELS[role]} — {_unit_name(unit)}"
            + (f", {level_label(unit.level).lower()}" if unit is not None else "")
            for role, unit in held
        ]
        text += texts.WHOAMI_ROLES.format(roles="\n".join(lines))
    else:
        text += texts.WHOAMI_NO_ROLE
    return Reply(text, [[menu_button()]])
