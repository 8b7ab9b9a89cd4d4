"""Accepted webhook updates survive a crash: a real `nqbot run` (Telegram and Zalo by webhook)
gets N updates per channel, answers 200 to each, is killed with SIGKILL while it is still
answering, and after a restart every update is answered — at most the ones being handled at the
kill twice (the stated bound), none lost."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from collections import Counter
from pathlib import Path

import aiohttp
from sqlalchemy import func, select

from bot.app import build_app
from bot.db.models import InboxUpdate
from tests.conftest import make_settings
from tests.fakes.telegram_api import FakeTelegram
from tests.fakes.zalo_api import FakeZalo

ROOT = str(Path(__file__).resolve().parent.parent)
NQBOT = [sys.executable, "-c", "from bot.cli import main; raise SystemExit(main())"]
N = 24  # updates per channel
CONCURRENCY = 4  # updates handled at once per channel: the bound on repeats
TG_SECRET, ZALO_SECRET = "tg-hook-secret_1", "zalo-hook-secret-1"
QUESTION = "nq57 ban hanh ngay nao"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def start_bot(env: dict[str, str], log: Path) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        *NQBOT, "run", env=env, cwd=log.parent, stdout=asyncio.subprocess.DEVNULL,
        stderr=log.open("ab"))


async def in_inbox(app, **where) -> dict[str, int]:  # type: ignore[no-untyped-def]
    async with app.sessions() as s:
        query = select(InboxUpdate.channel, func.count()).group_by(InboxUpdate.channel)
        for column, value in where.items():
            query = query.where(getattr(InboxUpdate, column) == value)
        return dict((await s.execute(query)).all())


async def test_accepted_webhook_updates_survive_kill_9(database_url, tmp_path):
    tg, zalo = await FakeTelegram().start(), await FakeZalo().start()
    tg.latency = zalo.latency = 1.0  # slow answers: most updates still wait at the kill
    port = free_port()
    env = {**os.environ, "PYTHONPATH": ROOT, "DATABASE_URL": database_url,
           "LOG_FORMAT": "text", "WEB_HOST": "127.0.0.1", "WEB_PORT": str(port),
           "TELEGRAM_BOT_TOKEN": tg.token, "TELEGRAM_API_BASE_URL": tg.base_url,
           "TELEGRAM_WEBHOOK_URL": "https://bot.example.vn/telegram/webhook",
           "TELEGRAM_WEBHOOK_SECRET": TG_SECRET,
           "ZALO_BOT_TOKEN": zalo.token, "ZALO_API_BASE_URL": zalo.base_url,
           "ZALO_WEBHOOK_URL": "https://bot.example.vn/zalo/webhook",
           "ZALO_WEBHOOK_SECRET": ZALO_SECRET,
           "TELEGRAM_CONCURRENT_UPDATES": str(CONCURRENCY),
           "ZALO_CONCURRENT_UPDATES": str(CONCURRENCY)}
    log = tmp_path / "bot.log"
    tg_chats = [700100 + i for i in range(N)]
    zalo_chats = [f"zu-{i}" for i in range(N)]
    bot = await start_bot(env, log)
    app = None
    try:
        await tg.wait_for(lambda: tg.webhook and zalo.webhook, timeout=60)
        posts = [(f"http://127.0.0.1:{port}/telegram/webhook",
                  {"X-Telegram-Bot-Api-Secret-Token": TG_SECRET},
                  tg.pop_update(tg.send_text(chat, chat, QUESTION))) for chat in tg_chats]
        posts += [(f"http://127.0.0.1:{port}/zalo/webhook", {"X-Bot-Api-Secret-Token": ZALO_SECRET},
                   {"ok": True, "result": zalo.update(chat, chat, QUESTION)})
                  for chat in zalo_chats]
        async with aiohttp.ClientSession() as http:
            async def post(url: str, headers: dict[str, str], body: dict) -> int:
                async with http.post(url, json=body, headers=headers) as response:
                    return response.status

            statuses = await asyncio.gather(*(post(*p) for p in posts))
        assert statuses == [200] * (2 * N)
        bot.send_signal(signal.SIGKILL)
        await bot.wait()

        app = await build_app(make_settings(database_url), migrate=False)
        assert await in_inbox(app) == {"telegram": N, "zalo": N}  # every 200 was stored
        waiting = await in_inbox(app, state="pending")
        assert waiting.get("telegram", 0) > N // 2 and waiting.get("zalo", 0) > N // 2
        async with app.sessions() as s:  # being handled at the kill: the only ones that repeat
            in_flight = dict((await s.execute(
                select(InboxUpdate.channel, func.count())
                .where(InboxUpdate.state == "pending", InboxUpdate.claimed_by.is_not(None))
                .group_by(InboxUpdate.channel))).all())
        assert all(n <= CONCURRENCY for n in in_flight.values())

        tg.latency = zalo.latency = 0.0
        bot = await start_bot(env, log)  # drains what the dead process left
        await tg.wait_for(lambda: all(tg.sent(c) for c in tg_chats)
                          and all(zalo.sent(c) for c in zalo_chats), timeout=60)
        await asyncio.sleep(0.5)
        per_tg = Counter(int(c.params["chat_id"]) for c in tg.sent())
        per_zalo = Counter(str(c.params["chat_id"]) for c in zalo.sent())
        assert set(per_tg) == set(tg_chats) and set(per_zalo) == set(zalo_chats)  # none lost
        for channel, counts in (("telegram", per_tg), ("zalo", per_zalo)):
            repeated = sum(n - 1 for n in counts.values())
            assert repeated <= in_flight.get(channel, 0), (channel, counts, in_flight)
        assert "22/12/2024" in tg.sent(tg_chats[-1])[0].params["text"]
        async with app.sessions() as s:
            done = dict((await s.execute(
                select(InboxUpdate.state, func.count()).group_by(InboxUpdate.state))).all())
        assert done == {"done": 2 * N}
    finally:
        if bot.returncode is None:
            bot.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(bot.wait(), 15)
            except TimeoutError:
                bot.kill()
                await bot.wait()
        if app is not None:
            await app.close()
        await tg.stop()
        await zalo.stop()
