"""Free-text questions and answer cards."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.services.qa import Outcome, QAResult, QAService
from content.kb import Entry, KnowledgeBase
from handlers import payloads, texts
from handlers.browse import BUTTON_LABEL_CHARS, menu_button
from handlers.render import shorten
from handlers.types import Button, Reply

if TYPE_CHECKING:
    from handlers.router import Context

MAX_RELATED = 3


def _entry_buttons(entries: list[Entry]) -> list[list[Button]]:
    return [
        [Button(shorten(e.question, BUTTON_LABEL_CHARS), payloads.entry(e.id))] for e in entries
    ]


def answer_card(kb: KnowledgeBase, entry: Entry) -> Reply:
    related = [kb.entries[r] for r in entry.related if r in kb.entries][:MAX_RELATED]
    text = f"{entry.answer}\n\n{texts.SOURCE_LINE.format(source=entry.source)}"
    if related:
        text += f"\n\n{texts.RELATED_TITLE}"
    return Reply(text, [*_entry_buttons(related), [menu_button()]])


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
    if outcome is Outcome.SUGGESTED and result.match is not None:
        return Reply(texts.SUGGEST_TITLE,
                     [*_entry_buttons(result.match.suggestions), [menu_button()]])
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
