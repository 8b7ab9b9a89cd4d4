"""/cauhoi through the router and a real database: counts, groups by subtree, and the loop that
turns an unanswered question into an answer (learned phrasings), out of scope, drafts."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from sqlalchemy import func, select

from bot.db.models import AuditLog, LearnedPhrasing, QuestionGroup, QuestionLog, utcnow
from bot.services import learned, orgs, question_stats
from bot.services.people import upsert_user
from bot.services.roles import Role, grant
from handlers import texts_cauhoi as t
from handlers.types import ChatKind, Incoming

DEMO = Path(__file__).resolve().parent.parent / "content" / "demo" / "org_demo.csv"
ELDERLY = "đảng viên lớn tuổi học chuyển đổi số thế nào"
ELDERLY_ENTRY = "trienkhai-dang-vien-lon-tuoi"
RICE = "giá lúa hôm nay bao nhiêu"
OTHER_COMMUNE = "mỗi xã có bao nhiêu cán bộ công nghệ"


def _msg(user: str, text: str | None = None, payload: str | None = None,
         kind: ChatKind = ChatKind.PRIVATE, chat: str | None = None) -> Incoming:
    return Incoming("console", chat or f"c-{user}", user, chat_kind=kind, user_name=user,
                    text=text, payload=payload)


async def _setup(app) -> None:  # type: ignore[no-untyped-def]
    async with app.sessions() as s, s.begin():
        await orgs.import_units(s, orgs.parse_csv(DEMO.read_text(encoding="utf-8")))
        for external, role, code in (("r1", Role.REPORTER, "X01"), ("r2", Role.REPORTER, "X02"),
                                     ("m1", Role.MEMBER, "X01-CB01"),
                                     ("m2", Role.MEMBER, "X02-CB01"), ("adm", Role.ADMIN, None)):
            user = await upsert_user(s, "console", external, external)
            unit = await orgs.get_unit(s, code) if code else None
            await grant(s, user, role, unit, source="cli")


async def _ask(app, user: str, text: str):  # type: ignore[no-untyped-def]
    [reply] = await app.router.handle(_msg(user, text))
    return reply


def _payload(reply, start: str) -> str:  # type: ignore[no-untyped-def]
    return next(b.payload for b in reply.flat_buttons() if b.payload.startswith(start))


async def test_reporter_sees_own_subtree_assigns_and_member_gets_the_answer(app):
    await _setup(app)
    first = await _ask(app, "m1", ELDERLY)
    assert ELDERLY_ENTRY not in first.text  # only suggestions so far
    await _ask(app, "m1", "Đảng viên lớn tuổi học chuyển đổi số thế nào?")
    await _ask(app, "m1", RICE)
    await _ask(app, "m1", "Nghị quyết 57 ban hành ngày nào?")
    await _ask(app, "m2", OTHER_COMMUNE)

    [denied] = await app.router.handle(_msg("m1", "/cauhoi"))
    assert denied.text == t.NOT_ALLOWED
    [in_group] = await app.router.handle(_msg("r1", "/cauhoi", kind=ChatKind.GROUP, chat="g1"))
    assert in_group.text == t.PRIVATE_ONLY

    [report] = await app.router.handle(_msg("r1", "/cauhoi"))
    assert "Tổng số: 4 câu" in report.text
    assert "Trả lời được: 1" in report.text
    assert "(2 lần)" in report.text and "lớn tuổi" in report.text
    assert "giá lúa" in report.text
    assert "cán bộ công nghệ" not in report.text  # another commune's question
    [other] = await app.router.handle(_msg("r2", "/cauhoi"))
    assert "cán bộ công nghệ" in other.text and "lớn tuổi" not in other.text
    [everything] = await app.router.handle(_msg("adm", "/cauhoi"))
    assert "Tổng số: 5 câu" in everything.text

    # the largest group comes first; its detail offers the matcher's candidates
    [detail] = await app.router.handle(_msg("r1", payload=_payload(report, "cq:g:")))
    assert "lớn tuổi" in detail.text
    assign = _payload(detail, "cq:a:")
    assert assign.endswith(ELDERLY_ENTRY)
    # a reporter of another commune cannot act on it, even with a forged press
    [forged] = await app.router.handle(_msg("r2", payload=assign))
    assert forged.text == t.GONE
    [done] = await app.router.handle(_msg("r1", payload=assign))
    assert done.text.startswith("✅ Đã học 1 cách hỏi")

    again = await _ask(app, "m1", "đảng viên lớn tuổi học chuyển đổi số thế nào ?")
    entry = app.qa.kb.entries[ELDERLY_ENTRY]
    assert entry.answer[:40] in again.text
    async with app.sessions() as s:
        row = await s.scalar(select(LearnedPhrasing))
        assert row.entry_id == ELDERLY_ENTRY and row.created_by is not None
        assert await s.scalar(select(func.count()).select_from(AuditLog).where(
            AuditLog.action == "question.learn")) == 1
    [after] = await app.router.handle(_msg("r1", "/cauhoi"))
    assert "(2 lần)" not in after.text  # assigned groups leave the list

    # "Đã học" → "Bỏ": the bot no longer answers it
    [listing] = await app.router.handle(_msg("r1", payload="cq:l:1"))
    assert "lớn tuổi" in listing.text
    [denied_revoke] = await app.router.handle(_msg("r2", payload=_payload(listing, "cq:x:")))
    assert denied_revoke.text == t.REVOKE_DENIED
    [revoked] = await app.router.handle(_msg("r1", payload=_payload(listing, "cq:x:")))
    assert revoked.text.startswith("Đã bỏ")
    undone = await _ask(app, "m1", ELDERLY)
    assert entry.answer[:40] not in undone.text


async def test_out_of_scope_gets_the_honest_refusal_and_drafts_are_kept(app):
    await _setup(app)
    first = await _ask(app, "m1", RICE)
    assert first.text != t.OUT_OF_SCOPE
    await _ask(app, "m1", OTHER_COMMUNE)
    [report] = await app.router.handle(_msg("r1", "/cauhoi"))
    groups = [b.payload for b in report.flat_buttons() if b.payload.startswith("cq:g:")]
    assert len(groups) == 2
    details = [(await app.router.handle(_msg("r1", payload=g)))[0] for g in groups]
    rice = next(d for d in details if "giá lúa" in d.text)
    staff = next(d for d in details if "cán bộ" in d.text)
    [marked] = await app.router.handle(_msg("r1", payload=_payload(rice, "cq:o:")))
    assert marked.text == t.OUT_DONE
    again = await _ask(app, "m1", "Giá lúa hôm nay bao nhiêu?")
    assert again.text == t.OUT_OF_SCOPE
    assert len(again.flat_buttons()) == 1  # the menu only, no suggestions
    [drafted] = await app.router.handle(_msg("r1", payload=_payload(staff, "cq:d:")))
    assert drafted.text == t.DRAFT_DONE
    async with app.sessions() as s:
        drafts = await question_stats.decided_groups(s, question_stats.DRAFT)
        assert [question_stats.examples_of(g) for g in drafts] == [[OTHER_COMMUNE]]
    [twice] = await app.router.handle(_msg("r1", payload=_payload(staff, "cq:o:")))
    assert twice.text == t.ALREADY


async def test_search_by_words_then_assign(app):
    await _setup(app)
    await _ask(app, "m1", OTHER_COMMUNE)
    [report] = await app.router.handle(_msg("r1", "/cauhoi"))
    [detail] = await app.router.handle(_msg("r1", payload=_payload(report, "cq:g:")))
    [ask] = await app.router.handle(_msg("r1", payload=_payload(detail, "cq:s:")))
    assert ask.text == t.SEARCH_ASK
    [found] = await app.router.handle(_msg("r1", "nghị quyết 57 ban hành ngày nào"))
    assert found.text == t.SEARCH_RESULT
    expected = app.qa.matcher.match("nghị quyết 57 ban hành ngày nào").entry
    group_id = _payload(report, "cq:g:").split(":")[2]
    assert _payload(found, "cq:a:") == f"cq:a:{group_id}:{expected.id}"
    # the next message is a question again
    normal = await _ask(app, "r1", "Nghị quyết 57 ban hành ngày nào?")
    assert "22/12/2024" in normal.text


async def test_learned_phrasing_that_would_steal_another_entrys_wording_is_refused(app):
    await _setup(app)
    kb = app.qa.kb
    other = kb.entries["nq57-thong-tin-chung"]
    async with app.sessions() as s, s.begin():
        group = await question_stats.group_for(s, "test key", other.question)
    proposed = {ELDERLY_ENTRY: (other.question,)}
    matcher = learned.build_matcher(app.qa.base_matcher, proposed)
    conflict = learned.check(app.qa.matcher, matcher, ELDERLY_ENTRY, [other.question])
    assert conflict is not None and conflict.entry_id == other.id
    assert group is not None


async def test_retention_prunes_old_questions_in_the_hourly_job(app):
    from scheduler.service import DeliveryService

    await _setup(app)
    await _ask(app, "m1", RICE)
    await _ask(app, "m1", OTHER_COMMUNE)
    async with app.sessions() as s, s.begin():
        row = await s.scalar(select(QuestionLog).where(QuestionLog.text == RICE))
        row.created_at = utcnow() - timedelta(days=app.settings.question_log_keep_days + 1)
    service = DeliveryService(app, {})
    await service.tick()  # the hourly clean-up runs on the first tick
    async with app.sessions() as s:
        assert (await s.scalars(select(QuestionLog.text))).all() == [OTHER_COMMUNE]
        # the emptied group went with it; the other one stays
        assert await s.scalar(select(func.count()).select_from(QuestionGroup)) == 1


async def test_assign_refused_when_another_entrys_phrasing_would_be_answered_differently(app):
    """«nhiệm vụ của nq57» taught to the overall-tasks entry would make the bot rank it first for
    «Nhiệm vụ chi bộ với NQ57?», a phrasing of what a chi bộ must do: refused, that entry named,
    nothing learned."""
    await _setup(app)
    wording = "nhiệm vụ của nq57"
    await _ask(app, "m1", wording)
    async with app.sessions() as s:
        group_id = await s.scalar(select(QuestionLog.group_id))
    assert group_id is not None  # only suggested today
    [refused] = await app.router.handle(
        _msg("r1", payload=f"cq:a:{group_id}:nq57-nhiem-vu-tong-quat"))
    other = app.qa.kb.entries["trienkhai-chi-bo-can-lam-gi"].question
    assert refused.text.startswith("⛔") and other in refused.text
    async with app.sessions() as s:
        assert await s.scalar(select(func.count()).select_from(LearnedPhrasing)) == 0
        group = await s.get(QuestionGroup, group_id)
        assert group.status == question_stats.OPEN


async def test_near_duplicates_share_a_group_but_numbers_keep_questions_apart(app):
    await _setup(app)
    for text in ("mỗi xã có bao nhiêu cán bộ công nghệ", "xã có bao nhiêu cán bộ công nghệ",
                 "Xa co bao nhieu can bo cong nghe?", "mỗi phường có bao nhiêu cán bộ công nghệ",
                 "đến năm 2031 mỗi xã có bao nhiêu cán bộ công nghệ",
                 "đến năm 2032 mỗi xã có bao nhiêu cán bộ công nghệ"):
        reply = await _ask(app, "m1", text)
        assert reply.text
    async with app.sessions() as s:
        rows = (await s.execute(select(QuestionLog.group_id, func.count())
                                .group_by(QuestionLog.group_id))).all()
    sizes = sorted(n for group_id, n in rows if group_id is not None)
    # «mỗi xã…», «xã…» (twice, once without diacritics) and «mỗi phường…» (one syllable more
    # than «xã…» less «xã»: not one syllable away from any) — 2031 and 2032 stay apart
    assert sizes[-1] == 3 and sum(sizes) == 6


async def test_a_phrasing_learned_in_one_process_is_used_by_another_at_once(app, database_url):
    from bot.app import build_app
    from tests.conftest import make_settings

    await _setup(app)
    other = await build_app(make_settings(database_url), migrate=False)
    try:
        await _ask(app, "m1", ELDERLY)
        entry = app.qa.kb.entries[ELDERLY_ENTRY]
        before = (await other.router.handle(_msg("m2", ELDERLY)))[0]
        assert entry.answer[:40] not in before.text
        [report] = await app.router.handle(_msg("r1", "/cauhoi"))
        [detail] = await app.router.handle(_msg("r1", payload=_payload(report, "cq:g:")))
        assign = next(b.payload for b in detail.flat_buttons() if b.payload.endswith(ELDERLY_ENTRY))
        await app.router.handle(_msg("r1", payload=assign))
        [after] = await other.router.handle(_msg("m2", ELDERLY))  # no restart
        assert entry.answer[:40] in after.text
    finally:
        await other.close()


async def test_groups_are_paged_largest_first_and_never_name_who_asked(app):
    await _setup(app)
    far = ["giá lúa hôm nay bao nhiêu", "thời tiết ngày mai thế nào",
           "đội bóng nào vô địch năm nay", "cách nấu phở bò cho ngon",
           "mua xe máy cũ ở đâu rẻ", "lịch cắt điện tuần này ra sao", "giá vàng sáng nay thế nào"]
    for n, text in enumerate(far):
        for _ in range(1 + (n == 6) * 2):  # the last one asked three times: the largest group
            await _ask(app, "m1", text)
    [page1] = await app.router.handle(_msg("r1", "/cauhoi"))
    assert "trang 1/2" in page1.text and "m1" not in page1.text
    lines = [line for line in page1.text.splitlines() if line[:2] in {f"{i}." for i in range(10)}]
    assert lines[0].startswith("1. (3 lần)") and "giá vàng" in lines[0]
    assert len([b for b in page1.flat_buttons() if b.payload.startswith("cq:g:")]) == 5
    [page2] = await app.router.handle(_msg("r1", payload=_payload(page1, "cq:p:7:2")))
    assert "trang 2/2" in page2.text
    assert len([b for b in page2.flat_buttons() if b.payload.startswith("cq:g:")]) == 2
    assert any(b.payload == "cq:p:7:1" for b in page2.flat_buttons())
