"""A small world for broadcast tests: the demo org tree, people with roles, linked chats."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.app import App
from bot.db.models import Chat, User, utcnow
from bot.services import orgs, roles
from bot.services.people import upsert_chat, upsert_user
from bot.services.roles import Role
from scheduler import broadcasts
from scheduler.broadcasts import Draft

DEMO = Path(__file__).resolve().parent.parent / "content" / "demo" / "org_demo.csv"
# groups linked in the world: (channel, external id, unit code)
GROUPS = [
    ("telegram", "-1001", "X01-CB01"),
    ("telegram", "-1002", "X01-CB02"),
    ("telegram", "-1003", "X01"),  # the commune's own group (level xa)
    ("zalo", "zg-1", "X01-CB03"),
    ("telegram", "-2001", "X02-CB01"),
]
REPORTER_TG = "501"  # reporter over X01, Telegram user id (also their private chat id)


class Clock:
    """A clock tests move by hand."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime(2026, 12, 1, 0, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


@dataclass
class World:
    app: App
    reporter: User
    admin: User
    member: User
    chats: dict[str, Chat] = field(default_factory=dict)


async def build_world(app: App, groups: list[tuple[str, str, str]] = GROUPS) -> World:
    async with app.sessions() as s, s.begin():
        await orgs.import_units(s, orgs.parse_csv(DEMO.read_text(encoding="utf-8")))
        reporter = await upsert_user(s, "telegram", REPORTER_TG, "Báo cáo viên xã")
        await upsert_chat(s, "telegram", REPORTER_TG, "private", None)
        await roles.grant(s, reporter, Role.REPORTER, await orgs.get_unit(s, "X01"),
                          source="cli")
        admin = await upsert_user(s, "telegram", "900", "Quản trị")
        await roles.grant(s, admin, Role.ADMIN, None, source="cli")
        member = await upsert_user(s, "telegram", "700", "Đảng viên")
        await roles.grant(s, member, Role.MEMBER, await orgs.get_unit(s, "X01-CB01"),
                          source="cli")
        chats = {}
        for channel, external_id, code in groups:
            chat = await upsert_chat(s, channel, external_id, "group", f"Nhóm {code}")
            unit = await orgs.get_unit(s, code)
            assert unit is not None
            chat.org_unit_id, chat.linked_at = unit.id, utcnow()
            chats[external_id] = chat
        await s.flush()
        for user in (reporter, admin, member):
            s.expunge(user)
    return World(app, reporter, admin, member, chats)


async def create(app: App, draft: Draft, *, actor: User | None, now: datetime):
    async with app.sessions() as s, s.begin():
        prepared = await broadcasts.prepare(
            s, app.kb, draft, actor=actor, now=now, tz=app.settings.tz,
            limits={"telegram": app.settings.telegram_max_reply_chars,
                    "zalo": app.settings.zalo_max_message_chars})
        broadcast = await broadcasts.create(s, prepared, actor=actor, now=now)
        return broadcast.id, prepared
