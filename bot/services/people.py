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
