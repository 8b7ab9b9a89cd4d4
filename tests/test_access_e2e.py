"""End to end on both platforms at once: identity links between a Telegram and a Zalo account,
over real HTTP against the local fake Telegram Bot API and Zalo Bot Platform."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.app import build_app
from bot.channels.telegram import TelegramChannel
from bot.channels.zalo import ZaloChannel
from bot.db.models import AuditLog
from bot.services import orgs, roles
from bot.services.roles import Role
from scheduler.service import DeliveryService, build_senders
from tests.conftest import make_settings
from tests.fakes.telegram_api import FakeTelegram
from tests.fakes.zalo_api import FakeZalo

DEMO = Path(__file__).resolve().parent.parent / "content" / "demo" / "org_demo.csv"
SECRETARY_TG = 777001  # the secretary's Telegram account (holds the roles)
SECRETARY_ZALO = "zalo-secretary"  # the same secretary's own Zalo account
ATTACKER = "zalo-attacker"


class Both:
    def __init__(self, tg: FakeTelegram, zalo: FakeZalo, app) -> None:  # type: ignore[no-untyped-def]
        self.tg, self.zalo, self.app = tg, zalo, app

    async def telegram(self, text: str, user: int = SECRETARY_TG) -> list[str]:
        before = len(self.tg.sent())
        update_id = self.tg.send_text(user, user, text)
        await self.tg.wait_for(lambda: self.tg.confirmed(update_id)
                               and len(self.tg.sent()) > before)
        await asyncio.sleep(0.2)
        return [c.params["text"] for c in self.tg.sent()[before:]]

    async def press(self, data: str, user: int = SECRETARY_TG) -> list[str]:
        before = len(self.tg.sent())
        self.tg.press(user, user, data)
        await self.tg.wait_for(lambda: len(self.tg.sent()) > before)
        await asyncio.sleep(0.2)
        return [c.params["text"] for c in self.tg.sent()[before:]]

    async def zalo_say(self, user: str, text: str, name: str) -> list[str]:
        before = len(self.zalo.sent())
        self.zalo.queue(self.zalo.update(user, user, text, name=name))
        await self.zalo.wait_for(lambda: len(self.zalo.sent()) > before)
        await asyncio.sleep(0.2)
        return [c.params["text"] for c in self.zalo.sent()[before:]]

    async def audit(self) -> list[str]:
        async with self.app.sessions() as s:
            return list((await s.scalars(select(AuditLog.action).order_by(AuditLog.id))).all())


@pytest.fixture
async def both(database_url: str) -> AsyncIterator[Both]:
    tg, zalo = await FakeTelegram().start(), await FakeZalo().start()
    settings = make_settings(
        database_url, telegram_bot_token=tg.token, telegram_api_base_url=tg.base_url,
        telegram_poll_timeout=1, telegram_bot_username=tg.username,
        zalo_bot_token=zalo.token, zalo_api_base_url=zalo.base_url, zalo_poll_timeout=1,
        zalo_poll_floor=0.05)
    app = await build_app(settings)
    async with app.sessions() as s, s.begin():
        await orgs.import_units(s, orgs.parse_csv(DEMO.read_text(encoding="utf-8")))
    delivery = DeliveryService(app, build_senders(app))  # as `nqbot run` wires it
    for sender in delivery.senders.values():
        await sender.start()
    delivery.attach(app.router)
    stop = asyncio.Event()
    tasks = [asyncio.create_task(TelegramChannel(app).run(stop)),
             asyncio.create_task(ZaloChannel(app).run(stop))]
    try:
        await tg.wait_for(lambda: tg.sent(method="getUpdates"))
        await zalo.wait_for(lambda: any(c.method == "getUpdates" for c in zalo.calls))
        yield Both(tg, zalo, app)
    finally:
        stop.set()
        for task in tasks:
            await asyncio.wait_for(task, 15)
        for sender in delivery.senders.values():
            await sender.close()
        await app.close()
        await tg.stop()
        await zalo.stop()


async def _make_secretary(both: Both) -> None:
    async with both.app.sessions() as s, s.begin():
        unit = await orgs.get_unit(s, "X01")
        code = (await roles.create_invite(s, Role.SECRETARY, unit)).code
    [bound, _greeting] = await both.telegram(f"/start {code}")
    assert "bí thư/phó bí thư của" in bound


def _code(text: str) -> str:
    return next(w for w in text.split() if w.startswith("LK-"))


def _buttons(call) -> list[dict]:  # type: ignore[no-untyped-def]
    markup = call.params.get("reply_markup") or {}
    return [b for row in markup.get("inline_keyboard", []) for b in row]


async def test_attackers_link_code_sent_by_the_secretary_grants_nothing(both):
    await _make_secretary(both)
    [issued] = await both.zalo_say(ATTACKER, "/lienkettelegram", "Kẻ Lạ")
    code = _code(issued)
    assert code.startswith("LK-")
    # the secretary opens the attacker's t.me/<bot>?start=CODE link, thinking it an invite
    [asked, _greeting] = await both.telegram(f"/start {code}")
    assert asked == ("Liên kết tài khoản Zalo «Kẻ Lạ» với tài khoản này? "
                     "Người đó sẽ có mọi quyền của đồng chí.")
    question = both.tg.sent()[-2]
    labels = [b["text"] for b in _buttons(question)]
    assert labels == ["✅ Đồng ý", "✖️ Không"]
    # not confirmed: the attacker holds nothing and cannot make invites
    [me] = await both.zalo_say(ATTACKER, "/toi", "Kẻ Lạ")
    assert "Chưa có vai trò" in me
    [refused] = await both.zalo_say(ATTACKER, "/moi dangvien X01-CB01", "Kẻ Lạ")
    assert "không có quyền" in refused
    # the attacker cannot press the secretary's button for her
    request_id = _buttons(question)[0]["callback_data"].split(":")[-1]
    async with both.app.sessions() as s, s.begin():
        from bot.services import identities
        from bot.services.people import upsert_user

        attacker = await upsert_user(s, "zalo", ATTACKER, None)
        outcome, _ = await identities.answer(s, int(request_id), attacker, True)
        assert outcome is identities.LinkOutcome.NOT_YOURS
    # she refuses: still nothing, and the attacker is told
    [declined] = await both.press(_buttons(question)[1]["callback_data"])
    assert "từ chối" in declined
    await both.zalo.wait_for(lambda: any("đã từ chối" in c.params["text"]
                                         for c in both.zalo.sent(ATTACKER)))
    [me] = await both.zalo_say(ATTACKER, "/toi", "Kẻ Lạ")
    assert "Chưa có vai trò" in me
    # the same code typed again is spent
    [again] = await both.telegram(code)
    assert "không đúng hoặc đã dùng" in again
    actions = await both.audit()
    assert "identity.claim" in actions and "identity.decline" in actions
    assert "identity.link" not in actions


async def test_a_link_code_is_never_an_invite_and_an_invite_never_a_link_code(both):
    await _make_secretary(both)
    [issued] = await both.zalo_say(ATTACKER, "/lienkettelegram", "Kẻ Lạ")
    code = _code(issued)
    async with both.app.sessions() as s, s.begin():
        from bot.services import identities
        from bot.services.people import upsert_user

        secretary = await upsert_user(s, "telegram", str(SECRETARY_TG), None)
        assert (await roles.redeem(s, code, secretary)).status is roles.RedeemStatus.UNKNOWN
        invite = (await roles.create_invite(s, Role.MEMBER,
                                            await orgs.get_unit(s, "X01-CB01"))).code
        for typed in (invite, invite.replace("-", ""), "LK-" + invite):
            outcome, _ = await identities.claim(s, typed, secretary)
            assert outcome is identities.LinkOutcome.UNKNOWN
        assert not roles.looks_like_code(code) and roles.normalize_code(code) is None


async def test_a_legitimate_link_works_after_the_role_holder_confirms_and_can_be_undone(both):
    await _make_secretary(both)
    [issued] = await both.telegram("/lienkettaikhoan")
    code = _code(issued)
    assert "xác nhận" in issued
    before = len(both.tg.sent(SECRETARY_TG))
    [waiting] = await both.zalo_say(SECRETARY_ZALO, code, "Chị Tư")
    assert "Tài khoản Telegram «Bác Ba» đang có vai trò nên phải xác nhận" in waiting
    # the question reaches her Telegram account, naming the Zalo account
    await both.tg.wait_for(lambda: len(both.tg.sent(SECRETARY_TG)) > before)
    question = both.tg.sent(SECRETARY_TG)[-1]
    assert question.params["text"] == ("Liên kết tài khoản Zalo «Chị Tư» với tài khoản này? "
                                       "Người đó sẽ có mọi quyền của đồng chí.")
    [me] = await both.zalo_say(SECRETARY_ZALO, "/toi", "Chị Tư")
    assert "Chưa có vai trò" in me  # nothing before the confirmation
    [done] = await both.press(_buttons(question)[0]["callback_data"])
    assert "Đã liên kết tài khoản Telegram này với tài khoản Zalo «Chị Tư»" in done
    [me] = await both.zalo_say(SECRETARY_ZALO, "/toi", "Chị Tư")
    assert "X01" in me
    # one link per account: a third account cannot join either of them
    [other_code] = await both.zalo_say(ATTACKER, "/lienkettelegram", "Kẻ Lạ")
    [refused] = await both.telegram(_code(other_code))
    assert "đã liên kết với tài khoản Zalo «Chị Tư»" in refused
    # undone from the Telegram side
    [undone] = await both.telegram("/huylienkettaikhoan")
    assert "Đã hủy liên kết với tài khoản Zalo «Chị Tư»" in undone
    [me] = await both.zalo_say(SECRETARY_ZALO, "/toi", "Chị Tư")
    assert "Chưa có vai trò" in me
    actions = await both.audit()
    for step in ("identity.code", "identity.claim", "identity.confirm", "identity.link",
                 "identity.unlink"):
        assert step in actions
    async with both.app.sessions() as s:
        unlinked = await s.scalar(select(AuditLog).where(AuditLog.action == "identity.unlink"))
        assert json.loads(unlinked.details)["channels"] == "telegram+zalo"


async def test_the_zalo_account_holding_the_role_confirms_by_number(both):
    async with both.app.sessions() as s, s.begin():
        unit = await orgs.get_unit(s, "X02-CB01")
        invite = (await roles.create_invite(s, Role.SECRETARY, unit)).code
    [bound] = await both.zalo_say(SECRETARY_ZALO, invite, "Chị Tư")
    assert "X02-CB01" in bound
    [issued] = await both.zalo_say(SECRETARY_ZALO, "/lienkettaikhoan", "Chị Tư")
    before = len(both.zalo.sent(SECRETARY_ZALO))
    [waiting] = await both.telegram(_code(issued), user=777002)
    assert "Tài khoản Zalo «Chị Tư» đang có vai trò nên phải xác nhận" in waiting
    await both.zalo.wait_for(lambda: len(both.zalo.sent(SECRETARY_ZALO)) > before)
    pushed = both.zalo.sent(SECRETARY_ZALO)[-1].params["text"]
    assert pushed.startswith("Liên kết tài khoản Telegram «Bác Ba» với tài khoản này? "
                             "Người đó sẽ có mọi quyền của đồng chí.")
    assert "1. ✅ Đồng ý" in pushed and "2. ✖️ Không" in pushed
    [me] = await both.telegram("/toi", user=777002)
    assert "X02-CB01" not in me
    [done] = await both.zalo_say(SECRETARY_ZALO, "1", "Chị Tư")
    assert "Đã liên kết tài khoản Zalo này với tài khoản Telegram «Bác Ba»" in done
    [me] = await both.telegram("/toi", user=777002)
    assert "X02-CB01" in me
