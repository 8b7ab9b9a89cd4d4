"""One scripted conversation on the console, Telegram and Zalo gets the same answers."""

from __future__ import annotations

import io

from bot.channels.console import ConsoleChat
from tests.test_telegram_e2e import tg  # noqa: F401  (fixture)
from tests.test_zalo_e2e import zalo  # noqa: F401  (fixture)

SCRIPT = [
    "nq57 ban hanh ngay nao",
    "Kết luận 69 có mấy nhiệm vụ trọng tâm?",
    "muc tieu kinh te so 2030",
    "thời tiết hôm nay thế nào",
]


def _body(text: str) -> str:
    """The reply without the channel's rendering of its buttons."""
    return text.split("\n\n1. ")[0].strip()


async def test_same_answers_on_console_telegram_and_zalo(tg, zalo):  # noqa: F811
    lines = iter([*SCRIPT, "/thoat"])
    out = io.StringIO()
    console = ConsoleChat(tg.app.router, max_chars=3500, out=out, read_line=lambda: next(lines))
    console_replies = [_body(r.text) for line in SCRIPT for r in await console.send(line)]

    telegram_replies = []
    for line in SCRIPT:
        telegram_replies += [_body(c.params["text"]) for c in await tg.say(line)]
    zalo_replies = []
    for line in SCRIPT:
        zalo_replies += [_body(text) for text in await zalo.say(line)]

    assert console_replies == telegram_replies == zalo_replies
    assert "22/12/2024" in console_replies[0]
    assert console_replies[-1].startswith("Xin lỗi")
