"""Reminders to cells that have not confirmed, on the configured days, with a hand-moved clock:
never to a cell that has confirmed, at most once per cell per day, a summary to the unit above."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from bot.db.models import BroadcastRun, Campaign, Chat, Delivery, User
from bot.services import campaigns, confirmations, orgs, roles
from bot.services.confirmations import Attendance
from bot.services.people import upsert_chat, upsert_user
from bot.services.roles import Role
from scheduler import reminders
from tests.broadcast_world import build_world

GROUPS = [("telegram", "-1001", "X01-CB01"), ("telegram", "-1002", "X01-CB02"),
          ("zalo", "zg-3", "X01-CB03")]


def local(day: int, hour: int, minute: int = 0) -> datetime:
    """dd/12/2026 hh:mm in Asia/Ho_Chi_Minh, as UTC."""
    return datetime(2026, 12, day, hour, minute, tzinfo=ZoneInfo("Asia/Ho_Chi_Minh")).astimezone(
        UTC)


@pytest.fixture
async def setup(app):
    await build_world(app, GROUPS)
    async with app.sessions() as s, s.begin():
        ids = {}
        for uid, code in (("s1", "X01-CB01"), ("s2", "X01-CB02"), ("sx", "X01")):
            user = await upsert_user(s, "telegram", uid, f"Bí thư {code}")
            await upsert_chat(s, "telegram", uid, "private", None)
            await roles.grant(s, user, Role.SECRETARY, await orgs.get_unit(s, code),
                              source="cli")
            ids[uid] = user.id
        campaign = await campaigns.create(
            s, actor=None, document="NQ57", title="Quán triệt NQ 57", scope_code="X01",
            deadline="10/12/2026", opens="01/12/2026", now=local(1, 9), tz=app.settings.tz,
            documents={"NQ57"})
        ids["campaign"] = campaign.id
    return ids


async def remind(app, now: datetime) -> list[int]:
    async with app.sessions() as s, s.begin():
        return await reminders.send_due(s, now=now, tz=app.settings.tz, offsets=[3, 1, -1],
                                        hour=8)


async def recipients(app, run_ids: list[int]) -> dict[str, list[str]]:
    async with app.sessions() as s:
        rows = await s.execute(
            select(BroadcastRun.text, Chat.external_id)
            .join(Delivery, Delivery.run_id == BroadcastRun.id)
            .join(Chat, Chat.id == Delivery.chat_id)
            .where(BroadcastRun.id.in_(run_ids)).order_by(Chat.external_id))
        result: dict[str, list[str]] = {}
        for text, chat in rows.all():
            result.setdefault(text.split(":")[0].split("—")[0].strip(), []).append(chat)
        return result


async def test_reminders_follow_the_days_and_skip_confirmed_cells(app, setup):
    async with app.sessions() as s, s.begin():
        await confirmations.record(
            s, campaign=await s.get(Campaign, setup["campaign"]),
            cell=await orgs.get_unit(s, "X01-CB01"), user=await s.get(User, setup["s1"]),
            channel="telegram", held_on=date(2026, 12, 5), attendance=Attendance(30, 32),
            now=local(5, 20), tz=app.settings.tz, slack=1.5)
    assert await remind(app, local(7, 7, 30)) == []  # 3 days before, but before 08:00
    first = await remind(app, local(7, 8, 5))
    sent = await recipients(app, first)
    assert sent["⏰ Nhắc việc"] == ["-1002", "s2", "zg-3"]  # CB01 confirmed: not reminded
    assert sent["📋 Quán triệt NQ 57"] == ["sx"]  # the commune's secretary: the laggards
    async with app.sessions() as s:
        summary = await s.scalar(select(BroadcastRun.text).where(
            BroadcastRun.id.in_(first), BroadcastRun.text.like("📋%")))
        assert "6 chi bộ thuộc Đảng bộ xã An Bình" in summary and "Chi bộ thôn 1 " not in summary
        reminder = await s.scalar(select(BroadcastRun).where(BroadcastRun.id.in_(first),
                                                             BroadcastRun.text.like("⏰%")))
        assert "còn 3 ngày" in reminder.text and f"q:{setup['campaign']}" in reminder.buttons
    assert await remind(app, local(7, 15)) == []  # once a day
    assert await remind(app, local(8, 9)) == []  # 2 days before: not a reminder day
    assert await recipients(app, await remind(app, local(9, 9))) != {}
    async with app.sessions() as s, s.begin():
        await confirmations.record(
            s, campaign=await s.get(Campaign, setup["campaign"]),
            cell=await orgs.get_unit(s, "X01-CB02"), user=await s.get(User, setup["s2"]),
            channel="telegram", held_on=date(2026, 12, 10), attendance=Attendance(40, 46),
            now=local(10, 20), tz=app.settings.tz, slack=1.5)
    after = await recipients(app, await remind(app, local(11, 8, 30)))  # the morning after
    assert after["⏰ Nhắc việc"] == ["zg-3"]
    assert await remind(app, local(12, 9)) == []
