"""`nqbot role list|revoke`, `nqbot invite list|revoke`, `nqbot link list|revoke`: who holds
what, and taking it back, as the operator (actor None in the audit log, recorded as "cli")."""

from __future__ import annotations

import argparse
import json

from bot.cli_common import EXIT_NOT_FOUND, fail
from bot.config import Settings


def add_parsers(sub: argparse._SubParsersAction,  # type: ignore[type-arg]
                invite_sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    role = sub.add_parser("role", help="vai trò đã cấp")
    role_sub = role.add_subparsers(dest="role_command", required=True)
    role_list = role_sub.add_parser("list", help="liệt kê vai trò đã cấp")
    role_list.add_argument("--org", help="chỉ trong đơn vị này (và cấp dưới)")
    role_list.add_argument("--json", action="store_true")
    role_revoke = role_sub.add_parser("revoke", help="thu hồi một vai trò (số trong danh sách)")
    role_revoke.add_argument("id", type=int)
    invite_list = invite_sub.add_parser("list", help="liệt kê mã mời còn hiệu lực")
    invite_list.add_argument("--all", action="store_true",
                             help="cả mã đã hết hạn, đã dùng hết, đã thu hồi")
    invite_list.add_argument("--json", action="store_true")
    invite_revoke = invite_sub.add_parser("revoke", help="thu hồi một mã mời")
    invite_revoke.add_argument("code")
    link = sub.add_parser("link", help="liên kết tài khoản Telegram–Zalo")
    link_sub = link.add_subparsers(dest="link_command", required=True)
    link_list = link_sub.add_parser("list", help="liệt kê các cặp tài khoản đã liên kết")
    link_list.add_argument("--json", action="store_true")
    link_revoke = link_sub.add_parser("revoke", help="hủy liên kết của một tài khoản")
    link_revoke.add_argument("--channel", choices=["telegram", "zalo"], required=True)
    link_revoke.add_argument("--user-id", required=True)


def _who(user) -> str:  # type: ignore[no-untyped-def]
    name = f" ({user.display_name})" if user.display_name else ""
    return f"{user.channel}:{user.external_id}{name}"


async def run(settings: Settings, args: argparse.Namespace) -> int:
    from bot.cli import _with_session

    if args.command == "role":
        if args.role_command == "list":
            return await _with_session(settings, lambda s: _role_list(s, args, settings))
        return await _with_session(settings, lambda s: _role_revoke(s, args.id))
    if args.command == "invite":
        if args.invite_command == "list":
            return await _with_session(settings, lambda s: _invite_list(s, args, settings))
        return await _with_session(settings, lambda s: _invite_revoke(s, args.code))
    if args.link_command == "list":
        return await _with_session(settings, lambda s: _link_list(s, args))
    return await _with_session(settings, lambda s: _link_revoke(s, args))


async def _role_list(session, args, settings) -> int:  # type: ignore[no-untyped-def]
    from bot.services import orgs, roles

    under = None
    if args.org:
        under = await orgs.get_unit(session, args.org)
        if under is None:
            return fail(f"không có đơn vị mã {args.org}", EXIT_NOT_FOUND)
    found = await roles.grants(session, under=under)
    if args.json:
        for g in found:
            print(json.dumps({
                "id": g.assignment.id, "channel": g.user.channel, "user_id": g.user.external_id,
                "name": g.user.display_name, "role": g.role.value,
                "org": g.unit.code if g.unit else None, "source": g.assignment.source,
                "granted_at": g.assignment.created_at.isoformat()}, ensure_ascii=False))
        return 0
    if not found:
        print("Chưa có vai trò nào được cấp.")
        return 0
    for g in found:
        unit = f"{g.unit.name} ({g.unit.code})" if g.unit else "toàn bộ hệ thống"
        granted = g.assignment.created_at.astimezone(settings.tz).strftime("%d/%m/%Y %H:%M") \
            if g.assignment.created_at.tzinfo else g.assignment.created_at.strftime(
                "%d/%m/%Y %H:%M")
        print(f"#{g.assignment.id}  {_who(g.user)} — {roles.ROLE_LABELS[g.role]} — {unit} "
              f"[nguồn: {g.assignment.source}, {granted}]")
    print("Thu hồi: nqbot role revoke SỐ")
    return 0


async def _role_revoke(session, grant_id: int) -> int:  # type: ignore[no-untyped-def]
    from bot.services import roles

    grant = await roles.revoke_grant(session, grant_id, None)
    if grant is None:
        return fail(f"không có vai trò số {grant_id} (xem: nqbot role list)", EXIT_NOT_FOUND)
    unit = f"{grant.unit.name} ({grant.unit.code})" if grant.unit else "toàn bộ hệ thống"
    print(f"Đã thu hồi: {_who(grant.user)} — {roles.ROLE_LABELS[grant.role]} — {unit}.")
    if grant.assignment.source == roles.BOOTSTRAP:
        print("Lưu ý: id này còn trong ADMIN_TELEGRAM_IDS thì lần khởi động sau sẽ được cấp "
              "lại; hãy xoá khỏi cấu hình.")
    return 0


async def _invite_list(session, args, settings) -> int:  # type: ignore[no-untyped-def]
    from bot.db.models import utcnow
    from bot.services import roles

    now = utcnow()
    found = await roles.list_invites(session, include_closed=args.all, now=now)
    for invite, unit in found:
        state = roles.invite_state(invite, now)
        if args.json:
            print(json.dumps({"code": invite.code, "role": invite.role,
                              "org": unit.code if unit else None, "uses": invite.uses,
                              "max_uses": invite.max_uses,
                              "expires_at": invite.expires_at.isoformat(), "state": state},
                             ensure_ascii=False))
            continue
        expires = roles.invite_expiry_local(invite, settings.tz)
        where = f"{unit.name} ({unit.code})" if unit else "?"
        print(f"{invite.code}  {roles.ROLE_LABELS[roles.Role(invite.role)]} — {where} — "
              f"đã dùng {invite.uses}/{invite.max_uses}, hết hạn {expires} — {state}")
    if not found and not args.json:
        print("Không có mã mời nào còn hiệu lực." if not args.all else "Chưa có mã mời nào.")
    return 0


async def _invite_revoke(session, code: str) -> int:  # type: ignore[no-untyped-def]
    from bot.services import roles

    invite = await roles.revoke_invite(session, code, None)
    if invite is None:
        return fail(f"không có mã mời {code}", EXIT_NOT_FOUND)
    print(f"Đã thu hồi mã mời {invite.code}: không ai dùng được nữa. Vai trò đã cấp qua mã này "
          "vẫn còn — thu hồi bằng: nqbot role list / nqbot role revoke SỐ")
    return 0


async def _link_list(session, args) -> int:  # type: ignore[no-untyped-def]
    from bot.services import identities

    pairs = await identities.all_links(session)
    for a, b in pairs:
        if args.json:
            print(json.dumps({"accounts": [{"channel": u.channel, "user_id": u.external_id,
                                            "name": u.display_name} for u in (a, b)]},
                             ensure_ascii=False))
        else:
            print(f"{_who(a)} ⇄ {_who(b)}")
    if not pairs and not args.json:
        print("Chưa có tài khoản nào liên kết.")
    return 0


async def _link_revoke(session, args) -> int:  # type: ignore[no-untyped-def]
    from sqlalchemy import select

    from bot.db.models import User
    from bot.services import identities

    user = await session.scalar(select(User).where(User.channel == args.channel,
                                                   User.external_id == str(args.user_id)))
    other = await identities.unlink(session, user, None) if user is not None else None
    if other is None:
        return fail(f"tài khoản {args.channel}:{args.user_id} không liên kết với tài khoản nào",
                    EXIT_NOT_FOUND)
    print(f"Đã hủy liên kết: {_who(user)} ⇄ {_who(other)}.")
    return 0
