"""Console channel: a terminal chat with the same handlers; buttons become numbered options.

Standard input is read as bytes by a daemon thread and decoded here, undecodable bytes (a paste
cut in the middle of a character, another encoding) becoming "\ufffd" instead of ending the
chat; Ctrl-C ends the chat at once (no thread is left for the exit to wait on)."""

from __future__ import annotations

import asyncio
import codecs
import getpass
import os
import sys
import threading
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


class StdinLines:
    """Lines of a file descriptor (standard input), read by a daemon thread with `os.read`, so a
    pending read neither holds a lock of `sys.stdin` nor delays the exit on Ctrl-C."""

    def __init__(self, fd: int = 0) -> None:
        self.fd = fd
        self._queue: asyncio.Queue[str | None] = asyncio.Queue()
        self._loop = asyncio.get_running_loop()
        threading.Thread(target=self._pump, name="nqbot-stdin", daemon=True).start()

    def _put(self, line: str | None) -> None:
        try:
            self._loop.call_soon_threadsafe(self._queue.put_nowait, line)
        except RuntimeError:  # the loop is closed: the chat is over
            pass

    def _pump(self) -> None:
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        pending = ""
        while True:
            try:
                chunk = os.read(self.fd, 4096)
            except OSError:
                chunk = b""
            pending += decoder.decode(chunk, final=not chunk)
            *lines, pending = pending.split("\n")
            for line in lines:
                self._put(line.removesuffix("\r"))
            if not chunk:
                if pending:
                    self._put(pending)
                self._put(None)
                return

    async def readline(self) -> str:
        line = await self._queue.get()
        if line is None:
            raise EOFError
        return line


class ConsoleChat:
    def __init__(
        self,
        router: Router,
        *,
        max_chars: int,
        out: TextIO = sys.stdout,
        read_line: Callable[[], str] | None = None,
        user_id: str | None = None,
        user_name: str | None = None,
    ) -> None:
        self.router = router
        self.max_chars = max_chars
        self.out = out
        self.read_line = read_line  # tests: a function returning the next line
        # the OS account keeps one console identity per person; it is no name to greet with
        self.user_id = user_id or _os_user()
        self.user_name = user_name
        self.buttons: list[Button] = []
        self._stdin: StdinLines | None = None

    async def _next_line(self) -> str:
        if self.read_line is not None:
            return await asyncio.get_running_loop().run_in_executor(None, self.read_line)
        if self._stdin is None:
            try:
                fd = sys.stdin.fileno()
            except (AttributeError, OSError, ValueError):  # no standard input: nothing to read
                raise EOFError from None
            self._stdin = StdinLines(fd)
        return await self._stdin.readline()

    def _incoming(self, line: str) -> Incoming:
        stripped = line.strip()
        if stripped.isdigit() and self.buttons and 1 <= int(stripped) <= len(self.buttons):
            payload = self.buttons[int(stripped) - 1].payload
            return Incoming("console", self.chat_id, self.user_id, user_name=self.user_name,
                            payload=payload)
        return Incoming("console", self.chat_id, self.user_id, user_name=self.user_name,
                        text=line)

    @property
    def chat_id(self) -> str:
        """Each console person has their own private chat (demo deliveries to it are kept)."""
        return self.user_id

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
        try:
            while True:
                self.out.write(f"\n{PROMPT}")
                self.out.flush()
                try:
                    line = await self._next_line()
                except (EOFError, KeyboardInterrupt):
                    break
                if line.strip().lower() in EXIT_WORDS:
                    break
                await self.send(line)
        except asyncio.CancelledError:  # Ctrl-C: asyncio.run cancels the chat
            self.out.write("\nTạm biệt!\n")
            self.out.flush()
            raise
        self.out.write("\nTạm biệt!\n")
        self.out.flush()


def _os_user() -> str:
    try:
        return getpass.getuser()
    except Exception:
        return "console"
