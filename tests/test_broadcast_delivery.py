"""Broadcast delivery end to end: database outbox → dispatcher → real HTTP to the fake
Telegram server; every platform answer (429, 403, migration, timeout, 5xx) and restart."""

from __future__ import annotations

import asyncio
import time

import pytest
from sqlalchemy import select

from bot.db.models import BroadcastRun, Chat, Delivery
from scheduler.broadcasts import Draft
from scheduler.dispatcher import Dispatcher, Limits
from scheduler.senders import TelegramSender
from scheduler.service import DeliveryService
from tests.broadcast_world import REPORTER_TG, Clock, build_world, create
from tests.fakes.telegram_api import FakeTelegram, Fault


@pytest.fixture
async def fake():
    server = await FakeTelegram().start()
    try:
        yield server
    finally:
        await server.stop()


@pytest.fixture
async def world(app):
    return await build_world(app)


def make_service(app, fake, clock, **limits) -> DeliveryService:
    sender = TelegramSender(fake.token, fake.base_url, timeout=limits.pop("timeout", 5.0),
                            pool_size=8)
    service = DeliveryService(app, {"telegram": sender}, clock=clock)
    dispatcher = service.dispatchers["telegram"]
    dispatcher.limits = Limits(**{"rate": 0, "per_chat_interval": 0, "retry_base": 2.0,
                                  **limits})
    dispatcher._limiter = None
    return service


async def deliveries(app, broadcast_id: int) -> dict[str, tuple[str, str | None]]:
    async with app.sessions() as s:
        rows = await s.execute(
            select(Chat.external_id, Delivery.status, Delivery.last_error)
            .join(Chat, Chat.id == Delivery.chat_id)
            .join(BroadcastRun, BroadcastRun.id == Delivery.run_id)
            .where(BroadcastRun.broadcast_id == broadcast_id))
        return {ext: (status, error) for ext, status, error in rows.all()}


async def fire_and_drain(service: DeliveryService) -> None:
    await service.tick()
    await service.dispatchers["telegram"].drain()


async def test_now_broadcast_reaches_each_group_of_the_subtree_once(app, world, fake):
    clock = Clock()
    service = make_service(app, fake, clock)
    await service.senders["telegram"].start()
    bid, prepared = await create(app, Draft(text="Họp chi bộ quán triệt NQ 57 tối thứ Sáu.",
                                            targets=("X01",), channel="telegram"),
                                 actor=world.reporter, now=clock.now)
    assert prepared.counts == {"telegram": 3}
    await fire_and_drain(service)
    sent = fake.sent()
    group_sends = sorted(int(c.params["chat_id"]) for c in sent if int(c.params["chat_id"]) < 0)
    assert group_sends == [-1003, -1002, -1001]
    assert await deliveries(app, bid) == {"-1001": ("sent", None), "-1002": ("sent", None),
                                          "-1003": ("sent", None)}
    summary = fake.sent(int(REPORTER_TG))
    assert len(summary) == 1 and "Đã gửi: 3/3" in summary[0].params["text"]
    await service.senders["telegram"].close()


async def test_level_filter_and_kicked_group(app, world, fake):
    clock = Clock()
    service = make_service(app, fake, clock)
    await service.senders["telegram"].start()
    fake.kick(-1002)
    bid, prepared = await create(app, Draft(text="Chỉ các chi bộ.", targets=("X01",),
                                            level="chi_bo", channel="telegram"),
                                 actor=world.reporter, now=clock.now)
    assert prepared.counts == {"telegram": 2}
    await fire_and_drain(service)
    result = await deliveries(app, bid)
    assert result["-1001"] == ("sent", None)
    assert result["-1002"][0] == "failed" and "xoá khỏi nhóm" in result["-1002"][1]
    async with app.sessions() as s:
        kicked = await s.scalar(select(Chat).where(Chat.external_id == "-1002"))
        assert kicked is not None and kicked.active is False
    text = fake.sent(int(REPORTER_TG))[0].params["text"]
    assert "Đã gửi: 1/2" in text and "Không gửi được: 1" in text and "bị xoá" in text
    await service.senders["telegram"].close()


async def test_migrated_group_is_followed_and_gets_the_message_once(app, world, fake):
    clock = Clock()
    service = make_service(app, fake, clock)
    await service.senders["telegram"].start()
    fake._migrated[-1001] = -100777
    bid, _ = await create(app, Draft(text="Tin cho chi bộ.", targets=("X01-CB01",),
                                     channel="telegram"), actor=world.reporter, now=clock.now)
    await fire_and_drain(service)
    assert [int(c.params["chat_id"]) for c in fake.delivered()
            if int(c.params["chat_id"]) < 0] == [-100777]
    assert await deliveries(app, bid) == {"-100777": ("sent", None)}
    await service.senders["telegram"].close()


async def test_429_pauses_the_channel_for_retry_after(app, world, fake):
    clock = Clock()
    service = make_service(app, fake, clock)
    await service.senders["telegram"].start()
    fake.fail_next(-1001, Fault(429, "Too Many Requests: retry after 1", {"retry_after": 1}))
    bid, _ = await create(app, Draft(text="Tin.", targets=("X01-CB01",), channel="telegram"),
                          actor=world.reporter, now=clock.now)
    started = time.monotonic()
    await fire_and_drain(service)
    attempts = [c for c in fake.sent(-1001)]
    assert len(attempts) == 2 and attempts[1].at - attempts[0].at >= 0.95
    assert time.monotonic() - started >= 0.95
    assert service.dispatchers["telegram"].stats.rate_limited == 1
    assert (await deliveries(app, bid))["-1001"] == ("sent", None)
    await service.senders["telegram"].close()


async def test_timeout_after_sending_is_uncertain_and_not_resent(app, world, fake):
    clock = Clock()
    service = make_service(app, fake, clock, timeout=0.5)
    await service.senders["telegram"].start()
    fake.hang.add(-1001)
    bid, _ = await create(app, Draft(text="Tin.", targets=("X01",), level="chi_bo",
                                     channel="telegram"), actor=world.reporter, now=clock.now)
    await fire_and_drain(service)
    result = await deliveries(app, bid)
    assert result["-1001"][0] == "uncertain" and result["-1002"] == ("sent", None)
    assert len(fake.sent(-1001)) == 1
    assert "Chưa chắc chắn: 1" in fake.sent(int(REPORTER_TG))[0].params["text"]
    await service.senders["telegram"].close()


async def test_server_errors_are_retried_with_backoff_then_given_up(app, world, fake):
    clock = Clock()
    service = make_service(app, fake, clock, max_attempts=3)
    await service.senders["telegram"].start()
    fake.fail_next(-1001, Fault(502, "Bad Gateway", times=1))
    fake.fail_next(-1002, Fault(502, "Bad Gateway", times=5))
    bid, _ = await create(app, Draft(text="Tin.", targets=("X01",), level="chi_bo",
                                     channel="telegram"), actor=world.reporter, now=clock.now)
    await fire_and_drain(service)
    assert {k: v[0] for k, v in (await deliveries(app, bid)).items()} == {
        "-1001": "pending", "-1002": "pending"}
    clock.advance(seconds=1)  # back-off (2 s) not over: nothing is sent
    await service.dispatchers["telegram"].drain()
    assert len(fake.sent(-1001)) == 1
    clock.advance(seconds=2)
    await service.dispatchers["telegram"].drain()
    assert (await deliveries(app, bid))["-1001"] == ("sent", None)
    clock.advance(seconds=10)
    await service.dispatchers["telegram"].drain()
    status, error = (await deliveries(app, bid))["-1002"]
    assert status == "failed" and "lỗi mạng" in error and len(fake.sent(-1002)) == 3
    await service.senders["telegram"].close()


async def test_global_rate_limit_is_honoured(app, fake):
    groups = [("telegram", str(-3000 - i), "X01-CB01") for i in range(30)]
    world = await build_world(app, groups)
    clock = Clock()
    service = make_service(app, fake, clock)
    dispatcher = service.dispatchers["telegram"]
    dispatcher.limits.rate = 10
    from aiolimiter import AsyncLimiter
    dispatcher._limiter = AsyncLimiter(1, 0.1)
    await service.senders["telegram"].start()
    await create(app, Draft(text="Tin.", targets=("X01-CB01",), channel="telegram"),
                 actor=world.reporter, now=clock.now)
    await fire_and_drain(service)
    times = sorted(c.at for c in fake.delivered() if int(c.params["chat_id"]) < 0)
    assert len(times) == 30
    assert times[-1] - times[0] >= 2.7  # 30 messages at 10/s
    assert max(sum(1 for t in times if s <= t < s + 1.0) for s in times) <= 11
    await service.senders["telegram"].close()


async def change(app, bid: int, action: str, actor, clock: Clock) -> None:
    from scheduler import broadcasts

    async with app.sessions() as s, s.begin():
        await broadcasts.change_status(s, bid, action, actor=actor, now=clock.now,
                                       tz=app.settings.tz)


async def test_pause_and_cancel_in_the_middle_of_a_run(app, fake):
    groups = [("telegram", str(-4000 - i), "X01-CB01") for i in range(40)]
    world = await build_world(app, groups)
    clock = Clock()
    service = make_service(app, fake, clock, concurrency=2, batch_size=2)
    dispatcher = service.dispatchers["telegram"]
    await service.senders["telegram"].start()
    fake.latency = 0.02

    def group_sends() -> list[int]:
        return [int(c.params["chat_id"]) for c in fake.delivered()
                if int(c.params["chat_id"]) < 0]

    bid, _ = await create(app, Draft(text="Tin.", targets=("X01-CB01",), channel="telegram"),
                          actor=world.reporter, now=clock.now)
    await service.tick()
    running = asyncio.create_task(dispatcher.drain())
    await fake.wait_for(lambda: len(group_sends()) >= 6)
    await change(app, bid, "pause", world.reporter, clock)
    await running  # the dispatcher finishes what it holds, then finds nothing it may send
    held = len(group_sends())
    assert 6 <= held <= 6 + 2 + 2 + 2  # at most the rows in flight when paused
    statuses = [v[0] for v in (await deliveries(app, bid)).values()]
    assert statuses.count("pending") == 40 - held
    await change(app, bid, "resume", world.reporter, clock)
    await dispatcher.drain()
    assert sorted(group_sends()) == sorted(int(g[1]) for g in groups)  # each once

    bid2, _ = await create(app, Draft(text="Tin hai.", targets=("X01-CB01",),
                                      channel="telegram"), actor=world.reporter, now=clock.now)
    await service.tick()
    before = len(group_sends())
    running = asyncio.create_task(dispatcher.drain())
    await fake.wait_for(lambda: len(group_sends()) >= before + 4)
    await change(app, bid2, "cancel", world.admin, clock)
    await running
    result = await deliveries(app, bid2)
    sent = [k for k, v in result.items() if v[0] == "sent"]
    skipped = [k for k, v in result.items() if v == ("skipped", "thông báo đã bị huỷ")]
    assert len(sent) + len(skipped) == 40 and len(skipped) >= 40 - 4 - 6
    assert len(group_sends()) == before + len(sent)
    async with app.sessions() as s:
        run = await s.scalar(select(BroadcastRun).where(BroadcastRun.broadcast_id == bid2))
        assert run is not None and run.status == "done"
    summary = fake.sent(int(REPORTER_TG))[-1].params["text"]
    assert "Bỏ qua" in summary and "thông báo đã bị huỷ" in summary
    await service.senders["telegram"].close()


async def test_restart_sends_rows_left_in_flight_once_more_and_loses_none(app, world, fake):
    """A process dies with rows claimed (`sending`): the next dispatcher sends them; the rows
    already recorded as sent are not sent again."""
    clock = Clock()
    service = make_service(app, fake, clock)
    await service.senders["telegram"].start()
    bid, _ = await create(app, Draft(text="Tin.", targets=("X01",), channel="telegram"),
                          actor=world.reporter, now=clock.now)
    await service.tick()
    dead = service.dispatchers["telegram"]
    jobs = await dead._claim(2)  # claimed by a process that then dies before sending
    assert len(jobs) == 2
    assert sorted(v[0] for v in (await deliveries(app, bid)).values()) == [
        "pending", "sending", "sending"]
    fresh = Dispatcher(app.sessions, service.senders["telegram"],
                       Limits(rate=0, per_chat_interval=0), clock=clock)
    await fresh.drain()
    assert {v[0] for v in (await deliveries(app, bid)).values()} == {"sent"}
    assert len([c for c in fake.sent() if int(c.params["chat_id"]) < 0]) == 3
    await service.senders["telegram"].close()
    await asyncio.sleep(0)


async def test_zalo_groups_get_the_broadcast_and_a_403_marks_the_group_gone(app, fake):
    from bot.channels.zalo_client import ZaloClient
    from scheduler.senders import ZaloSender
    from tests.fakes.zalo_api import FakeZalo

    groups = [("zalo", "zg-1", "X01-CB03"), ("zalo", "zg-2", "X01-CB04"),
              ("zalo", "zg-3", "X01-CB05")]
    world = await build_world(app, groups)
    zalo = await FakeZalo().start()
    try:
        clock = Clock()
        sender = ZaloSender(ZaloClient(zalo.base_url, zalo.token), default_retry_after=1.0)
        service = DeliveryService(app, {"zalo": sender}, clock=clock)
        service.dispatchers["zalo"].limits = Limits(rate=0, per_chat_interval=0)
        service.dispatchers["zalo"]._limiter = None
        zalo.fail_next("zg-2", 403, "Forbidden: bot is not a member of this group")
        zalo.fail_next("zg-3", 429, "Too Many Requests")
        bid, prepared = await create(app, Draft(text="Tin trên Zalo.", targets=("X01",),
                                                channel="zalo"),
                                     actor=world.reporter, now=clock.now)
        assert prepared.counts == {"zalo": 3}
        await service.tick()
        await service.dispatchers["zalo"].drain()
        result = await deliveries(app, bid)
        assert result["zg-1"] == ("sent", None) and result["zg-3"] == ("sent", None)
        assert result["zg-2"][0] == "failed" and "bị xoá" in result["zg-2"][1]
        assert service.dispatchers["zalo"].stats.rate_limited == 1
        assert [c.params["text"] for c in zalo.sent("zg-1")] == ["Tin trên Zalo."]
        await sender.close()
    finally:
        await zalo.stop()


async def test_campaign_announcement_carries_the_confirmation_action(app, fake):
    """Telegram: an inline button; Zalo: a numbered option anyone in the group may answer."""
    from bot.channels.zalo_client import ZaloClient
    from bot.services import campaigns, dialogs
    from scheduler.senders import ZaloSender
    from scheduler.service import _chat_options
    from tests.fakes.zalo_api import FakeZalo

    world = await build_world(app, [("telegram", "-1001", "X01-CB01"),
                                    ("zalo", "zg-1", "X01-CB02")])
    clock = Clock()
    async with app.sessions() as s, s.begin():
        campaign = await campaigns.create(
            s, actor=None, document="NQ57", title="Quán triệt Nghị quyết 57", scope_code="X01",
            deadline="20/12/2026", opens=None, now=clock.now, tz=app.settings.tz,
            documents={"NQ57"})
    zalo = await FakeZalo().start()
    try:
        telegram = TelegramSender(fake.token, fake.base_url, timeout=5.0, pool_size=4)
        zalo_sender = ZaloSender(ZaloClient(zalo.base_url, zalo.token), default_retry_after=1,
                                 remember_options=_chat_options(app))
        service = DeliveryService(app, {"telegram": telegram, "zalo": zalo_sender}, clock=clock)
        for dispatcher in service.dispatchers.values():
            dispatcher.limits = Limits(rate=0, per_chat_interval=0)
            dispatcher._limiter = None
        await telegram.start()
        _bid, prepared = await create(app, Draft(targets=("X01",), campaign_id=campaign.id),
                                      actor=world.reporter, now=clock.now)
        assert "Hạn hoàn thành: 20/12/2026" in prepared.first_text
        await service.tick()
        await asyncio.gather(*(d.drain() for d in service.dispatchers.values()))
        [message] = fake.sent(-1001)
        button = message.params["reply_markup"]["inline_keyboard"][0][0]
        assert button == {"text": "✅ Chi bộ đã quán triệt", "callback_data": f"q:{campaign.id}"}
        [zalo_message] = zalo.sent("zg-1")
        assert "1. ✅ Chi bộ đã quán triệt" in zalo_message.params["text"]
        async with app.sessions() as s:  # any member of the group answering "1"
            assert await dialogs.resolve_option(s, "zalo", "zg-1", "someone", 1) == (
                f"q:{campaign.id}")
        await telegram.close()
        await zalo_sender.close()
    finally:
        await zalo.stop()


async def test_one_dispatcher_per_channel_holds_the_lease(app, world, fake):
    """A second process waits as a standby; `deliver` gives up while a live one sends; a
    lease left by a dead process expires and is taken over."""
    from scheduler.dispatcher import DispatcherBusy
    from scheduler.lease import Lease

    first = Lease(app.sessions, "telegram", ttl=1.0, holder="bot-1")
    second = Lease(app.sessions, "telegram", ttl=1.0, holder="bot-2")
    assert await first.acquire() and await first.acquire()  # renewing
    assert not await second.acquire()
    assert await second.current_holder() == "bot-1"
    sender = TelegramSender(fake.token, fake.base_url, timeout=5.0, pool_size=4)
    await sender.start()
    busy = Dispatcher(app.sessions, sender, Limits(rate=0, per_chat_interval=0), lease=second)
    started = time.monotonic()
    with pytest.raises(DispatcherBusy):
        # bot-1 keeps renewing meanwhile, as a live process does
        renewing = asyncio.create_task(_renew(first, 4))
        await busy.drain()
    await renewing
    assert time.monotonic() - started >= 2.5
    await asyncio.sleep(1.1)  # bot-1 died without releasing: its lease expires
    await first._drop()  # and (PostgreSQL) its connection, with the advisory lock, is gone
    assert await second.acquire()
    await second.release()
    assert await first.acquire()
    await first.release()
    await sender.close()


async def _renew(lease, seconds: float) -> None:
    for _ in range(int(seconds / 0.3)):
        await lease.acquire()
        await asyncio.sleep(0.3)
