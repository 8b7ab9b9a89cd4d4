"""/thuhoi: an admin or a secretary takes back a role inside their subtree, picked with
buttons. Every press re-checks the actor's scope on the server (rv:<grant>, rv:ok:<grant>)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.services import identities, orgs, roles
from bot.services.roles import ROLE_LABELS, Grant, Role
from handlers import payloads, texts
from handlers.browse import BUTTON_LABEL_CHARS, menu_button
from handlers.payloads import Action
from handlers.render import shorten
from handlers.types import Button, ChatKind, Reply

if TYPE_CHECKING:
    from handlers.router import Context

MAX_BUTTONS = 10


def _describe(grant: Grant) -> str:
    unit = f"{grant.unit.name} ({grant.unit.code})" if grant.unit else texts.WHOLE_TREE
    channel = texts.CHANNEL_NAMES.get(grant.user.channel, grant.user.channel)
    name = grant.user.display_name or grant.user.external_id
    return texts.RV_GRANT.format(name=name, channel=channel, role=ROLE_LABELS[grant.role],
                                 unit=unit)


def _label(grant: Grant) -> str:
    """A button: short, the unit by its code."""
    name = grant.user.display_name or grant.user.external_id
    unit = grant.unit.code if grant.unit else texts.WHOLE_TREE
    return texts.RV_BUTTON.format(name=shorten(name, 24), role=ROLE_LABELS[grant.role],
                                  unit=unit)


async def command(ctx: Context, argument: str) -> Reply:
    if ctx.incoming.chat_kind is not ChatKind.PRIVATE:
        return Reply(texts.RV_PRIVATE_ONLY)
    held = await roles.roles_of(ctx.session, ctx.user)
    if not any(role in (Role.ADMIN, Role.SECRETARY) for role, _ in held):
        return Reply(texts.RV_NOT_ALLOWED)
    under = None
    code = argument.strip().split()[0] if argument.strip() else ""
    if code:
        under = await orgs.get_unit(ctx.session, code)
        if under is None:
            return Reply(texts.LINK_UNKNOWN_UNIT.format(code=shorten(code, 40)))
        if not await roles.holds_over(ctx.session, ctx.user, {Role.ADMIN, Role.SECRETARY},
                                      under):
            return Reply(texts.RV_OUTSIDE)
    own = set(await identities.same_person(ctx.session, ctx.user))
    found = [g for g in await roles.revocable_grants(ctx.session, ctx.user, under)
             if g.user.id not in own]  # one's own role is taken back by someone above
    if not found:
        return Reply(texts.RV_NONE, [[menu_button()]])
    buttons = [[Button(shorten(_label(g), BUTTON_LABEL_CHARS),
                       payloads.revoke(g.assignment.id))] for g in found[:MAX_BUTTONS]]
    text = texts.RV_PICK
    if len(found) > MAX_BUTTONS:
        text += "\n" + texts.RV_MORE.format(n=len(found) - MAX_BUTTONS)
    return Reply(text, [*buttons, [menu_button()]])


async def on_action(ctx: Context, action: Action) -> Reply:
    if ctx.incoming.chat_kind is not ChatKind.PRIVATE:
        return Reply(texts.RV_PRIVATE_ONLY)
    grant = await roles.get_grant(ctx.session, action.number)
    if grant is None or not await roles.may_revoke(ctx.session, ctx.user, grant):
        return Reply(texts.RV_GONE, [[menu_button()]])
    if action.op == "pick":
        return Reply(texts.RV_CONFIRM.format(grant=_describe(grant)),
                     [[Button(texts.RV_YES_BUTTON, payloads.revoke(grant.assignment.id, True)),
                       Button(texts.RV_NO_BUTTON, payloads.menu())]])
    revoked = await roles.revoke_grant(ctx.session, grant.assignment.id, ctx.user)
    if revoked is None:
        return Reply(texts.RV_GONE, [[menu_button()]])
    unit = f"{revoked.unit.name} ({revoked.unit.code})" if revoked.unit else texts.WHOLE_TREE
    ctx.notices.append((revoked.user.id, Reply(texts.RV_TOLD.format(
        role=ROLE_LABELS[revoked.role], unit=unit))))
    return Reply(texts.RV_DONE.format(grant=_describe(revoked)), [[menu_button()]])
