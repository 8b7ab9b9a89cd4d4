"""When broadcasts fire (once, daily, weekly, cron) with a clock the test moves by hand; missed
firings; one run per firing; and every refusal before anything is scheduled."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from bot.db.models import Broadcast, BroadcastRun, Delivery
from scheduler.broadcasts import BroadcastError, Draft
from scheduler.runs import fire_due
from tests.broadcast_world import Clock, build_world, create

# 07:00 in Asia/Ho_Chi_Minh is 00:00 UTC
MONDAY_0630_LOCAL = datetime(2026, 12, 6, 23, 30, tzinfo=UTC)  # Mon 07/12/2026 06:30 local


@pytest.fixture
async def world(app):
    return await build_world(app)


async def fire(app, now: datetime, grace_minutes: int = 60):
    async with app.sessions() as s, s.begin():
        return await fire_due(s, app.kb, now=now, tz=app.settings.tz,
                              grace=timedelta(minutes=grace_minutes))


async def runs_of(app, bid: int) -> list[tuple[datetime, str, int]]:
    async with app.sessions() as s:
        rows = (await s.scalars(select(BroadcastRun).where(BroadcastRun.broadcast_id == bid)
                                .order_by(BroadcastRun.fire_at))).all()
        return [(r.fire_at.replace(tzinfo=UTC) if r.fire_at.tzinfo is None else r.fire_at,
                 r.status, r.total) for r in rows]


async def test_once_fires_at_its_local_time_and_only_once(app, world):
    clock = Clock(MONDAY_0630_LOCAL)
    bid, prepared = await create(app, Draft(text="Họp lúc 8 giờ.", targets=("X01",),
                                            at="07/12/2026 07:00"),
                                 actor=world.reporter, now=clock.now)
    assert prepared.first_fire == datetime(2026, 12, 7, 0, 0, tzinfo=UTC)
    assert (await fire(app, clock.advance(minutes=29))).runs == []
    report = await fire(app, clock.advance(minutes=1))
    assert len(report.runs) == 1
    assert (await fire(app, clock.advance(minutes=5))).runs == []
    assert await runs_of(app, bid) == [(prepared.first_fire, "running", 4)]  # 3 Telegram + 1 Zalo


async def test_daily_fires_every_morning(app, world):
    clock = Clock(MONDAY_0630_LOCAL)
    from scheduler.timespec import daily

    bid, _ = await create(app, Draft(text="Câu hỏi mỗi ngày.", targets=("X01",),
                                     channel="telegram", cron=daily("07:00")),
                          actor=world.reporter, now=clock.now)
    for _day in range(3):
        await fire(app, clock.advance(minutes=31))
        clock.advance(hours=23, minutes=29)
    fired = [at for at, _status, _n in await runs_of(app, bid)]
    assert fired == [datetime(2026, 12, d, 0, 0, tzinfo=UTC) for d in (7, 8, 9)]


async def test_weekly_on_monday_and_thursday(app, world):
    clock = Clock(MONDAY_0630_LOCAL)
    from scheduler.timespec import weekly

    bid, prepared = await create(app, Draft(text="Sinh hoạt.", targets=("X01",),
                                            cron=weekly("2,5", "07:00")),
                                 actor=world.reporter, now=clock.now)
    assert prepared.first_fire == datetime(2026, 12, 7, 0, 0, tzinfo=UTC)  # Monday
    for _hour in range(24 * 8):
        await fire(app, clock.advance(hours=1))
    fired = [at.date().isoformat() for at, _s, _n in await runs_of(app, bid)]
    assert fired == ["2026-12-07", "2026-12-10", "2026-12-14"]  # Mon, Thu, Mon


async def test_standard_cron_weekday_numbers(app, world):
    clock = Clock(MONDAY_0630_LOCAL)
    _bid, prepared = await create(app, Draft(text="Thứ Hai.", targets=("X01",),
                                            cron="0 7 * * 1"),
                                 actor=world.reporter, now=clock.now)
    assert prepared.first_fire.astimezone(app.settings.tz).strftime("%A %H:%M") == (
        "Monday 07:00")


async def test_firing_missed_while_down_is_marked_and_the_creator_told(app, world):
    clock = Clock(MONDAY_0630_LOCAL)
    bid, _ = await create(app, Draft(text="Tin.", targets=("X01",), at="07/12/2026 07:00"),
                          actor=world.reporter, now=clock.now)
    report = await fire(app, clock.advance(hours=3))  # the process was down for hours
    assert report.runs == [] and len(report.missed) == 1
    assert report.notices[0].user_id == world.reporter.id
    assert "lỡ lần gửi lúc 07/12/2026 07:00" in report.notices[0].text
    assert [(s, n) for _at, s, n in await runs_of(app, bid)] == [("missed", 0)]
    async with app.sessions() as s:
        assert await s.scalar(select(func.count()).select_from(Delivery)) == 0


async def test_firing_late_within_grace_still_runs(app, world):
    clock = Clock(MONDAY_0630_LOCAL)
    _bid, _ = await create(app, Draft(text="Tin.", targets=("X01",), at="07/12/2026 07:00"),
                          actor=world.reporter, now=clock.now)
    report = await fire(app, clock.advance(minutes=30 + 45))
    assert len(report.runs) == 1 and report.missed == []


async def test_one_run_per_firing_even_if_fired_twice(app, world):
    clock = Clock(MONDAY_0630_LOCAL)
    bid, prepared = await create(app, Draft(text="Tin.", targets=("X01",),
                                            at="07/12/2026 07:00"),
                                 actor=world.reporter, now=clock.now)
    clock.advance(minutes=31)
    await fire(app, clock.now)
    async with app.sessions() as s, s.begin():  # a second process saw the old next_fire_at
        broadcast = await s.get(Broadcast, bid)
        broadcast.next_fire_at = prepared.first_fire
    await fire(app, clock.now)
    assert len(await runs_of(app, bid)) == 1


async def test_paused_broadcast_skips_firings_and_resume_goes_on_from_now(app, world):
    from scheduler import broadcasts
    from scheduler.timespec import daily

    clock = Clock(MONDAY_0630_LOCAL)
    bid, _ = await create(app, Draft(text="Tin.", targets=("X01",), cron=daily("07:00")),
                          actor=world.reporter, now=clock.now)
    async with app.sessions() as s, s.begin():
        await broadcasts.change_status(s, bid, "pause", actor=world.reporter, now=clock.now,
                                       tz=app.settings.tz)
    await fire(app, clock.advance(days=2))
    assert await runs_of(app, bid) == []
    async with app.sessions() as s, s.begin():
        b = await broadcasts.change_status(s, bid, "resume", actor=world.reporter,
                                           now=clock.now, tz=app.settings.tz)
        assert broadcasts.aware(b.next_fire_at) == datetime(2026, 12, 9, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(("draft", "message"), [
    (Draft(text="Tin.", targets=("X01",), at="01/12/2026 06:00"), "đã qua"),
    (Draft(text="Tin.", targets=("X01",), at="31/02/2027 07:00"), "không có thật"),
    (Draft(text="Tin.", targets=("X09",)), "Không có đơn vị mã «X09»"),
    (Draft(text="Tin.", targets=("X01-CB04",)), "Không có nơi nhận nào"),
    (Draft(text="Tin.", targets=("X01",), cron="0 7 30 2 *"), "không bao giờ đến"),
    (Draft(text="Tin.", targets=("X01",), cron="7 giờ sáng"), "không hợp lệ"),
    (Draft(text="x" * 2500, targets=("X01",)), "quá giới hạn 2.000 ký tự .* trên Zalo"),
    (Draft(text="x" * 4500, targets=("X01",), channel="telegram"), "4.000 ký tự"),
    (Draft(text="   ", targets=("X01",)), "trống"),
    (Draft(text="Tin.", targets=()), "Chưa chọn đơn vị"),
    (Draft(content_kind="entry", entry_id="khong-co", targets=("X01",)), "Không có câu hỏi"),
])
async def test_bad_input_explains_and_schedules_nothing(app, world, draft, message):
    with pytest.raises(BroadcastError, match=message):
        await create(app, draft, actor=world.reporter, now=Clock(MONDAY_0630_LOCAL).now)
    async with app.sessions() as s:
        assert await s.scalar(select(func.count()).select_from(Broadcast)) == 0


async def test_only_reporters_and_admins_in_their_scope_may_broadcast(app, world):
    now = Clock(MONDAY_0630_LOCAL).now
    with pytest.raises(BroadcastError, match=r"không có quyền gửi thông báo tới .*X02"):
        await create(app, Draft(text="Tin.", targets=("X01", "X02")), actor=world.reporter,
                     now=now)
    with pytest.raises(BroadcastError, match="không có quyền"):
        await create(app, Draft(text="Tin.", targets=("X01-CB01",)), actor=world.member,
                     now=now)
    bid, prepared = await create(app, Draft(text="Tin.", targets=("T01",)), actor=world.admin,
                                 now=now)
    assert prepared.counts == {"telegram": 4, "zalo": 1}
    from scheduler import broadcasts

    async with app.sessions() as s, s.begin():
        with pytest.raises(BroadcastError, match="không có quyền thay đổi"):
            await broadcasts.change_status(s, bid, "cancel", actor=world.reporter, now=now,
                                           tz=app.settings.tz)


async def test_private_messages_to_secretaries_of_a_subtree(app, world):
    from bot.services import orgs, roles
    from bot.services.people import upsert_chat, upsert_user
    from bot.services.roles import Role

    async with app.sessions() as s, s.begin():
        for uid, code in (("801", "X01-CB01"), ("802", "X01-CB02"), ("803", "X02-CB01")):
            user = await upsert_user(s, "telegram", uid, f"Bí thư {code}")
            await upsert_chat(s, "telegram", uid, "private", None)
            await roles.grant(s, user, Role.SECRETARY, await orgs.get_unit(s, code),
                              source="cli")
    _bid, prepared = await create(app, Draft(text="Nhắc bí thư.", targets=("X01",),
                                             audience="secretary", channel="telegram"),
                                  actor=world.reporter, now=Clock(MONDAY_0630_LOCAL).now)
    assert prepared.counts == {"telegram": 2}


async def test_apscheduler_wakes_the_service_at_the_next_firing(app, world):
    """The triggers are rebuilt from the database: a broadcast due in a second fires without
    waiting for the periodic sync."""
    import asyncio

    from bot.db.models import utcnow
    from scheduler.broadcasts import aware
    from scheduler.service import DeliveryService
    from scheduler.timespec import daily

    bid, _ = await create(app, Draft(text="Tin.", targets=("X01",), cron=daily("07:00")),
                          actor=world.reporter, now=utcnow())
    async with app.sessions() as s, s.begin():
        (await s.get(Broadcast, bid)).next_fire_at = utcnow() + timedelta(seconds=1)
    service = DeliveryService(app, {})
    service.scheduler.start()
    try:
        await service._sync_jobs()
        assert [j.id for j in service.scheduler.get_jobs()] == [f"broadcast-{bid}"]
        for _ in range(50):
            await asyncio.sleep(0.1)
            if await runs_of(app, bid):
                break
        [(_at, status, total)] = await runs_of(app, bid)
        assert (status, total) == ("running", 4)
        async with app.sessions() as s:  # and the next one is tomorrow 07:00 local
            next_at = aware((await s.get(Broadcast, bid)).next_fire_at)
            assert next_at.astimezone(app.settings.tz).strftime("%H:%M") == "07:00"
    finally:
        service.scheduler.shutdown(wait=False)


async def test_old_update_keys_and_expired_dialogs_are_pruned_hourly(app, world):
    from bot.db.models import DialogState, InboxUpdate
    from scheduler.service import DeliveryService

    clock = Clock(MONDAY_0630_LOCAL)
    async with app.sessions() as s, s.begin():
        s.add(InboxUpdate(channel="telegram", update_key="u:1", body="", state="done",
                          received_at=clock.now - timedelta(days=8)))
        s.add(InboxUpdate(channel="telegram", update_key="u:2", body="", state="done",
                          received_at=clock.now - timedelta(days=1)))
        s.add(InboxUpdate(channel="telegram", update_key="u:3", body="{}", state="pending",
                          received_at=clock.now - timedelta(days=9)))  # never dropped
        s.add(DialogState(channel="telegram", chat_id="1", user_id="1", kind="confirm",
                          data="{}", expires_at=datetime(2020, 1, 1, tzinfo=UTC),
                          updated_at=clock.now))
    service = DeliveryService(app, {}, clock=clock)
    await service.tick()
    async with app.sessions() as s:
        keys = (await s.scalars(select(InboxUpdate.update_key)
                                .order_by(InboxUpdate.update_key))).all()
        assert keys == ["u:2", "u:3"]
        assert await s.scalar(select(func.count()).select_from(DialogState)) == 0
