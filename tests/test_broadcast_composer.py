"""/thongbao in chat, driven as a reporter would: list, compose step by step, preview, confirm;
every refusal says why and creates nothing; the draft lives in the database."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from sqlalchemy import delete, func, select

from bot.db.models import Broadcast, DialogState, RoleAssignment
from bot.services import orgs, roles
from bot.services.people import upsert_user
from bot.services.roles import Role
from handlers import payloads, texts
from handlers.broadcast_composer import KIND
from handlers.router import Router
from handlers.types import ChatKind, Incoming, Reply
from scheduler.broadcasts import Draft, aware
from tests.broadcast_world import REPORTER_TG, Clock, build_world, create


@pytest.fixture
async def world(app):
    world = await build_world(app)
    app.router.clock = Clock()  # 01/12/2026 07:00 in Hà Nội
    return world


def _pm(user: str, text: str | None = None, payload: str | None = None) -> Incoming:
    return Incoming("telegram", user, user, user_name=user, text=text, payload=payload)


async def _say(app, user: str, text: str, router: Router | None = None) -> Reply:
    [reply] = await (router or app.router).handle(_pm(user, text=text))
    return reply


async def _press(app, user: str, payload: str, router: Router | None = None) -> Reply:
    assert payload.startswith(("b:", "bc:")) and payloads.parse(payload) is not None
    [reply] = await (router or app.router).handle(_pm(user, payload=payload))
    for button in reply.flat_buttons():  # every button we send is short and parses back
        assert payloads.fits(button.payload) and payloads.parse(button.payload) is not None
    return reply


def _has(reply: Reply, payload: str) -> bool:
    return payload in [b.payload for b in reply.flat_buttons()]


async def _broadcasts(app) -> list[Broadcast]:
    async with app.sessions() as s:
        return list((await s.scalars(select(Broadcast).order_by(Broadcast.id))).all())


async def _drafts(app) -> int:
    async with app.sessions() as s:
        return await s.scalar(
            select(func.count()).select_from(DialogState).where(DialogState.kind == KIND))


async def _to_units(app, user: str, content: str = "Họp chi bộ quán triệt NQ 57 tối thứ Sáu.",
                    router: Router | None = None) -> Reply:
    reply = await _press(app, user, "b:new", router)
    assert "Gửi nội dung thông báo" in reply.text and _has(reply, "bc:quit")
    return await _say(app, user, content, router)


async def _to_time(app, user: str, unit: str = "X01", audience: str = "a:chibo",
                   channel: str = "c:all") -> Reply:
    reply = await _to_units(app, user)
    assert "Gửi tới đơn vị nào" in reply.text
    reply = await _say(app, user, unit)
    assert "Gửi cho ai" in reply.text, reply.text
    reply = await _press(app, user, f"bc:{audience}")
    assert "kênh nào" in reply.text
    reply = await _press(app, user, f"bc:{channel}")
    assert "Khi nào gửi" in reply.text and _has(reply, "bc:t:now")
    return reply


async def test_reporter_composes_a_dated_broadcast_with_the_right_preview(app, world):
    woken: list[bool] = []
    app.router.on_broadcast_created = lambda: woken.append(True)
    listing = await _say(app, REPORTER_TG, "/thongbao")
    assert texts.BC_LIST_EMPTY in listing.text and _has(listing, "b:new")

    units = await _to_units(app, REPORTER_TG)
    assert _has(units, "bc:u:X01") and _has(units, "bc:quit")
    assert not _has(units, "bc:u:X02")
    audience = await _press(app, REPORTER_TG, "bc:u:X01")
    assert "Gửi cho ai" in audience.text
    await _press(app, REPORTER_TG, "bc:a:chibo")
    await _press(app, REPORTER_TG, "bc:c:all")
    preview = await _say(app, REPORTER_TG, "25/12/2026 07:30")
    assert "Họp chi bộ quán triệt NQ 57 tối thứ Sáu." in preview.text
    assert "Đảng bộ xã An Bình (X01) (chỉ cấp chi bộ)" in preview.text
    assert "Telegram: 2 nhóm, Zalo: 1 nhóm" in preview.text
    assert "một lần, lúc 25/12/2026 07:30" in preview.text
    assert _has(preview, "bc:ok") and _has(preview, "bc:quit")
    assert await _broadcasts(app) == [] and woken == []

    done = await _press(app, REPORTER_TG, "bc:ok")
    assert "Đã tạo thông báo #1" in done.text and "25/12/2026 07:30" in done.text
    assert woken == [True] and await _drafts(app) == 0
    [row] = await _broadcasts(app)
    assert json.loads(row.targets) == ["X01"]
    assert (row.audience, row.level, row.channel) == ("groups", "chi_bo", "all")
    assert (row.schedule_kind, row.status, row.content_kind) == ("once", "active", "text")
    assert aware(row.next_fire_at) == datetime(2026, 12, 25, 0, 30, tzinfo=UTC)

    again = await _press(app, REPORTER_TG, "bc:ok")  # a second press finds no draft
    assert again.text == texts.STALE_BUTTON and len(await _broadcasts(app)) == 1

    listing = await _say(app, REPORTER_TG, "/thongbao")
    assert "#1 «Họp chi bộ" in listing.text and "lần tới 25/12/2026 07:30" in listing.text
    assert _has(listing, "b:open:1")
    opened = await _press(app, REPORTER_TG, "b:open:1")
    assert _has(opened, "b:pause:1") and _has(opened, "b:cancel:1")
    paused = await _press(app, REPORTER_TG, "b:pause:1")
    assert "Đã tạm dừng thông báo #1" in paused.text and _has(paused, "b:resume:1")
    resumed = await _press(app, REPORTER_TG, "b:resume:1")
    assert _has(resumed, "b:pause:1")
    typed = await _say(app, REPORTER_TG, "/thongbao 1")
    assert "#1" in typed.text and _has(typed, "b:cancel:1")
    cancelled = await _press(app, REPORTER_TG, "b:cancel:1")
    assert "Đã huỷ thông báo #1" in cancelled.text and cancelled.flat_buttons() == []
    assert (await _broadcasts(app))[0].status == "cancelled"


async def test_admin_weekly_series_and_daily_entry(app, world):
    await _press(app, "900", "b:new")
    documents = await _press(app, "900", "bc:series")
    assert _has(documents, "bc:sd:NQ57")
    topics = await _press(app, "900", "bc:sd:NQ57")
    assert _has(topics, "bc:st:NQ57:quan-diem")
    units = await _press(app, "900", "bc:st:NQ57:quan-diem")
    assert "Quan điểm chỉ đạo" in units.text and _has(units, "bc:u:T01")
    await _press(app, "900", "bc:u:T01")
    await _press(app, "900", "bc:a:all")
    await _press(app, "900", "bc:c:telegram")
    ask = await _press(app, "900", "bc:t:weekly")
    assert "2,5 07:30" in ask.text
    bad = await _say(app, "900", "2,9 07:30")
    assert "Không hiểu ngày trong tuần «9»" in bad.text
    preview = await _say(app, "900", "2,5 07:30")
    assert "Telegram: 4 nhóm" in preview.text and "Zalo" not in preview.text
    assert "hằng tuần vào thứ Hai, thứ Năm lúc 07:30, lần đầu 03/12/2026 07:30" in preview.text
    await _press(app, "900", "bc:ok")

    await _press(app, "900", "b:new")
    await _press(app, "900", "bc:entry")
    nothing = await _say(app, "900", "giá lúa hôm nay bao nhiêu")
    assert texts.BC_ENTRY_NOT_FOUND in nothing.text
    found = await _say(app, "900", "Nghị quyết 57 ban hành ngày nào?")
    assert "Đã chọn câu hỏi" in found.text and "Gửi tới đơn vị nào" in found.text
    await _say(app, "900", "X01-CB01, X01-CB02")
    await _press(app, "900", "bc:a:all")
    await _press(app, "900", "bc:c:telegram")
    await _press(app, "900", "bc:t:daily")
    preview = await _say(app, "900", "07:30")
    assert "Telegram: 2 nhóm" in preview.text and "hằng ngày lúc 07:30" in preview.text
    await _press(app, "900", "bc:ok")

    series, entry = await _broadcasts(app)
    assert (series.content_kind, series.series, series.cron) == (
        "series", "NQ57:quan-diem", "30 7 * * mon,thu")
    assert aware(series.next_fire_at) == datetime(2026, 12, 3, 0, 30, tzinfo=UTC)
    assert json.loads(series.targets) == ["T01"] and series.channel == "telegram"
    assert entry.content_kind == "entry" and entry.entry_id and entry.cron == "30 7 * * *"
    assert json.loads(entry.targets) == ["X01-CB01", "X01-CB02"]
    assert aware(entry.next_fire_at) == datetime(2026, 12, 1, 0, 30, tzinfo=UTC)


async def test_member_stranger_and_group_are_refused(app, world):
    for user in ("700", "stranger"):
        assert texts.BC_NOT_ALLOWED == (await _say(app, user, "/thongbao")).text
        assert texts.BC_NOT_ALLOWED == (await _press(app, user, "b:new")).text
    [group] = await app.router.handle(Incoming(
        "telegram", "-1001", REPORTER_TG, chat_kind=ChatKind.GROUP, text="/thongbao"))
    assert group.text == texts.BC_PRIVATE_ONLY
    assert await _drafts(app) == 0 and await _broadcasts(app) == []


async def test_reporter_cannot_target_outside_their_unit(app, world):
    refused = await _to_units(app, REPORTER_TG)
    refused = await _say(app, REPORTER_TG, "X01-CB01, X02")
    assert "không có quyền gửi thông báo tới Đảng bộ phường Hòa Thuận (X02)" in refused.text
    assert "Gửi tới đơn vị nào" in refused.text  # asked again, the draft kept
    forged = await _press(app, REPORTER_TG, "bc:u:X02-CB01")
    assert "không có quyền" in forged.text
    # the role is taken away between the preview and the confirmation
    await _say(app, REPORTER_TG, "X01")
    await _press(app, REPORTER_TG, "bc:a:all")
    await _press(app, REPORTER_TG, "bc:c:telegram")
    preview = await _press(app, REPORTER_TG, "bc:t:now")
    assert "Telegram: 3 nhóm" in preview.text and "gửi ngay" in preview.text
    async with app.sessions() as s, s.begin():
        await s.execute(delete(RoleAssignment).where(RoleAssignment.user_id == world.reporter.id))
    late = await _press(app, REPORTER_TG, "bc:ok")
    assert "Bạn không có quyền gửi thông báo tới Đảng bộ xã An Bình (X01)" in late.text
    assert await _broadcasts(app) == [] and await _drafts(app) == 1


@pytest.mark.parametrize(("typed", "message"), [
    ("01/11/2026 07:00", "đã qua"),
    ("31/02/2027 07:00", "không có thật"),
    ("0 7 31 2 *", "không bao giờ đến"),
    ("mai nhé", "không đúng dạng"),
])
async def test_bad_times_are_explained_and_asked_again(app, world, typed, message):
    await _to_time(app, REPORTER_TG)
    reply = await _say(app, REPORTER_TG, typed)
    assert message in reply.text and "Khi nào gửi" in reply.text
    assert await _broadcasts(app) == []
    preview = await _say(app, REPORTER_TG, "02/12/2026 07:00")
    assert "một lần, lúc 02/12/2026 07:00" in preview.text


async def test_unknown_unit_empty_target_set_and_bad_content(app, world):
    await _to_units(app, REPORTER_TG)
    unknown = await _say(app, REPORTER_TG, "X01-CB01, X99")
    assert "Không có đơn vị mã «X99»" in unknown.text
    await _say(app, REPORTER_TG, "X01-CB01")
    await _press(app, REPORTER_TG, "bc:a:all")
    await _press(app, REPORTER_TG, "bc:c:zalo")  # thôn 1 has no Zalo group
    empty = await _press(app, REPORTER_TG, "bc:t:now")
    assert "Chi bộ thôn 1 trên Zalo, nên chưa gửi được" in empty.text
    assert "Gửi tới đơn vị nào" in empty.text and not _has(empty, "bc:ok")
    assert await _broadcasts(app) == []
    await _say(app, REPORTER_TG, "X01-CB03")  # back at the targets: choose again
    await _press(app, REPORTER_TG, "bc:a:all")
    await _press(app, REPORTER_TG, "bc:c:zalo")
    preview = await _press(app, REPORTER_TG, "bc:t:now")
    assert "Zalo: 1 nhóm" in preview.text

    await _press(app, REPORTER_TG, "b:new")  # starting again replaces the draft
    blank = await _say(app, REPORTER_TG, "   ")
    assert texts.BC_EMPTY in blank.text
    too_long = await _say(app, REPORTER_TG, "Nội dung rất dài. " * 250)
    assert "quá giới hạn 4.000 ký tự cho một tin trên Telegram" in too_long.text
    assert "Gửi nội dung thông báo" in too_long.text and await _broadcasts(app) == []
    # 2,160 characters fit Telegram but not Zalo: the preview for "both" sends it back
    await _say(app, REPORTER_TG, "Nội dung khá dài. " * 120)
    await _say(app, REPORTER_TG, "X01")
    await _press(app, REPORTER_TG, "bc:a:all")
    await _press(app, REPORTER_TG, "bc:c:all")
    back = await _press(app, REPORTER_TG, "bc:t:now")
    assert "quá giới hạn 2.000 ký tự cho một tin trên Zalo" in back.text
    assert await _broadcasts(app) == []


async def test_draft_survives_in_the_database_and_expires(app, world):
    await _to_units(app, REPORTER_TG)
    await _say(app, REPORTER_TG, "X01")
    clock = Clock()
    other = Router(app.sessions, app.qa, settings=app.settings, clock=clock)
    await _press(app, REPORTER_TG, "bc:a:all", other)
    await _press(app, REPORTER_TG, "bc:c:telegram", other)
    await _press(app, REPORTER_TG, "bc:t:now", other)
    done = await _press(app, REPORTER_TG, "bc:ok", other)
    assert "Đã tạo thông báo #1" in done.text and "gửi ngay" in done.text
    [row] = await _broadcasts(app)
    assert row.schedule_kind == "now" and aware(row.next_fire_at) == clock.now

    await _to_units(app, REPORTER_TG, router=other)
    clock.advance(minutes=app.settings.broadcast_draft_ttl_minutes + 1)
    answer = await _say(app, REPORTER_TG, "Nghị quyết 57 ban hành ngày nào?", other)
    assert "22/12/2024" in answer.text  # the draft expired: back to questions and answers
    stale = await _press(app, REPORTER_TG, "bc:u:X01", other)
    assert stale.text == texts.STALE_BUTTON and await _drafts(app) == 0


async def test_forged_and_stale_buttons_do_nothing(app, world):
    assert (await _press(app, REPORTER_TG, "bc:ok")).text == texts.STALE_BUTTON
    await _press(app, REPORTER_TG, "b:new")
    assert (await _press(app, REPORTER_TG, "bc:ok")).text == texts.STALE_BUTTON
    assert (await _press(app, REPORTER_TG, "bc:a:all")).text == texts.STALE_BUTTON
    for forged in ("b:open:", "b:open:1a", "b:pause:1234567890", "bc:nope", "bc:u:",
                   "bc:st:NQ57:" + "x" * 60):
        assert payloads.parse(forged) is None
        [reply] = await app.router.handle(_pm(REPORTER_TG, payload=forged))
        assert reply.text == texts.STALE_BUTTON
    assert "Không có thông báo số 42" in (await _press(app, REPORTER_TG, "b:open:42")).text
    assert "Không có thông báo số 42" in (await _press(app, REPORTER_TG, "b:pause:42")).text
    assert await _broadcasts(app) == []


async def test_another_reporter_cannot_open_pause_or_cancel(app, world):
    bid, _ = await create(app, Draft(text="Họp chi bộ.", targets=("X01",)),
                          actor=world.reporter, now=Clock().now)
    async with app.sessions() as s, s.begin():
        other = await upsert_user(s, "telegram", "502", "Báo cáo viên phường")
        await roles.grant(s, other, Role.REPORTER, await orgs.get_unit(s, "X02"), source="cli")
    assert (await _say(app, "502", f"/thongbao {bid}")).text == texts.BC_NOT_YOURS
    assert (await _press(app, "502", f"b:open:{bid}")).text == texts.BC_NOT_YOURS
    listing = await _say(app, "502", "/thongbao")
    assert not _has(listing, f"b:open:{bid}")
    for op in ("pause", "cancel"):
        refused = await _press(app, "502", f"b:{op}:{bid}")
        assert refused.text == "Bạn không có quyền thay đổi thông báo này."
    assert (await _press(app, "700", f"b:pause:{bid}")).text.startswith("Bạn không có quyền")
    assert (await _broadcasts(app))[0].status == "active"
    paused = await _press(app, "900", f"b:pause:{bid}")  # the admin may
    assert "Đã tạm dừng" in paused.text


async def test_huy_cancels_the_draft_and_commands_still_work(app, world):
    await _to_units(app, REPORTER_TG)
    whoami = await _say(app, REPORTER_TG, "/toi")
    assert "báo cáo viên" in whoami.text
    listing = await _say(app, REPORTER_TG, "/thongbao")
    assert texts.BC_DRAFT_PENDING in listing.text and _has(listing, "bc:back")
    back = await _press(app, REPORTER_TG, "bc:back")
    assert "Gửi tới đơn vị nào" in back.text
    assert (await _say(app, REPORTER_TG, "/huy")).text == texts.BC_QUIT
    assert await _drafts(app) == 0
    assert (await _say(app, REPORTER_TG, "/huy")).text == texts.BC_NO_DRAFT
    answer = await _say(app, REPORTER_TG, "Nghị quyết 57 ban hành ngày nào?")
    assert "22/12/2024" in answer.text
    await _press(app, REPORTER_TG, "b:new")
    quit_ = await _press(app, REPORTER_TG, "bc:quit")
    assert quit_.text == texts.BC_QUIT and await _drafts(app) == 0
    assert await _broadcasts(app) == []


async def test_announcing_a_new_campaign_to_its_cells(app, world):
    created = await _say(app, REPORTER_TG,
                         "/dotquantriet NQ57 X01 31/12/2026 Quán triệt Nghị quyết 57")
    assert "Đã mở đợt quán triệt #1" in created.text
    [announce] = created.flat_buttons()
    assert announce.payload == "b:announce:1"
    channel = await _press(app, REPORTER_TG, announce.payload)
    assert any(b.payload == "bc:c:telegram" for b in channel.flat_buttons())
    await _press(app, REPORTER_TG, "bc:c:telegram")
    preview = await _press(app, REPORTER_TG, "bc:t:now")
    assert "Telegram: 2 nhóm" in preview.text  # the chi bộ groups of X01, not X01's own
    done = await _press(app, REPORTER_TG, "bc:ok")
    assert "Đã tạo thông báo #1" in done.text
    [row] = await _broadcasts(app)
    assert (row.campaign_id, row.level, json.loads(row.targets)) == (1, "chi_bo", ["X01"])
    assert "Hạn hoàn thành: 31/12/2026" in row.text
    forged = await _press(app, "700", "b:announce:1")  # a member
    assert forged.text == texts.BC_NOT_ALLOWED and len(await _broadcasts(app)) == 1
