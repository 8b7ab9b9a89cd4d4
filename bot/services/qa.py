"""Questions and answers: run the matcher and keep a log of every question."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.models import QuestionLog
from bot.metrics import METRICS
from content.kb import Entry, KnowledgeBase
from content.matcher import Matcher, MatchResult, Reason, Status
from content.normalize import clean, has_content
from content.smalltalk import SmallTalk, classify

# Overview entries offered when the bot has nothing better to suggest.
STARTER_ENTRY_IDS = ("nq57-thong-tin-chung", "nq57-muc-tieu-2030-tong-quat", "kl69-thong-tin-chung")


class Outcome(StrEnum):
    ANSWERED = "answered"
    SUGGESTED = "suggested"
    UNKNOWN = "unknown"
    OTHER_DOCUMENT = "other_document"
    EMPTY = "empty"
    TOO_LONG = "too_long"
    NO_CONTENT = "no_content"
    SMALL_TALK = "small_talk"


@dataclass
class QAResult:
    outcome: Outcome
    match: MatchResult | None = None
    length: int = 0
    small_talk: SmallTalk | None = None
    text: str = ""

    @property
    def entry(self) -> Entry | None:
        return self.match.entry if self.match and self.outcome is Outcome.ANSWERED else None


class QAService:
    def __init__(self, kb: KnowledgeBase, matcher: Matcher, max_question_chars: int) -> None:
        self.kb = kb
        self.matcher = matcher
        self.max_question_chars = max_question_chars

    def starters(self) -> list[Entry]:
        return [self.kb.entries[i] for i in STARTER_ENTRY_IDS if i in self.kb.entries]

    def evaluate(self, text: str) -> QAResult:
        cleaned = clean(text or "")
        if not cleaned:
            return QAResult(Outcome.EMPTY)
        if len(cleaned) > self.max_question_chars:
            return QAResult(Outcome.TOO_LONG, length=len(cleaned))
        small_talk = classify(cleaned)
        if small_talk is not None:
            return QAResult(Outcome.SMALL_TALK, small_talk=small_talk, text=cleaned)
        if not has_content(cleaned):
            return QAResult(Outcome.NO_CONTENT)
        match = self.matcher.match(cleaned)
        if match.reason is Reason.NO_CONTENT:
            return QAResult(Outcome.NO_CONTENT, match)
        if match.reason is Reason.OTHER_DOCUMENT:
            return QAResult(Outcome.OTHER_DOCUMENT, match)
        outcome = {
            Status.ANSWERED: Outcome.ANSWERED,
            Status.SUGGESTED: Outcome.SUGGESTED,
            Status.UNKNOWN: Outcome.UNKNOWN,
        }[match.status]
        return QAResult(outcome, match)

    async def ask(
        self,
        session: AsyncSession,
        text: str,
        *,
        channel: str,
        user_id: int | None = None,
        chat_id: int | None = None,
    ) -> QAResult:
        result = self.evaluate(text)
        METRICS.qa_outcome(channel, result.outcome.value)
        match = result.match
        session.add(
            QuestionLog(
                channel=channel,
                user_id=user_id,
                chat_id=chat_id,
                text=(text or "").replace("\x00", "\ufffd"),  # PostgreSQL text cannot hold NUL
                normalized=match.query.folded if match else "",
                outcome=result.outcome.value,
                entry_id=result.entry.id if result.entry else None,
                score=match.score if match else None,
                kb_version=self.kb.version,
            )
        )
        await session.flush()
        return result
