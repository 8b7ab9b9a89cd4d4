"""Several bot processes on one database: one sends per channel, a standby takes over within
seconds of a kill -9 (PostgreSQL advisory lock), SQLite refuses a second process, and a webhook
update re-posted to another process is handled once."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot.app import build_app
from bot.db.models import Delivery, utcnow
from scheduler.broadcasts import Draft
from scheduler.lease import Lease
from scheduler.service import DeliveryService
from tests.broadcast_world import build_world, create
from tests.conftest import make_settings, postgres_base_url
from tests.fakes.telegram_api import FakeTelegram

ROOT = str(Path(__file__).resolve().parent.parent)
NQBOT = [sys.executable, "-c", "from bot.cli import main; raise SystemExit(main())"]
GROUPS = 600
RATE = 60  # msg/s, configured in every process


async def _nqbot(env: dict[str, str], cwd: Path, log: Path,
                 *args: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        *NQBOT, *args, env=env, cwd=cwd, stdout=asyncio.subprocess.DEVNULL,
        stderr=log.open("wb"))


def max_in_any_second(times: list[float]) -> int:
    times = sorted(times)
    best = i = 0
    for j, t in enumerate(times):
        while t - times[i] >= 1.0:
            i += 1
        best = max(best, j - i + 1)
    return best


@pytest.mark.skipif(postgres_base_url() is None, reason="PostgreSQL không chạy")
@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
async def test_three_processes_one_sender_standby_takes_over_after_kill_9(database_url,
                                                                            tmp_path):
    app = await build_app(make_settings(database_url))
    await build_world(app, [("telegram", str(-700000 - i), "X01-CB01") for i in range(GROUPS)])
    await create(app, Draft(text="Thông báo khẩn.", targets=("X01-CB01",), channel="telegram"),
                 actor=None, now=utcnow())
    await DeliveryService(app, {}).tick()  # the run and its rows; the children only deliver
    fake = await FakeTelegram().start()
    env = {**os.environ, "DATABASE_URL": database_url, "TELEGRAM_BOT_TOKEN": fake.token,
           "TELEGRAM_API_BASE_URL": fake.base_url, "BROADCAST_TELEGRAM_RATE": str(RATE),
           "BROADCAST_PER_CHAT_INTERVAL": "0", "DISPATCHER_LEASE_SECONDS": "60",
           "LOG_FORMAT": "text", "PYTHONPATH": ROOT}
    logs = [tmp_path / f"child-{i}.log" for i in range(3)]
    procs = [await _nqbot(env, tmp_path, log, "broadcast", "deliver") for log in logs]
    try:
        await fake.wait_for(lambda: len(fake.delivered()) >= GROUPS // 2, timeout=60)
        holder = await Lease(app.sessions, "telegram", ttl=60).current_holder()
        assert holder is not None
        victim = next(p for p in procs if p.pid == int(holder.rsplit(":", 2)[1]))
        victim.send_signal(signal.SIGKILL)
        killed_at = time.monotonic()
        async with app.sessions() as s:
            in_flight = await s.scalar(select(func.count()).select_from(Delivery)
                                       .where(Delivery.status == "sending"))
        await victim.wait()
        at_kill = len(fake.delivered())
        assert at_kill < GROUPS
        for proc in procs:
            if proc is not victim:
                assert await asyncio.wait_for(proc.wait(), 60) == 0
        text = "".join(log.read_text(encoding="utf-8", errors="replace") for log in logs)
        recovered = sum(int(n) for n in re.findall(r"(\d+) message\(s\) were in flight", text))
        sends = fake.delivered()
        per_chat = Counter(int(c.params["chat_id"]) for c in sends)
        assert len(per_chat) == GROUPS  # lost: none
        duplicates = sum(n - 1 for n in per_chat.values())
        assert duplicates <= max(in_flight, recovered), (duplicates, in_flight, recovered)
        takeover = min(c.at for c in sends if c.at > killed_at) - killed_at
        assert takeover < 5, takeover
        assert max_in_any_second([c.at for c in sends]) <= RATE + 1
        async with app.sessions() as s:
            statuses = dict((await s.execute(select(Delivery.status, func.count())
                                             .group_by(Delivery.status))).all())
        assert statuses == {"sent": GROUPS}
    finally:
        for proc in procs:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
        await fake.stop()
        await app.close()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_sqlite_refuses_a_second_bot_process(database_url, tmp_path):
    app = await build_app(make_settings(database_url))
    running = Lease(app.sessions, "telegram", ttl=60)  # this (live) process sends already
    assert await running.acquire()
    fake = await FakeTelegram().start()
    env = {**os.environ, "DATABASE_URL": database_url, "TELEGRAM_BOT_TOKEN": fake.token,
           "TELEGRAM_API_BASE_URL": fake.base_url, "WEB_PORT": "0", "PYTHONPATH": ROOT}
    try:
        proc = await asyncio.create_subprocess_exec(
            *NQBOT, "run", env=env, cwd=tmp_path, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE)
        _, err = await asyncio.wait_for(proc.communicate(), 30)
        assert proc.returncode == 5  # EXIT_BUSY
        message = err.decode()
        assert "SQLite chỉ cho phép một tiến trình bot" in message
        assert f"tiến trình {os.getpid()}" in message and "PostgreSQL" in message
        assert fake.calls == []  # refused before starting anything
        assert await running.current_holder() == running.holder
    finally:
        await running.release()
        await fake.stop()
        await app.close()


async def test_lease_of_a_dead_process_on_this_host_is_taken_over_at_once(app):
    gone = await asyncio.create_subprocess_exec(sys.executable, "-c", "pass")
    await gone.wait()
    dead = Lease(app.sessions, "telegram", ttl=600,
                 holder=f"{socket.gethostname()[:48]}:{gone.pid}:deadbeef")
    assert await dead.acquire()
    await dead._drop()  # the process died (PostgreSQL: its connection and lock went with it)
    restarted = Lease(app.sessions, "telegram", ttl=600)
    started = time.monotonic()
    assert await restarted.acquire()  # not 600 s later
    assert time.monotonic() - started < 1.0
    assert await restarted.current_holder() == restarted.holder
    await restarted.release()


async def test_webhook_update_reposted_to_another_process_is_handled_once(database_url):
    import aiohttp

    from bot.channels.telegram import TelegramChannel
    from bot.web import WebServer

    fake = await FakeTelegram().start()
    settings = make_settings(
        database_url, telegram_bot_token=fake.token, telegram_api_base_url=fake.base_url,
        telegram_webhook_url="https://bot.example.vn/telegram/webhook",
        telegram_webhook_secret="s3cret", web_port=0)
    apps = [await build_app(settings) for _ in range(2)]  # two processes, one database
    channels = [TelegramChannel(a) for a in apps]
    webs = [WebServer("127.0.0.1", 0) for _ in apps]
    for channel, web in zip(channels, webs, strict=True):
        channel.mount(web)
    ports = [await web.start() for web in webs]
    stop = asyncio.Event()
    tasks = [asyncio.create_task(channel.run(stop)) for channel in channels]
    try:
        await fake.wait_for(lambda: len(fake.sent(method="setWebhook")) == 2)
        update = fake.pop_update(fake.send_text(555001, 555001, "kl69 ban hanh ngay nao"))
        async with aiohttp.ClientSession() as http:
            for port in (ports[0], ports[1], ports[0]):  # re-posted, to either process
                async with http.post(f"http://127.0.0.1:{port}/telegram/webhook", json=update,
                                     headers={"X-Telegram-Bot-Api-Secret-Token": "s3cret"}
                                     ) as response:
                    assert response.status == 200
        await fake.wait_for(lambda: fake.sent(555001))
        await asyncio.sleep(0.5)
        assert len(fake.sent(555001)) == 1
    finally:
        stop.set()
        await asyncio.wait_for(asyncio.gather(*tasks), 15)
        for web in webs:
            await web.stop()
        for a in apps:
            await a.close()
        await fake.stop()


async def test_webhook_refuses_while_stopping_and_when_the_backlog_is_full(database_url):
    """A stopping process answers 503 (Telegram re-posts the update elsewhere or later) instead
    of accepting updates it will never handle; SIGTERM never hangs on a queued update."""
    import aiohttp

    from bot.channels.telegram import TelegramChannel
    from bot.web import WebServer

    fake = await FakeTelegram().start()
    settings = make_settings(
        database_url, telegram_bot_token=fake.token, telegram_api_base_url=fake.base_url,
        telegram_webhook_url="https://bot.example.vn/telegram/webhook",
        telegram_webhook_secret="s3cret", web_port=0, telegram_webhook_max_backlog=0)
    app = await build_app(settings)
    channel = TelegramChannel(app)
    web = WebServer("127.0.0.1", 0)
    channel.mount(web)
    port = await web.start()
    stop = asyncio.Event()
    task = asyncio.create_task(channel.run(stop))
    url = f"http://127.0.0.1:{port}/telegram/webhook"
    headers = {"X-Telegram-Bot-Api-Secret-Token": "s3cret"}
    try:
        await fake.wait_for(lambda: fake.sent(method="setWebhook"))
        async with aiohttp.ClientSession() as http:
            update = fake.pop_update(fake.send_text(556001, 556001, "xin chao"))
            async with http.post(url, json=update, headers=headers) as response:
                assert response.status == 503  # backlog limit 0: full
            app.settings.telegram_webhook_max_backlog = 200
            async with http.post(url, json=update, headers=headers) as response:
                assert response.status == 200  # not marked as seen by the refusal
            await fake.wait_for(lambda: fake.sent(556001))
            stop.set()
            await asyncio.sleep(0)
            late = fake.pop_update(fake.send_text(556002, 556002, "xin chao"))
            async with http.post(url, json=late, headers=headers) as response:
                assert response.status == 503
        await asyncio.wait_for(task, 15)  # stops, nothing stuck behind PTB's stop marker
    finally:
        stop.set()
        await web.stop()
        await app.close()
        await fake.stop()
