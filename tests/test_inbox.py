"""The inbox of incoming updates (bot/inbox.py): stored once per key, claimed by one process,
done after its handler, retried then parked, drained on start; malformed webhook bodies are
answered 400 and never stored; a Zalo message without an id is never taken for another."""

from __future__ import annotations

import asyncio
import json
import logging
import socket
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
from sqlalchemy import select

from bot import inbox as inbox_mod
from bot.app import build_app
from bot.db.models import InboxUpdate
from bot.inbox import Accepted, Inbox
from bot.metrics import Metrics
from tests.broadcast_world import Clock
from tests.conftest import make_settings
from tests.fakes.loopback import start_webhook, stop_webhook
from tests.fakes.telegram_api import FakeTelegram
from tests.fakes.zalo_api import FakeZalo


def make_inbox(app, handler, clock=None, **kw) -> Inbox:  # type: ignore[no-untyped-def]
    options: dict[str, Any] = {"concurrency": 4, "max_backlog": 100, "max_attempts": 3,
                               "retry_base": 0.0, "claim_seconds": 60.0, "poll_seconds": 0.05,
                               **kw}
    if clock is not None:
        options["clock"] = clock
    return Inbox(app.sessions, "telegram", handler, **options)


async def rows(app) -> dict[str, tuple[str, int, str | None]]:  # type: ignore[no-untyped-def]
    async with app.sessions() as s:
        result = await s.execute(select(InboxUpdate.update_key, InboxUpdate.state,
                                        InboxUpdate.attempts, InboxUpdate.last_error))
        return {key: (state, attempts, error) for key, state, attempts, error in result.all()}


async def test_an_update_is_stored_once_and_handled_once(app):
    seen: list[dict] = []

    async def handler(body: dict, last: bool) -> None:
        seen.append(body)

    inbox = make_inbox(app, handler)
    assert await inbox.accept("u:1", {"update_id": 1, "text": "Nghị quyết 57"}) == Accepted.NEW
    assert await inbox.accept("u:1", {"update_id": 1, "text": "Nghị quyết 57"}) == (
        Accepted.DUPLICATE)  # a re-delivery, to this or another process
    await inbox.drain()
    await inbox.drain()
    assert seen == [{"update_id": 1, "text": "Nghị quyết 57"}]
    assert (await rows(app))["u:1"][:2] == ("done", 1)
    async with app.sessions() as s:  # the text is not kept once handled
        assert await s.scalar(select(InboxUpdate.body)) == ""
    assert await inbox.accept("u:1", {"update_id": 1}) == Accepted.DUPLICATE  # done: still


async def test_a_claimed_update_is_not_claimed_again_until_its_claim_expires(app):
    clock = Clock(datetime(2026, 12, 1, tzinfo=UTC))
    async with app.sessions() as s, s.begin():
        await inbox_mod.store(s, "telegram", "u:1", {"update_id": 1}, clock.now)
        await inbox_mod.store(s, "telegram", "u:2", {"update_id": 2}, clock.now)
        await inbox_mod.store(s, "zalo", "c:1", {"message": {}}, clock.now)
    claims = []
    for holder in ("host:1:a", "host:2:b"):  # two processes at once
        async with app.sessions() as s, s.begin():
            claims.append(await inbox_mod.claim(s, "telegram", holder, 10, now=clock.now,
                                                claim_for=timedelta(seconds=60)))
    assert [r[0] for r in claims[0]] == [1, 2] and claims[1] == []
    clock.advance(seconds=61)  # the first process died: another takes them over
    async with app.sessions() as s, s.begin():
        again = await inbox_mod.claim(s, "telegram", "host:2:b", 10, now=clock.now,
                                      claim_for=timedelta(seconds=60))
    assert [(r[0], r[2]) for r in again] == [(1, 2), (2, 2)]  # attempts counted


async def test_concurrent_claims_share_the_rows_without_overlap(app):
    now = datetime.now(UTC)
    async with app.sessions() as s, s.begin():
        for i in range(40):
            await inbox_mod.store(s, "telegram", f"u:{i}", {"update_id": i}, now)

    async def take(holder: str) -> list[int]:
        got: list[int] = []
        while True:
            async with app.sessions() as s, s.begin():
                batch = await inbox_mod.claim(s, "telegram", holder, 3, now=now,
                                              claim_for=timedelta(seconds=60))
            if not batch:
                return got
            got += [r[0] for r in batch]

    a, b, c = await asyncio.gather(take("h:1:a"), take("h:2:b"), take("h:3:c"))
    assert sorted(a + b + c) == list(range(1, 41))  # each row claimed by exactly one


async def test_one_chats_updates_are_handled_in_order_other_chats_meanwhile(app):
    events: list[str] = []

    async def handler(body: dict, last: bool) -> None:
        name = body["name"]
        events.append(f"start {name}")
        await asyncio.sleep(0.2 if name == "a1" else 0.01)
        events.append(f"end {name}")

    inbox = make_inbox(app, handler, chat_of=lambda body: body["chat"])
    for name, chat in (("a1", 1), ("a2", 1), ("b1", 2), ("a3", 1)):
        await inbox.accept(f"u:{name}", {"name": name, "chat": chat})
    await inbox.drain()
    a = [e for e in events if e.endswith(("a1", "a2", "a3"))]
    assert a == ["start a1", "end a1", "start a2", "end a2", "start a3", "end a3"]
    assert events.index("end b1") < events.index("end a1")  # chat 2 did not wait for chat 1


async def test_a_failing_update_is_retried_then_parked_and_never_blocks_others(app, caplog):
    calls: list[tuple[int, bool]] = []

    async def handler(body: dict, last: bool) -> None:
        calls.append((body["update_id"], last))
        if body["update_id"] == 1:
            raise RuntimeError("database hiccup")

    inbox = make_inbox(app, handler)
    for i in (1, 2, 3):
        await inbox.accept(f"u:{i}", {"update_id": i})
    with caplog.at_level(logging.WARNING, logger="bot.inbox"):
        await inbox.drain()
    assert [c for c in calls if c[0] == 1] == [(1, False), (1, False), (1, True)]
    assert sorted(c for c in calls if c[0] != 1) == [(2, False), (3, False)]
    state = await rows(app)
    assert state["u:1"][:2] == ("failed", 3) and "database hiccup" in (state["u:1"][2] or "")
    assert state["u:2"][0] == state["u:3"][0] == "done"
    assert any("parked" in r.getMessage() for r in caplog.records)
    metrics = Metrics()  # the operator sees it on /metrics
    assert await metrics.refresh(app.sessions, channels={"telegram": True})
    assert metrics.value("nqbot_inbox_updates", channel="telegram", state="failed") == 1
    assert metrics.value("nqbot_inbox_updates", channel="telegram", state="pending") == 0


async def test_retry_waits_its_back_off(app):
    clock = Clock(datetime(2026, 12, 1, tzinfo=UTC))
    failures = [RuntimeError("Telegram did not answer")]

    async def handler(body: dict, last: bool) -> None:
        if failures:
            raise failures.pop()

    inbox = make_inbox(app, handler, clock, retry_base=30.0)
    await inbox.accept("u:1", {"update_id": 1})
    await inbox.drain()
    assert (await rows(app))["u:1"][:2] == ("pending", 1)
    await inbox.drain()  # 30 s have not passed
    assert (await rows(app))["u:1"][:2] == ("pending", 1)
    clock.advance(seconds=31)
    await inbox.drain()
    assert (await rows(app))["u:1"][:2] == ("done", 2)


async def test_a_malformed_stored_body_is_parked_without_calling_the_handler(app):
    called: list[dict] = []

    async def handler(body: dict, last: bool) -> None:
        called.append(body)

    now = datetime.now(UTC)
    async with app.sessions() as s, s.begin():
        s.add(InboxUpdate(channel="telegram", update_key="u:1", body="{not json", state="pending",
                          attempts=0, received_at=now))
        s.add(InboxUpdate(channel="telegram", update_key="u:2", body="[1, 2]", state="pending",
                          attempts=0, received_at=now))
    inbox = make_inbox(app, handler)
    await inbox.accept("u:3", {"update_id": 3})
    await inbox.drain()
    state = await rows(app)
    assert state["u:1"][0] == state["u:2"][0] == "failed" and state["u:3"][0] == "done"
    assert called == [{"update_id": 3}]


async def test_on_start_updates_left_by_a_dead_process_are_handled_at_once(app):
    gone = await asyncio.create_subprocess_exec("true")
    await gone.wait()  # a process of this host that no longer exists
    dead = f"{socket.gethostname()[:48]}:{gone.pid}:deadbeef"
    now = datetime.now(UTC)
    async with app.sessions() as s, s.begin():
        for i in (1, 2):
            s.add(InboxUpdate(channel="telegram", update_key=f"u:{i}", state="pending",
                              body=json.dumps({"update_id": i}), attempts=1, received_at=now,
                              claimed_by=dead, claimed_until=now + timedelta(minutes=2)))
        s.add(InboxUpdate(channel="telegram", update_key="u:3", state="pending",
                          body=json.dumps({"update_id": 3}), attempts=0, received_at=now))
    handled: list[int] = []

    async def handler(body: dict, last: bool) -> None:
        handled.append(body["update_id"])

    inbox = make_inbox(app, handler)
    stop = asyncio.Event()
    task = asyncio.create_task(inbox.run(stop))
    try:
        for _ in range(200):
            if len(handled) == 3:
                break
            await asyncio.sleep(0.02)
        assert sorted(handled) == [1, 2, 3]  # not two minutes later
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)
    assert {v[0] for v in (await rows(app)).values()} == {"done"}


async def test_a_long_handling_keeps_its_claim_while_the_process_lives(app):
    started, release = asyncio.Event(), asyncio.Event()
    calls: list[int] = []

    async def slow_report(body: dict, last: bool) -> None:
        calls.append(body["update_id"])
        started.set()
        await release.wait()

    inbox = make_inbox(app, slow_report, claim_seconds=0.3)
    stop = asyncio.Event()
    task = asyncio.create_task(inbox.run(stop))
    try:
        await inbox.accept("u:1", {"update_id": 1})
        await asyncio.wait_for(started.wait(), 5)
        for _ in range(12):  # 1.2 s: four times the claim
            await asyncio.sleep(0.1)
            async with app.sessions() as s, s.begin():
                assert await inbox_mod.claim(s, "telegram", "other:1:x", 10,
                                             now=datetime.now(UTC),
                                             claim_for=timedelta(seconds=60)) == []
        release.set()
        for _ in range(100):
            if (await rows(app))["u:1"][0] == "done":
                break
            await asyncio.sleep(0.02)
        assert (await rows(app))["u:1"][0] == "done" and calls == [1]
    finally:
        release.set()
        stop.set()
        await asyncio.wait_for(task, 10)


async def test_backlog_over_the_setting_is_refused(app):
    async def handler(body: dict, last: bool) -> None:
        return None

    inbox = make_inbox(app, handler, max_backlog=2)
    assert [await inbox.accept(f"u:{i}", {"update_id": i}) for i in (1, 2, 3)] == [
        Accepted.NEW, Accepted.NEW, Accepted.BUSY]
    await inbox.drain()
    assert await inbox.accept("u:3", {"update_id": 3}) == Accepted.NEW  # room again


# -- malformed webhook bodies (HTTP 400, one log line, nothing stored) --------------------------

async def _post_all(url: str, headers: dict[str, str], bodies: list) -> list[int]:  # type: ignore[type-arg]
    statuses = []
    async with aiohttp.ClientSession() as http:
        for body in bodies:
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            async with http.post(url, data=data, headers={
                    **headers, "Content-Type": "application/json"}) as response:
                statuses.append(response.status)
    return statuses


async def test_malformed_telegram_webhook_bodies_get_400_and_one_log_line(database_url, caplog):
    from bot.channels.telegram import TelegramChannel

    fake = await FakeTelegram().start()
    app = await build_app(make_settings(
        database_url, telegram_bot_token=fake.token, telegram_api_base_url=fake.base_url,
        telegram_webhook_url="https://bot.example.vn/telegram/webhook",
        telegram_webhook_secret="s3cret"))
    channel = TelegramChannel(app)
    port, stop, task, web = await start_webhook(channel)
    bad = [{}, {"update_id": "abc"}, {"update_id": True},
           {"update_id": 5, "message": {"message_id": 1, "date": 0, "chat": 5}},
           {"update_id": 6, "message": "xin chao"}, [1, 2], b"\xff\xfe not json"]
    try:
        await fake.wait_for(lambda: fake.webhook)
        url = f"http://127.0.0.1:{port}/telegram/webhook"
        with caplog.at_level(logging.WARNING):
            caplog.clear()
            statuses = await _post_all(url, {"X-Telegram-Bot-Api-Secret-Token": "s3cret"}, bad)
            good = fake.pop_update(fake.send_text(556001, 556001, "kl69 ban hanh ngay nao"))
            assert await _post_all(url, {"X-Telegram-Bot-Api-Secret-Token": "s3cret"},
                                   [good]) == [200]  # the bot still works
            await fake.wait_for(lambda: fake.sent(556001))
        assert statuses == [400] * len(bad)
        refused = [r for r in caplog.records if "refused" in r.getMessage()]
        assert len(refused) == len(bad)
        assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
        assert list(await rows(app)) == [f"u:{good['update_id']}"]
    finally:
        await stop_webhook(stop, task, web)
        await app.close()
        await fake.stop()


async def test_zalo_malformed_bodies_and_messages_without_an_id(database_url, caplog):
    from bot.channels.zalo import ZaloChannel

    fake = await FakeZalo().start()
    app = await build_app(make_settings(
        database_url, zalo_bot_token=fake.token, zalo_api_base_url=fake.base_url,
        zalo_webhook_url="https://bot.example.vn/zalo/webhook",
        zalo_webhook_secret="zalo-secret-123"))
    channel = ZaloChannel(app)
    port, stop, task, web = await start_webhook(channel)
    headers = {"X-Bot-Api-Secret-Token": "zalo-secret-123"}
    url = f"http://127.0.0.1:{port}/zalo/webhook"
    broken = fake.update("zu-1", "zu-1", "xin chao")
    broken["message"]["chat"] = 5
    bad = [{}, {"ok": True, "result": {}}, {"ok": True, "result": broken},
           {"message": "xin chao"}, {"message": {"chat": {"id": "zu-1"}, "from": {}}}]
    try:
        await fake.wait_for(lambda: fake.webhook)
        with caplog.at_level(logging.WARNING):
            caplog.clear()
            assert await _post_all(url, headers, bad) == [400] * len(bad)
            refused = [r for r in caplog.records if "refused" in r.getMessage()]
            assert len(refused) == len(bad)
            assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
        # two messages without message_id from one chat: both answered (no dedupe on the
        # event name), and a later one with an id too
        first = fake.update("zu-2", "zu-2", "nq57 ban hanh ngay nao")
        second = fake.update("zu-2", "zu-2", "kl69 ban hanh ngay nao")
        for update in (first, second):
            del update["message"]["message_id"]
        third = fake.update("zu-2", "zu-2", "/help")
        assert await _post_all(url, headers, [first, second, third]) == [200, 200, 200]
        await fake.wait_for(lambda: len(fake.sent("zu-2")) >= 3)
        await asyncio.sleep(0.3)
        assert len(fake.sent("zu-2")) == 3
        assert len(await rows(app)) == 3
    finally:
        await stop_webhook(stop, task, web)
        await app.close()
        await fake.stop()


async def test_polled_telegram_updates_are_stored_before_the_offset_acknowledges_them(
        database_url):
    """Long polling: a batch is in the inbox before the next getUpdates (its offset) tells
    Telegram it arrived; what was acknowledged and not yet answered is answered after a
    restart, once."""
    from bot.channels.telegram import TelegramChannel

    fake = await FakeTelegram().start()
    fake.latency = 1.0  # slow answers: most updates still wait when the bot stops
    settings = make_settings(database_url, telegram_bot_token=fake.token,
                             telegram_api_base_url=fake.base_url, telegram_poll_timeout=1,
                             telegram_concurrent_updates=1)
    chats = [557000 + i for i in range(4)]
    try:
        app = await build_app(settings)
        channel = TelegramChannel(app)
        stop = asyncio.Event()
        task = asyncio.create_task(channel.run(stop))
        try:
            await fake.wait_for(lambda: fake.sent(method="getUpdates"))
            ids = [fake.send_text(chat, chat, "nq57 ban hanh ngay nao") for chat in chats]
            await fake.wait_for(lambda: fake.confirmed(ids[-1]))  # Telegram drops them now
            assert set(await rows(app)) == {f"u:{i}" for i in ids}
        finally:
            stop.set()
            await asyncio.wait_for(task, 15)
            await app.close()
        assert len({int(c.params["chat_id"]) for c in fake.sent()}) < len(chats)

        fake.latency = 0.0
        app = await build_app(settings)  # the next start
        channel = TelegramChannel(app)
        stop = asyncio.Event()
        task = asyncio.create_task(channel.run(stop))
        try:
            await fake.wait_for(lambda: all(fake.sent(chat) for chat in chats))
            await asyncio.sleep(0.3)
            assert sorted(int(c.params["chat_id"]) for c in fake.sent()) == chats
            assert {v[0] for v in (await rows(app)).values()} == {"done"}
        finally:
            stop.set()
            await asyncio.wait_for(task, 15)
            await app.close()
    finally:
        await fake.stop()


async def test_a_telegram_update_that_keeps_failing_is_parked_and_the_user_told_once(
        database_url, monkeypatch):
    from bot.channels.telegram import TelegramChannel
    from handlers import texts

    fake = await FakeTelegram().start()
    app = await build_app(make_settings(
        database_url, telegram_bot_token=fake.token, telegram_api_base_url=fake.base_url,
        telegram_poll_timeout=1, inbox_retry_base_seconds=0.05, inbox_max_attempts=3))
    real_handle = app.router.handle
    tries: list[str] = []

    async def flaky(incoming):  # type: ignore[no-untyped-def]
        if incoming.text == "hỏng":
            tries.append(incoming.chat_id)
            raise RuntimeError("database went away")
        return await real_handle(incoming)

    monkeypatch.setattr(app.router, "handle", flaky)
    channel = TelegramChannel(app)
    stop = asyncio.Event()
    task = asyncio.create_task(channel.run(stop))
    try:
        await fake.wait_for(lambda: fake.sent(method="getUpdates"))
        fake.send_text(558001, 558001, "hỏng")
        fake.send_text(558002, 558002, "nq57 ban hanh ngay nao")
        await fake.wait_for(lambda: fake.sent(558001) and fake.sent(558002))
        await asyncio.sleep(0.5)
        assert len(tries) == 3  # retried, then parked
        assert [c.params["text"] for c in fake.sent(558001)] == [texts.ERROR]
        assert "22/12/2024" in fake.sent(558002)[0].params["text"]  # not held up
        assert sorted(v[0] for v in (await rows(app)).values()) == ["done", "failed"]
    finally:
        stop.set()
        await asyncio.wait_for(task, 15)
        await app.close()
        await fake.stop()
