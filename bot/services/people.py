"""Users and chats as the channels report them."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.models import Chat, User, utcnow


async def upsert_user(
    session: AsyncSession, channel: str, external_id: str, display_name: str | None
) -> User:
    user = await session.scalar(
        select(User).where(User.channel == channel, User.external_id == external_id)
    )
    now = utcnow()
    if user is None:
        user = User(
            channel=channel,
            external_id=external_id,
            display_name=display_name,
            created_at=now,
            last_seen_at=now,
        )
        session.add(user)
    else:
        user.last_seen_at = now
        if display_name:
            user.display_name = display_name
    await session.flush()
    return user


async def upsert_chat(
    session: AsyncSession, channel: str, external_id: str, kind: str, title: str | None
) -> Chat:
    chat = await session.scalar(
        select(Chat).where(Chat.channel == channel, Chat.external_id == external_id)
    )
    now = utcnow()
    if chat is None:
        chat = Chat(
            channel=channel,
            external_id=external_id,
            kind=kind,
            title=title,
            active=True,
            created_at=now,
            updated_at=now,
        )
        session.add(chat)
    elif title and chat.title != title:
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
