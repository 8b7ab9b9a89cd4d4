"""Campaigns and confirmations in the domain core: who may confirm, what is refused, what is
kept, and the counts secretaries read — checked against numbers computed by hand."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import func, select

from bot.db.models import AuditLog, Campaign, Confirmation, User
from bot.services import campaigns, confirmations, orgs, roles, rollups
from bot.services.confirmations import Attendance, ConfirmError
from bot.services.people import upsert_user
from bot.services.roles import Role
from tests.broadcast_world import build_world

NOW = datetime(2026, 12, 5, 3, 0, tzinfo=UTC)  # 05/12/2026 10:00 local
DOCS = {"NQ57", "KL69", "NQ20"}


@pytest.fixture
async def setup(app):
    world = await build_world(app, [])
    async with app.sessions() as s, s.begin():
        people = {}
        for key, code, role in (("sec1", "X01-CB01", Role.SECRETARY),
                                ("sec2", "X01-CB02", Role.SECRETARY),
                                ("secx", "X01", Role.SECRETARY),
                                ("secy", "X02-CB01", Role.SECRETARY),
                                ("both", "X01-CB03", Role.SECRETARY)):
            user = await upsert_user(s, "telegram", key, f"Đồng chí {key}")
            await roles.grant(s, user, role, await orgs.get_unit(s, code), source="cli")
            people[key] = user.id
        both = await s.get(User, people["both"])
        await roles.grant(s, both, Role.SECRETARY, await orgs.get_unit(s, "X01-CB04"),
                          source="cli")
        campaign = await campaigns.create(
            s, actor=None, document="nq57", title="Quán triệt Nghị quyết 57",
            scope_code="T01", deadline="10/12/2026", opens=None, now=NOW, tz=app.settings.tz,
            documents=DOCS)
        people["campaign"] = campaign.id
    return world, people


async def confirm(app, people, who: str, cell: str, attended: int, total: int, *,
                  now: datetime = NOW, held: date = date(2026, 12, 4)):
    async with app.sessions() as s, s.begin():
        return await confirmations.record(
            s, campaign=await s.get(Campaign, people["campaign"]),
            cell=await orgs.get_unit(s, cell), user=await s.get(User, people[who]),
            channel="telegram", held_on=held, attendance=Attendance(attended, total), now=now,
            tz=app.settings.tz, slack=app.settings.confirm_total_slack)


async def test_campaign_refusals(app, setup):
    world, _ = setup
    cases = [
        (dict(document="NQ99", scope_code="T01", deadline="31/12/2026"), "Không có tài liệu"),
        (dict(document="NQ57", scope_code="ZZ", deadline="31/12/2026"), "Không có đơn vị"),
        (dict(document="NQ57", scope_code="T01", deadline="01/12/2026"), "đã qua"),
        (dict(document="NQ57", scope_code="T01", deadline="31/02/2027"), "không có thật"),
    ]
    for kwargs, message in cases:
        async with app.sessions() as s, s.begin():
            with pytest.raises(campaigns.CampaignError, match=message):
                await campaigns.create(s, actor=None, title="Đợt", opens=None, now=NOW,
                                       tz=app.settings.tz, documents=DOCS, **kwargs)
    async with app.sessions() as s, s.begin():
        with pytest.raises(campaigns.CampaignError, match="không có quyền"):
            await campaigns.create(s, actor=await s.get(User, world.reporter.id),
                                   document="NQ57", title="Đợt", scope_code="X02",
                                   deadline="31/12/2026", opens=None, now=NOW,
                                   tz=app.settings.tz, documents=DOCS)


async def test_who_may_confirm(app, setup):
    _, people = setup
    own = await confirm(app, people, "sec1", "X01-CB01", 30, 32)
    assert own.created and not own.confirmation.on_behalf
    above = await confirm(app, people, "secx", "X01-CB02", 40, 45)
    assert above.confirmation.on_behalf
    for who, cell in (("sec2", "X01-CB01"), ("secy", "X01-CB05"), ("sec1", "X01")):
        with pytest.raises(ConfirmError):
            await confirm(app, people, who, cell, 10, 10)


@pytest.mark.parametrize(("attended", "total", "message"), [
    (26, 25, "lớn hơn tổng số"), (-1, 25, "số dương"), (5, 200, "cao hơn nhiều"),
])
async def test_impossible_numbers_are_refused(app, setup, attended, total, message):
    _, people = setup
    with pytest.raises(ConfirmError, match=message):
        await confirm(app, people, "sec1", "X01-CB01", attended, total)
    async with app.sessions() as s:
        assert await s.scalar(select(func.count()).select_from(Confirmation)) == 0


async def test_one_confirmation_per_cell_updates_are_audited_and_repeats_change_nothing(
        app, setup):
    _, people = setup
    first = await confirm(app, people, "sec1", "X01-CB01", 30, 32)
    same = await confirm(app, people, "sec1", "X01-CB01", 30, 32)
    assert first.created and not same.created and not same.changed
    updated = await confirm(app, people, "sec1", "X01-CB01", 31, 32)
    assert updated.changed and updated.confirmation.attended == 31
    async with app.sessions() as s:
        assert await s.scalar(select(func.count()).select_from(Confirmation)) == 1
        actions = (await s.scalars(select(AuditLog.action).where(
            AuditLog.action.like("confirmation.%")).order_by(AuditLog.id))).all()
        assert actions == ["confirmation.create", "confirmation.update"]


async def test_late_confirmation_is_accepted_and_marked(app, setup):
    _, people = setup
    late = await confirm(app, people, "secy", "X02-CB01", 27, 27,
                         now=datetime(2026, 12, 11, 2, 0, tzinfo=UTC), held=date(2026, 12, 11))
    assert late.confirmation.late
    assert "(sau hạn)" in confirmations.announce(
        await _unit(app, "X02-CB01"), await _campaign(app, people), late.confirmation)


async def _unit(app, code):
    async with app.sessions() as s:
        return await orgs.get_unit(s, code)


async def _campaign(app, people):
    async with app.sessions() as s:
        return await s.get(Campaign, people["campaign"])


async def test_rollup_matches_hand_computed_figures(app, setup):
    _, people = setup
    await confirm(app, people, "sec1", "X01-CB01", 30, 32)
    await confirm(app, people, "secx", "X01-CB02", 40, 45)
    await confirm(app, people, "secy", "X02-CB01", 27, 27,
                  now=datetime(2026, 12, 11, 2, 0, tzinfo=UTC), held=date(2026, 12, 11))
    campaign = await _campaign(app, people)
    async with app.sessions() as s:
        x01 = await orgs.get_unit(s, "X01")
        total, children = await rollups.rollup(s, campaign, x01)
        # X01: 7 cells (32+46+47+10+23+41+29 = 228 members); CB01 30/32, CB02 40/45
        assert (total.cells, total.confirmed, total.late) == (7, 2, 0)
        assert (total.members, total.attended, total.denominator) == (228, 70, 227)
        assert [(c.code, c.confirmed, c.attended) for c in children][:2] == [
            ("X01-CB01", 1, 30), ("X01-CB02", 1, 40)]
        province, by_xa = await rollups.rollup(s, campaign, await orgs.get_unit(s, "T01"))
        assert [(t.code, t.cells, t.confirmed, t.late, t.attended, t.members)
                for t in by_xa][:2] == [("X01", 7, 2, 0, 70, 228), ("X02", 8, 1, 1, 27, 246)]
        assert province.confirmed == 3 and province.late == 1
        assert province.cells == sum(t.cells for t in by_xa)
        count, missing = await rollups.laggards(s, campaign, x01)
        assert count == 5
        assert [m.code for m in missing] == ["X01-CB03", "X01-CB04", "X01-CB05", "X01-CB06",
                                             "X01-CB07"]
        assert missing[0].secretaries == ["Đồng chí both"]
        assert confirmations.pct(70, 227) == "30,8%"
