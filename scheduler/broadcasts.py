"""Broadcasts as a domain: validate a draft, preview its reach, create, list, pause, cancel.

Every check runs on the server at the moment of the action: the actor's scope (reporters and
admins only, each target inside a unit they hold the role on), the content's length for every
targeted platform, the schedule. `actor=None` is the operator at the command line.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.models import Broadcast, BroadcastRun, Campaign, Delivery, OrgUnit, User, utcnow
from bot.services.roles import Role, audit, holds_over
from content.kb import Entry, KnowledgeBase
from scheduler import outcomes
from scheduler.targets import (
    AUDIENCES,
    CHANNEL_LABELS,
    TargetError,
    TargetSpec,
    count_by_channel,
    resolve_units,
)
from scheduler.timespec import Schedule, ScheduleError, next_fire, parse_schedule

SENDERS = {Role.ADMIN, Role.REPORTER}
REMINDER = "reminder"  # content_kind of the internal broadcasts that carry reminders
OPEN_STATUSES = ("pending", "sending")
STATUS_LABELS = {
    "active": "đang hoạt động",
    "paused": "tạm dừng",
    "cancelled": "đã huỷ",
    "finished": "đã xong",
}


class BroadcastError(ValueError):
    """The draft or the action cannot go ahead; the message says why, in Vietnamese."""


@dataclass
class Draft:
    """What a reporter chose, from the chat composer or the command line."""

    content_kind: str = "text"  # text | entry | series
    text: str = ""
    entry_id: str | None = None
    series: str | None = None  # "DOC:topic"
    targets: tuple[str, ...] = ()
    level: str | None = None
    audience: str = "groups"
    channel: str = "all"
    at: str | None = None  # "dd/mm/yyyy HH:MM", local time
    cron: str | None = None  # 5-field crontab, local time
    campaign_id: int | None = None  # an announcement: carries the "đã quán triệt" action

    def spec(self) -> TargetSpec:
        return TargetSpec(tuple(self.targets), self.level, self.audience, self.channel)


@dataclass
class Prepared:
    draft: Draft
    units: list[OrgUnit]
    schedule: Schedule
    counts: dict[str, int]
    first_text: str
    first_fire: datetime
    warnings: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def entry_text(entry: Entry) -> str:
    """A knowledge-base entry as a broadcast card: question, answer, source."""
    return f"❓ {entry.question}\n\n{entry.answer}\n\nNguồn: {entry.source}"


def announcement_text(campaign: Campaign) -> str:
    return (f"📢 {campaign.title}\nHạn hoàn thành: {campaign.deadline.strftime('%d/%m/%Y')}.\n"
            "Sau buổi sinh hoạt, đồng chí bí thư chi bộ bấm nút bên dưới (hoặc gõ «đã quán "
            "triệt») để xác nhận.")


def series_entries(kb: KnowledgeBase, series: str) -> list[Entry]:
    document, _, topic = series.partition(":")
    return kb.entries_for(document, topic) if kb.topic(document, topic) else []


def content_for(kb: KnowledgeBase, broadcast: Broadcast) -> tuple[str, str | None] | None:
    """The text of the next firing (and its entry), or None when a series is used up."""
    if broadcast.content_kind == "series" and broadcast.series:
        entries = series_entries(kb, broadcast.series)
        if broadcast.series_pos >= len(entries):
            return None
        entry = entries[broadcast.series_pos]
        return entry_text(entry), entry.id
    return broadcast.text, broadcast.entry_id


def _thousands(n: int) -> str:
    """5000 → "5.000" (Vietnamese digit grouping)."""
    return f"{n:,}".replace(",", ".")


def max_chars(channel: str, limits: dict[str, int]) -> tuple[int, str]:
    """The tightest message limit among the targeted platforms, and whose it is."""
    chosen = [c for c in limits if channel in (c, "all")]
    name = min(chosen, key=lambda c: limits[c])
    return limits[name], CHANNEL_LABELS[name]


async def may_send_to(session: AsyncSession, actor: User | None, unit: OrgUnit) -> bool:
    return actor is None or await holds_over(session, actor, SENDERS, unit)


async def prepare(session: AsyncSession, kb: KnowledgeBase, draft: Draft, *,
                  actor: User | None, now: datetime, tz: ZoneInfo,
                  limits: dict[str, int]) -> Prepared:
    """Check everything and count the reach; raises BroadcastError, nothing is written."""
    if draft.campaign_id is not None:
        campaign = await session.get(Campaign, draft.campaign_id)
        if campaign is None or campaign.status != "open":
            raise BroadcastError(f"Không có đợt quán triệt số {draft.campaign_id} đang mở.")
        if draft.content_kind == "text" and not draft.text.strip():
            draft.text = announcement_text(campaign)
    text = _content_text(kb, draft)
    limit, platform = max_chars(draft.channel, limits)
    if len(text) > limit:
        raise BroadcastError(
            f"Nội dung dài {_thousands(len(text))} ký tự, quá giới hạn {_thousands(limit)} ký tự "
            f"cho một tin trên {platform}. Hãy rút gọn."
        )
    spec = draft.spec()
    try:
        spec.validate()
        units = await resolve_units(session, spec.unit_codes)
    except TargetError as exc:
        raise BroadcastError(str(exc)) from None
    outside = [u for u in units if not await may_send_to(session, actor, u)]
    if outside:
        raise BroadcastError(
            "Bạn không có quyền gửi thông báo tới " + ", ".join(f"{u.name} ({u.code})"
                                                              for u in outside)
            + ". Chỉ báo cáo viên hoặc quản trị của đơn vị đó (hoặc cấp trên) mới gửi được."
        )
    try:
        schedule = parse_schedule(at=draft.at, cron=draft.cron, tz=tz, now=now)
    except ScheduleError as exc:
        raise BroadcastError(str(exc)) from None
    counts = await count_by_channel(session, units, spec)
    if sum(counts.values()) == 0:
        raise BroadcastError(
            f"Không có nơi nhận nào: chưa có {AUDIENCES[spec.audience]} thuộc "
            + ", ".join(u.name for u in units)
            + f" trên {CHANNEL_LABELS[spec.channel]}, nên chưa gửi được. Hãy liên kết nhóm "
            "(lệnh /lienket trong nhóm) hoặc chọn đơn vị khác."
        )
    first = _first_fire(schedule, tz, now)
    return Prepared(draft, units, schedule, counts, text, first)


def _content_text(kb: KnowledgeBase, draft: Draft) -> str:
    if draft.content_kind == "text":
        text = draft.text.strip()
        if not text:
            raise BroadcastError("Nội dung thông báo đang trống.")
        return text
    if draft.content_kind == "entry":
        entry = kb.entries.get(draft.entry_id or "")
        if entry is None:
            raise BroadcastError(f"Không có câu hỏi mã «{draft.entry_id}» trong bộ hỏi đáp.")
        return entry_text(entry)
    if draft.content_kind == "series":
        entries = series_entries(kb, draft.series or "")
        if not entries:
            raise BroadcastError(f"Không có chủ đề «{draft.series}» trong bộ hỏi đáp.")
        return max((entry_text(e) for e in entries), key=len)
    raise BroadcastError(f"Không hiểu loại nội dung «{draft.content_kind}».")


def _first_fire(schedule: Schedule, tz: ZoneInfo, now: datetime) -> datetime:
    if schedule.kind == "once" and schedule.at is not None:
        return schedule.at
    if schedule.kind == "cron":
        fire = next_fire(schedule.cron, tz, now)
        assert fire is not None  # parse_schedule refuses crons that never fire
        return fire
    return now


async def create(session: AsyncSession, prepared: Prepared, *, actor: User | None,
                 now: datetime) -> Broadcast:
    draft = prepared.draft
    broadcast = Broadcast(
        created_by=actor.id if actor else None,
        status="active",
        content_kind=draft.content_kind,
        text=prepared.first_text if draft.content_kind != "series" else "",
        entry_id=draft.entry_id if draft.content_kind == "entry" else None,
        series=draft.series if draft.content_kind == "series" else None,
        series_pos=0,
        campaign_id=draft.campaign_id,
        targets=json.dumps([u.code for u in prepared.units], ensure_ascii=False),
        level=draft.level,
        audience=draft.audience,
        channel=draft.channel,
        schedule_kind=prepared.schedule.kind,
        cron=prepared.schedule.cron,
        next_fire_at=prepared.first_fire,
        created_at=now,
        updated_at=now,
    )
    session.add(broadcast)
    await session.flush()
    await audit(session, actor, "broadcast.create", f"broadcast:{broadcast.id}",
                targets=[u.code for u in prepared.units], audience=draft.audience,
                channel=draft.channel, schedule=prepared.schedule.kind, cron=broadcast.cron,
                first_fire=prepared.first_fire)
    return broadcast


async def list_broadcasts(session: AsyncSession, actor: User | None,
                          limit: int = 20) -> list[Broadcast]:
    """Newest first: the actor's own (all of them for the operator and admins)."""
    query = (select(Broadcast).where(Broadcast.content_kind != REMINDER)
             .order_by(Broadcast.id.desc()).limit(limit))
    if actor is not None and not await _is_global_admin(session, actor):
        query = query.where(Broadcast.created_by == actor.id)
    return list((await session.scalars(query)).all())


async def _is_global_admin(session: AsyncSession, actor: User) -> bool:
    from bot.services.roles import roles_of

    return any(role is Role.ADMIN and unit is None
               for role, unit in await roles_of(session, actor))


async def may_manage(session: AsyncSession, actor: User | None, broadcast: Broadcast) -> bool:
    """The operator, or a reporter/admin over every target of the broadcast, checked now:
    having created it is not enough once the role is gone."""
    if actor is None:
        return True
    return await _may_send_all(session, actor, broadcast)


async def _may_send_all(session: AsyncSession, actor: User, broadcast: Broadcast) -> bool:
    codes = tuple(json.loads(broadcast.targets))
    try:
        units = await resolve_units(session, codes)
    except TargetError:
        return await _is_global_admin(session, actor)
    return all([await may_send_to(session, actor, unit) for unit in units])


async def creator_lost_right(session: AsyncSession, broadcast: Broadcast) -> bool:
    """True when the broadcast's creator may no longer send to all its targets (checked before
    every firing). Broadcasts made at the command line, and reminders, have no creator."""
    if broadcast.created_by is None or broadcast.content_kind == REMINDER:
        return False
    creator = await session.get(User, broadcast.created_by)
    return creator is None or not await _may_send_all(session, creator, broadcast)


async def admins_above(session: AsyncSession, broadcast: Broadcast) -> list[int]:
    """Users holding the admin role over the broadcast's targets (or the whole tree)."""
    from bot.db.models import RoleAssignment

    try:
        units = await resolve_units(session, tuple(json.loads(broadcast.targets)))
    except TargetError:
        units = []
    rows = (await session.execute(
        select(RoleAssignment.user_id, OrgUnit.path)
        .outerjoin(OrgUnit, OrgUnit.id == RoleAssignment.org_unit_id)
        .where(RoleAssignment.role == Role.ADMIN.value)
        .order_by(RoleAssignment.user_id))).all()
    found: list[int] = []
    for user_id, path in rows:
        if user_id in found or user_id == broadcast.created_by:
            continue
        if path is None or any(u.path.startswith(path) for u in units):
            found.append(user_id)
    return found


async def change_status(session: AsyncSession, broadcast_id: int, action: str, *,
                        actor: User | None, now: datetime, tz: ZoneInfo) -> Broadcast:
    """pause | resume | cancel, with the permission checked now. Cancelling skips every message
    not yet handed to the platform; pausing holds them until resumed."""
    broadcast = await session.get(Broadcast, broadcast_id)
    if broadcast is None:
        raise BroadcastError(f"Không có thông báo số {broadcast_id}.")
    if not await may_manage(session, actor, broadcast):
        raise BroadcastError("Bạn không có quyền thay đổi thông báo này.")
    if broadcast.status in ("cancelled", "finished") and action != "cancel":
        raise BroadcastError(f"Thông báo #{broadcast.id} {STATUS_LABELS[broadcast.status]}.")
    if action == "pause":
        broadcast.status = "paused"
    elif action == "resume":
        if broadcast.status != "paused":
            raise BroadcastError(f"Thông báo #{broadcast.id} không ở trạng thái tạm dừng.")
        broadcast.status = "active"
        if await creator_lost_right(session, broadcast):
            # paused because its creator lost the right: whoever resumes it answers for it now
            await audit(session, actor, "broadcast.adopt", f"broadcast:{broadcast.id}",
                        previous_creator=broadcast.created_by)
            broadcast.created_by = actor.id if actor else None
        if broadcast.schedule_kind == "cron" and broadcast.next_fire_at is not None and (
                aware(broadcast.next_fire_at) <= now):
            # firings that fell inside the pause are skipped, not sent late
            broadcast.next_fire_at = next_fire(broadcast.cron, tz, now)
    elif action == "cancel":
        if broadcast.status == "cancelled":
            raise BroadcastError(f"Thông báo #{broadcast.id} đã huỷ từ trước.")
        broadcast.status = "cancelled"
        broadcast.next_fire_at = None
        runs = select(BroadcastRun.id).where(BroadcastRun.broadcast_id == broadcast.id)
        await session.execute(
            update(Delivery)
            .where(Delivery.run_id.in_(runs), Delivery.status == "pending")
            .values(status="skipped", last_error=outcomes.REASON_CANCELLED, updated_at=now)
        )
        # the dispatcher closes the runs and tells the creator once in-flight messages are done
    else:
        raise BroadcastError(f"Không hiểu thao tác «{action}».")
    broadcast.updated_at = now
    await audit(session, actor, f"broadcast.{action}", f"broadcast:{broadcast.id}")
    await session.flush()
    return broadcast


def aware(value: datetime) -> datetime:
    """SQLite gives naive datetimes back; everything is stored in UTC."""
    return value if value.tzinfo else value.replace(tzinfo=utcnow().tzinfo)


@dataclass
class RunStats:
    run: BroadcastRun
    by_status: dict[str, int]
    reasons: dict[str, int]

    @property
    def open(self) -> int:
        return sum(self.by_status.get(s, 0) for s in OPEN_STATUSES)


async def run_stats(session: AsyncSession, run: BroadcastRun) -> RunStats:
    rows = await session.execute(
        select(Delivery.status, Delivery.last_error, func.count())
        .where(Delivery.run_id == run.id).group_by(Delivery.status, Delivery.last_error)
    )
    by_status: dict[str, int] = {}
    reasons: dict[str, int] = {}
    for status, error, n in rows.all():
        by_status[status] = by_status.get(status, 0) + n
        if status in ("failed", "skipped", "uncertain") and error:
            reasons[error] = reasons.get(error, 0) + n
    return RunStats(run, by_status, reasons)


async def latest_runs(session: AsyncSession, broadcast_id: int, limit: int = 3
                      ) -> list[BroadcastRun]:
    return list((await session.scalars(
        select(BroadcastRun).where(BroadcastRun.broadcast_id == broadcast_id)
        .order_by(BroadcastRun.fire_at.desc()).limit(limit))).all())
