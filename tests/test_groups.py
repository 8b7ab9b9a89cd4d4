"""Linking groups to org units and making invites in chat; permissions checked per action."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from bot.db.models import AuditLog, Chat
from bot.services import orgs, roles
from bot.services.people import upsert_user
from bot.services.roles import Role
from handlers.types import ChatKind, Incoming

DEMO = Path(__file__).resolve().parent.parent / "content" / "demo" / "org_demo.csv"


def _group(text: str | None, user: str, chat: str = "g1", payload: str | None = None):
    return Incoming("telegram", chat, user, chat_kind=ChatKind.GROUP, user_name=user,
                    chat_title="Nhóm chi bộ thôn 1", text=text, payload=payload)


def _private(text: str, user: str):
    return Incoming("telegram", f"p{user}", user, user_name=user, text=text)


@pytest.fixture
async def setup(app):
    async with app.sessions() as s, s.begin():
        await orgs.import_units(s, orgs.parse_csv(DEMO.read_text(encoding="utf-8")))
        sec = await upsert_user(s, "telegram", "sec", "Bí thư xã")
        await roles.grant(s, sec, Role.SECRETARY, await orgs.get_unit(s, "X01"), source="cli")
        mem = await upsert_user(s, "telegram", "mem", "Đảng viên")
        await roles.grant(s, mem, Role.MEMBER, await orgs.get_unit(s, "X01-CB01"), source="cli")
    return app


async def _chat(app, external_id: str) -> Chat:
    async with app.sessions() as s:
        return await s.scalar(select(Chat).where(Chat.external_id == external_id))


async def test_secretary_links_group_by_code_and_by_button(setup):
    app = setup
    [done] = await app.router.handle(_group("/lienket X01-CB01", "sec"))
    assert "Đã liên kết nhóm này với Chi bộ thôn 1 (X01-CB01)" in done.text
    assert (await _chat(app, "g1")).org_unit_id is not None
    [again] = await app.router.handle(_group("/lienket X01-CB01", "sec"))
    assert "từ trước" in again.text
    [choose] = await app.router.handle(_group("/lienket", "sec", chat="g2"))
    codes = [b.payload for b in choose.flat_buttons()]
    assert "l:X01" in codes and "l:X01-CB02" in codes and "l:X02" not in codes
    [pressed] = await app.router.handle(_group(None, "sec", chat="g2", payload="l:X01-CB02"))
    assert "Chi bộ thôn 2" in pressed.text
    [listing] = await app.router.handle(_private("/nhom", "sec"))
    assert "Các nhóm đã liên kết (2)" in listing.text
    [unlinked] = await app.router.handle(_group("/huylienket", "sec", chat="g2"))
    assert "Đã hủy liên kết" in unlinked.text
    async with app.sessions() as s:
        actions = (await s.scalars(select(AuditLog.action))).all()
    assert actions.count("chat.link") == 2 and actions.count("chat.unlink") == 1


async def test_member_and_outsider_are_refused(setup):
    app = setup
    [member] = await app.router.handle(_group("/lienket X01-CB01", "mem"))
    assert "không có quyền" in member.text
    [outside] = await app.router.handle(_group("/lienket X02-CB01", "sec"))
    assert "không có quyền" in outside.text
    [forged] = await app.router.handle(_group(None, "mem", payload="l:X01-CB01"))
    assert "không có quyền" in forged.text
    assert (await _chat(app, "g1")).org_unit_id is None
    [nobody] = await app.router.handle(_group("/lienket", "stranger"))
    assert "chưa có vai trò" in nobody.text
    [invite] = await app.router.handle(_private("/moi bithu X01-CB01", "mem"))
    assert "không có quyền" in invite.text


async def test_invites_from_chat_are_limited_to_the_subtree(setup):
    app = setup
    [made] = await app.router.handle(_private("/moi bithu X01-CB03 2", "sec"))
    assert "Mã mời bí thư/phó bí thư của Chi bộ thôn 3 (X01-CB03)" in made.text
    assert "Dùng được 2 lần" in made.text
    [other_commune] = await app.router.handle(_private("/moi bithu X02-CB01", "sec"))
    assert "không có quyền" in other_commune.text
    [reporter] = await app.router.handle(_private("/moi baocaovien X01-CB03", "sec"))
    assert "không có quyền" in reporter.text
    [usage] = await app.router.handle(_private("/moi", "sec"))
    assert "/moi VAI_TRÒ MÃ_ĐƠN_VỊ" in usage.text
    [private_link] = await app.router.handle(_private("/lienket X01", "sec"))
    assert "dùng trong nhóm" in private_link.text
