"""Questions and answers: run the matcher and keep a log of every question."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

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
    out_of_scope: bool = False  # a báo cáo viên marked such questions "Chưa có nội dung"

    @property
    def entry(self) -> Entry | None:
        return self.match.entry if self.match and self.outcome is Outcome.ANSWERED else None


class QAService:
    def __init__(self, kb: KnowledgeBase, matcher: Matcher, max_question_chars: int) -> None:
        self.kb = kb
        self.matcher = matcher
        self.base_matcher = matcher  # without learned phrasings
        self.max_question_chars = max_question_chars
        self.learned_stamp = 0  # the learned-phrasings stamp `matcher` was built for
        self._refresh_lock = asyncio.Lock()

    async def refresh(self, session: AsyncSession) -> None:
        """Rebuild the matcher when learned phrasings changed in any process (a stamp in the
        database, compared before each question)."""
        from bot.services import learned

        stamp = await learned.current_stamp(session)
        if stamp == self.learned_stamp:
            return
        await self._rebuild(stamp, await learned.active(session))

    async def sync(self, sessions: async_sessionmaker) -> None:
        """`refresh` in a short read-only session of its own: called before an update's
        transaction, so a rebuild (seconds) never holds SQLite's write lock."""
        from bot.services import learned

        async with sessions() as session:
            stamp = await learned.current_stamp(session)
            if stamp == self.learned_stamp:
                return
            phrasings = await learned.active(session)
        await self._rebuild(stamp, phrasings)

    async def _rebuild(self, stamp: int, phrasings: dict[str, tuple[str, ...]]) -> None:
        from bot.services import learned

        async with self._refresh_lock:
            if stamp == self.learned_stamp:
                return
            self.matcher = await asyncio.to_thread(
                learned.build_matcher, self.base_matcher, phrasings)
            self.learned_stamp = stamp

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
        from bot.services import question_stats

        await self.refresh(session)
        result = self.evaluate(text)
        match = result.match
        group = None
        if result.outcome in (Outcome.SUGGESTED, Outcome.UNKNOWN) and match is not None:
            tokens, _ = self.matcher.snap(match.query.tokens)
            group = await question_stats.group_for(
                session, question_stats.group_key(tokens), clean(text or ""))
            if group is not None and group.status == question_stats.OUT_OF_SCOPE:
                result = QAResult(Outcome.UNKNOWN, match, out_of_scope=True)
        METRICS.qa_outcome(channel, result.outcome.value)
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
                unit_id=await question_stats.place(session, user_id, chat_id),
                group_id=group.id if group is not None else None,
            )
        )
        await session.flush()
        return result
