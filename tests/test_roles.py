"""Roles over subtrees, invites and their refusals, on a real database."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot.db.models import AuditLog, Invite, utcnow
from bot.services import orgs, roles
from bot.services.people import upsert_user
from bot.services.roles import RedeemStatus, Role

DEMO = Path(__file__).resolve().parent.parent / "content" / "demo" / "org_demo.csv"


@pytest.fixture
async def tree(app):
    async with app.sessions() as s, s.begin():
        await orgs.import_units(s, orgs.parse_csv(DEMO.read_text(encoding="utf-8")))
    return app


async def _unit(s, code):
    return await orgs.get_unit(s, code)


async def test_scoped_roles_and_invite_permissions(tree):
    async with tree.sessions() as s, s.begin():
        admin = await upsert_user(s, "telegram", "1", "Quản trị")
        sec_x01 = await upsert_user(s, "telegram", "2", "Bí thư xã")
        member = await upsert_user(s, "telegram", "3", "Đảng viên")
        x01, x02 = await _unit(s, "X01"), await _unit(s, "X02")
        cell = await _unit(s, "X01-CB01")
        assert await roles.grant(s, admin, Role.ADMIN, None, source="cli")
        assert not await roles.grant(s, admin, Role.ADMIN, None, source="cli")
        await roles.grant(s, sec_x01, Role.SECRETARY, x01, source="cli")
        await roles.grant(s, member, Role.MEMBER, cell, source="cli")

        assert await roles.holds_over(s, sec_x01, {Role.SECRETARY}, cell)
        assert not await roles.holds_over(s, sec_x01, {Role.SECRETARY}, x02)
        assert await roles.may_invite(s, sec_x01, Role.SECRETARY, cell)
        assert not await roles.may_invite(s, sec_x01, Role.SECRETARY, x01)  # not above itself
        assert not await roles.may_invite(s, sec_x01, Role.REPORTER, cell)
        assert not await roles.may_invite(s, sec_x01, Role.MEMBER, x02)
        assert not await roles.may_invite(s, member, Role.MEMBER, cell)
        assert await roles.may_invite(s, admin, Role.REPORTER, x02)


async def test_invite_lifecycle(tree):
    async with tree.sessions() as s, s.begin():
        cell = await _unit(s, "X02-CB03")
        invite = await roles.create_invite(s, Role.SECRETARY, cell, uses=1)
        code = invite.code
        alice = await upsert_user(s, "zalo", "a", "Alice")
        bob = await upsert_user(s, "zalo", "b", "Bob")
        first = await roles.redeem(s, code.lower().replace("-", ""), alice)
        assert first.status is RedeemStatus.BOUND and first.unit.code == "X02-CB03"
        assert (await roles.redeem(s, code, alice)).status is RedeemStatus.ALREADY
        assert (await roles.redeem(s, code, bob)).status is RedeemStatus.USED_UP
        assert (await roles.redeem(s, "ZZZZ-ZZZZ", bob)).status is RedeemStatus.UNKNOWN
        assert (await roles.redeem(s, "xin chào", bob)).status is RedeemStatus.UNKNOWN
        assert await roles.roles_of(s, alice) == [(Role.SECRETARY, cell)]
        assert await roles.roles_of(s, bob) == []
        expired = await roles.create_invite(s, Role.MEMBER, cell, expires_in=timedelta(hours=1))
        later = utcnow() + timedelta(hours=2)
        assert (await roles.redeem(s, expired.code, bob, now=later)).status is (
            RedeemStatus.EXPIRED
        )
        actions = (await s.scalars(select(AuditLog.action).order_by(AuditLog.id))).all()
        assert actions.count("invite.create") == 2
        assert "invite.redeem" in actions and "role.grant" in actions


async def test_last_use_cannot_be_taken_twice_concurrently(tree):
    async with tree.sessions() as s, s.begin():
        cell = await _unit(s, "X03-CB01")
        code = (await roles.create_invite(s, Role.MEMBER, cell, uses=1)).code
        users = [await upsert_user(s, "telegram", f"u{i}", None) for i in range(2)]
        user_ids = [u.id for u in users]

    async def attempt(user_id: int) -> RedeemStatus:
        async with tree.sessions() as s, s.begin():
            from bot.db.models import User

            return (await roles.redeem(s, code, await s.get(User, user_id))).status

    results = await asyncio.gather(*(attempt(uid) for uid in user_ids), return_exceptions=True)
    statuses = [r for r in results if isinstance(r, RedeemStatus)]
    assert statuses.count(RedeemStatus.BOUND) == 1
    async with tree.sessions() as s:
        assert await s.scalar(select(Invite.uses).where(Invite.code == code)) == 1
        from bot.db.models import RoleAssignment

        assert await s.scalar(select(func.count()).select_from(RoleAssignment)) == 1


def test_durations_and_codes():
    assert roles.parse_duration("7d") == timedelta(days=7)
    assert roles.parse_duration("12h") == timedelta(hours=12)
    with pytest.raises(ValueError, match="không hợp lệ"):
        roles.parse_duration("mai")
    code = roles.new_code()
    assert roles.normalize_code(code.lower()) == code
    assert roles.normalize_code("O0I1-ABCD") is None
