"""kill -9 in the middle of a broadcast, on a real database file and a real process: starting
again loses nothing and sends twice at most the messages that were in flight."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections import Counter
from pathlib import Path

from sqlalchemy import func, select

from bot.app import build_app
from bot.db.models import Delivery, utcnow
from scheduler.broadcasts import Draft
from tests.broadcast_world import build_world, create
from tests.conftest import make_settings
from tests.fakes.telegram_api import FakeTelegram

GROUPS = 300
ROOT = str(Path(__file__).resolve().parent.parent)
NQBOT = [sys.executable, "-c", "from bot.cli import main; raise SystemExit(main())"]


async def _deliver(env: dict[str, str], cwd: Path) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        *NQBOT, "broadcast", "deliver", env=env, cwd=cwd,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)


async def test_kill_9_mid_broadcast_then_restart(tmp_path):
    url = f"sqlite+aiosqlite:///{tmp_path / 'bot.sqlite3'}"
    app = await build_app(make_settings(url))
    groups = [("telegram", str(-500000 - i), "X01-CB01") for i in range(GROUPS)]
    await build_world(app, groups)
    await create(app, Draft(text="Thông báo khẩn.", targets=("X01-CB01",), channel="telegram"),
                 actor=None, now=utcnow())
    fake = await FakeTelegram().start()
    env = {**os.environ, "DATABASE_URL": url, "TELEGRAM_BOT_TOKEN": fake.token,
           "TELEGRAM_API_BASE_URL": fake.base_url, "BROADCAST_TELEGRAM_RATE": "150",
           "BROADCAST_PER_CHAT_INTERVAL": "0", "DISPATCHER_LEASE_SECONDS": "2",
           "PYTHONPATH": ROOT}
    try:
        first = await _deliver(env, tmp_path)
        await fake.wait_for(lambda: len(fake.delivered()) >= GROUPS // 2, timeout=60)
        first.send_signal(signal.SIGKILL)
        await first.wait()
        async with app.sessions() as s:
            in_flight = await s.scalar(select(func.count()).select_from(Delivery)
                                       .where(Delivery.status == "sending"))
        assert 0 < len(fake.delivered()) < GROUPS
        second = await _deliver(env, tmp_path)
        out, err = await asyncio.wait_for(second.communicate(), 120)
        assert second.returncode == 0, err.decode()
        assert "telegram: đã gửi" in out.decode()
        per_chat = Counter(int(c.params["chat_id"]) for c in fake.delivered())
        assert len(per_chat) == GROUPS  # lost: none
        duplicates = sum(n - 1 for n in per_chat.values())
        assert duplicates <= in_flight
        async with app.sessions() as s:
            statuses = dict((await s.execute(select(Delivery.status, func.count())
                                             .group_by(Delivery.status))).all())
        assert statuses == {"sent": GROUPS}
    finally:
        await fake.stop()
        await app.close()
