"""Conversation state in the database: numbered options (buttons on channels without them) and
multi-step dialogs. (Updates a platform delivers more than once are deduplicated by the inbox,
`bot/inbox.py`.)"""

from __future__ import annotations

import json
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.models import DialogState, utcnow

OPTIONS = "options"
ANYONE = "*"  # options anyone in the chat may answer (a broadcast's buttons on Zalo)


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=utcnow().tzinfo)


async def save_options(session: AsyncSession, channel: str, chat_id: str, user_id: str,
                       payloads: list[str], ttl: timedelta) -> None:
    """Remember the options just shown to this user in this chat (replacing older ones)."""
    state = await session.scalar(select(DialogState).where(
        DialogState.channel == channel, DialogState.chat_id == chat_id,
        DialogState.user_id == user_id, DialogState.kind == OPTIONS))
    now = utcnow()
    if state is None:
        state = DialogState(channel=channel, chat_id=chat_id, user_id=user_id)
        session.add(state)
    state.kind, state.data = OPTIONS, json.dumps(payloads)
    state.expires_at, state.updated_at = now + ttl, now
    await session.flush()


async def resolve_option(session: AsyncSession, channel: str, chat_id: str, user_id: str,
                         number: int) -> str | None:
    """The payload behind option `number`, or None if there is no such live option. The user's
    own options first, then those left for anyone in the chat."""
    state = None
    for who in (user_id, ANYONE):
        state = await session.scalar(select(DialogState).where(
            DialogState.channel == channel, DialogState.chat_id == chat_id,
            DialogState.user_id == who, DialogState.kind == OPTIONS))
        if state is not None and _aware(state.expires_at) > utcnow():
            break
        state = None
    if state is None:
        return None
    payloads = json.loads(state.data)
    return payloads[number - 1] if 1 <= number <= len(payloads) else None


async def live_kinds(session: AsyncSession, channel: str, chat_id: str, user_id: str,
                     now: datetime | None = None) -> set[str]:
    """The multi-step dialogs (composing, confirming) this user has under way here: one query,
    so free text goes straight to Q&A when there are none."""
    rows = await session.execute(select(DialogState.kind, DialogState.expires_at).where(
        DialogState.channel == channel, DialogState.chat_id == chat_id,
        DialogState.user_id == user_id, DialogState.kind != OPTIONS,
        DialogState.parked.is_(False)))
    now = now or utcnow()
    return {kind for kind, expires in rows.all() if _aware(expires) > now}


async def park(session: AsyncSession, channel: str, chat_id: str, user_id: str, *,
               keep: str | None = None) -> None:
    """The user went elsewhere (a command, a menu, a question): set their dialogs aside, kept
    but no longer taking typed text; `keep` is the dialog being acted on, which is resumed."""
    where = (DialogState.channel == channel, DialogState.chat_id == chat_id,
             DialogState.user_id == user_id, DialogState.kind != OPTIONS)
    await session.execute(update(DialogState).where(*where, DialogState.kind != (keep or ""),
                                                    DialogState.parked.is_(False))
                          .values(parked=True).execution_options(synchronize_session=False))
    if keep:
        await session.execute(update(DialogState).where(*where, DialogState.kind == keep,
                                                        DialogState.parked.is_(True))
                              .values(parked=False)
                              .execution_options(synchronize_session=False))


async def in_dialog(session: AsyncSession, channel: str, chat_id: str, user_id: str) -> bool:
    """True while the user is in the middle of a multi-step dialog (composing, confirming)."""
    return bool(await live_kinds(session, channel, chat_id, user_id))


async def prune(session: AsyncSession) -> int:
    """Delete expired dialogs and options."""
    expired = await session.execute(delete(DialogState).where(
        DialogState.expires_at < utcnow()))
    return int(expired.rowcount or 0)


class DialogStore:
    """One kind of multi-step dialog (a broadcast draft, a confirmation) kept per channel, chat
    and user as JSON with an expiry; the same for every process."""

    def __init__(self, kind: str) -> None:
        self.kind = kind

    def _where(self, channel: str, chat_id: str, user_id: str):  # type: ignore[no-untyped-def]
        return (DialogState.channel == channel, DialogState.chat_id == chat_id,
                DialogState.user_id == user_id, DialogState.kind == self.kind)

    async def load(self, session: AsyncSession, channel: str, chat_id: str, user_id: str,
                   now: datetime) -> object | None:
        """The live dialog's data (parsed JSON); an expired or unreadable one is removed."""
        row = await session.scalar(select(DialogState).where(
            *self._where(channel, chat_id, user_id)))
        if row is None:
            return None
        data = None
        if _aware(row.expires_at) > now:
            try:
                data = json.loads(row.data)
            except ValueError:
                data = None
        if data is None:
            await session.delete(row)
            await session.flush()
        return data

    async def save(self, session: AsyncSession, channel: str, chat_id: str, user_id: str,
                   data: object, *, now: datetime, ttl: timedelta) -> None:
        row = await session.scalar(select(DialogState).where(
            *self._where(channel, chat_id, user_id)))
        if row is None:
            row = DialogState(channel=channel, chat_id=chat_id, user_id=user_id, kind=self.kind)
            session.add(row)
        row.data = json.dumps(data, ensure_ascii=False)
        row.expires_at, row.updated_at, row.parked = now + ttl, now, False
        await session.flush()

    async def drop(self, session: AsyncSession, channel: str, chat_id: str,
                   user_id: str) -> bool:
        """Delete the dialog; False if there was none (the row count decides between racers,
        so a double tap on "confirm" acts once)."""
        result = await session.execute(delete(DialogState).where(
            *self._where(channel, chat_id, user_id)))
        return bool(result.rowcount)
