"""The conversation core driven as a user would, through the router and a real database."""

from __future__ import annotations

import io

from sqlalchemy import func, select

from bot.channels.console import ConsoleChat
from bot.db.models import Chat, QuestionLog, User
from handlers import texts
from handlers.types import ChatKind, Incoming


def _msg(text: str | None = None, payload: str | None = None, **kw) -> Incoming:
    return Incoming("console", "c1", "u1", user_name="Bác Ba", text=text, payload=payload, **kw)


async def _log_rows(app) -> list[QuestionLog]:
    async with app.sessions() as s:
        return list((await s.scalars(select(QuestionLog).order_by(QuestionLog.id))).all())


async def test_start_greets_and_offers_documents(app):
    [reply] = await app.router.handle(_msg("/start"))
    assert "Xin chào Bác Ba" in reply.text
    labels = [b.label for b in reply.flat_buttons()]
    assert any("57" in label for label in labels)
    assert any("69" in label for label in labels)
    async with app.sessions() as s:
        assert await s.scalar(select(func.count()).select_from(User)) == 1
        assert await s.scalar(select(func.count()).select_from(Chat)) == 1


async def test_question_with_and_without_diacritics_gets_same_sourced_answer(app):
    [accented] = await app.router.handle(_msg("Nghị quyết 57 ban hành ngày nào?"))
    [plain] = await app.router.handle(_msg("nghi quyet 57 ban hanh ngay nao"))
    assert "22/12/2024" in accented.text
    assert "Nguồn: Nghị quyết 57-NQ/TW" in accented.text
    assert plain.text == accented.text
    rows = await _log_rows(app)
    assert [r.outcome for r in rows] == ["answered", "answered"]
    assert rows[0].entry_id == rows[1].entry_id


async def test_browse_documents_topics_questions_and_answer(app):
    [menu] = await app.router.handle(_msg("/menu"))
    nq57 = next(b for b in menu.flat_buttons() if "57" in b.label)
    [topics] = await app.router.handle(_msg(payload=nq57.payload))
    assert "Chọn chủ đề" in topics.text
    topic = topics.flat_buttons()[0]
    [questions] = await app.router.handle(_msg(payload=topic.payload))
    assert "trang 1/" in questions.text
    first_question = questions.flat_buttons()[0]
    [card] = await app.router.handle(_msg(payload=first_question.payload))
    assert "Nguồn:" in card.text
    assert all(len(b.payload.encode()) <= 64 for b in card.flat_buttons())


async def test_paging_through_a_long_topic(app):
    kb = app.kb
    doc, topic = max(
        ((d, t.id) for d, ts in kb.topics.items() for t in ts),
        key=lambda dt: len(kb.entries_for(*dt)),
    )
    total = len(kb.entries_for(doc, topic))
    seen: list[str] = []
    payload = f"t:{doc}:{topic}:1"
    for _ in range(50):
        [page] = await app.router.handle(_msg(payload=payload))
        seen += [b.payload for b in page.flat_buttons() if b.payload.startswith("e:")]
        nxt = [b for b in page.flat_buttons() if b.label == texts.NEXT_PAGE]
        if not nxt:
            break
        payload = nxt[0].payload
    assert len(seen) == total == len(set(seen))


async def test_forged_or_stale_payloads_are_refused_politely(app):
    for payload in ["e:khong-ton-tai", "t:NQ57:xyz:1", "t:NQ57:muc-tieu-2030:999", "d:ZZZ",
                    "x" * 200, "e:'; DROP TABLE users;--", "", "m:extra"]:
        [reply] = await app.router.handle(_msg(payload=payload))
        assert reply.text == texts.STALE_BUTTON
    async with app.sessions() as s:
        assert await s.scalar(select(func.count()).select_from(User)) == 1


async def test_unknown_command_gets_a_vietnamese_hint(app):
    [reply] = await app.router.handle(_msg("/xyz"))
    assert "không biết lệnh /xyz" in reply.text


async def test_out_of_scope_and_other_document_are_refused_honestly(app):
    [weather] = await app.router.handle(_msg("thời tiết Hà Nội hôm nay thế nào"))
    assert weather.text.startswith("Xin lỗi")
    assert "Nguồn:" not in weather.text
    [other] = await app.router.handle(_msg("Nghị quyết 68 về kinh tế tư nhân nói gì?"))
    assert "Nghị quyết số 68" in other.text
    assert other.flat_buttons(), "an unknown answer still offers suggestions and the menu"
    outcomes = [r.outcome for r in await _log_rows(app)]
    assert outcomes[-1] == "other_document"


BAD_INPUTS = [
    "",
    "   \n\t ",
    "nghị quyết 57 " * 800,  # ~11 kB
    "😀🎉👍",
    "?!.,;:...",
    "\x00\x07\x1b[2J nghị quyết 57 ban hành ngày nào",
    "Нghị quyết 57 ban hành ngày nào 漢字 مرحبا",
    "'; DROP TABLE question_log; --",
    "SELECT * FROM users WHERE 1=1",
]


async def test_bad_input_gets_clear_replies_and_everything_is_logged(app):
    for text in BAD_INPUTS:
        replies = await app.router.handle(_msg(text))
        assert len(replies) == 1
        reply = replies[0]
        assert reply.text and reply.buttons, f"no usable reply for {text[:30]!r}"
    rows = await _log_rows(app)
    assert len(rows) == len(BAD_INPUTS)
    by_text = {r.text: r.outcome for r in rows}
    assert by_text[""] == "empty"
    assert by_text["nghị quyết 57 " * 800] == "too_long"
    assert by_text["😀🎉👍"] == "small_talk"  # an acknowledgement, never a Q&A answer
    assert by_text["?!.,;:..."] == "small_talk"  # noise: asked to write a question
    assert by_text["'; DROP TABLE question_log; --"] in {"unknown", "suggested"}
    control = next(r for r in rows if r.text.startswith("\x07"))  # the NUL dropped on the way in
    assert control.outcome == "answered"


async def test_group_chatter_is_ignored_but_commands_answered(app):
    silent = await app.router.handle(
        _msg("nq57 ban hanh ngay nao", chat_kind=ChatKind.GROUP, addressed=False)
    )
    assert silent == []
    [helped] = await app.router.handle(_msg("/help", chat_kind=ChatKind.GROUP, addressed=True))
    assert "nhắc tên" in helped.text
    assert await _log_rows(app) == []


async def test_console_chat_numbers_press_buttons(app):
    lines = iter(["1", "1", "1", "câu hỏi không liên quan gì cả về bóng đá", "/thoat"])
    out = io.StringIO()
    chat = ConsoleChat(app.router, max_chars=3500, out=out, read_line=lambda: next(lines))
    await chat.run()
    transcript = out.getvalue()
    assert "Xin chào" in transcript
    assert "Chọn chủ đề" in transcript
    assert "Chọn câu hỏi" in transcript
    assert "Xin lỗi" in transcript
    assert transcript.rstrip().endswith("Tạm biệt!")


async def test_console_splits_long_replies(app):
    from bot.channels.console import render
    from handlers.types import Reply

    text, _ = render(Reply("Một câu rất dài. " * 100), max_chars=300)
    assert all(len(part) <= 300 for part in text.split("\n\n"))


async def test_first_messages_from_one_person_at_once_make_one_user(app):
    import asyncio

    results = await asyncio.gather(
        *(app.router.handle(_msg("/help")) for _ in range(4)), return_exceptions=True
    )
    assert all(not isinstance(r, Exception) for r in results), results
    async with app.sessions() as s:
        assert await s.scalar(select(func.count()).select_from(User)) == 1
        assert await s.scalar(select(func.count()).select_from(Chat)) == 1
