"""Composition root: settings → database → knowledge base → services → router."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from bot.config import Settings
from bot.db.engine import create_engine, session_factory
from bot.db.migrate import upgrade
from bot.files import FileStore
from bot.services.qa import QAService
from bot.services.roles import reconcile_admins
from content.kb import KnowledgeBase, default_kb
from content.matcher import Matcher
from handlers.router import Router

log = logging.getLogger(__name__)


@dataclass
class App:
    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker
    kb: KnowledgeBase
    qa: QAService
    router: Router
    files: FileStore

    async def close(self) -> None:
        await self.engine.dispose()


# The matcher is read-only once built (learned phrasings make a new one), so every app of a
# process shares the one built for a knowledge base: building it takes a second or two.
_MATCHERS: dict[int, tuple[KnowledgeBase, Matcher]] = {}


def base_matcher(kb: KnowledgeBase) -> Matcher:
    cached = _MATCHERS.get(id(kb))
    if cached is None or cached[0] is not kb:
        cached = (kb, Matcher(kb))
        _MATCHERS[id(kb)] = cached
    return cached[1]


def build_qa(settings: Settings, kb: KnowledgeBase | None = None) -> QAService:
    kb = kb or default_kb()
    matcher = base_matcher(kb)
    if matcher.model.get("kb_version") != kb.version:
        log.warning(
            "matcher thresholds were calibrated for %s, content is %s: run `nqbot content "
            "calibrate`", matcher.model.get("kb_version"), kb.version,
        )
    return QAService(kb, matcher, settings.max_question_chars)


async def build_app(settings: Settings, *, migrate: bool = True) -> App:
    engine = create_engine(settings)
    if migrate:
        before, after = await upgrade(engine)
        if before != after:
            log.info("database migrated from %s to %s", before or "empty", after)
    sessions = session_factory(engine)
    async with sessions() as session, session.begin():  # ADMIN_TELEGRAM_IDS, as it is now
        added, removed = await reconcile_admins(session, "telegram",
                                                settings.admin_telegram_ids)
    if added or removed:
        log.info("configured Telegram admins: %d granted, %d taken back (no longer in "
                 "ADMIN_TELEGRAM_IDS)", added, removed)
    qa = build_qa(settings)
    router = Router(sessions, qa, page_size=settings.browse_page_size, tz=settings.tz,
                    bot_username=settings.telegram_bot_username, settings=settings)
    files = FileStore(settings.files_dir, settings.files_signing_key)
    return App(settings, engine, sessions, qa.kb, qa, router, files)
