"""A broadcast run and its delivery rows become visible together: the dispatcher's idle sweep
(which closes runs with nothing left to send) never sees a run before its deliveries exist.

On SQLite a SAVEPOINT as the first write of a transaction used to open the transaction itself,
and its release committed the new run row alone; a sweep in between closed the empty run and the
creator was told "Đã gửi: 0/600" while the 600 messages still went out."""

from __future__ import annotations

from sqlalchemy import func, select

import scheduler.runs
from bot.db.models import BroadcastRun, Delivery
from scheduler.broadcasts import Draft
from tests.broadcast_world import REPORTER_TG, Clock, build_world, create
from tests.fakes.telegram_api import FakeTelegram
from tests.test_broadcast_delivery import make_service

GROUPS = 600
UNITS = ["X01-CB01", "X01-CB02", "X01-CB03", "X01-CB04", "X01"]


async def test_sweep_during_expansion_does_not_close_a_600_group_run(app, monkeypatch):
    groups = [("telegram", f"-{100000 + i}", UNITS[i % len(UNITS)]) for i in range(GROUPS)]
    world = await build_world(app, groups)
    fake = await FakeTelegram().start()
    clock = Clock()
    service = make_service(app, fake, clock)
    dispatcher = service.dispatchers["telegram"]
    await service.senders["telegram"].start()
    real_expand = scheduler.runs.expand
    swept: list[int] = []

    async def expand_while_the_dispatcher_sweeps(session, run_id, *args, **kwargs):  # type: ignore[no-untyped-def]
        # the run row was just inserted: the idle sweep of the dispatcher runs now, from its
        # own connection, as it may at any moment in a running bot
        await dispatcher._sweep()
        async with app.sessions() as other:
            swept.append(int(await other.scalar(
                select(func.count()).select_from(BroadcastRun)
                .where(BroadcastRun.status != "running")) or 0))
        return await real_expand(session, run_id, *args, **kwargs)

    monkeypatch.setattr(scheduler.runs, "expand", expand_while_the_dispatcher_sweeps)
    try:
        bid, prepared = await create(app, Draft(text="Hội nghị quán triệt NQ 57 sáng thứ Hai.",
                                                targets=("X01",), channel="telegram"),
                                     actor=world.reporter, now=clock.now)
        assert prepared.counts == {"telegram": GROUPS}
        await service.tick()
        assert swept == [0]  # the sweep saw no run to close
        async with app.sessions() as s:
            run = await s.scalar(select(BroadcastRun).where(BroadcastRun.broadcast_id == bid))
            assert run is not None and run.status == "running" and run.total == GROUPS
        await dispatcher.drain()
        async with app.sessions() as s:
            run = await s.scalar(select(BroadcastRun).where(BroadcastRun.broadcast_id == bid))
            assert run is not None and run.status == "done"
            sent = await s.scalar(select(func.count()).select_from(Delivery).where(
                Delivery.run_id == run.id, Delivery.status == "sent"))
            last = await s.scalar(select(func.max(Delivery.updated_at)).where(
                Delivery.run_id == run.id))
            assert sent == GROUPS
            assert run.finished_at is not None and last is not None
            assert run.finished_at.replace(tzinfo=None) >= last.replace(tzinfo=None)
        group_sends = [c for c in fake.delivered() if int(c.params["chat_id"]) < 0]
        assert len(group_sends) == GROUPS
        summaries = fake.sent(int(REPORTER_TG))
        assert len(summaries) == 1
        assert f"Đã gửi: {GROUPS}/{GROUPS}" in summaries[0].params["text"]
    finally:
        await service.senders["telegram"].close()
        await fake.stop()
