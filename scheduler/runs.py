"""Firings: turn due broadcasts into runs and delivery rows; close runs that are done.

`now` is always passed in, so tests drive time by hand. A run is unique per broadcast and fire
time, so a firing handled twice (two ticks, two processes) creates one run.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.models import Broadcast, BroadcastRun, Delivery
from bot.services.roles import audit
from content.kb import KnowledgeBase
from scheduler import summaries
from scheduler.broadcasts import (
    OPEN_STATUSES,
    RunStats,
    admins_above,
    aware,
    content_for,
    creator_lost_right,
    run_stats,
)
from scheduler.targets import TargetError, TargetSpec, expand, resolve_units
from scheduler.timespec import next_fire

log = logging.getLogger(__name__)
CONFIRM_LABEL = "✅ Chi bộ đã quán triệt"  # the button under a campaign's announcement


@dataclass
class Notice:
    """A message for a broadcast's creator (a run summary, a missed firing)."""

    user_id: int
    text: str


@dataclass
class FireReport:
    runs: list[int] = field(default_factory=list)
    missed: list[int] = field(default_factory=list)
    notices: list[Notice] = field(default_factory=list)


async def fire_due(session: AsyncSession, kb: KnowledgeBase, *, now: datetime,
                   grace: timedelta, tz: ZoneInfo) -> FireReport:
    """Fire every active broadcast whose time has come. A firing later than `grace` (the process
    was down) is recorded as missed and its creator told, instead of being sent late."""
    report = FireReport()
    due = (await session.scalars(
        select(Broadcast)
        .where(Broadcast.status == "active", Broadcast.next_fire_at <= now)
        .order_by(Broadcast.next_fire_at)
        .with_for_update(skip_locked=True)
    )).all()
    for broadcast in due:
        assert broadcast.next_fire_at is not None
        fire_at = aware(broadcast.next_fire_at)
        if await creator_lost_right(session, broadcast):  # checked before every firing
            await _pause_orphan(session, broadcast, now, report)
            continue
        await _fire_one(session, kb, broadcast, fire_at, now=now, late=now - fire_at > grace,
                        tz=tz, report=report)
        if broadcast.schedule_kind == "cron" and broadcast.status == "active":
            broadcast.next_fire_at = next_fire(broadcast.cron, tz, max(now, fire_at))
        else:
            broadcast.next_fire_at = None
        broadcast.updated_at = now
    await session.flush()
    for notice in report.notices:
        log.info("notice for user %s: %s", notice.user_id, notice.text[:80])
    return report


async def _fire_one(session: AsyncSession, kb: KnowledgeBase, broadcast: Broadcast,
                    fire_at: datetime, *, now: datetime, late: bool, tz: ZoneInfo,
                    report: FireReport) -> None:
    content = content_for(kb, broadcast)
    if content is None:  # a series that has run out
        broadcast.status = "finished"
        return
    text, entry_id = content
    buttons = json.dumps([[{"label": CONFIRM_LABEL, "payload": f"q:{broadcast.campaign_id}"}]],
                         ensure_ascii=False) if broadcast.campaign_id else ""
    run = BroadcastRun(broadcast_id=broadcast.id, fire_at=fire_at, text=text, entry_id=entry_id,
                       buttons=buttons,
                       status="missed" if late else "running", total=0, created_at=now,
                       finished_at=now if late else None)
    try:
        async with session.begin_nested():
            session.add(run)
            await session.flush()
    except IntegrityError:
        log.info("broadcast %s at %s already fired", broadcast.id, fire_at)
        return
    if late:
        report.missed.append(run.id)
        if broadcast.created_by:
            report.notices.append(Notice(broadcast.created_by,
                                         summaries.missed_text(broadcast, fire_at, tz)))
        return
    spec = TargetSpec(tuple(json.loads(broadcast.targets)), broadcast.level,
                      broadcast.audience, broadcast.channel)
    try:
        units = await resolve_units(session, spec.unit_codes)
    except TargetError as exc:  # a unit was deleted since: reach what is left
        log.warning("broadcast %s: %s", broadcast.id, exc)
        units = [u for code in spec.unit_codes for u in await _existing(session, code)]
    run.total = await expand(session, run.id, units, spec, now) if units else 0
    if broadcast.content_kind == "series":
        broadcast.series_pos += 1
    report.runs.append(run.id)


async def _pause_orphan(session: AsyncSession, broadcast: Broadcast, now: datetime,
                        report: FireReport) -> None:
    """The creator lost the right to send it: pause (not cancel, so an admin can resume it)
    and tell the admins above."""
    broadcast.status = "paused"
    broadcast.updated_at = now
    await audit(session, None, "broadcast.pause", f"broadcast:{broadcast.id}",
                reason="creator_lost_right", creator=broadcast.created_by)
    for admin_id in await admins_above(session, broadcast):
        report.notices.append(Notice(admin_id, summaries.orphan_text(broadcast)))
    log.warning("broadcast %s paused: its creator may no longer send it", broadcast.id)


async def _existing(session: AsyncSession, code: str) -> list:  # type: ignore[type-arg]
    try:
        return await resolve_units(session, (code,))
    except TargetError:
        return []


async def finish_runs(session: AsyncSession, now: datetime,
                      run_ids: list[int] | None = None) -> list[tuple[Broadcast, RunStats]]:
    """Close the running runs that have nothing left to send; returns each with its figures
    (for the creator's summary). Atomic per run: only one caller closes a run."""
    query = select(BroadcastRun).where(BroadcastRun.status == "running")
    if run_ids is not None:
        query = query.where(BroadcastRun.id.in_(run_ids))
    finished: list[tuple[Broadcast, RunStats]] = []
    for run in (await session.scalars(query)).all():
        open_rows = await session.scalar(select(func.count()).select_from(Delivery).where(
            Delivery.run_id == run.id, Delivery.status.in_(OPEN_STATUSES)))
        if open_rows:
            continue
        closed = await session.execute(
            update(BroadcastRun).where(BroadcastRun.id == run.id,
                                       BroadcastRun.status == "running")
            .values(status="done", finished_at=now)
            .execution_options(synchronize_session=False))
        if closed.rowcount != 1:
            continue
        broadcast = await session.get(Broadcast, run.broadcast_id)
        assert broadcast is not None
        if broadcast.next_fire_at is None and broadcast.status in ("active", "paused"):
            broadcast.status = "finished"
            broadcast.updated_at = now
        await session.refresh(run)
        finished.append((broadcast, await run_stats(session, run)))
    await session.flush()
    return finished
