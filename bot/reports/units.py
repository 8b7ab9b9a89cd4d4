"""Per-unit subtotals at every level of a report's subtree, and one call that gathers every
figure a report needs.

The subtotals are aggregated over the `cell_rows()` of the subtree (already needed for the
per-cell sheet), so the whole tree is never read for a subtree report and no query of the domain
core is duplicated: one extra query reads the non-cell units of the subtree (names, levels)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.models import Campaign, OrgUnit
from bot.services import rollups
from bot.services.confirmations import CELL_LEVEL
from bot.services.orgs import path_under
from bot.services.rollups import CellRow, Laggard, Tally


@dataclass
class UnitTotal:
    """One unit above chi bộ with the figures of every campaign cell below it."""

    tally: Tally
    depth: int  # below the report's root (root = 0)
    path: str


@dataclass
class ReportData:
    campaign: Campaign
    scope: OrgUnit  # the campaign's scope unit
    root: OrgUnit  # the unit the report is about
    total: Tally
    children: list[Tally]
    laggard_count: int
    laggards: list[Laggard]
    generated_at: datetime
    cells: list[CellRow] = field(default_factory=list)
    units: list[UnitTotal] = field(default_factory=list)
    parent_names: dict[str, str] = field(default_factory=dict)  # unit code → name


def _order(path: str) -> tuple[int, ...]:
    return tuple(int(part) for part in path.strip("/").split("/"))


async def unit_subtotals(session: AsyncSession, campaign: Campaign, root: OrgUnit,
                         cells: list[CellRow]) -> tuple[list[UnitTotal], dict[str, str]]:
    """Subtotals for the root and every unit under it down to the level above chi bộ (units
    with no campaign cell left out, the root always kept), in tree order; and the names of
    those units by code (for the cells' "parent unit" column)."""
    units = (await session.execute(
        select(OrgUnit.id, OrgUnit.code, OrgUnit.name, OrgUnit.level, OrgUnit.path,
               OrgUnit.depth)
        .where(path_under(root.path), OrgUnit.level != CELL_LEVEL))).all()
    names = {code: name for _, code, name, _, _, _ in units}
    totals: dict[str, UnitTotal] = {
        str(unit_id): UnitTotal(Tally(code, name, level), depth - root.depth, path)
        for unit_id, code, name, level, path, depth in units}
    if root.level == CELL_LEVEL:
        totals[str(root.id)] = UnitTotal(Tally(root.code, root.name, root.level), 0, root.path)
        names[root.code] = root.name
    for cell in cells:
        for unit_id in cell.path.strip("/").split("/")[:-1]:
            unit = totals.get(unit_id)
            if unit is None:  # above the root
                continue
            _add(unit.tally, cell)
        if root.level == CELL_LEVEL and cell.code == root.code:
            _add(totals[str(root.id)].tally, cell)
    result = [u for key, u in totals.items() if u.tally.cells or key == str(root.id)]
    result.sort(key=lambda u: _order(u.path))
    return result, names


def _add(tally: Tally, cell: CellRow) -> None:
    tally.cells += 1
    tally.members += cell.members
    tally.studied += cell.studied
    if cell.held_on is not None:
        tally.confirmed += 1
        tally.late += int(cell.late)
        tally.attended += cell.attended or 0
        tally.denominator += cell.total or 0
    else:
        tally.denominator += cell.members


async def gather(session: AsyncSession, campaign: Campaign, root: OrgUnit, *, now: datetime,
                 max_laggards: int | None = 10, exports: bool = False) -> ReportData:
    """Every figure for a report on `root`: the rollup and the laggards (first `max_laggards`
    by name); with `exports`, also every cell, all laggards and the per-unit subtotals."""
    scope = await session.get(OrgUnit, campaign.scope_unit_id)
    assert scope is not None
    total, children = await rollups.rollup(session, campaign, root)
    count, late_cells = await rollups.laggards(session, campaign, root,
                                               limit=None if exports else max_laggards)
    data = ReportData(campaign, scope, root, total, children, count, late_cells, now)
    if exports:
        # rollups order by the path *string* ("/1/10/" before "/1/2/"): put them in tree order
        data.cells = sorted(await rollups.cell_rows(session, campaign, root),
                            key=lambda c: _order(c.path))
        rank = {cell.code: i for i, cell in enumerate(data.cells)}
        data.laggards.sort(key=lambda lag: rank.get(lag.code, len(rank)))
        data.units, data.parent_names = await unit_subtotals(session, campaign, root,
                                                             data.cells)
    return data
