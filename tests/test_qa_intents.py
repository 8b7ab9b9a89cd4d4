"""What a member notices first: overview questions, small talk, typos and abbreviations, answer
cards that show the question they answer, and "Xem thêm" for long answers (issue 11)."""

from __future__ import annotations

import pytest

from bot.app import build_qa
from bot.config import Settings
from bot.services.qa import Outcome
from content.smalltalk import SmallTalk, classify
from handlers import payloads, texts
from handlers.qa import render_result
from handlers.types import Incoming
from tests.conftest import make_settings


@pytest.fixture(scope="module")
def qa():
    return build_qa(Settings(_env_file=None))


@pytest.mark.parametrize(
    ("question", "document"),
    [
        ("Nghị quyết 57 nói gì", "NQ57"),
        ("nghi quyet so 57 cua bo chinh tri ve van de gi", "NQ57"),
        ("ngi quyet 57 la j vay", "NQ57"),
        ("nghi kuyet 57 noi gi", "NQ57"),
        ("nghị quết 57 có gì mới", "NQ57"),
        ("57 là gì", "NQ57"),
        ("tóm tắt nghị quyết 57", "NQ57"),
        ("Kết luận 69 nói gì", "KL69"),
        ("kl69 noi gi", "KL69"),
        ("kl69 ?", "KL69"),
        ("nội dung chính của kết luận 69", "KL69"),
    ],
)
def test_overview_questions_get_the_documents_overview(qa, question, document):
    result = qa.evaluate(question)
    assert result.outcome is Outcome.ANSWERED
    assert result.entry is qa.kb.overview_entry(document)


def test_every_registry_document_has_an_overview_reached_by_its_number(qa):
    for doc in qa.kb.documents.values():
        overview = qa.kb.overview_entry(doc.key)
        assert overview is not None, doc.key
        for question in (f"{doc.kind} {doc.number} nói gì", f"{doc.kind} {doc.number} la gi"):
            result = qa.evaluate(question)
            assert result.entry is overview, (question, result.outcome)


def test_a_specific_point_is_not_mistaken_for_the_overview(qa):
    for question in ("nghị quyết 57 có mấy quan điểm", "nq57 muc tieu 2030 la gi",
                     "kết luận 69 ký ngày nào"):
        result = qa.evaluate(question)
        assert result.entry is None or result.entry is not qa.kb.overview_entry("NQ57")


def test_another_document_number_is_not_a_typo(qa):
    for question in ("kl 96 la gi", "nq 75 noi gi"):
        assert qa.evaluate(question).outcome is Outcome.OTHER_DOCUMENT


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("cảm ơn", SmallTalk.THANKS), ("cam on ad nhieu", SmallTalk.THANKS),
        ("tạm biệt", SmallTalk.BYE), ("ok", SmallTalk.ACK), ("vâng", SmallTalk.ACK),
        ("dạ", SmallTalk.ACK), ("👍", SmallTalk.ACK), ("haha", SmallTalk.LAUGH),
        ("kkk", SmallTalk.LAUGH), ("0", SmallTalk.NUMBER), ("99", SmallTalk.NUMBER),
        ("a", SmallTalk.NOISE), ("?", SmallTalk.NOISE), ("xin chào", SmallTalk.GREETING),
    ],
)
def test_small_talk_is_recognised(text, kind):
    assert classify(text) is kind


def test_questions_are_not_small_talk():
    for text in ("ok cho em hoi nq57 la gi", "cảm ơn, vậy kl69 ký ngày nào", "nq57",
                 "57 là gì", "cds la gi"):
        assert classify(text) is None, text


def test_small_talk_never_gets_an_answer_or_suggestions(qa):
    for text in ("cảm ơn", "tạm biệt", "ok", "0", "99", "👍", "hihi"):
        result = qa.evaluate(text)
        assert result.outcome is Outcome.SMALL_TALK, text
        reply = render_result(qa, result)
        assert texts.SUGGEST_TITLE not in reply.text and "Nguồn:" not in reply.text
    thanks = render_result(qa, qa.evaluate("cảm ơn bot"))
    assert "đồng chí" in thanks.text and not thanks.buttons


def test_issue_examples_now_answer_directly(qa):
    expected = {
        "nq 57 ra doi ngay nao vay": "nq57-ngay-ban-hanh",
        "kinh te so chiem bao nhiu % gdp nam 2030": "nq57-muc-tieu-kinh-te-so-2030",
    }
    for question, entry_id in expected.items():
        result = qa.evaluate(question)
        assert result.outcome is Outcome.ANSWERED, question
        assert result.entry.id == entry_id


def test_answer_card_starts_with_the_question_it_answers(qa):
    reply = render_result(qa, qa.evaluate("nq57 muc tieu kinh te so 2030"))
    entry = qa.kb.entries["nq57-muc-tieu-kinh-te-so-2030"]
    assert reply.text.startswith("❓ ")
    assert entry.question[:40] in reply.text.splitlines()[0]
    assert reply.text.index(entry.answer[:30]) > 0


async def test_long_answer_has_more_button_that_shows_the_rest(tmp_path):
    from bot.app import build_app

    app = await build_app(make_settings(f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite3'}"))
    try:
        entry = next(e for e in app.qa.kb.entries.values() if e.more)
        assert len(entry.answer) <= 450
        card = await app.router.handle(
            Incoming("console", "c1", "u1", payload=payloads.entry(entry.id)))
        more = [b for b in card[0].flat_buttons() if b.label == texts.MORE_BUTTON]
        assert more and more[0].payload == payloads.more(entry.id)
        rest = await app.router.handle(Incoming("console", "c1", "u1", payload=more[0].payload))
        assert entry.more[:40] in rest[0].text and "Nguồn:" in rest[0].text
        forged = await app.router.handle(
            Incoming("console", "c1", "u1", payload="em:khong-co-muc-nay"))
        assert forged[0].text == texts.STALE_BUTTON
    finally:
        await app.close()


async def test_console_number_outside_the_options_says_so(tmp_path):
    import io

    from bot.app import build_app
    from bot.channels.console import ConsoleChat

    app = await build_app(make_settings(f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite3'}"))
    try:
        out = io.StringIO()
        chat = ConsoleChat(app.router, max_chars=3500, out=out, user_id="u1")
        await chat.send("/start")
        await chat.send("99")
        assert "Số «99» không ứng với lựa chọn nào" in out.getvalue()
    finally:
        await app.close()
