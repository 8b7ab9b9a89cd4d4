"""Text helpers shared by every channel: splitting long replies cleanly."""

from __future__ import annotations

import re

from handlers.texts import NUMBERED_WORDING, OPTIONS_HINT_ONE

_SENTENCE_END = re.compile(r"(?<=[.!?…;:])\s+")


def _split_piece(piece: str, limit: int) -> list[str]:
    """Split one paragraph at sentence ends, then spaces, then hard, so no chunk exceeds limit."""
    if len(piece) <= limit:
        return [piece]
    chunks: list[str] = []
    current = ""
    for sentence in _SENTENCE_END.split(piece):
        while len(sentence) > limit:
            cut = sentence.rfind(" ", 0, limit)
            cut = cut if cut > limit // 2 else limit
            head, sentence = sentence[:cut].rstrip(), sentence[cut:].lstrip()
            if current:
                chunks.append(current)
                current = ""
            chunks.append(head)
        candidate = f"{current} {sentence}".strip() if current else sentence
        if len(candidate) <= limit:
            current = candidate
        else:
            chunks.append(current)
            current = sentence
    if current:
        chunks.append(current)
    return chunks


def split_text(text: str, limit: int) -> list[str]:
    """Split text into chunks of at most `limit` characters, preferring paragraph, line and
    sentence boundaries; never returns an empty chunk."""
    if limit <= 0:
        raise ValueError("limit must be positive")
    text = text.strip()
    if len(text) <= limit:
        return [text] if text else []
    chunks: list[str] = []
    current = ""
    for line in text.split("\n"):
        candidate = f"{current}\n{line}" if current else line
        if len(candidate) <= limit:
            current = candidate
            continue
        if current.strip():
            chunks.append(current.strip())
        pieces = _split_piece(line, limit)
        chunks.extend(p for p in pieces[:-1] if p.strip())
        current = pieces[-1] if pieces else ""
    if current.strip():
        chunks.append(current.strip())
    return chunks


def shorten(text: str, limit: int) -> str:
    """One line of at most `limit` characters, cut at a word boundary with an ellipsis."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text.rfind(" ", 0, limit - 1)
    return text[: cut if cut > limit // 2 else limit - 1].rstrip(" ,;:") + "…"


def numbered(text: str, labels: list[str], hint: str) -> str:
    """A reply's text with its buttons as numbered options, for channels without buttons."""
    if not labels:
        return text
    for pressed, typed in NUMBERED_WORDING:
        text = text.replace(pressed, typed)
    if len(labels) == 1:
        hint = OPTIONS_HINT_ONE.get(hint, hint)
    options = "\n".join(f"{i}. {label}" for i, label in enumerate(labels, start=1))
    return f"{text}\n\n{options}\n{hint.format(n=len(labels))}"
