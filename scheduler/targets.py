"""Who a broadcast reaches: org subtrees → chats, counted for the preview, expanded into rows.

A subtree is one indexed prefix query on the materialised path, so a whole province expands in
a single INSERT … SELECT without loading the tree into Python.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import DateTime, Integer, String, and_, func, insert, literal, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import Select

from bot.db.models import Chat, Delivery, OrgUnit, RoleAssignment, User
from bot.services.orgs import LEVELS, path_under

CHANNELS = ("telegram", "zalo")
DEMO_CHANNEL = "console"  # the demo's groups and people (bot.services.demo): no platform
AUDIENCES: dict[str, str] = {
    "groups": "các nhóm đã liên kết",
    "secretary": "bí thư (tin nhắn riêng)",
    "reporter": "báo cáo viên (tin nhắn riêng)",
    "member": "đảng viên đã đăng ký (tin nhắn riêng)",
}
CHANNEL_LABELS = {"telegram": "Telegram", "zalo": "Zalo", "all": "Telegram và Zalo",
                  DEMO_CHANNEL: "nhóm demo (terminal)"}


class TargetError(ValueError):
    """A target the user chose cannot be used; the message says why, in Vietnamese."""


@dataclass(frozen=True)
class TargetSpec:
    unit_codes: tuple[str, ...]
    level: str | None = None
    audience: str = "groups"
    channel: str = "all"

    @property
    def channels(self) -> tuple[str, ...]:
        return (*CHANNELS, DEMO_CHANNEL) if self.channel == "all" else (self.channel,)

    def validate(self) -> None:
        if not self.unit_codes:
            raise TargetError("Chưa chọn đơn vị nhận thông báo.")
        if self.level is not None and self.level not in LEVELS:
            raise TargetError(f"Không có cấp «{self.level}»; dùng một trong: "
                              + ", ".join(LEVELS) + ".")
        if self.audience not in AUDIENCES:
            raise TargetError(f"Không hiểu đối tượng «{self.audience}».")
        if self.channel not in (*CHANNELS, DEMO_CHANNEL, "all"):
            raise TargetError(f"Không có kênh «{self.channel}»; dùng telegram, zalo hoặc all.")


def parse_codes(text: str) -> tuple[str, ...]:
    codes: list[str] = []
    for part in text.replace(";", ",").replace(" ", ",").split(","):
        part = part.strip()
        if part and part not in codes:
            codes.append(part)
    return tuple(codes)


async def resolve_units(session: AsyncSession, codes: tuple[str, ...]) -> list[OrgUnit]:
    """The units named by code, in the given order; TargetError naming every unknown code."""
    found = {u.code.lower(): u for u in (await session.scalars(
        select(OrgUnit).where(func.lower(OrgUnit.code).in_([c.lower() for c in codes]))
    )).all()}
    unknown = [c for c in codes if c.lower() not in found]
    if unknown:
        raise TargetError("Không có đơn vị mã " + ", ".join(f"«{c}»" for c in unknown)
                          + ". Xem mã đơn vị bằng lệnh /nhom hoặc `nqbot org tree`.")
    return [found[c.lower()] for c in codes]


def _in_subtrees(units: list[OrgUnit], level: str | None):  # type: ignore[no-untyped-def]
    condition = or_(*[path_under(unit.path) for unit in units])
    return and_(condition, OrgUnit.level == level) if level else condition


def chats_query(units: list[OrgUnit], spec: TargetSpec) -> Select:
    """(chat id, channel) of every active chat the broadcast reaches, once each."""
    if spec.audience == "groups":
        query = (
            select(Chat.id, Chat.channel)
            .join(OrgUnit, OrgUnit.id == Chat.org_unit_id)
            .where(Chat.kind == "group")
        )
    else:  # the private chats of people holding that role inside the subtrees
        query = (
            select(Chat.id, Chat.channel)
            .join(User, and_(User.channel == Chat.channel, User.external_id == Chat.external_id))
            .join(RoleAssignment, RoleAssignment.user_id == User.id)
            .join(OrgUnit, OrgUnit.id == RoleAssignment.org_unit_id)
            .where(Chat.kind == "private", RoleAssignment.role == spec.audience)
        )
    return query.where(
        Chat.active.is_(True), Chat.channel.in_(spec.channels), _in_subtrees(units, spec.level)
    ).distinct()


async def count_by_channel(session: AsyncSession, units: list[OrgUnit],
                           spec: TargetSpec) -> dict[str, int]:
    sub = chats_query(units, spec).subquery()
    rows = await session.execute(select(sub.c.channel, func.count()).group_by(sub.c.channel))
    counts = {channel: 0 for channel in spec.channels if channel != DEMO_CHANNEL}
    counts.update({channel: int(n) for channel, n in rows.all()})  # demo groups when any
    return counts


async def expand(session: AsyncSession, run_id: int, units: list[OrgUnit], spec: TargetSpec,
                 now: datetime) -> int:
    """Insert one pending delivery row per reached chat for this run; returns how many."""
    sub = chats_query(units, spec).subquery()
    await session.execute(insert(Delivery).from_select(
        ["run_id", "chat_id", "channel", "status", "attempts", "updated_at"],
        select(literal(run_id, Integer), sub.c.id, sub.c.channel,
               literal("pending", String), literal(0, Integer),
               literal(now, DateTime(timezone=True))),
    ))
    return int(await session.scalar(
        select(func.count()).select_from(Delivery).where(Delivery.run_id == run_id)) or 0)
