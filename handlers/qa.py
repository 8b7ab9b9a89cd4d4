"""Free-text questions and answer cards."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.services.qa import Outcome, QAResult, QAService
from content.kb import Entry, KnowledgeBase
from content.smalltalk import SmallTalk
from handlers import payloads, texts, texts_cauhoi
from handlers.browse import BUTTON_LABEL_CHARS, menu_button, start
from handlers.render import shorten
from handlers.types import Button, Reply

if TYPE_CHECKING:
    from handlers.router import Context

MAX_RELATED = 3
QUESTION_HEAD_CHARS = 120


def _entry_buttons(entries: list[Entry]) -> list[list[Button]]:
    return [
        [Button(shorten(e.question, BUTTON_LABEL_CHARS), payloads.entry(e.id))] for e in entries
    ]


def _related(kb: KnowledgeBase, entry: Entry) -> list[Entry]:
    return [kb.entries[r] for r in entry.related if r in kb.entries][:MAX_RELATED]


def answer_card(kb: KnowledgeBase, entry: Entry) -> Reply:
    """The question it answers (so a member sees at once what was understood), the short
    answer, its source; a "Xem thêm" button when the entry has more, then related questions."""
    head = texts.ANSWER_HEAD.format(question=shorten(entry.question, QUESTION_HEAD_CHARS))
    text = f"{head}\n\n{entry.answer}\n\n{texts.SOURCE_LINE.format(source=entry.source)}"
    related = _related(kb, entry)
    if related:
        text += f"\n\n{texts.RELATED_TITLE}"
    more = [[Button(texts.MORE_BUTTON, payloads.more(entry.id))]] if entry.more else []
    return Reply(text, [*more, *_entry_buttons(related), [menu_button()]])


def more_card(kb: KnowledgeBase, entry: Entry) -> Reply:
    """The rest of a long answer, with its source and the related questions."""
    text = f"{entry.more}\n\n{texts.SOURCE_LINE.format(source=entry.source)}"
    related = _related(kb, entry)
    if related:
        text += f"\n\n{texts.RELATED_TITLE}"
    return Reply(text, [*_entry_buttons(related), [menu_button()]])


_SMALL_TALK_TEXT = {
    SmallTalk.GREETING: texts.SMALL_TALK_ACK,
    SmallTalk.THANKS: texts.SMALL_TALK_THANKS,
    SmallTalk.BYE: texts.SMALL_TALK_BYE,
    SmallTalk.ACK: texts.SMALL_TALK_ACK,
    SmallTalk.LAUGH: texts.SMALL_TALK_ACK,
    SmallTalk.NUMBER: texts.SMALL_TALK_NUMBER,
    SmallTalk.NOISE: texts.SMALL_TALK_NOISE,
}


def small_talk_reply(kind: SmallTalk, text: str) -> Reply:
    """A short polite reply; the menu only where it helps (not after thanks or goodbye)."""
    body = _SMALL_TALK_TEXT[kind].format(number=shorten(text.strip(), 12))
    if kind in (SmallTalk.THANKS, SmallTalk.BYE):
        return Reply(body)
    return Reply(body, [[menu_button()]])


async def ask(ctx: Context, text: str) -> list[Reply]:
    result = await ctx.qa.ask(
        ctx.session, text, channel=ctx.incoming.channel, user_id=ctx.user.id, chat_id=ctx.chat.id
    )
    return [render_result(ctx.qa, result)]


def render_result(service: QAService, result: QAResult) -> Reply:
    """The reply for a question's outcome: answer card, suggestions, or an honest refusal."""
    kb = service.kb
    outcome = result.outcome
    if outcome is Outcome.ANSWERED and result.entry is not None:
        return answer_card(kb, result.entry)
    if outcome is Outcome.SMALL_TALK and result.small_talk is SmallTalk.GREETING:
        return start(kb, None)
    if outcome is Outcome.SMALL_TALK and result.small_talk is not None:
        return small_talk_reply(result.small_talk, result.text)
    if result.out_of_scope:  # marked "Chưa có nội dung" by a báo cáo viên: no suggestions
        return Reply(texts_cauhoi.OUT_OF_SCOPE, [[menu_button()]])
    if outcome is Outcome.SUGGESTED and result.match is not None:
        title = texts.CLARIFY_TITLE if result.match.clarify else texts.SUGGEST_TITLE
        return Reply(title, [*_entry_buttons(result.match.suggestions), [menu_button()]])
    if outcome is Outcome.EMPTY:
        return Reply(texts.EMPTY, [[menu_button()]])
    if outcome is Outcome.TOO_LONG:
        limit = service.max_question_chars
        return Reply(texts.TOO_LONG.format(length=result.length, limit=limit), [[menu_button()]])
    if outcome is Outcome.NO_CONTENT:
        return Reply(texts.NO_CONTENT, [[menu_button()]])
    if outcome is Outcome.OTHER_DOCUMENT and result.match is not None:
        keys = ", ".join(_describe_key(k) for k in result.match.unknown_keys)
        head = texts.UNKNOWN_OTHER_DOCUMENT.format(keys=keys)
    else:
        head = texts.UNKNOWN
    return Reply(f"{head}\n\n{texts.UNKNOWN_TRY}",
                 [*_entry_buttons(service.starters()), [menu_button()]])


_KEY_NAMES = {
    "NQ": "Nghị quyết",
    "NQCP": "Nghị quyết của Chính phủ",
    "NQQH": "Nghị quyết của Quốc hội",
    "KL": "Kết luận",
    "HD": "Hướng dẫn",
    "QD": "Quyết định",
    "KH": "Kế hoạch",
    "CT": "Chỉ thị",
    "LUAT": "Luật",
    "QH": "văn bản của Quốc hội",
    "TB": "Thông báo",
    "CV": "Công văn",
    "CTR": "Chương trình",
}


def _describe_key(key: str) -> str:
    ktype, _, num = key.partition(":")
    return f"{_KEY_NAMES.get(ktype, ktype)} số {num}"
