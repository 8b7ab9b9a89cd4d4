""""Chi bộ đã quán triệt" in chat, driven as secretaries, members and reporters would: every way
in, every refusal, the numbers, late and repeated confirmations, members' own marks, /baocao
with drill-down and files, /dotquantriet."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func, select, update

from bot.db.models import AuditLog, Campaign, Confirmation, DialogState, MemberStudy, OrgUnit
from bot.services import campaigns, confirmations, orgs, roles
from bot.services.confirmations import Attendance
from bot.services.people import upsert_user
from bot.services.roles import Role
from handlers import payloads, texts
from handlers.confirm import KIND
from handlers.types import ChatKind, Incoming, Reply
from tests.broadcast_world import REPORTER_TG, Clock, build_world

SECRETARIES = [  # (channel, user id, unit)
    ("telegram", "101", "X01-CB01"),
    ("telegram", "102", "X01-CB02"),
    ("telegram", "103", "X01-CB03"),
    ("telegram", "103", "X01-CB04"),  # secretary of two cells
    ("telegram", "110", "X01"),  # the commune's secretary
    ("zalo", "zs3", "X01-CB03"),
]
CB01 = "-1001"  # the Telegram group of X01-CB01
MEMBER = "700"
ADMIN = "900"


@pytest.fixture
async def world(app):
    world = await build_world(app)
    clock = Clock()  # 01/12/2026 07:00 in Hà Nội
    app.router.clock = clock
    async with app.sessions() as s, s.begin():
        for channel, external_id, code in SECRETARIES:
            user = await upsert_user(s, channel, external_id, f"Bí thư {code}")
            await roles.grant(s, user, Role.SECRETARY, await orgs.get_unit(s, code),
                              source="cli")
        await s.execute(update(OrgUnit).where(OrgUnit.code == "X01-CB01").values(members=25))
        campaign = await _campaign(app, s, clock, "X01", "Quán triệt Nghị quyết 57")
    world.campaign_id = campaign.id
    world.clock = clock
    return world


async def _campaign(app, s, clock: Clock, scope: str, title: str,
                    deadline: str = "10/12/2026") -> Campaign:
    return await campaigns.create(s, actor=None, document="NQ57", title=title,
                                  scope_code=scope, deadline=deadline, opens=None,
                                  now=clock.now, tz=app.settings.tz,
                                  documents=set(app.kb.documents))


def _in(user: str, chat: str | None = None, *, text: str | None = None,
        payload: str | None = None, channel: str = "telegram") -> Incoming:
    kind = ChatKind.GROUP if chat else ChatKind.PRIVATE
    return Incoming(channel, chat or user, user, chat_kind=kind, user_name=user, text=text,
                    payload=payload, addressed=True)


async def _say(app, user: str, text: str, chat: str | None = None,
               channel: str = "telegram") -> Reply:
    [reply] = await app.router.handle(_in(user, chat, text=text, channel=channel))
    return reply


async def _press(app, user: str, payload: str, chat: str | None = None,
                 channel: str = "telegram") -> Reply:
    [reply] = await app.router.handle(_in(user, chat, payload=payload, channel=channel))
    for button in reply.flat_buttons():  # every button is short and parses back
        assert payloads.fits(button.payload) and payloads.parse(button.payload) is not None
    return reply


def _has(reply: Reply, payload: str) -> bool:
    return payload in [b.payload for b in reply.flat_buttons()]


async def _confirmations(app) -> list[Confirmation]:
    async with app.sessions() as s:
        return list((await s.scalars(select(Confirmation).order_by(Confirmation.id))).all())


async def _count(app, model, *where) -> int:  # type: ignore[no-untyped-def]
    async with app.sessions() as s:
        return await s.scalar(select(func.count()).select_from(model).where(*where))


async def _dialogs(app) -> int:
    return await _count(app, DialogState, DialogState.kind == KIND)


async def _audits(app, action: str) -> int:
    return await _count(app, AuditLog, AuditLog.action == action)


async def _unit_id(app, code: str) -> int:
    async with app.sessions() as s:
        unit = await orgs.get_unit(s, code)
        assert unit is not None
        return unit.id


# -- every way in ----------------------------------------------------------------------------------
async def test_button_in_linked_group(app, world):
    reply = await _press(app, "101", payloads.confirm_campaign(world.campaign_id), CB01)
    assert "Chi bộ thôn 1" in reply.text and "ngày nào" in reply.text
    assert _has(reply, "qd:0") and _has(reply, "qx:no")
    reply = await _press(app, "101", "qd:0", CB01)
    assert "có mặt" in reply.text and _has(reply, "qa:all")
    assert reply.flat_buttons()[0].label == "👥 Đủ (25/25)"
    reply = await _press(app, "101", "qa:all", CB01)
    assert "25/25" in reply.text and "01/12/2026" in reply.text and _has(reply, "qx:ok")
    reply = await _press(app, "101", "qx:ok", CB01)
    assert reply.text.startswith("✅ Chi bộ thôn 1 đã xác nhận quán triệt Nghị quyết 57: 25/25")
    assert "25/25" in reply.text and "sau hạn" not in reply.text
    [row] = await _confirmations(app)
    assert (row.attended, row.total, row.held_on, row.channel, row.on_behalf, row.late) == (
        25, 25, date(2026, 12, 1), "telegram", False, False)
    assert await _dialogs(app) == 0


async def test_command_in_linked_group_with_typed_answers(app, world):
    reply = await _say(app, "101", "/daquantriet", CB01)
    assert "Chi bộ thôn 1" in reply.text and "ngày nào" in reply.text
    reply = await _say(app, "101", "hôm qua", CB01)
    assert "có mặt" in reply.text
    reply = await _say(app, "101", "23/25", CB01)
    assert "23/25" in reply.text and "30/11/2026" in reply.text and "92%" in reply.text
    reply = await _press(app, "101", "qx:ok", CB01)
    assert "Chi bộ thôn 1 đã xác nhận" in reply.text and "23/25" in reply.text
    [row] = await _confirmations(app)
    assert (row.attended, row.total, row.held_on) == (23, 25, date(2026, 11, 30))


async def test_private_command_asks_which_cell(app, world):
    reply = await _say(app, "103", "/daquantriet")
    assert "chi bộ" in reply.text.lower() and "đợt" in reply.text
    cb03 = payloads.confirm_choice(world.campaign_id, "X01-CB03")
    cb04 = payloads.confirm_choice(world.campaign_id, "X01-CB04")
    assert _has(reply, cb03) and _has(reply, cb04)
    reply = await _press(app, "103", cb04)
    assert "Chi bộ thôn 4" in reply.text
    await _say(app, "103", "25/11")
    reply = await _say(app, "103", "9/10")
    assert "9/10" in reply.text and "25/11/2026" in reply.text
    reply = await _press(app, "103", "qx:ok")
    assert "Chi bộ thôn 4 đã xác nhận" in reply.text
    [row] = await _confirmations(app)
    assert row.unit_id == await _unit_id(app, "X01-CB04") and not row.on_behalf


async def test_typed_phrase_with_numbers_in_group_skips_attendance(app, world):
    reply = await _say(app, "101", "da quan triet 23/25", CB01)
    assert "ngày nào" in reply.text
    reply = await _press(app, "101", "qd:0", CB01)
    assert reply.text.startswith("Xác nhận thông tin") and "23/25" in reply.text
    reply = await _press(app, "101", "qx:ok", CB01)
    assert "23/25" in reply.text
    assert [(r.attended, r.total) for r in await _confirmations(app)] == [(23, 25)]


async def test_short_phrase_on_zalo_group(app, world):
    reply = await _say(app, "zs3", "Đã QT", "zg-1", channel="zalo")
    assert "Chi bộ thôn 3" in reply.text and _has(reply, "qd:0")
    await _say(app, "zs3", "hôm nay", "zg-1", channel="zalo")
    reply = await _say(app, "zs3", "đủ", "zg-1", channel="zalo")
    assert "47/47" in reply.text
    reply = await _press(app, "zs3", "qx:ok", "zg-1", channel="zalo")
    assert "Chi bộ thôn 3 đã xác nhận" in reply.text
    [row] = await _confirmations(app)
    assert row.channel == "zalo"


async def test_questions_are_not_taken_for_confirmations(app, world):
    for text in ("Đã quán triệt nghị quyết 57 chưa?", "Nghị quyết 57 ban hành ngày nào?"):
        reply = await _say(app, "101", text)
        assert "Chi bộ sinh hoạt ngày nào" not in reply.text
        assert await _dialogs(app) == 0
    # in the middle of a confirmation, a real question still goes to the Q&A
    await _say(app, "101", "/daquantriet")
    [reply, note] = await app.router.handle(_in("101", text="Nghị quyết 57 ban hành ngày nào "
                                                             "vậy bạn?"))
    assert "Không hiểu ngày" not in reply.text
    assert note.text == texts.DIALOG_KEPT["confirm"]  # kept, and how to go back
    assert await _dialogs(app) == 1
    reply = await _say(app, "101", "/huy")
    assert reply.text == texts.CF_CANCELLED and await _dialogs(app) == 0


def test_payloads_are_short_and_strict():
    assert payloads.confirm_campaign(123) == "q:123"
    assert payloads.parse("q:123") == payloads.Action("confirm", op="start", number=123)
    assert payloads.parse(payloads.report(7, "X01-CB02", "xlsx")) == payloads.Action(
        "report", op="xlsx", number=7, unit_code="X01-CB02")
    for forged in ("q:", "q:-1", "q:12a", "qd:7", "qa:some", "qx:maybe", "qc:1:", "rc:5",
                   "r:5:../x", "q:1234567890"):
        assert payloads.parse(forged) is None, forged
    assert payloads.fits(payloads.confirm_choice(999_999_999, "X" * 50))


# -- refusals --------------------------------------------------------------------------------------
async def test_refusals_before_any_question(app, world):
    button = payloads.confirm_campaign(world.campaign_id)
    reply = await _press(app, MEMBER, button, CB01)
    assert reply.text == texts.CF_NOT_ALLOWED.format(cell="Chi bộ thôn 1")
    reply = await _say(app, "102", "đã quán triệt", CB01)  # secretary of another cell
    assert reply.text == texts.CF_NOT_ALLOWED.format(cell="Chi bộ thôn 1")
    reply = await _say(app, MEMBER, "/daquantriet", "-999")  # an unlinked group
    assert reply.text == texts.CF_NO_CELL_GROUP
    reply = await _say(app, MEMBER, "/daquantriet")
    assert reply.text == texts.CF_NO_CELL and "Tôi đã học" in reply.text
    reply = await _say(app, "102", "/daquantriet x01-cb01")  # a cell code, as typed
    assert reply.text == texts.CF_NOT_ALLOWED.format(cell="Chi bộ thôn 1")
    assert await _dialogs(app) == 0 and not await _confirmations(app)


async def test_forged_payloads_are_refused(app, world):
    reply = await _press(app, "101", "q:99999", CB01)
    assert reply.text == texts.CF_NO_CAMPAIGN
    reply = await _press(app, "101", "qc:99999:X01-CB01")
    assert reply.text == texts.CF_NO_CAMPAIGN
    reply = await _press(app, "101", payloads.confirm_choice(world.campaign_id, "X01-CB02"))
    assert reply.text == texts.CF_NOT_ALLOWED.format(cell="Chi bộ thôn 2")
    reply = await _press(app, "101", "qx:ok")
    assert reply.text == texts.CF_STALE
    assert await _dialogs(app) == 0 and not await _confirmations(app)


async def test_commune_secretary_confirms_on_behalf(app, world):
    reply = await _say(app, "110", "/daquantriet X02-CB01")  # not under the commune
    assert "Chi bộ thôn 1" in reply.text and "chỉ bí thư" in reply.text
    reply = await _say(app, "110", "/daquantriet")  # the chi bộ of the commune, to choose
    labels = [b.label for b in reply.flat_buttons()]
    assert len(labels) == 8 and any("Chi bộ khu phố 5" in label for label in labels)
    reply = await _press(app, "110", payloads.confirm_choice(world.campaign_id, "X01-CB05"))
    assert "Chi bộ khu phố 5" in reply.text
    await _press(app, "110", "qd:1")
    reply = await _say(app, "110", "20/23")
    assert "xác nhận thay" in reply.text
    reply = await _press(app, "110", "qx:ok")
    assert "Chi bộ khu phố 5 đã xác nhận" in reply.text and "thay" in reply.text
    [row] = await _confirmations(app)
    assert row.on_behalf and row.unit_id == await _unit_id(app, "X01-CB05")


async def test_several_open_campaigns_asks_which(app, world):
    async with app.sessions() as s, s.begin():
        other = await _campaign(app, s, world.clock, "T01", "Quán triệt Kết luận 69")
    reply = await _say(app, "101", "đã quán triệt", CB01)
    labels = [b.label for b in reply.flat_buttons()]
    assert "Quán triệt Nghị quyết 57" in labels and "Quán triệt Kết luận 69" in labels
    reply = await _press(app, "101", payloads.confirm_choice(other.id, "X01-CB01"), CB01)
    assert "Kết luận 69" in reply.text and "ngày nào" in reply.text


# -- numbers, lateness, repeats --------------------------------------------------------------------
async def test_impossible_numbers_are_refused_and_asked_again(app, world):
    await _say(app, "101", "/daquantriet", CB01)
    await _press(app, "101", "qd:0", CB01)
    for typed, message in (("26/25", "lớn hơn tổng số"), ("-1", "số dương"),
                           ("200/25", "lớn hơn tổng số"), ("20/200", "cao hơn nhiều"),
                           ("hai mươi", "Không hiểu")):
        reply = await _say(app, "101", typed, CB01)
        assert message in reply.text and texts.CF_ASK_ATTENDANCE in reply.text, typed
    reply = await _say(app, "101", "25", CB01)
    assert "25/25" in reply.text and _has(reply, "qx:ok")
    assert not await _confirmations(app)


async def test_impossible_numbers_typed_with_the_phrase(app, world):
    await _say(app, "101", "đã quán triệt 26/25", CB01)
    reply = await _press(app, "101", "qd:0", CB01)
    assert "lớn hơn tổng số" in reply.text and texts.CF_ASK_ATTENDANCE in reply.text


async def test_late_confirmation_is_accepted_and_marked(app, world):
    world.clock.advance(days=12)  # 13/12/2026, the deadline was 10/12
    await _say(app, "101", "/daquantriet", CB01)
    await _press(app, "101", "qd:0", CB01)
    reply = await _press(app, "101", "qa:all", CB01)
    assert "quá hạn 10/12/2026" in reply.text
    reply = await _press(app, "101", "qx:ok", CB01)
    assert "(sau hạn)" in reply.text
    [row] = await _confirmations(app)
    assert row.late


async def _full_flow(app, who: str, attendance: str, chat: str = CB01) -> Reply:
    await _say(app, who, "/daquantriet", chat)
    await _press(app, who, "qd:0", chat)
    await _say(app, who, attendance, chat)
    return await _press(app, who, "qx:ok", chat)


async def test_double_tap_records_once(app, world):
    await _say(app, "101", "/daquantriet", CB01)
    await _press(app, "101", "qd:0", CB01)
    await _say(app, "101", "24/25", CB01)
    first = await _press(app, "101", "qx:ok", CB01)
    second = await _press(app, "101", "qx:ok", CB01)
    assert "đã xác nhận" in first.text and second.text == texts.CF_STALE
    assert len(await _confirmations(app)) == 1
    assert await _audits(app, "confirmation.create") == 1


async def test_second_confirmation_updates_and_is_audited(app, world):
    await _full_flow(app, "101", "20/25")
    reply = await _full_flow(app, "101", "22/25")
    assert reply.text.startswith("Đã cập nhật") and "22/25" in reply.text
    reply = await _full_flow(app, "101", "22/25")
    assert "Đã ghi nhận từ trước" in reply.text
    [row] = await _confirmations(app)
    assert row.attended == 22
    assert await _audits(app, "confirmation.create") == 1
    assert await _audits(app, "confirmation.update") == 1


async def test_cancel_records_nothing(app, world):
    await _say(app, "101", "/daquantriet", CB01)
    reply = await _press(app, "101", "qx:no", CB01)
    assert reply.text == texts.CF_CANCELLED
    assert await _dialogs(app) == 0 and not await _confirmations(app)


# -- members' own mark -----------------------------------------------------------------------------
async def test_member_marks_own_study_once(app, world):
    reply = await _say(app, MEMBER, "Tôi đã học")
    assert reply.text.startswith("Đã ghi nhận") and "Nghị quyết 57" in reply.text
    reply = await _say(app, MEMBER, "/dahoc")
    assert "đã ghi nhận từ trước" in reply.text
    assert await _count(app, MemberStudy) == 1
    reply = await _say(app, "4242", "/dahoc")  # nobody registered
    assert reply.text == texts.ST_NO_CELL and "mã mời" in reply.text


# -- /baocao ---------------------------------------------------------------------------------------
async def _record(app, campaign_id: int, cell: str, attended: int, total: int) -> None:
    async with app.sessions() as s, s.begin():
        admin = await upsert_user(s, "telegram", ADMIN, None)
        await confirmations.record(
            s, campaign=await s.get(Campaign, campaign_id), cell=await orgs.get_unit(s, cell),
            user=admin, channel="telegram", held_on=date(2026, 11, 30),
            attendance=Attendance(attended, total), now=app.router.clock(),
            tz=app.settings.tz, slack=app.settings.confirm_total_slack)


async def test_report_numbers_by_hand(app, world):
    await _record(app, world.campaign_id, "X01-CB01", 23, 25)
    await _record(app, world.campaign_id, "X01-CB02", 40, 46)
    reply = await _say(app, REPORTER_TG, "/baocao")
    # cells of X01: 25 (changed), 46, 47, 10, 23, 41, 29 members; two confirmed
    # attended 23 + 40 = 63; denominator 25 + 46 + (47 + 10 + 23 + 41 + 29) = 221
    assert "2/7 chi bộ (28,6%); 63/221 đảng viên (28,5%)" in reply.text
    assert "Chưa xác nhận: 5 chi bộ" in reply.text and "Bí thư X01-CB03" in reply.text
    assert _has(reply, payloads.report(world.campaign_id, "X01", "chart"))
    assert _has(reply, payloads.report(world.campaign_id, "X01", "xlsx"))
    for who in (MEMBER, "4242"):
        reply = await _say(app, who, "/baocao")
        assert reply.text == texts.RP_NOT_ALLOWED


async def test_report_drill_down_and_files(app, world):
    async with app.sessions() as s, s.begin():
        wide = await _campaign(app, s, world.clock, "T01", "Quán triệt Kết luận 69")
    await _record(app, wide.id, "X01-CB01", 25, 25)
    await _record(app, wide.id, "X02-CB01", 20, 27)
    reply = await _say(app, ADMIN, "/baocao")  # two campaigns: which one?
    assert reply.text == texts.RP_PICK and _has(reply, payloads.report(wide.id))
    reply = await _press(app, ADMIN, payloads.report(wide.id))
    assert "Đảng bộ tỉnh" in reply.text and "2/" in reply.text
    drill = payloads.report(wide.id, "X02")
    assert _has(reply, drill)
    reply = await _press(app, ADMIN, drill)
    assert "Đảng bộ phường Hòa Thuận" in reply.text and "1/8 chi bộ" in reply.text
    # the commune's reporter sees X01 only: the province report is cut to X01, X02 is refused
    reply = await _say(app, REPORTER_TG, f"/baocao {wide.id}")
    assert "Đảng bộ xã An Bình" in reply.text and "1/7 chi bộ" in reply.text
    reply = await _press(app, REPORTER_TG, drill)
    assert reply.text == texts.RP_OUTSIDE
    reply = await _press(app, REPORTER_TG, payloads.report(wide.id, "X02", "xlsx"))
    assert reply.text == texts.RP_OUTSIDE and reply.file is None
    reply = await _press(app, REPORTER_TG, "r:99999")
    assert reply.text == texts.RP_NOT_FOUND.format(id=99999)
    chart = await _press(app, REPORTER_TG, payloads.report(wide.id, "X01", "chart"))
    assert chart.file is not None and chart.file.is_image
    assert chart.file.data.startswith(b"\x89PNG")
    sheet = await _press(app, REPORTER_TG, payloads.report(wide.id, "X01", "xlsx"))
    assert sheet.file is not None and sheet.file.name.endswith(".xlsx")
    assert sheet.file.data.startswith(b"PK")


# -- /dotquantriet ---------------------------------------------------------------------------------
async def test_new_campaign_in_one_line(app, world):
    reply = await _say(app, REPORTER_TG, "/dotquantriet NQ57 X01 31/12/2026 Quán triệt đợt 2")
    assert reply.text.startswith("Đã mở đợt quán triệt #")
    assert reply.flat_buttons()[0].payload.startswith("b:announce:")
    async with app.sessions() as s:
        titles = list((await s.scalars(select(Campaign.title))).all())
    assert "Quán triệt đợt 2" in titles
    reply = await _say(app, REPORTER_TG, "/dotquantriet NQ99 X01 31/12/2026 Đợt")
    assert "Không có tài liệu" in reply.text
    reply = await _say(app, REPORTER_TG, "/dotquantriet NQ57 X02 31/12/2026 Đợt")
    assert "không có quyền" in reply.text
    reply = await _say(app, REPORTER_TG, "/dotquantriet")
    assert reply.text == texts.CP_USAGE
    reply = await _say(app, MEMBER, "/dotquantriet NQ57 X01 31/12/2026 Đợt")
    assert reply.text == texts.CP_NOT_ALLOWED


async def test_cell_secretary_sees_registered_members_not_yet_studied(app, world):
    before = await _say(app, "101", "/baocao")  # the secretary of X01-CB01, private chat
    assert "chưa báo «đã học»: 1/1 — Đảng viên" in before.text
    await _say(app, MEMBER, "/dahoc")
    after = await _say(app, "101", "/baocao")
    assert "Cả 1 đảng viên đã đăng ký với bot đều đã báo «đã học»." in after.text
