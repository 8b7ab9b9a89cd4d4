"""Small talk and noise: messages that are not questions about the documents.

Thanks, goodbyes, "ok"/"vâng", laughter, emoji, a bare number or one or two characters get a
short polite reply (never a knowledge-base answer, never "Có phải đồng chí muốn hỏi…"). The rule
is deliberately narrow: every word of the message must be a small-talk word, so a real question
that merely starts with "cảm ơn" or "ok" still reaches the matcher.
"""

from __future__ import annotations

import re
from enum import StrEnum

from content.normalize import clean, fold


class SmallTalk(StrEnum):
    GREETING = "greeting"
    THANKS = "thanks"
    BYE = "bye"
    ACK = "ack"  # ok, vâng, dạ, 👍, "hay quá"
    LAUGH = "laugh"
    NUMBER = "number"  # a bare number outside a numbered menu
    NOISE = "noise"  # one or two characters, punctuation, symbols


# Phrases (folded) that carry the kind; matched as whole token runs, longest first.
_SIGNALS: dict[SmallTalk, tuple[str, ...]] = {
    SmallTalk.THANKS: (
        "cam on", "cam on", "camon", "cmon", "thanks", "thank you", "thank", "thanks you",
        "tks", "thks", "thx", "ty", "da ta", "xin cam on", "cam on nhieu",
    ),
    SmallTalk.BYE: (
        "tam biet", "bye", "bye bye", "bai", "bai bai", "goodbye", "good bye", "hen gap lai",
        "chao tam biet", "chuc ngu ngon", "ngu ngon", "see you",
    ),
    SmallTalk.GREETING: (
        "xin chao", "chao", "chao bot", "chao ban", "chao ad", "hello", "hi", "alo", "helo",
        "chao buoi sang", "chao buoi toi", "chao buoi chieu", "good morning", "hey",
        "bot oi", "ad oi", "co ai khong", "test", "thu", "alo alo",
    ),
    SmallTalk.LAUGH: ("haha", "hihi", "hehe", "hoho", "kaka", "lol", "hu hu", "huhu", "hmm"),
    SmallTalk.ACK: (
        "ok", "oke", "okie", "okey", "okay", "oki", "okela", "vang", "da", "u", "uh", "uhm",
        "um", "uk", "uki", "ukm", "roi", "duoc", "dc", "duoc roi", "hieu roi", "da hieu",
        "ro roi", "tot", "tot qua", "hay", "hay qua", "hay day", "hay lam", "tuyet", "tuyet voi",
        "good", "great", "nice", "yes", "chuan", "dung roi", "chinh xac", "de hieu", "biet roi",
        "da biet", "nhat tri", "dong y", "gioi", "gioi qua", "bot gioi", "rat hay", "hieu",
        "ok roi", "thoi", "vang a", "chuc mot ngay tot lanh", "chuc ngay tot lanh", "good job",
        "cam ong", "tot lam", "hay ghe", "xuat sac", "tuyet qua", "okla", "okok",
    ),
}
# Words that may surround a signal without making the message a question.
_SOFT = frozenset(
    "bot ad admin ban tro ly oi nhe nha nhe a ah nhieu lam qua rat em minh toi chau anh chi "
    "dong chi bac co chu ve nhe nhe vay the day ha nhi nhen ne thi".split()
)
_LAUGH_RE = re.compile(
    r"^(?:(?:ha|he|hi|ho|ka|ke|hj|hu)+h?|k{3,}|=+\)+|:+\)+|:d+|xd+|lol+)$"
)
_ACK_RE = re.compile(r"^(?:o+k+[eia]*|u+h+m*|u+m+|h+m+)$")
_TOKEN_RE = re.compile(r"[a-z0-9]+|[=:]+\)+|:d+")
_LETTER_OR_DIGIT = re.compile(r"[0-9a-zA-Zà-ỹÀ-ỸđĐ]")


def _phrases() -> list[tuple[tuple[str, ...], SmallTalk]]:
    items = [(tuple(p.split()), kind) for kind, ps in _SIGNALS.items() for p in ps]
    return sorted(items, key=lambda item: -len(item[0]))


_PHRASES = _phrases()
_PRIORITY = (SmallTalk.THANKS, SmallTalk.BYE, SmallTalk.GREETING, SmallTalk.LAUGH,
             SmallTalk.ACK)


def classify(text: str) -> SmallTalk | None:
    """The kind of small talk `text` is, or None when it may be a question."""
    cleaned = clean(text)
    if not cleaned:
        return None
    if not _LETTER_OR_DIGIT.search(cleaned):
        # emoji, punctuation, symbols: 👍 and 🙏 acknowledge, anything else is noise
        if ")" in cleaned:
            return SmallTalk.LAUGH  # :)) =)))
        return SmallTalk.ACK if any(ord(c) > 0x2000 for c in cleaned) else SmallTalk.NOISE
    compact = re.sub(r"[\s.,!?…]+", "", cleaned)
    if compact.isdigit():
        return SmallTalk.NUMBER
    tokens = _TOKEN_RE.findall(fold(cleaned.lower()))
    if not tokens:
        return SmallTalk.NOISE
    kind = _words_kind(tokens)
    if kind is None and len(compact) <= 2:
        return SmallTalk.NOISE
    return kind


def _words_kind(tokens: list[str]) -> SmallTalk | None:
    found: set[SmallTalk] = set()
    i = 0
    while i < len(tokens):
        if _LAUGH_RE.match(tokens[i]) or _ACK_RE.match(tokens[i]):
            found.add(SmallTalk.LAUGH if _LAUGH_RE.match(tokens[i]) else SmallTalk.ACK)
            i += 1
            continue
        for phrase, kind in _PHRASES:
            if tuple(tokens[i : i + len(phrase)]) == phrase:
                found.add(kind)
                i += len(phrase)
                break
        else:
            if tokens[i] not in _SOFT:
                return None  # a word that is not small talk: treat as a question
            i += 1
    return next((kind for kind in _PRIORITY if kind in found), None)
