"""End to end on Zalo: the project's client over real HTTP against a local fake Bot Platform."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from bot.app import build_app
from bot.channels.zalo import ZaloChannel
from bot.services import orgs, roles
from bot.services.roles import Role
from bot.web import WebServer
from handlers import texts
from handlers.types import ChatKind, Reply, ReplyFile
from tests.conftest import make_settings
from tests.fakes.loopback import start_webhook, stop_webhook
from tests.fakes.zalo_api import FakeZalo

DEMO = Path(__file__).resolve().parent.parent / "content" / "demo" / "org_demo.csv"
USER = "u-zalo-7"


class Harness:
    def __init__(self, fake: FakeZalo, app, channel) -> None:  # type: ignore[no-untyped-def]
        self.fake, self.app, self.channel = fake, app, channel

    async def say(self, text: str, user: str = USER, **kw) -> list[str]:
        before = len(self.fake.sent())
        self.fake.queue(self.fake.update(kw.pop("chat", user), user, text, **kw))
        await self.fake.wait_for(lambda: len(self.fake.sent()) > before)
        await asyncio.sleep(0.1)
        return [c.params["text"] for c in self.fake.sent()[before:]]


@pytest.fixture
async def zalo(database_url: str) -> AsyncIterator[Harness]:
    fake = await FakeZalo().start()
    settings = make_settings(database_url, zalo_bot_token=fake.token,
                             zalo_api_base_url=fake.base_url, zalo_poll_timeout=1,
                             zalo_poll_floor=0.05)
    app = await build_app(settings)
    async with app.sessions() as s, s.begin():
        await orgs.import_units(s, orgs.parse_csv(DEMO.read_text(encoding="utf-8")))
    channel = ZaloChannel(app)
    stop = asyncio.Event()
    task = asyncio.create_task(channel.run(stop))
    try:
        await fake.wait_for(lambda: any(c.method == "getUpdates" for c in fake.calls))
        yield Harness(fake, app, channel)
    finally:
        stop.set()
        await asyncio.wait_for(task, 15)
        await app.close()
        await fake.stop()


async def test_start_shows_numbered_options(zalo):
    [greeting] = await zalo.say("/start")
    assert "Xin chào Bác Ba" in greeting
    assert "\n1. 📘 Nghị quyết 57-NQ/TW" in greeting
    assert "Gõ số từ 1 đến" in greeting


async def test_question_without_diacritics(zalo):
    [answer] = await zalo.say("nghi quyet 57 ban hanh ngay nao")
    assert "22/12/2024" in answer and "Nguồn: Nghị quyết 57-NQ/TW" in answer


async def test_browsing_by_numbers_and_stale_numbers(zalo):
    [menu] = await zalo.say("/menu")
    assert "1. 📘 Nghị quyết 57-NQ/TW" in menu
    [topics] = await zalo.say("1")
    assert "Chọn chủ đề" in topics
    [questions] = await zalo.say("1")
    assert "Chọn câu hỏi" in questions
    [card] = await zalo.say("1")
    assert "Nguồn:" in card
    [stale] = await zalo.say("9")  # the card offers fewer options than that
    assert stale == texts.STALE_OPTION
    [nothing] = await zalo.say("2", user="someone-else")
    assert nothing == texts.STALE_OPTION


async def test_invite_code_binds_a_role(zalo):
    async with zalo.app.sessions() as s, s.begin():
        unit = await orgs.get_unit(s, "X04-CB02")
        code = (await roles.create_invite(s, Role.SECRETARY, unit)).code
    [bound] = await zalo.say(code)
    assert "bí thư/phó bí thư của Chi bộ thôn 2 (X04-CB02)" in bound
    [me] = await zalo.say("/toi")
    assert "Zalo" in me and "X04-CB02" in me


async def test_long_answer_is_split_in_two_under_the_limit(zalo):
    text = " ".join(f"Câu số {i} của một câu trả lời rất dài." for i in range(70))
    assert 2300 < len(text) < 3600
    await zalo.channel._send("long-chat", USER, ChatKind.PRIVATE, [Reply(text)])
    parts = [c.params["text"] for c in zalo.fake.sent("long-chat")]
    assert len(parts) == 2 and all(len(p) <= 2000 for p in parts)
    assert " ".join(parts).split() == text.split()


async def test_group_mentions_and_own_echo(zalo):
    [answer] = await zalo.say(f"@{zalo.fake.bot_name} kl69 ban hanh ngay nao", chat="grp-1",
                              group=True)
    assert "11/01/2024" in answer and "Trả lời tin này hoặc nhắc tên bot" in answer
    last = answer.splitlines()[-2]  # "3. 🏠 Danh mục": pressed by "@bot 3"
    [menu] = await zalo.say(f"@{zalo.fake.bot_name} {last.split('.')[0]}", chat="grp-1",
                            group=True)
    assert "Chọn văn bản" in menu
    before = len(zalo.fake.sent())
    zalo.fake.queue(zalo.fake.update("grp-1", zalo.fake.bot_id, "tin của chính bot"))
    await asyncio.sleep(0.5)
    assert len(zalo.fake.sent()) == before


async def test_send_errors_do_not_break_the_bot(zalo):
    zalo.fake.fail_next(USER, 429, "Quota exceeded")
    zalo.fake.queue(zalo.fake.update(USER, USER, "/help"))
    await asyncio.sleep(0.5)
    [after] = await zalo.say("/help")
    assert "Cách dùng" in after


async def test_webhook_secret_and_duplicate_delivery(database_url):
    fake = await FakeZalo().start()
    settings = make_settings(database_url, zalo_bot_token=fake.token,
                             zalo_api_base_url=fake.base_url,
                             zalo_webhook_url="https://bot.example.vn/zalo/webhook",
                             zalo_webhook_secret="zalo-secret-123")
    app = await build_app(settings)
    channel = ZaloChannel(app)
    port, stop, task, web = await start_webhook(channel)
    url = f"http://127.0.0.1:{port}/zalo/webhook"
    update = fake.update(USER, USER, "ket luan 69 co may nhiem vu")
    try:
        await fake.wait_for(lambda: fake.webhook)
        async with aiohttp.ClientSession() as http:
            async with http.post(url, json={"ok": True, "result": update}) as missing:
                assert missing.status == 401
            async with http.post(url, json=update,
                                 headers={"X-Bot-Api-Secret-Token": "wrong-secret"}) as bad:
                assert bad.status == 401
            for body in ({"ok": True, "result": update}, update):  # wrapped, then bare
                async with http.post(url, json=body,
                                     headers={"X-Bot-Api-Secret-Token": "zalo-secret-123"}) as ok:
                    assert ok.status == 200
        await fake.wait_for(lambda: fake.sent(USER))
        await asyncio.sleep(0.5)
        [reply] = fake.sent(USER)  # the duplicate delivery was handled once
        assert "6" in reply.params["text"]
        assert not any(c.method == "getUpdates" for c in fake.calls)
    finally:
        await stop_webhook(stop, task, web)
        await app.close()
        await fake.stop()


async def test_client_errors_never_show_the_token():
    from bot.channels.zalo_client import ZaloClient, ZaloError

    token = "999:very-secret-zalo-token"
    client = ZaloClient("http://127.0.0.1:99999", token, request_timeout=2)  # invalid port
    try:
        with pytest.raises(ZaloError) as err:
            await client.get_me()
        assert token not in str(err.value) and "***" in str(err.value)
    finally:
        await client.close()


async def test_identities_linked_by_code_share_roles(zalo):
    """A secretary bound on Zalo links her Telegram account: the Zalo account, which holds the
    role, confirms (here by asking again, as without a running delivery service); Telegram
    then sees the role."""
    from handlers.types import Incoming

    async with zalo.app.sessions() as s, s.begin():
        unit = await orgs.get_unit(s, "X03-CB04")
        invite = (await roles.create_invite(s, Role.SECRETARY, unit)).code
    await zalo.say(invite)
    [issued] = await zalo.say("/lienkettelegram")
    code = next(w for w in issued.split() if w.startswith("LK-"))
    telegram_user = Incoming("telegram", "tg-77", "tg-77", user_name="Chị Tư", text=code)
    [waiting] = await zalo.app.router.handle(telegram_user)
    assert "Tài khoản Zalo «Bác Ba» đang có vai trò nên phải xác nhận" in waiting.text
    [me] = await zalo.app.router.handle(
        Incoming("telegram", "tg-77", "tg-77", user_name="Chị Tư", text="/toi"))
    assert "X03-CB04" not in me.text
    [question] = await zalo.say("/lienkettaikhoan")
    assert "Liên kết tài khoản Telegram «Chị Tư» với tài khoản này?" in question
    assert "1. ✅ Đồng ý" in question
    [done] = await zalo.say("1")
    assert "Đã liên kết tài khoản Zalo này với tài khoản Telegram «Chị Tư»" in done
    [me] = await zalo.app.router.handle(
        Incoming("telegram", "tg-77", "tg-77", user_name="Chị Tư", text="/toi"))
    assert "X03-CB04" in me.text
    [again] = await zalo.app.router.handle(
        Incoming("telegram", "tg-78", "tg-78", user_name="Người khác", text=code))
    assert "không đúng hoặc đã dùng" in again.text  # one-time: used codes are unknown
    [own_side] = await zalo.say(code)
    assert "không đúng hoặc đã dùng" in own_side
    [second] = await zalo.say("/lienketzalo", user="u-zalo-other")
    fresh = next(w for w in second.split() if w.startswith("LK-"))
    [same_side] = await zalo.say(fresh, user="u-zalo-third")
    assert "kênh còn lại" in same_side


async def test_files_go_as_signed_expiring_links_on_zalo(database_url, tmp_path):
    from bot.files import FileStore

    fake = await FakeZalo().start()
    settings = make_settings(database_url, zalo_bot_token=fake.token,
                             zalo_api_base_url=fake.base_url, files_dir=str(tmp_path / "files"))
    app = await build_app(settings)
    web = WebServer("127.0.0.1", 0)
    web.add_files(app.files.handler())
    port = await web.start()
    report = ReplyFile("bao-cao.xlsx", b"PK\x03\x04 fake xlsx bytes",
                       "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    try:
        channel = ZaloChannel(app)
        await channel._send("c1", USER, ChatKind.PRIVATE, [Reply("Báo cáo:", file=report)])
        assert "chưa gửi được tệp «bao-cao.xlsx»" in fake.sent("c1")[-1].params["text"]

        app.settings.public_base_url = f"http://127.0.0.1:{port}"
        await channel._send("c2", USER, ChatKind.PRIVATE, [Reply("Báo cáo:", file=report)])
        message = fake.sent("c2")[-1].params["text"]
        url = next(w for w in message.split() if w.startswith("http"))
        async with aiohttp.ClientSession() as http:
            async with http.get(url) as ok:
                assert ok.status == 200 and await ok.read() == report.data
            async with http.get(url.replace("sig=", "sig=0")) as forged:
                assert forged.status == 403
        store: FileStore = app.files
        file_id = url.split("/files/")[1].split("?")[0]
        expired = store.link("http://x", file_id, ttl_seconds=-10)
        query = dict(p.split("=") for p in expired.split("?")[1].split("&"))
        assert store.check(file_id, query["exp"], query["sig"]) is None
        await channel.client.close()
    finally:
        await web.stop()
        await app.close()
        await fake.stop()


async def test_secretary_confirms_in_a_zalo_group_typing_numbers(zalo):
    """On Zalo a bare number answers the question being asked ("23" present), and the numbered
    options still work for the buttons (today, confirm)."""
    from datetime import UTC, datetime

    from sqlalchemy import select

    from bot.db.models import Confirmation
    from bot.services import campaigns
    from bot.services.people import upsert_chat, upsert_user

    app = zalo.app
    async with app.sessions() as s, s.begin():
        cell = await orgs.get_unit(s, "X01-CB01")
        secretary = await upsert_user(s, "zalo", USER, "Bí thư thôn 1")
        await roles.grant(s, secretary, Role.SECRETARY, cell, source="cli")
        group = await upsert_chat(s, "zalo", "zg-9", "group", "Chi bộ thôn 1")
        group.org_unit_id = cell.id
        await campaigns.create(s, actor=None, document="NQ57", title="Quán triệt NQ 57",
                               scope_code="X01", deadline="31/12/2026", opens=None,
                               now=datetime.now(UTC), tz=app.settings.tz, documents={"NQ57"})
    asked_date = await zalo.say("Đã quán triệt", chat="zg-9", group=True)
    assert "1." in asked_date[-1]
    asked_people = await zalo.say("1", chat="zg-9", group=True)  # today
    assert "có mặt" in asked_people[-1].lower()
    summary = await zalo.say("23", chat="zg-9", group=True)  # a number, not an option
    assert "23/32" in summary[-1]
    done = await zalo.say("1", chat="zg-9", group=True)  # ✅ Xác nhận
    assert "đã xác nhận quán triệt Nghị quyết 57: 23/32 đảng viên" in done[-1]
    async with app.sessions() as s:
        row = await s.scalar(select(Confirmation))
        assert row is not None and (row.attended, row.total, row.channel) == (23, 32, "zalo")
