"""Button payloads: short, versionless strings, always validated on the server.

Formats (each at most 64 bytes, Telegram's callback_data limit):
  m                 main menu            h            help
  d:<DOC>           topics of a document
  t:<DOC>:<topic>:<page>   questions of a topic, paged
  e:<entry_id>      an answer card
  l:<unit_code>     link this group to an org unit (permission checked on press)
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MAX_PAYLOAD_BYTES = 64
_DOC_RE = re.compile(r"^[A-Z0-9]{2,16}$")
_ID_RE = re.compile(r"^[a-z0-9-]{1,48}$")
_UNIT_RE = re.compile(r"^[A-Za-z0-9_.-]{1,60}$")


@dataclass(frozen=True)
class Action:
    kind: str  # menu | help | document | topic | entry | link
    document: str = ""
    topic: str = ""
    page: int = 1
    entry_id: str = ""
    unit_code: str = ""


def menu() -> str:
    return "m"


def help_() -> str:
    return "h"


def document(doc: str) -> str:
    return f"d:{doc}"


def topic(doc: str, topic_id: str, page: int = 1) -> str:
    return f"t:{doc}:{topic_id}:{page}"


def entry(entry_id: str) -> str:
    return f"e:{entry_id}"


def link(unit_code: str) -> str:
    return f"l:{unit_code}"


def parse(payload: str) -> Action | None:
    """Parse a payload; None for anything malformed (the caller refuses politely)."""
    if not payload or len(payload.encode("utf-8")) > MAX_PAYLOAD_BYTES:
        return None
    if payload == "m":
        return Action("menu")
    if payload == "h":
        return Action("help")
    kind, _, rest = payload.partition(":")
    if kind == "d" and _DOC_RE.match(rest):
        return Action("document", document=rest)
    if kind == "e" and _ID_RE.match(rest):
        return Action("entry", entry_id=rest)
    if kind == "l" and _UNIT_RE.match(rest):
        return Action("link", unit_code=rest)
    if kind == "t":
        parts = rest.split(":")
        if (
            len(parts) == 3
            and _DOC_RE.match(parts[0])
            and _ID_RE.match(parts[1])
            and parts[2].isdigit()
            and 0 < len(parts[2]) <= 3
        ):
            return Action("topic", document=parts[0], topic=parts[1], page=int(parts[2]))
    return None
