"""Users and chats as the channels report them."""

from __future__ import annotations

import re

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.models import Chat, User, utcnow

_EXTERNAL_ID = {
    "telegram": re.compile(r"^[1-9][0-9]{0,19}$"),  # a user id is a positive integer
    "zalo": re.compile(r"^[A-Za-z0-9_-]{1,64}$"),
}


def valid_external_id(channel: str, value: str) -> bool:
    """Whether `value` can be a user id on this channel (the operator types these)."""
    pattern = _EXTERNAL_ID.get(channel)
    return bool(pattern and pattern.fullmatch(value))


def _text(value: str | None) -> str | None:
    """A name or title as the platform sent it, without NULs (PostgreSQL refuses them): the
    channels' own events (a group renamed, the bot added) reach here without an `Incoming`."""
    return value.replace("\x00", "") if value else value


async def _get_or_create(
    session: AsyncSession, model: type[User] | type[Chat], channel: str, external_id: str,
    **fields: object,
) -> tuple[User | Chat, bool]:
    """Fetch the row for (channel, external_id) or insert it. Two first messages from the same
    person processed at once both end up with the one row (the loser re-reads it)."""
    query = select(model).where(model.channel == channel, model.external_id == external_id)
    row = await session.scalar(query)
    if row is not None:
        return row, False
    try:
        async with session.begin_nested():
            row = model(channel=channel, external_id=external_id, **fields)
            session.add(row)
            await session.flush()
        return row, True
    except IntegrityError:
        existing = await session.scalar(query)
        assert existing is not None
        return existing, False


async def upsert_user(
    session: AsyncSession, channel: str, external_id: str, display_name: str | None
) -> User:
    now, display_name = utcnow(), _text(display_name)
    user, created = await _get_or_create(
        session, User, channel, external_id,
        display_name=display_name, created_at=now, last_seen_at=now,
    )
    assert isinstance(user, User)
    if not created:
        user.last_seen_at = now
        if display_name:
            user.display_name = display_name
        await session.flush()
    return user


async def upsert_chat(
    session: AsyncSession, channel: str, external_id: str, kind: str, title: str | None
) -> Chat:
    now, title = utcnow(), _text(title)
    chat, created = await _get_or_create(
        session, Chat, channel, external_id,
        kind=kind, title=title, active=True, created_at=now, updated_at=now,
    )
    assert isinstance(chat, Chat)
    if not created and title and chat.title != title:
        chat.title = title
        chat.updated_at = now
        await session.flush()
    return chat


async def set_chat_active(
    session: AsyncSession, channel: str, external_id: str, active: bool,
    *, kind: str = "group", title: str | None = None,
) -> Chat:
    """Record that the bot joined (active) or lost (inactive: removed, blocked) a chat."""
    chat = await upsert_chat(session, channel, external_id, kind, title)
    if chat.active != active:
        chat.active = active
        chat.updated_at = utcnow()
        await session.flush()
    return chat


async def migrate_chat(session: AsyncSession, channel: str, old_id: str, new_id: str) -> bool:
    """A group became a supergroup: move the stored chat to its new id, keeping everything
    attached to it. Idempotent: a second call (either side's service message) does nothing."""
    old = await session.scalar(
        select(Chat).where(Chat.channel == channel, Chat.external_id == old_id)
    )
    new = await session.scalar(
        select(Chat).where(Chat.channel == channel, Chat.external_id == new_id)
    )
    if old is None:
        return False
    if new is not None:
        # both exist (a message arrived from the new id first): keep the old row's history
        await session.delete(new)
        await session.flush()
    old.external_id = new_id
    old.updated_at = utcnow()
    await session.flush()
    return True
