"""Files behind Zalo links are deleted once their links have expired (issue 12, item 14): the
delivery service's periodic job removes them after FILE_LINK_TTL_HOURS, by a clock moved by hand."""

from __future__ import annotations

from datetime import UTC, datetime

import aiohttp

from bot.app import build_app
from bot.channels.zalo import ZaloChannel
from bot.web import WebServer
from handlers.types import ChatKind, Reply, ReplyFile
from scheduler.service import DeliveryService
from tests.broadcast_world import Clock
from tests.conftest import make_settings
from tests.fakes.zalo_api import FakeZalo

REPORT = ReplyFile("bao-cao.xlsx", b"PK\x03\x04 fake xlsx bytes",
                   "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")


async def test_files_are_deleted_after_the_link_lifetime(database_url, tmp_path):
    fake = await FakeZalo().start()
    files_dir = tmp_path / "files"
    app = await build_app(make_settings(database_url, zalo_bot_token=fake.token,
                                        zalo_api_base_url=fake.base_url,
                                        files_dir=str(files_dir), file_link_ttl_hours=24))
    web = WebServer("127.0.0.1", 0)
    web.add_files(app.files.handler())
    port = await web.start()
    app.settings.public_base_url = f"http://127.0.0.1:{port}"
    channel = ZaloChannel(app)
    clock = Clock(datetime.now(UTC))
    service = DeliveryService(app, {}, clock=clock)  # the job `nqbot run` runs, no senders
    keep = files_dir / "khong-phai-tep-cua-bot.txt"  # not something the bot stored
    try:
        await channel._send("c1", "u1", ChatKind.PRIVATE, [Reply("Báo cáo:", file=REPORT)])
        url = next(w for w in fake.sent("c1")[-1].params["text"].split()
                   if w.startswith("http"))
        [stored] = list(files_dir.iterdir())
        keep.write_text("giữ nguyên", encoding="utf-8")

        async def download() -> int:
            async with aiohttp.ClientSession() as http, http.get(url) as response:
                return response.status

        await service.tick()
        clock.advance(hours=23)
        await service.tick()
        assert stored.exists() and await download() == 200  # the link is still good

        clock.advance(hours=2)  # 25 h after it was sent: the link has expired
        await service.tick()
        assert not stored.exists()
        assert keep.read_text(encoding="utf-8") == "giữ nguyên"
        assert await download() == 403
    finally:
        await channel.client.close()
        await web.stop()
        await app.close()
        await fake.stop()


def test_prune_keeps_recent_files_and_ignores_a_missing_folder(tmp_path):
    import time

    from bot.files import FileStore

    assert FileStore(tmp_path / "none-yet", b"k").prune(3600) == 0
    store = FileStore(tmp_path / "files", b"k")
    old, new = store.save("a.png", b"1"), store.save("b.png", b"2")
    now = time.time()
    assert store.prune(3600, now=now) == 0
    assert store.prune(3600, now=now + 3601) == 2
    assert not (tmp_path / "files" / old).exists() and not (tmp_path / "files" / new).exists()
