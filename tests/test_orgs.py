"""The org tree: CSV import (validated, all-or-nothing, idempotent), export, subtree queries."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot.db.models import OrgUnit
from bot.services import orgs

DEMO = Path(__file__).resolve().parent.parent / "content" / "demo" / "org_demo.csv"


async def _import(app, text: str) -> orgs.ImportReport:
    rows = orgs.parse_csv(text)
    async with app.sessions() as s, s.begin():
        return await orgs.import_units(s, rows)


async def test_demo_tree_imports_and_is_idempotent(app):
    text = DEMO.read_text(encoding="utf-8")
    first = await _import(app, text)
    assert first.created == 37 and first.updated == 0
    again = await _import(app, text)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 37)
    async with app.sessions() as s:
        province = await orgs.get_unit(s, "T01")
        units = await orgs.subtree(s, province)
        assert len(units) == 37
        assert sum(1 for u in units if u.level == "chi_bo") == 32
        commune = await orgs.get_unit(s, "X02")
        cells = await orgs.subtree(s, commune)
        assert {u.parent_id for u in cells[1:]} == {commune.id}
        assert all(orgs.is_within(u, province) for u in cells)
        assert not orgs.is_within(province, commune)


async def test_parents_may_come_after_children_and_any_depth_works(app):
    text = (
        "code,name,level,parent_code,members\n"
        "CB1,Chi bộ 1,chi_bo,DBCS,10\n"
        "DBCS,Đảng bộ cơ sở,dang_bo_co_so,H1,0\n"
        "H1,Huyện cũ,huyen,T,0\n"
        "T,Tỉnh,tinh,,0\n"
    )
    await _import(app, text)
    async with app.sessions() as s:
        cell = await orgs.get_unit(s, "CB1")
        assert cell.depth == 3
        tree = await orgs.render_tree(s, "H1")
        assert tree.splitlines()[0].startswith("H1 · Huyện cũ (Huyện")
        assert tree.splitlines()[2].startswith("    CB1 · Chi bộ 1")


async def test_bad_rows_are_reported_by_line_and_nothing_is_imported(app):
    text = (
        "code,name,level,parent_code,members\n"
        "T,Tỉnh,tinh,,0\n"
        "X1,,xa,T,0\n"
        "X2,Xã 2,lang,T,0\n"
        "X3,Xã 3,xa,KHONGCO,0\n"
        "T,Tỉnh trùng,tinh,,0\n"
        "X4,Xã 4,xa,T,-3\n"
    )
    with pytest.raises(orgs.OrgImportError) as err:
        await _import(app, text)
    problems = "\n".join(err.value.problems)
    assert "Dòng 3: tên đơn vị trống" in problems
    assert "Dòng 4: cấp 'lang' không hợp lệ" in problems
    assert "Dòng 6: mã T trùng với dòng 2" in problems
    assert "Dòng 7: số đảng viên '-3'" in problems
    async with app.sessions() as s:
        assert await s.scalar(select(func.count()).select_from(OrgUnit)) == 0


async def test_unknown_parent_and_cycles_are_refused(app):
    with pytest.raises(orgs.OrgImportError, match="Dòng 3: không tìm thấy đơn vị cấp trên"):
        await _import(app, "code,name,level,parent_code,members\nT,T,tinh,,0\nX,X,xa,NO,0\n")
    with pytest.raises(orgs.OrgImportError, match="vòng lặp"):
        await _import(app, "code,name,level,parent_code,members\nA,A,xa,B,0\nB,B,xa,A,0\n")


async def test_moving_a_unit_updates_its_whole_subtree(app):
    base = "code,name,level,parent_code,members\nT,T,tinh,,0\nX1,X1,xa,T,0\nX2,X2,xa,T,0\n"
    await _import(app, base + "C,C,chi_bo,X1,5\n")
    report = await _import(app, base + "C,C,chi_bo,X2,5\n")
    assert report.updated == 1
    async with app.sessions() as s:
        x2 = await orgs.get_unit(s, "X2")
        assert [u.code for u in await orgs.subtree(s, x2)] == ["X2", "C"]


async def test_export_round_trips(app):
    text = DEMO.read_text(encoding="utf-8")
    await _import(app, text)
    async with app.sessions() as s:
        exported = await orgs.export_csv(s)
    assert sorted(exported.splitlines()) == sorted(text.splitlines())
