"""The demo world `make run` loads into an empty database, so every README example works
without a bot token: the demo org tree, one demo group per chi bộ (console chats, named
«Nhóm demo — …») and demo people in the console — a reporter, a commune secretary, a cell
secretary and a member — to be played with `nqbot chat --as …`. Deliveries to the console
channel are written to the demo outbox file (`DEMO_OUTBOX`)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.models import Chat, OrgUnit, utcnow
from bot.services import orgs
from bot.services.people import upsert_chat, upsert_user
from bot.services.roles import Role, grant

CHANNEL = "console"
GROUP_PREFIX = "demo-"


@dataclass(frozen=True)
class Persona:
    key: str  # what `nqbot chat --as` takes
    user_id: str  # the console user's id
    name: str
    role: Role
    unit: str


PERSONAS: dict[str, Persona] = {p.key: p for p in (
    Persona("baocaovien", "demo-baocaovien", "Báo cáo viên (demo)", Role.REPORTER, "T01"),
    Persona("bithuxa", "demo-bithuxa", "Bí thư xã An Bình (demo)", Role.SECRETARY, "X01"),
    Persona("bithu", "demo-bithu", "Bí thư chi bộ thôn 1 (demo)", Role.SECRETARY, "X01-CB01"),
    Persona("dangvien", "demo-dangvien", "Đảng viên chi bộ thôn 1 (demo)", Role.MEMBER,
            "X01-CB01"),
)}


def group_title(unit: OrgUnit) -> str:
    return f"Nhóm demo — {unit.name} ({unit.code})"


async def load(session: AsyncSession, tree_csv: str) -> str | None:
    """Load the demo world into an empty database; None when there are units already."""
    if await session.scalar(select(func.count()).select_from(OrgUnit)):
        return None
    report = await orgs.import_units(session, orgs.parse_csv(tree_csv))
    cells = (await session.scalars(select(OrgUnit).where(OrgUnit.level == "chi_bo")
                                   .order_by(OrgUnit.code))).all()
    now = utcnow()
    for cell in cells:
        chat = await upsert_chat(session, CHANNEL, GROUP_PREFIX + cell.code, "group",
                                 group_title(cell))
        chat.org_unit_id, chat.linked_at = cell.id, now
    for persona in PERSONAS.values():
        user = await upsert_user(session, CHANNEL, persona.user_id, persona.name)
        await upsert_chat(session, CHANNEL, persona.user_id, "private", persona.name)
        unit = await orgs.get_unit(session, persona.unit)
        await grant(session, user, persona.role, unit, source="demo")
    await session.flush()
    people = ", ".join(f"--as {p.key} ({p.name})" for p in PERSONAS.values())
    return (f"Đã nạp cây tổ chức mẫu: {report.created} đơn vị (xem: nqbot org tree), "
            f"{len(cells)} nhóm demo (mỗi chi bộ một nhóm; tin gửi tới nhóm demo được ghi vào "
            f"tệp nhật ký gửi demo), người dùng mẫu: nqbot chat {people}.")


async def has_console_chats(session: AsyncSession) -> bool:
    """Whether anything could be delivered on the console channel (the demo is loaded)."""
    return bool(await session.scalar(
        select(func.count()).select_from(Chat).where(Chat.channel == CHANNEL,
                                                     Chat.active.is_(True))))
