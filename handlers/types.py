"""The channel-neutral message types every adapter converts to and from."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class ChatKind(StrEnum):
    PRIVATE = "private"
    GROUP = "group"


@dataclass(frozen=True)
class Incoming:
    """One thing a user did: typed text, or pressed a button (payload)."""

    channel: str  # "console" | "telegram" | "zalo"
    chat_id: str
    user_id: str
    chat_kind: ChatKind = ChatKind.PRIVATE
    user_name: str | None = None
    chat_title: str | None = None
    text: str | None = None
    payload: str | None = None
    addressed: bool = True  # in a group: a command, a mention or a reply to the bot

    def __post_init__(self) -> None:
        # Every text a user sends enters here, on every channel. NUL is not text: PostgreSQL
        # refuses it in a string ("invalid byte sequence 0x00"), which would fail every later
        # message of a person whose display name carries one. It is dropped before anything
        # is stored (names, titles, questions, broadcasts, …).
        # Lone surrogates (undecodable bytes let through by a terminal, a "\ud800" escape in
        # JSON) cannot be encoded at all: each becomes U+FFFD.
        for name in ("chat_id", "user_id", "user_name", "chat_title", "text", "payload"):
            value = getattr(self, name)
            if value:
                object.__setattr__(self, name, clean_text(value))


def clean_text(value: str) -> str:
    """Text any database and any terminal can take: no NUL, no lone surrogate."""
    if "\x00" in value:
        value = value.replace("\x00", "")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        value = "".join("\ufffd" if "\ud800" <= c <= "\udfff" else c for c in value)
    return value


@dataclass(frozen=True)
class Button:
    label: str
    payload: str


@dataclass(frozen=True)
class ReplyFile:
    """A file or picture to send with a reply (a chart, an export)."""

    name: str
    data: bytes
    mime: str = "application/octet-stream"

    @property
    def is_image(self) -> bool:
        return self.mime.startswith("image/")


@dataclass
class Reply:
    text: str
    buttons: list[list[Button]] = field(default_factory=list)
    file: ReplyFile | None = None

    def flat_buttons(self) -> list[Button]:
        return [b for row in self.buttons for b in row]
