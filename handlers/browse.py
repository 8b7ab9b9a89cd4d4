"""Start, help and browsing: documents → topics → questions (paged)."""

from __future__ import annotations

import math

from content.kb import KnowledgeBase
from handlers import payloads, texts
from handlers.render import shorten
from handlers.types import Button, ChatKind, Reply

BUTTON_LABEL_CHARS = 60


def menu_button() -> Button:
    return Button(texts.MENU_BUTTON, payloads.menu())


def _document_buttons(kb: KnowledgeBase) -> list[list[Button]]:
    return [
        [Button(kb.menu_title(doc.key), payloads.document(doc.key))]
        for doc in kb.browsable_documents()
    ]


def start(kb: KnowledgeBase, user_name: str | None) -> Reply:
    name = (user_name or "").strip() or texts.GREETING_NO_NAME
    buttons = [*_document_buttons(kb), [Button(texts.HELP_BUTTON, payloads.help_())]]
    return Reply(texts.GREETING.format(name=shorten(name, 40)), buttons)


def main_menu(kb: KnowledgeBase) -> Reply:
    buttons = [*_document_buttons(kb), [Button(texts.HELP_BUTTON, payloads.help_())]]
    return Reply(texts.MENU_TITLE, buttons)


def help_reply(chat_kind: ChatKind) -> Reply:
    text = texts.HELP + (texts.HELP_GROUP_NOTE if chat_kind is ChatKind.GROUP else "")
    return Reply(text, [[menu_button()]])


def topics(kb: KnowledgeBase, document: str) -> Reply | None:
    topic_list = kb.topics.get(document)
    if not topic_list:
        return None
    buttons = [
        [Button(shorten(t.title, BUTTON_LABEL_CHARS), payloads.topic(document, t.id))]
        for t in topic_list
        if kb.entries_for(document, t.id)
    ]
    buttons.append([menu_button()])
    return Reply(texts.TOPICS_TITLE.format(document=kb.menu_title(document)), buttons)


def questions(
    kb: KnowledgeBase, document: str, topic_id: str, page: int, page_size: int
) -> Reply | None:
    topic = kb.topic(document, topic_id)
    entries = kb.entries_for(document, topic_id)
    if topic is None or not entries:
        return None
    pages = max(1, math.ceil(len(entries) / page_size))
    if page > pages:
        return None
    shown = entries[(page - 1) * page_size : page * page_size]
    buttons = [
        [Button(shorten(e.question, BUTTON_LABEL_CHARS), payloads.entry(e.id))] for e in shown
    ]
    nav: list[Button] = []
    if page > 1:
        nav.append(Button(texts.PREV_PAGE, payloads.topic(document, topic_id, page - 1)))
    if page < pages:
        nav.append(Button(texts.NEXT_PAGE, payloads.topic(document, topic_id, page + 1)))
    if nav:
        buttons.append(nav)
    buttons.append([Button(texts.BACK_TO_TOPICS, payloads.document(document)), menu_button()])
    title = texts.QUESTIONS_TITLE.format(
        document=kb.menu_title(document), topic=topic.title, page=page, pages=pages
    )
    return Reply(title, buttons)
