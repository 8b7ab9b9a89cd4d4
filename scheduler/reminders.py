"""Reminders for cells that have not confirmed "đã quán triệt".

On the days given by `reminder_offsets_days` (days before the deadline; negative = after it),
from `reminder_hour` local time: the linked groups and the secretaries of every cell of an open
campaign that has not confirmed get a short reminder (with the confirmation button), and the
secretaries of the unit above get the list of their laggards. Never to a cell that has
confirmed; at most one reminder per cell (and one summary per unit) per day — the reminder log's
unique key decides, so two ticks or two processes send once. Messages go through the delivery
outbox like any broadcast (rate limits, retries, summaries)."""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import and_, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.models import (
    Broadcast,
    BroadcastRun,
    Campaign,
    Chat,
    Confirmation,
    Delivery,
    OrgUnit,
    ReminderLog,
    RoleAssignment,
    User,
)
from bot.services.campaigns import fmt, local_today
from bot.services.confirmations import CELL_LEVEL
from bot.services.orgs import path_under
from bot.services.roles import Role
from scheduler.broadcasts import REMINDER
from scheduler.runs import CONFIRM_LABEL


def cell_text(campaign: Campaign, days_left: int) -> str:
    when = (f"còn {days_left} ngày nữa là hết hạn ({fmt(campaign.deadline)})" if days_left > 0
            else f"đã quá hạn {fmt(campaign.deadline)}")
    return (f"⏰ Nhắc việc: {campaign.title} — {when}. Chi bộ chưa xác nhận đã quán triệt. "
            "Sau buổi sinh hoạt, đồng chí bí thư bấm nút bên dưới hoặc gõ «đã quán triệt».")


def summary_text(campaign: Campaign, unit: OrgUnit, cells: list[OrgUnit]) -> str:
    names = "\n".join(f"• {c.name} ({c.code})" for c in cells[:15])
    more = f"\n… và {len(cells) - 15} chi bộ khác" if len(cells) > 15 else ""
    return (f"📋 {campaign.title}: {len(cells)} chi bộ thuộc {unit.name} chưa xác nhận quán "
            f"triệt (hạn {fmt(campaign.deadline)}):\n{names}{more}")


async def send_due(session: AsyncSession, *, now: datetime, tz: ZoneInfo, offsets: list[int],
                   hour: int) -> list[int]:
    """Queue today's reminders; returns the ids of the runs created."""
    local = now.astimezone(tz)
    if local.hour < hour:
        return []
    today = local_today(now, tz)
    runs: list[int] = []
    campaigns = (await session.scalars(select(Campaign).where(
        Campaign.status == "open", Campaign.opens_on <= today))).all()
    for campaign in campaigns:
        days_left = (campaign.deadline - today).days
        if days_left not in offsets:
            continue
        runs += await _remind(session, campaign, days_left, today, now)
    return runs


async def _remind(session: AsyncSession, campaign: Campaign, days_left: int, today, now
                  ) -> list[int]:  # type: ignore[no-untyped-def]
    scope = await session.get(OrgUnit, campaign.scope_unit_id)
    assert scope is not None
    reminded_today = select(ReminderLog.unit_id).where(
        ReminderLog.campaign_id == campaign.id, ReminderLog.sent_on == today)
    cells = list((await session.scalars(
        select(OrgUnit)
        .outerjoin(Confirmation, and_(Confirmation.unit_id == OrgUnit.id,
                                      Confirmation.campaign_id == campaign.id))
        .where(OrgUnit.level == CELL_LEVEL, path_under(scope.path),
               Confirmation.id.is_(None), OrgUnit.id.not_in(reminded_today))
        .order_by(OrgUnit.path))).all())
    if not cells:
        return []
    cells = [c for c in cells if await _log(session, campaign, c, today, "cell", now)]
    runs = []
    chats = await _cell_chats(session, [c.id for c in cells])
    if chats:
        runs.append(await _queue(session, campaign, cell_text(campaign, days_left), chats,
                                 now, with_button=True))
    by_parent: dict[int, list[OrgUnit]] = defaultdict(list)
    for cell in cells:
        if cell.parent_id is not None:
            by_parent[cell.parent_id].append(cell)
    for parent_id, laggards in by_parent.items():
        parent = await session.get(OrgUnit, parent_id)
        assert parent is not None
        private = await _secretary_chats(session, [parent_id])
        if private and await _log(session, campaign, parent, today, "summary", now):
            runs.append(await _queue(session, campaign, summary_text(campaign, parent, laggards),
                                     private, now, with_button=False))
    return runs


async def _log(session: AsyncSession, campaign: Campaign, unit: OrgUnit, today, kind: str,
               now: datetime) -> bool:  # type: ignore[no-untyped-def]
    try:
        async with session.begin_nested():
            session.add(ReminderLog(campaign_id=campaign.id, unit_id=unit.id, sent_on=today,
                                    kind=kind, created_at=now))
            await session.flush()
        return True
    except IntegrityError:
        return False


async def _secretary_chats(session: AsyncSession, unit_ids: list[int]) -> list[tuple[int, str]]:
    rows = await session.execute(
        select(Chat.id, Chat.channel)
        .join(User, and_(User.channel == Chat.channel, User.external_id == Chat.external_id))
        .join(RoleAssignment, RoleAssignment.user_id == User.id)
        .where(Chat.kind == "private", Chat.active.is_(True),
               RoleAssignment.role == Role.SECRETARY.value,
               RoleAssignment.org_unit_id.in_(unit_ids)).distinct())
    return [(chat_id, channel) for chat_id, channel in rows.all()]


async def _cell_chats(session: AsyncSession, cell_ids: list[int]) -> list[tuple[int, str]]:
    groups = await session.execute(select(Chat.id, Chat.channel).where(
        Chat.kind == "group", Chat.active.is_(True), Chat.org_unit_id.in_(cell_ids)))
    found = {(chat_id, channel) for chat_id, channel in groups.all()}
    found.update(await _secretary_chats(session, cell_ids))
    return sorted(found)


async def _queue(session: AsyncSession, campaign: Campaign, text: str,
                 chats: list[tuple[int, str]], now: datetime, *, with_button: bool) -> int:
    """An internal broadcast with one run and its delivery rows: the outbox does the rest."""
    broadcast = Broadcast(
        created_by=None, status="active", content_kind=REMINDER, text=text,
        campaign_id=campaign.id, targets=json.dumps([]), audience="groups", channel="all",
        schedule_kind="now", cron="", next_fire_at=None, created_at=now, updated_at=now)
    session.add(broadcast)
    await session.flush()
    buttons = json.dumps([[{"label": CONFIRM_LABEL, "payload": f"q:{campaign.id}"}]],
                         ensure_ascii=False) if with_button else ""
    run = BroadcastRun(broadcast_id=broadcast.id, fire_at=now, status="running", text=text,
                       buttons=buttons, total=len(chats), created_at=now)
    session.add(run)
    await session.flush()
    await session.execute(insert(Delivery), [
        {"run_id": run.id, "chat_id": chat_id, "channel": channel, "status": "pending",
         "attempts": 0, "updated_at": now} for chat_id, channel in chats])
    return run.id

