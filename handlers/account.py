"""Who am I; binding a role by an invite code (/start CODE, or the code typed alone); linking
this account with the same person's account on the other channel (a "LK-" code, confirmed by
the account that holds the roles) and undoing that link."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.db.models import User
from bot.services import identities, roles
from bot.services.orgs import level_label
from bot.services.roles import ROLE_LABELS, RedeemStatus
from handlers import payloads, texts
from handlers.browse import menu_button
from handlers.payloads import Action
from handlers.types import Button, ChatKind, Reply

if TYPE_CHECKING:
    from handlers.router import Context

_MESSAGES = {
    RedeemStatus.BOUND: texts.INVITE_BOUND,
    RedeemStatus.ALREADY: texts.INVITE_ALREADY,
    RedeemStatus.UNKNOWN: texts.INVITE_UNKNOWN,
    RedeemStatus.EXPIRED: texts.INVITE_EXPIRED,
    RedeemStatus.USED_UP: texts.INVITE_USED_UP,
    RedeemStatus.REVOKED: texts.INVITE_REVOKED,
}


def _unit_name(unit) -> str:  # type: ignore[no-untyped-def]
    return f"{unit.name} ({unit.code})" if unit is not None else texts.WHOLE_TREE


def _other_channel(channel: str) -> str:
    return "Zalo" if channel == "telegram" else "Telegram"


def _channel(user: User) -> str:
    return texts.CHANNEL_NAMES.get(user.channel, user.channel)


def _name(user: User) -> str:
    return user.display_name or texts.LINK_NO_NAME


def looks_like_code(text: str) -> bool:
    """A message that is nothing but an invite code or an identity-link code."""
    return roles.looks_like_code(text) or identities.looks_like_link_code(text)


def confirm_question(request: identities.LinkRequest, user: User) -> Reply:
    """The question the account holding the roles answers, naming the other account."""
    other = request.other(user)
    return Reply(texts.LINK_CONFIRM.format(channel=_channel(other), name=_name(other)),
                 [[Button(texts.LINK_YES_BUTTON, payloads.identity_answer(request.row.id, True)),
                   Button(texts.LINK_NO_BUTTON, payloads.identity_answer(request.row.id, False))]])


async def link_code(ctx: Context) -> Reply:
    """/lienkettaikhoan: a link request waiting for this account first, else a new code."""
    if ctx.incoming.chat_kind is not ChatKind.PRIVATE:
        return Reply(texts.LINK_PRIVATE_ONLY)  # a code shown in a group is anyone's to send
    waiting = await identities.waiting_for(ctx.session, ctx.user, ctx.now)
    if waiting:
        return confirm_question(waiting[0], ctx.user)
    other = await identities.partner(ctx.session, ctx.user)
    if other is not None:
        return Reply(texts.ACCOUNT_ALREADY_LINKED.format(channel=_channel(other),
                                                         name=_name(other)))
    code = await identities.create_code(ctx.session, ctx.user, ctx.now)
    return Reply(texts.LINK_CODE_CREATED.format(
        code=code, other=_other_channel(ctx.incoming.channel)))


async def unlink_command(ctx: Context) -> Reply:
    """/huylienkettaikhoan: undo this account's link (either side may)."""
    other = await identities.unlink(ctx.session, ctx.user, ctx.user)
    if other is None:
        return Reply(texts.LINK_NONE)
    return Reply(texts.LINK_UNLINKED.format(channel=_channel(other), name=_name(other)))


async def redeem(ctx: Context, code: str) -> Reply:
    """A code sent in private chat: a link code only ever links, an invite only ever binds."""
    if identities.looks_like_link_code(code):
        return await _claim_link(ctx, code)
    result = await roles.redeem(ctx.session, code, ctx.user)
    text = _MESSAGES[result.status].format(
        role=ROLE_LABELS.get(result.role, "") if result.role else "",
        unit=_unit_name(result.unit),
    )
    return Reply(text, [[menu_button()]])


async def _claim_link(ctx: Context, code: str) -> Reply:
    outcome, request = await identities.claim(ctx.session, code, ctx.user, ctx.now)
    if outcome is identities.LinkOutcome.SAME_CHANNEL:
        return Reply(texts.LINK_CODE_SAME.format(other=_other_channel(ctx.incoming.channel)))
    if outcome is identities.LinkOutcome.EXPIRED:
        return Reply(texts.LINK_CODE_EXPIRED)
    if outcome is identities.LinkOutcome.ALREADY_LINKED:
        return await _already(ctx)
    if outcome is not identities.LinkOutcome.PENDING or request is None:
        return Reply(texts.LINK_CODE_UNKNOWN)
    return _next_step(ctx, request)


def _next_step(ctx: Context, request: identities.LinkRequest) -> Reply:
    """Ask this account if it must confirm; else tell it the other account must, and send
    the other account its question (when the running service can reach it)."""
    waiting = request.waiting_for
    if any(u.id == ctx.user.id for u in waiting):
        return confirm_question(request, ctx.user)
    other = request.other(ctx.user)
    ctx.notices.append((other.id, confirm_question(request, other)))
    return Reply(texts.LINK_WAITING.format(channel=_channel(other), name=_name(other)))


async def _already(ctx: Context) -> Reply:
    mine = await identities.partner(ctx.session, ctx.user)
    if mine is not None:
        return Reply(texts.ACCOUNT_ALREADY_LINKED.format(channel=_channel(mine), name=_name(mine)))
    return Reply(texts.LINK_OTHER_ALREADY)


async def on_action(ctx: Context, action: Action) -> Reply:
    """«Đồng ý» / «Không» on a link request (lk:ok:<id>, lk:no:<id>), checked now."""
    if ctx.incoming.chat_kind is not ChatKind.PRIVATE:
        return Reply(texts.LINK_REQUEST_STALE)
    outcome, request = await identities.answer(ctx.session, action.number, ctx.user,
                                               action.op == "ok", ctx.now)
    if request is None or outcome in (identities.LinkOutcome.UNKNOWN,
                                      identities.LinkOutcome.NOT_YOURS,
                                      identities.LinkOutcome.EXPIRED):
        return Reply(texts.LINK_REQUEST_STALE)
    other = request.other(ctx.user)
    if outcome is identities.LinkOutcome.DECLINED:
        ctx.notices.append((other.id, Reply(texts.LINK_DECLINED_OTHER.format(
            channel=_channel(ctx.user), name=_name(ctx.user)))))
        return Reply(texts.LINK_DECLINED)
    if outcome is identities.LinkOutcome.ALREADY_LINKED:
        return await _already(ctx)
    if outcome is identities.LinkOutcome.PENDING:
        return _next_step(ctx, request)
    ctx.notices.append((other.id, Reply(texts.LINK_CODE_DONE.format(
        this=_channel(other), other=_channel(ctx.user), name=_name(ctx.user)))))
    return Reply(texts.LINK_CODE_DONE.format(this=_channel(ctx.user), other=_channel(other),
                                             name=_name(other)), [[menu_button()]])


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
