""""Đã quán triệt": a chi bộ confirms its study session for a campaign; members mark their own.

Only a secretary of the cell, a secretary of a unit above it, or an admin may confirm (the last
two recorded as acting on the cell's behalf). One confirmation per campaign and cell: a second
one updates it, an identical one changes nothing (double taps, re-sent callbacks), and every
change is in the audit log."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.models import Campaign, Confirmation, MemberStudy, OrgUnit, RoleAssignment, User
from bot.services.campaigns import fmt, local_today
from bot.services.identities import same_person
from bot.services.roles import Role, audit, holds_over, roles_of
from content.normalize import fold

CELL_LEVEL = "chi_bo"
_PAIR_RE = re.compile(r"^\s*(-?\d{1,5})\s*(?:/|tren|trên)\s*(-?\d{1,5})\s*$")
_ONE_RE = re.compile(r"^\s*(-?\d{1,5})\s*$")
FULL_WORDS = {"du", "du ca", "day du", "tat ca", "ca chi bo", "100%", "full"}
# "đã quán triệt", "da quan triet", "Đã QT", "đã quán triệt 23/25", "chi bộ đã quán triệt"
CONFIRM_RE = re.compile(r"^(?:chi bo\s+)?da\s+(?:quan\s+triet|qt)\b\s*(.*)$")
STUDIED_RE = re.compile(r"^(?:toi|em|minh)\s+da\s+(?:hoc|quan\s+triet|doc)\b")


class ConfirmError(ValueError):
    """Why a confirmation is refused, in Vietnamese."""


@dataclass(frozen=True)
class Attendance:
    attended: int
    total: int


@dataclass
class Recorded:
    confirmation: Confirmation
    created: bool
    changed: bool


def pct(part: int, whole: int) -> str:
    if whole <= 0:
        return "0%"
    value = round(100 * part / whole, 1)
    text = f"{value:.1f}".rstrip("0").rstrip(".")
    return text.replace(".", ",") + "%"


def confirm_phrase(text: str) -> str | None:
    """The rest of a message that says "đã quán triệt" (any normal spelling), else None."""
    match = CONFIRM_RE.match(fold(text).strip(" .!"))
    if not match:
        return None
    return re.sub(r"^(?:roi|xong)\b[\s,.:]*", "", match.group(1).strip()).strip()


def studied_phrase(text: str) -> bool:
    return bool(STUDIED_RE.match(fold(text).strip(" .!")))


def parse_attendance(text: str, default_total: int) -> Attendance:
    """"23/25", "23 trên 25", "23" (of the cell's members), "đủ" (everyone)."""
    folded = fold(text).strip(" .!")
    if folded in FULL_WORDS:
        if default_total <= 0:
            raise ConfirmError("Chưa biết số đảng viên của chi bộ; hãy gõ dạng có mặt/tổng số, "
                               "ví dụ 23/25.")
        return Attendance(default_total, default_total)
    pair = _PAIR_RE.match(folded)
    if pair:
        return Attendance(int(pair.group(1)), int(pair.group(2)))
    one = _ONE_RE.match(folded)
    if one:
        if default_total <= 0:
            raise ConfirmError("Chưa biết số đảng viên của chi bộ; hãy gõ dạng có mặt/tổng số, "
                               "ví dụ 23/25.")
        return Attendance(int(one.group(1)), default_total)
    raise ConfirmError(f"Không hiểu «{text[:40]}». Gõ số có mặt/tổng số, ví dụ 23/25, hoặc "
                       "«đủ» nếu tất cả có mặt.")


def check_numbers(attendance: Attendance, members: int, *, slack: float) -> None:
    attended, total = attendance.attended, attendance.total
    if attended < 0 or total <= 0:
        raise ConfirmError("Số đảng viên phải là số dương.")
    if attended > total:
        raise ConfirmError(f"Số có mặt ({attended}) lớn hơn tổng số ({total}); hãy kiểm tra "
                           "lại.")
    if members > 0 and total > max(members * slack, members + 5):
        raise ConfirmError(f"Tổng số {total} cao hơn nhiều so với {members} đảng viên của chi "
                           "bộ trong danh sách. Hãy kiểm tra lại, hoặc nhờ cấp trên cập nhật số "
                           "đảng viên.")


def parse_held_on(text: str, today: date) -> date:
    """"hôm nay"/"nay"/empty → today, "hôm qua" → yesterday, or dd/mm[/yyyy]."""
    folded = fold(text).strip(" .")
    if folded in ("", "hom nay", "nay", "homnay"):
        return today
    if folded in ("hom qua", "qua"):
        return date.fromordinal(today.toordinal() - 1)
    match = re.match(r"^(\d{1,2})/(\d{1,2})(?:/(\d{4}))?$", folded)
    if not match:
        raise ConfirmError(f"Không hiểu ngày «{text[:20]}»; gõ ngày/tháng, ví dụ 25/12, hoặc "
                           "«hôm nay».")
    day, month = int(match.group(1)), int(match.group(2))
    year = int(match.group(3)) if match.group(3) else today.year
    try:
        held = date(year, month, day)
    except ValueError:
        raise ConfirmError(f"Ngày «{text[:20]}» không có thật.") from None
    if held > today:
        raise ConfirmError("Ngày sinh hoạt không thể ở tương lai.")
    return held


async def acting_as(session: AsyncSession, user: User, cell: OrgUnit) -> str | None:
    """"self" for a secretary of the cell, "behalf" for an admin or a secretary above it."""
    for role, unit in await roles_of(session, user):
        if role is Role.SECRETARY and unit is not None and unit.id == cell.id:
            return "self"
    if await holds_over(session, user, {Role.ADMIN}, cell) or await holds_over(
            session, user, {Role.SECRETARY}, cell, strictly_above=True):
        return "behalf"
    return None


async def own_cells(session: AsyncSession, user: User) -> list[OrgUnit]:
    """The chi bộ where the user (or the same person on another channel) is secretary."""
    rows = await session.scalars(
        select(OrgUnit).join(RoleAssignment, RoleAssignment.org_unit_id == OrgUnit.id)
        .where(RoleAssignment.user_id.in_(await same_person(session, user)),
               RoleAssignment.role == Role.SECRETARY.value, OrgUnit.level == CELL_LEVEL)
        .order_by(OrgUnit.path).distinct())
    return list(rows.all())


def in_campaign(campaign_scope: OrgUnit, cell: OrgUnit) -> bool:
    return cell.level == CELL_LEVEL and cell.path.startswith(campaign_scope.path)


async def record(session: AsyncSession, *, campaign: Campaign, cell: OrgUnit, user: User,
                 channel: str, held_on: date, attendance: Attendance, now: datetime,
                 tz: ZoneInfo, slack: float) -> Recorded:
    """Check everything now and record (or update) the cell's confirmation."""
    scope = await session.get(OrgUnit, campaign.scope_unit_id)
    assert scope is not None
    if not in_campaign(scope, cell):
        raise ConfirmError(f"{cell.name} không thuộc đợt «{campaign.title}».")
    if campaign.status != "open":
        raise ConfirmError(f"Đợt «{campaign.title}» đã kết thúc, không nhận xác nhận nữa.")
    role = await acting_as(session, user, cell)
    if role is None:
        raise ConfirmError(f"Xin lỗi, chỉ bí thư {cell.name} (hoặc cấp ủy cấp trên) mới xác "
                           "nhận quán triệt cho chi bộ được.")
    check_numbers(attendance, cell.members, slack=slack)
    today = local_today(now, tz)
    if held_on > today:
        raise ConfirmError("Ngày sinh hoạt không thể ở tương lai.")
    values = {"held_on": held_on, "attended": attendance.attended, "total": attendance.total}
    late = today > campaign.deadline
    existing = await _existing(session, campaign.id, cell.id)
    if existing is None:
        try:
            async with session.begin_nested():
                existing = Confirmation(
                    campaign_id=campaign.id, unit_id=cell.id, confirmed_by=user.id,
                    on_behalf=role == "behalf", channel=channel, late=late, created_at=now,
                    updated_at=now, **values)
                session.add(existing)
                await session.flush()
            await audit(session, user, "confirmation.create", f"campaign:{campaign.id}",
                        cell=cell.code, on_behalf=role == "behalf", channel=channel,
                        held_on=fmt(held_on), attended=attendance.attended,
                        total=attendance.total, late=late)
            return Recorded(existing, created=True, changed=True)
        except IntegrityError:  # another tap got there first
            existing = await _existing(session, campaign.id, cell.id)
            assert existing is not None
    before = {k: getattr(existing, k) for k in values}
    if before == values:
        return Recorded(existing, created=False, changed=False)
    for key, value in values.items():
        setattr(existing, key, value)
    existing.confirmed_by, existing.on_behalf = user.id, role == "behalf"
    existing.channel, existing.updated_at = channel, now
    existing.late = existing.late or late
    await audit(session, user, "confirmation.update", f"campaign:{campaign.id}",
                cell=cell.code, before={k: str(v) for k, v in before.items()},
                after={k: str(v) for k, v in values.items()}, on_behalf=role == "behalf")
    await session.flush()
    return Recorded(existing, created=False, changed=True)


async def _existing(session: AsyncSession, campaign_id: int, unit_id: int) -> Confirmation | None:
    return await session.scalar(select(Confirmation).where(
        Confirmation.campaign_id == campaign_id, Confirmation.unit_id == unit_id))


def announce(cell: OrgUnit, campaign: Campaign, confirmation: Confirmation) -> str:
    """The line the bot posts in the group once a cell has confirmed."""
    late = " (sau hạn)" if confirmation.late else ""
    return (f"✅ {cell.name} đã xác nhận quán triệt {document_label(campaign.document)}{late}: "
            f"{confirmation.attended}/{confirmation.total} đảng viên "
            f"({pct(confirmation.attended, confirmation.total)}), "
            f"sinh hoạt ngày {fmt(confirmation.held_on)} (đợt «{campaign.title}»).")


_DOC_KINDS = {"NQ": "Nghị quyết", "KL": "Kết luận", "CT": "Chỉ thị", "HD": "Hướng dẫn",
              "KH": "Kế hoạch"}


def document_label(code: str) -> str:
    """"NQ57" → "Nghị quyết 57", "KL69" → "Kết luận 69"; other codes as they are."""
    match = re.match(r"^([A-Z]+)(\d+)$", code)
    if match and match.group(1) in _DOC_KINDS:
        return f"{_DOC_KINDS[match.group(1)]} {match.group(2)}"
    return code


async def member_cell(session: AsyncSession, user: User) -> OrgUnit | None:
    """The chi bộ where the user is registered as a member (or secretary)."""
    rows = await session.scalars(
        select(OrgUnit).join(RoleAssignment, RoleAssignment.org_unit_id == OrgUnit.id)
        .where(RoleAssignment.user_id.in_(await same_person(session, user)),
               RoleAssignment.role.in_([Role.MEMBER.value, Role.SECRETARY.value]),
               OrgUnit.level == CELL_LEVEL).order_by(RoleAssignment.id))
    return rows.first()


async def mark_studied(session: AsyncSession, *, campaign: Campaign, user: User, cell: OrgUnit,
                       channel: str, now: datetime) -> bool:
    """A member's own "tôi đã học"; False if already marked (idempotent)."""
    try:
        async with session.begin_nested():
            session.add(MemberStudy(campaign_id=campaign.id, user_id=user.id, unit_id=cell.id,
                                    channel=channel, created_at=now))
            await session.flush()
    except IntegrityError:
        return False
    return True
