"""Who am I, and binding a role by an invite code (/start CODE, or the code typed alone)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.services import roles
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


async def redeem(ctx: Context, code: str) -> Reply:
    result = await roles.redeem(ctx.session, code, ctx.user)
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
