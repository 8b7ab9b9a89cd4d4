"""Counts for secretaries: "X/Y chi bộ; X/Y đảng viên, Z%" for a campaign over a subtree.

Everything is aggregated in SQL over the materialised path (one indexed prefix range), grouped
by the child unit one level below the report's root, so a province of 10,000 cells is never
loaded into Python for its summary."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import and_, case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.models import Campaign, Confirmation, MemberStudy, OrgUnit, RoleAssignment, User
from bot.services.confirmations import CELL_LEVEL
from bot.services.orgs import path_under
from bot.services.roles import Role


@dataclass
class Tally:
    """Figures for one unit (or the whole report)."""

    code: str
    name: str
    level: str
    cells: int = 0
    confirmed: int = 0
    late: int = 0
    members: int = 0  # members of all cells (the register)
    attended: int = 0  # present at the confirmed sessions
    denominator: int = 0  # confirmed cells' totals + unconfirmed cells' members
    studied: int = 0  # registered members who marked "tôi đã học"


@dataclass
class Laggard:
    code: str
    name: str
    parent: str
    secretaries: list[str] = field(default_factory=list)


@dataclass
class CellRow:
    """One chi bộ for the exports."""

    code: str
    name: str
    parent_code: str
    path: str
    members: int
    held_on: date | None
    attended: int | None
    total: int | None
    late: bool
    on_behalf: bool
    studied: int


def cell_prefix(campaign_scope: OrgUnit, root: OrgUnit) -> str | None:
    """The path prefix of the cells both in the campaign and under the report's root."""
    if root.path.startswith(campaign_scope.path):
        return root.path
    if campaign_scope.path.startswith(root.path):
        return campaign_scope.path
    return None


def _child_key(session: AsyncSession, root_path: str):  # type: ignore[no-untyped-def]
    rest = func.substr(OrgUnit.path, len(root_path) + 1)
    if session.bind.dialect.name == "postgresql":
        return func.split_part(rest, "/", 1)
    return func.substr(rest, 1, func.instr(rest, "/") - 1)


def _figures(campaign_id: int):  # type: ignore[no-untyped-def]
    return (
        func.count(OrgUnit.id),
        func.count(Confirmation.id),
        func.coalesce(func.sum(case((Confirmation.late.is_(True), 1), else_=0)), 0),
        func.coalesce(func.sum(OrgUnit.members), 0),
        func.coalesce(func.sum(Confirmation.attended), 0),
        func.coalesce(func.sum(func.coalesce(Confirmation.total, OrgUnit.members)), 0),
    )


def _cells(campaign_id: int, prefix: str):  # type: ignore[no-untyped-def]
    return (
        select()
        .select_from(OrgUnit)
        .outerjoin(Confirmation, and_(Confirmation.unit_id == OrgUnit.id,
                                      Confirmation.campaign_id == campaign_id))
        .where(OrgUnit.level == CELL_LEVEL, path_under(prefix))
    )


def _fill(tally: Tally, row) -> Tally:  # type: ignore[no-untyped-def]
    (tally.cells, tally.confirmed, tally.late, tally.members, tally.attended,
     tally.denominator) = (int(v or 0) for v in row)
    return tally


async def rollup(session: AsyncSession, campaign: Campaign, root: OrgUnit
                 ) -> tuple[Tally, list[Tally]]:
    """The root's figures and one row per child unit (only children that have cells)."""
    scope = await session.get(OrgUnit, campaign.scope_unit_id)
    assert scope is not None
    total = Tally(root.code, root.name, root.level)
    prefix = cell_prefix(scope, root)
    if prefix is None:
        return total, []
    base = _cells(campaign.id, prefix)
    row = (await session.execute(base.add_columns(*_figures(campaign.id)))).one()
    _fill(total, row)
    total.studied = int(await session.scalar(
        select(func.count(MemberStudy.id)).join(OrgUnit, OrgUnit.id == MemberStudy.unit_id)
        .where(MemberStudy.campaign_id == campaign.id, path_under(prefix))) or 0)
    if root.level == CELL_LEVEL:
        return total, []
    # a root above the campaign's scope: break down by the units below the scope instead
    key = _child_key(session, prefix).label("child")
    grouped = (await session.execute(
        base.add_columns(key, *_figures(campaign.id)).group_by(key))).all()
    ids = {int(r[0]): r[1:] for r in grouped if r[0]}
    units = {u.id: u for u in (await session.scalars(
        select(OrgUnit).where(OrgUnit.id.in_(ids)))).all()}
    children = [_fill(Tally(units[i].code, units[i].name, units[i].level), figures)
                for i, figures in ids.items() if i in units]
    children.sort(key=lambda t: t.code)
    return total, children


async def laggards(session: AsyncSession, campaign: Campaign, root: OrgUnit,
                   limit: int | None = 50) -> tuple[int, list[Laggard]]:
    """Cells not yet confirmed under the root (how many, and the first `limit` of them with
    their secretaries' names where known)."""
    scope = await session.get(OrgUnit, campaign.scope_unit_id)
    assert scope is not None
    prefix = cell_prefix(scope, root)
    if prefix is None:
        return 0, []
    missing = _cells(campaign.id, prefix).where(Confirmation.id.is_(None))
    count = int(await session.scalar(missing.add_columns(func.count(OrgUnit.id))) or 0)
    parent = OrgUnit.__table__.alias("parent")
    query = (missing.add_columns(OrgUnit.id, OrgUnit.code, OrgUnit.name, parent.c.name)
             .outerjoin(parent, parent.c.id == OrgUnit.parent_id)
             .order_by(parent.c.code, OrgUnit.code))  # tree order, as people read codes
    if limit is not None:
        query = query.limit(limit)
    rows = (await session.execute(query)).all()
    result = {unit_id: Laggard(code, name, parent_name or "")
              for unit_id, code, name, parent_name in rows}
    if result:
        names = await session.execute(
            select(RoleAssignment.org_unit_id, User.display_name)
            .join(User, User.id == RoleAssignment.user_id)
            .where(RoleAssignment.role == Role.SECRETARY.value,
                   RoleAssignment.org_unit_id.in_(list(result)))
            .order_by(RoleAssignment.id))
        for unit_id, name in names.all():
            if name and name not in result[unit_id].secretaries:
                result[unit_id].secretaries.append(name)
    return count, list(result.values())


async def cell_rows(session: AsyncSession, campaign: Campaign, root: OrgUnit) -> list[CellRow]:
    """Every cell under the root with its confirmation (for the XLSX/CSV exports)."""
    scope = await session.get(OrgUnit, campaign.scope_unit_id)
    assert scope is not None
    prefix = cell_prefix(scope, root)
    if prefix is None:
        return []
    parent = OrgUnit.__table__.alias("parent")
    studied = (select(MemberStudy.unit_id, func.count(MemberStudy.id).label("n"))
               .where(MemberStudy.campaign_id == campaign.id)
               .group_by(MemberStudy.unit_id).subquery())
    query = _cells(campaign.id, prefix).add_columns(
        OrgUnit.code, OrgUnit.name, parent.c.code, OrgUnit.path, OrgUnit.members,
        Confirmation.held_on, Confirmation.attended, Confirmation.total, Confirmation.late,
        Confirmation.on_behalf, func.coalesce(studied.c.n, 0),
    ).outerjoin(parent, parent.c.id == OrgUnit.parent_id).outerjoin(
        studied, studied.c.unit_id == OrgUnit.id).order_by(parent.c.code, OrgUnit.code)
    return [CellRow(code, name, parent_code or "", path, members or 0, held_on, attended,
                    total, bool(late), bool(on_behalf), int(n or 0))
            for code, name, parent_code, path, members, held_on, attended, total, late,
            on_behalf, n in (await session.execute(query)).all()]


async def members_not_studied(session: AsyncSession, campaign: Campaign, cell: OrgUnit
                              ) -> tuple[int, list[str]]:
    """Members registered with the bot in this chi bộ, and the names of those who have not
    marked "tôi đã học" for the campaign (a secretary's to-do list; the bot cannot see who is
    in a group, only who registered)."""
    studied = select(MemberStudy.user_id).where(MemberStudy.campaign_id == campaign.id)
    registered = await session.execute(
        select(User.id, User.display_name)
        .join(RoleAssignment, RoleAssignment.user_id == User.id)
        .where(RoleAssignment.org_unit_id == cell.id, RoleAssignment.role == Role.MEMBER.value)
        .distinct())
    rows = registered.all()
    done = set((await session.scalars(studied.where(
        MemberStudy.user_id.in_([uid for uid, _ in rows])))).all()) if rows else set()
    return len(rows), sorted(name or "(chưa có tên)" for uid, name in rows if uid not in done)
