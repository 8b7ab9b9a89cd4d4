"""An open dialog never swallows a question: any command or menu action sets it aside (kept),
a text that does not fit the step is answered as a question with a note on how to go back."""

from __future__ import annotations

from bot.services import orgs, roles
from bot.services.people import upsert_user
from bot.services.roles import Role
from handlers import payloads, texts
from handlers.router import Router
from handlers.types import ChatKind, Incoming, Reply
from tests.broadcast_world import REPORTER_TG, Clock, build_world

QUESTION = "Nghị quyết 57 ban hành ngày nào"
NOTE = texts.DIALOG_KEPT["broadcast_draft"]


def _pm(text: str | None = None, payload: str | None = None, user: str = REPORTER_TG,
        chat: str | None = None) -> Incoming:
    kind = ChatKind.GROUP if chat else ChatKind.PRIVATE
    return Incoming("telegram", chat or user, user, kind, user, text=text, payload=payload)


async def _run(router: Router, text: str | None = None, payload: str | None = None,
               **kw) -> list[Reply]:
    return await router.handle(_pm(text, payload, **kw))


async def _at_units(app) -> None:  # type: ignore[no-untyped-def]
    await build_world(app)
    app.router.clock = Clock()
    await _run(app.router, payload=payloads.broadcast("new"))
    [units] = await _run(app.router, "Họp chi bộ tối thứ Sáu.")
    assert "Gửi tới đơn vị nào" in units.text


async def test_after_a_restart_and_a_menu_a_question_is_answered(app):
    await _at_units(app)
    restarted = Router(app.sessions, app.qa, settings=app.settings, clock=Clock())
    [menu] = await _run(restarted, "/menu")
    assert menu.text == texts.MENU_TITLE
    [answer] = await _run(restarted, QUESTION)
    assert "22/12/2024" in answer.text and "Không có đơn vị mã" not in answer.text
    # the draft is kept: /thongbao offers to go on, and it goes on where it was
    [listing] = await _run(restarted, "/thongbao")
    assert texts.BC_DRAFT_PENDING in listing.text
    [back] = await _run(restarted, payload=payloads.compose("back"))
    assert "Gửi tới đơn vị nào" in back.text
    [audience] = await _run(restarted, "X01")
    assert "Gửi cho ai" in audience.text


async def test_a_question_at_a_step_is_answered_with_a_note(app):
    await _at_units(app)
    [answer, note] = await _run(app.router, QUESTION + "?")
    assert "22/12/2024" in answer.text and note.text == NOTE
    [plain] = await _run(app.router, "X01")  # set aside: no longer taken as the answer
    assert "Gửi cho ai" not in plain.text
    await _run(app.router, "/thongbao")
    await _run(app.router, payload=payloads.compose("back"))
    [typo] = await _run(app.router, "X09")  # an answer with a typo still gets the step's help
    assert "Không có đơn vị mã «X09»" in typo.text and "Gửi tới đơn vị nào" in typo.text
    [audience] = await _run(app.router, "X01")
    assert "Gửi cho ai" in audience.text
    [answer, note] = await _run(app.router, QUESTION)  # a step answered with buttons
    assert "22/12/2024" in answer.text and note.text == NOTE
    await _run(app.router, "/thongbao")
    [back] = await _run(app.router, payload=payloads.compose("back"))
    assert "Gửi cho ai" in back.text
    await _run(app.router, payload=payloads.compose("a:all"))
    [when] = await _run(app.router, payload=payloads.compose("c:telegram"))
    assert "Khi nào gửi" in when.text
    [bad] = await _run(app.router, "mai nhé")  # a wrong time: the step says what to type
    assert "không đúng dạng" in bad.text
    [answer, note] = await _run(app.router, "Kết luận 69 có mấy nhiệm vụ?")
    assert note.text == NOTE and "Khi nào gửi" not in answer.text


async def test_a_command_sets_a_confirmation_aside_and_its_buttons_resume_it(app):
    world = await build_world(app)
    app.router.clock = Clock()
    async with app.sessions() as s, s.begin():
        from datetime import UTC, datetime

        from bot.services import campaigns

        secretary = await upsert_user(s, "telegram", "101", "Bí thư thôn 1")
        await roles.grant(s, secretary, Role.SECRETARY, await orgs.get_unit(s, "X01-CB01"),
                          source="cli")
        await campaigns.create(s, actor=None, document="NQ57", title="Quán triệt NQ 57",
                               scope_code="X01", deadline="31/12/2026", opens=None,
                               now=datetime(2026, 12, 1, tzinfo=UTC), tz=app.settings.tz,
                               documents={"NQ57"})
    assert world
    [asked] = await _run(app.router, "/daquantriet", user="101")
    assert "sinh hoạt ngày nào" in asked.text
    [answer, note] = await _run(app.router, "Kết luận 69 có mấy nhiệm vụ?", user="101")
    assert note.text == texts.DIALOG_KEPT["confirm"]
    [date] = await _run(app.router, payload=payloads.confirm_date(0), user="101")
    assert "Bao nhiêu đảng viên" in date.text  # the button resumed it
    [_menu] = await _run(app.router, "/menu", user="101")
    [answer] = await _run(app.router, "23/25 là bao nhiêu phần trăm", user="101")
    assert "Xác nhận thông tin" not in answer.text


def test_the_option_hint_promises_only_what_every_step_does():
    assert "câu hỏi" not in texts.OPTIONS_HINT
