"""Campaigns (đợt quán triệt): create, list, close — reporters and admins, in their scope.

Dates are local calendar dates typed as dd/mm/yyyy; a campaign is open from `opens_on`, and a
confirmation after `deadline` is accepted and marked late."""

from __future__ import annotations

import re
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.models import Campaign, OrgUnit, User
from bot.services.orgs import get_unit
from bot.services.roles import Role, audit, holds_over, roles_of

CREATORS = {Role.ADMIN, Role.REPORTER}
_DATE_RE = re.compile(r"^\s*(\d{1,2})/(\d{1,2})/(\d{4})\s*$")
MAX_TITLE = 200


class CampaignError(ValueError):
    """Why a campaign action cannot go ahead, in Vietnamese."""


def parse_date(text: str) -> date:
    match = _DATE_RE.match(text)
    if not match:
        raise CampaignError(f"Ngày «{text}» không đúng dạng ngày/tháng/năm, ví dụ 31/12/2026.")
    day, month, year = (int(g) for g in match.groups())
    try:
        return date(year, month, day)
    except ValueError:
        raise CampaignError(f"Ngày «{text}» không có thật.") from None


def local_today(now: datetime, tz: ZoneInfo) -> date:
    return now.astimezone(tz).date()


def fmt(day: date) -> str:
    return day.strftime("%d/%m/%Y")


async def create(session: AsyncSession, *, actor: User | None, document: str, title: str,
                 scope_code: str, deadline: str, opens: str | None, now: datetime,
                 tz: ZoneInfo, documents: set[str]) -> Campaign:
    document = document.strip().upper().replace(" ", "")
    if document not in documents:
        raise CampaignError(f"Không có tài liệu «{document}»; dùng một trong: "
                            + ", ".join(sorted(documents)) + ".")
    title = " ".join(title.split())
    if not title:
        raise CampaignError("Hãy đặt tên cho đợt quán triệt.")
    if len(title) > MAX_TITLE:
        raise CampaignError(f"Tên đợt quá dài (tối đa {MAX_TITLE} ký tự).")
    unit = await get_unit(session, scope_code.strip())
    if unit is None:
        raise CampaignError(f"Không có đơn vị mã «{scope_code}».")
    if actor is not None and not await holds_over(session, actor, CREATORS, unit):
        raise CampaignError(f"Bạn không có quyền mở đợt quán triệt cho {unit.name}; chỉ báo "
                            "cáo viên hoặc quản trị của đơn vị đó (hoặc cấp trên).")
    today = local_today(now, tz)
    opens_on = parse_date(opens) if opens else today
    due = parse_date(deadline)
    if due < today:
        raise CampaignError(f"Hạn {fmt(due)} đã qua; hãy chọn hạn từ hôm nay trở đi.")
    if due < opens_on:
        raise CampaignError("Hạn hoàn thành phải sau ngày bắt đầu.")
    campaign = Campaign(document=document, title=title, scope_unit_id=unit.id, opens_on=opens_on,
                        deadline=due, status="open", created_by=actor.id if actor else None,
                        created_at=now)
    session.add(campaign)
    await session.flush()
    await audit(session, actor, "campaign.create", f"campaign:{campaign.id}",
                document=document, scope=unit.code, deadline=fmt(due))
    return campaign


async def close(session: AsyncSession, campaign_id: int, *, actor: User | None,
                now: datetime) -> Campaign:
    campaign = await session.get(Campaign, campaign_id)
    if campaign is None:
        raise CampaignError(f"Không có đợt quán triệt số {campaign_id}.")
    unit = await session.get(OrgUnit, campaign.scope_unit_id)
    assert unit is not None
    if actor is not None and not await holds_over(session, actor, CREATORS, unit):
        raise CampaignError("Bạn không có quyền đóng đợt này.")
    if campaign.status == "closed":
        raise CampaignError(f"Đợt #{campaign.id} đã đóng từ trước.")
    campaign.status, campaign.closed_at = "closed", now
    await audit(session, actor, "campaign.close", f"campaign:{campaign.id}")
    await session.flush()
    return campaign


async def open_campaigns(session: AsyncSession, *, within: OrgUnit | None = None,
                         today: date | None = None) -> list[Campaign]:
    """Open campaigns (already started) whose scope contains `within` (or all)."""
    query = select(Campaign, OrgUnit).join(OrgUnit, OrgUnit.id == Campaign.scope_unit_id).where(
        Campaign.status == "open").order_by(Campaign.id)
    if today is not None:
        query = query.where(Campaign.opens_on <= today)
    rows = (await session.execute(query)).all()
    return [c for c, scope in rows if within is None or within.path.startswith(scope.path)]


async def list_all(session: AsyncSession, limit: int = 50) -> list[tuple[Campaign, OrgUnit]]:
    rows = await session.execute(
        select(Campaign, OrgUnit).join(OrgUnit, OrgUnit.id == Campaign.scope_unit_id)
        .order_by(Campaign.id.desc()).limit(limit))
    return [(c, u) for c, u in rows.all()]


async def visible_to(session: AsyncSession, user: User) -> list[tuple[Campaign, OrgUnit]]:
    """Campaigns whose scope overlaps the user's subtrees (any role but member)."""
    scopes = [unit for role, unit in await roles_of(session, user) if role is not Role.MEMBER]
    if not scopes:
        return []
    result = []
    for campaign, scope in await list_all(session, limit=1000):
        if any(u is None or scope.path.startswith(u.path) or u.path.startswith(scope.path)
               for u in scopes):
            result.append((campaign, scope))
    return result
