"""Binding roles through invite codes in chat, and /toi, driven through the router."""

from __future__ import annotations

from pathlib import Path

from bot.services import orgs, roles
from bot.services.roles import Role
from handlers.types import ChatKind, Incoming

DEMO = Path(__file__).resolve().parent.parent / "content" / "demo" / "org_demo.csv"


def _msg(text: str, user: str = "u1", **kw) -> Incoming:
    return Incoming("console", f"chat-{user}", user, user_name=f"Người {user}", text=text, **kw)


async def _invite(app, role: Role, code: str, uses: int = 1) -> str:
    async with app.sessions() as s, s.begin():
        if await orgs.get_unit(s, "T01") is None:
            await orgs.import_units(s, orgs.parse_csv(DEMO.read_text(encoding="utf-8")))
        unit = await orgs.get_unit(s, code)
        return (await roles.create_invite(s, role, unit, uses=uses)).code


async def test_start_with_code_binds_role_and_toi_shows_it(app):
    code = await _invite(app, Role.SECRETARY, "X01-CB02")
    [bound, greeting] = await app.router.handle(_msg(f"/start {code}"))
    assert "bí thư/phó bí thư của Chi bộ thôn 2 (X01-CB02)" in bound.text
    assert "Xin chào" in greeting.text
    [me] = await app.router.handle(_msg("/toi"))
    assert "• bí thư/phó bí thư — Chi bộ thôn 2 (X01-CB02), chi bộ" in me.text


async def test_typed_code_works_and_refusals_are_clear(app):
    code = await _invite(app, Role.MEMBER, "X02-CB01")
    [ok] = await app.router.handle(_msg(code.lower().replace("-", " "), user="a"))
    assert "Đã ghi nhận" in ok.text
    [again] = await app.router.handle(_msg(code, user="a"))
    assert "đã dùng rồi" in again.text
    [used_up] = await app.router.handle(_msg(code, user="b"))
    assert "dùng hết" in used_up.text
    [unknown, _greeting] = await app.router.handle(_msg("/start ABCD-2345", user="b"))
    assert "Mã mời không đúng" in unknown.text
    [me] = await app.router.handle(_msg("/toi", user="b"))
    assert "Chưa có vai trò" in me.text


async def test_codes_are_not_redeemed_in_groups(app):
    code = await _invite(app, Role.SECRETARY, "X03-CB01")
    replies = await app.router.handle(
        _msg(code, user="g", chat_kind=ChatKind.GROUP, addressed=True)
    )
    assert all("Đã ghi nhận" not in r.text for r in replies)
    [me] = await app.router.handle(_msg("/toi", user="g"))
    assert "Chưa có vai trò" in me.text
