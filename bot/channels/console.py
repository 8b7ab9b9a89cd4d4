"""Console channel: a terminal chat with the same handlers; buttons become numbered options."""

from __future__ import annotations

import asyncio
import getpass
import sys
from collections.abc import Callable
from typing import TextIO

from handlers import texts
from handlers.render import numbered, split_text
from handlers.router import Router
from handlers.types import Button, Incoming, Reply

EXIT_WORDS = {"/thoat", "/exit", "/quit", "thoat", "exit", "quit"}
PROMPT = "Đồng chí: "


def render(reply: Reply, max_chars: int) -> tuple[str, list[Button]]:
    """Text of a reply with its buttons as numbered options (the same rendering as Zalo)."""
    buttons = reply.flat_buttons()
    body = "\n\n".join(split_text(reply.text, max_chars))
    return numbered(body, [b.label for b in buttons], texts.OPTIONS_HINT), buttons


class ConsoleChat:
    def __init__(
        self,
        router: Router,
        *,
        max_chars: int,
        out: TextIO = sys.stdout,
        read_line: Callable[[], str] | None = None,
        user_id: str | None = None,
    ) -> None:
        self.router = router
        self.max_chars = max_chars
        self.out = out
        self.read_line = read_line or self._stdin_line
        self.user_id = user_id or _os_user()
        self.buttons: list[Button] = []

    @staticmethod
    def _stdin_line() -> str:
        line = sys.stdin.readline()
        if not line:
            raise EOFError
        return line.rstrip("\n")

    def _incoming(self, line: str) -> Incoming:
        stripped = line.strip()
        if stripped.isdigit() and self.buttons and 1 <= int(stripped) <= len(self.buttons):
            payload = self.buttons[int(stripped) - 1].payload
            return Incoming("console", "console", self.user_id, user_name=self.user_id,
                            payload=payload)
        return Incoming("console", "console", self.user_id, user_name=self.user_id, text=line)

    async def send(self, line: str) -> list[Reply]:
        replies = await self.router.handle(self._incoming(line))
        for reply in replies:
            text, buttons = render(reply, self.max_chars)
            self.buttons = buttons or self.buttons
            self.out.write(f"\nTrợ lý: {text}\n")
            if reply.file is not None:
                self.out.write(texts.FILE_ATTACHED.format(name=reply.file.name,
                                                         size=len(reply.file.data)) + "\n")
        self.out.flush()
        return replies

    async def run(self, first: str | None = "/start") -> None:
        self.out.write("(Trò chuyện trên terminal. Gõ /thoat để thoát.)\n")
        if first:
            await self.send(first)
        loop = asyncio.get_running_loop()
        while True:
            self.out.write(f"\n{PROMPT}")
            self.out.flush()
            try:
                line = await loop.run_in_executor(None, self.read_line)
            except (EOFError, KeyboardInterrupt):
                break
            if line.strip().lower() in EXIT_WORDS:
                break
            await self.send(line)
        self.out.write("\nTạm biệt!\n")
        self.out.flush()


def _os_user() -> str:
    try:
        return getpass.getuser()
    except Exception:
        return "console"
