"""End to end on Telegram: the real PTB client, over real HTTP, against a local fake Bot API."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.app import build_app
from bot.channels.telegram import TelegramChannel
from bot.db.models import Chat
from bot.services import orgs, roles
from bot.services.roles import Role
from handlers import texts
from tests.conftest import make_settings
from tests.fakes.loopback import start_webhook, stop_webhook
from tests.fakes.telegram_api import FakeTelegram, Fault

DEMO = Path(__file__).resolve().parent.parent / "content" / "demo" / "org_demo.csv"
USER = 555001
GROUP = -100500


class Harness:
    def __init__(self, fake: FakeTelegram, app, channel) -> None:  # type: ignore[no-untyped-def]
        self.fake = fake
        self.app = app
        self.channel = channel

    async def say(self, text: str, chat: int = USER, user: int = USER, *,
                  expect: bool = True, **kw) -> list:
        """Send a message as a user; wait until the bot has read it (and replied, if expected)."""
        before = len(self.fake.sent())
        update_id = self.fake.send_text(chat, user, text, **kw)
        await self.fake.wait_for(lambda: self.fake.confirmed(update_id) and (
            len(self.fake.sent()) > before or not expect))
        await asyncio.sleep(0.3 if not expect else 0.05)
        return self.fake.sent()[before:]

    async def press(self, data: str, chat: int = USER, user: int = USER) -> list:
        before = len(self.fake.sent())
        self.fake.press(chat, user, data)
        await self.fake.wait_for(lambda: len(self.fake.sent()) > before)
        await asyncio.sleep(0.05)
        return self.fake.sent()[before:]


@pytest.fixture
async def tg(database_url: str) -> AsyncIterator[Harness]:
    fake = await FakeTelegram().start()
    settings = make_settings(
        database_url,
        telegram_bot_token=fake.token,
        telegram_api_base_url=fake.base_url,
        telegram_poll_timeout=1,
    )
    app = await build_app(settings)
    async with app.sessions() as s, s.begin():
        await orgs.import_units(s, orgs.parse_csv(DEMO.read_text(encoding="utf-8")))
    channel = TelegramChannel(app)
    stop = asyncio.Event()
    task = asyncio.create_task(channel.run(stop))
    try:
        await fake.wait_for(lambda: fake.sent(method="getUpdates"))
        yield Harness(fake, app, channel)
    finally:
        stop.set()
        await asyncio.wait_for(task, 15)
        await app.close()
        await fake.stop()


def _buttons(call) -> list[dict]:  # type: ignore[no-untyped-def]
    markup = call.params.get("reply_markup") or {}
    return [b for row in markup.get("inline_keyboard", []) for b in row]


async def test_start_sets_commands_and_greets_with_buttons(tg):
    scopes = [c.params["scope"]["type"] for c in tg.fake.sent(method="setMyCommands")]
    assert sorted(scopes) == ["all_group_chats", "all_private_chats"]
    [greeting] = await tg.say("/start")
    assert "Xin chào Bác Ba" in greeting.params["text"]
    assert any("57" in b["text"] for b in _buttons(greeting))


async def test_questions_with_and_without_diacritics(tg):
    [accented] = await tg.say("Nghị quyết 57 ban hành ngày nào?")
    [plain] = await tg.say("nghi quyet 57 ban hanh ngay nao")
    assert "22/12/2024" in accented.params["text"]
    assert "Nguồn: Nghị quyết 57-NQ/TW" in accented.params["text"]
    assert plain.params["text"] == accented.params["text"]


async def test_browsing_by_buttons_and_forged_payload(tg):
    [menu] = await tg.say("/menu")
    doc = next(b for b in _buttons(menu) if "57" in b["text"])
    [topics] = await tg.press(doc["callback_data"])
    [questions] = await tg.press(_buttons(topics)[0]["callback_data"])
    [card] = await tg.press(_buttons(questions)[0]["callback_data"])
    assert "Nguồn:" in card.params["text"]
    assert tg.fake.sent(method="answerCallbackQuery")
    [refused] = await tg.press("e:../../etc/passwd")
    assert refused.params["text"] == texts.STALE_BUTTON


async def test_invite_link_makes_a_secretary(tg):
    async with tg.app.sessions() as s, s.begin():
        unit = await orgs.get_unit(s, "X01-CB03")
        code = (await roles.create_invite(s, Role.SECRETARY, unit)).code
    bound, _greeting = await tg.say(f"/start {code}")
    assert "bí thư/phó bí thư của Chi bộ thôn 3 (X01-CB03)" in bound.params["text"]
    [me] = await tg.say("/toi")
    assert "Chi bộ thôn 3" in me.params["text"]


async def test_group_privacy_mentions_and_replies(tg):
    silent = await tg.say("nq57 ban hanh ngay nao", chat=GROUP, kind="group", expect=False)
    assert silent == []
    [mentioned] = await tg.say(f"@{tg.fake.username} nq57 ban hanh ngay nao", chat=GROUP,
                               kind="group")
    assert "22/12/2024" in mentioned.params["text"]
    [replied] = await tg.say("kết luận 69 ban hành ngày nào", chat=GROUP, kind="group",
                             reply_to_bot=True)
    assert "11/01/2024" in replied.params["text"]
    other_bot = await tg.say("/help@other_bot", chat=GROUP, kind="group", expect=False)
    assert other_bot == []


async def test_kicked_group_becomes_inactive(tg):
    await tg.say("/help", chat=GROUP, kind="group")
    update_id = tg.fake.my_status(GROUP, "kicked")
    await tg.fake.wait_for(lambda: tg.fake.confirmed(update_id))

    async def active() -> bool:
        async with tg.app.sessions() as s:
            chat = await s.scalar(select(Chat).where(Chat.external_id == str(GROUP)))
            return chat.active

    for _ in range(50):
        if not await active():
            break
        await asyncio.sleep(0.05)
    assert not await active()


async def test_403_on_reply_marks_chat_inactive(tg):
    await tg.say("/help", chat=GROUP - 1, kind="group")
    tg.fake.kick(GROUP - 1)
    update_id = tg.fake.send_text(GROUP - 1, USER, "/help", kind="group")
    await tg.fake.wait_for(lambda: tg.fake.confirmed(update_id))
    await asyncio.sleep(0.2)
    async with tg.app.sessions() as s:
        chat = await s.scalar(select(Chat).where(Chat.external_id == str(GROUP - 1)))
        assert chat.active is False


async def test_migrated_group_keeps_its_row_with_new_id(tg):
    await tg.say("/help", chat=GROUP - 2, kind="group")
    async with tg.app.sessions() as s:
        before = await s.scalar(select(Chat).where(Chat.external_id == str(GROUP - 2)))
    update_id = tg.fake.migrate(GROUP - 2, -1009999)
    await tg.fake.wait_for(lambda: tg.fake.confirmed(update_id))
    await asyncio.sleep(0.2)
    async with tg.app.sessions() as s:
        after = await s.scalar(select(Chat).where(Chat.external_id == "-1009999"))
        assert after is not None and after.id == before.id
        gone = await s.scalar(select(Chat).where(Chat.external_id == str(GROUP - 2)))
        assert gone is None


async def test_429_on_reply_is_retried_after_retry_after(tg):
    tg.fake.fail_next(USER + 1, Fault(429, "Too Many Requests: retry after 1",
                                      {"retry_after": 1}))
    await tg.say("/help", chat=USER + 1, user=USER + 1)
    calls = await tg.fake.wait_for(lambda: len(tg.fake.sent(USER + 1)) == 2 and
                                   tg.fake.sent(USER + 1), timeout=10)
    assert "Cách dùng" in calls[1].params["text"]
    assert calls[1].at - calls[0].at >= 1.0  # waited retry_after before sending again


async def test_group_link_and_refusals_over_telegram(tg):
    async with tg.app.sessions() as s, s.begin():
        cell = await orgs.get_unit(s, "X02-CB02")
        code = (await roles.create_invite(s, Role.SECRETARY, cell)).code
    await tg.say(f"/start {code}")
    [linked] = await tg.say("/lienket X02-CB02", chat=GROUP - 5, kind="group")
    assert "Đã liên kết nhóm này với Chi bộ thôn 2 (X02-CB02)" in linked.params["text"]
    stranger = USER + 77
    [refused] = await tg.say("/lienket X02-CB02", chat=GROUP - 6, user=stranger, kind="group")
    assert "không có quyền" in refused.params["text"]
    [no_invite] = await tg.say("/moi bithu X02-CB02", chat=stranger, user=stranger)
    assert "không có quyền" in no_invite.params["text"]


async def test_webhook_checks_the_secret_and_handles_updates(database_url):
    import aiohttp


    fake = await FakeTelegram().start()
    settings = make_settings(
        database_url, telegram_bot_token=fake.token, telegram_api_base_url=fake.base_url,
        telegram_webhook_url="https://bot.example.vn/telegram/webhook",
        telegram_webhook_secret="s3cret-Value_1", web_port=0,
    )
    app = await build_app(settings)
    channel = TelegramChannel(app)
    port, stop, task, web = await start_webhook(channel)
    url = f"http://127.0.0.1:{port}/telegram/webhook"
    try:
        await fake.wait_for(lambda: fake.webhook)
        assert fake.webhook == {"url": "https://bot.example.vn/telegram/webhook",
                                "secret_token": "s3cret-Value_1"}
        update = fake.pop_update(fake.send_text(USER, USER, "kl69 ban hanh ngay nao"))
        async with aiohttp.ClientSession() as http:
            async with http.post(url, json=update) as missing:
                assert missing.status == 401
            async with http.post(url, json=update,
                                 headers={"X-Telegram-Bot-Api-Secret-Token": "wrong"}) as bad:
                assert bad.status == 401
            assert fake.sent(USER) == []
            async with http.post(url, json=update,
                                 headers={"X-Telegram-Bot-Api-Secret-Token": "s3cret-Value_1"}
                                 ) as good:
                assert good.status == 200
        [reply] = await fake.wait_for(lambda: fake.sent(USER))
        assert "11/01/2024" in reply.params["text"]
        assert fake.sent(method="getUpdates") == []
    finally:
        await stop_webhook(stop, task, web)
        await app.close()
        await fake.stop()


async def test_long_reply_is_split_under_the_limit_with_buttons_last(tg):
    from handlers.types import Button, Reply

    text = "\n\n".join(f"Đoạn {i}: " + "nội dung khá dài của câu trả lời. " * 30
                       for i in range(12))
    await tg.channel.send(USER + 9, [Reply(text, [[Button("🏠 Danh mục", "m")]])])
    calls = tg.fake.sent(USER + 9)
    assert len(calls) >= 2
    assert all(len(c.params["text"]) <= 4096 for c in calls)
    assert [bool(c.params.get("reply_markup")) for c in calls] == [False] * (len(calls) - 1) + [
        True]


async def test_files_and_pictures_are_uploaded_on_telegram(tg):
    from handlers.types import Reply, ReplyFile

    await tg.channel.send(USER + 11, [
        Reply("Biểu đồ:", file=ReplyFile("bieu-do.png", b"\x89PNG\r\n\x1a\n", "image/png")),
        Reply("Bảng:", file=ReplyFile("bao-cao.csv", b"a,b\n1,2\n", "text/csv")),
    ])
    assert [c.method for c in tg.fake.calls if c.params.get("chat_id") in (
        str(USER + 11), USER + 11)] == ["sendMessage", "sendPhoto", "sendMessage",
                                        "sendDocument"]
