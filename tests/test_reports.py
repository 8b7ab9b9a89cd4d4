"""Campaign reports: the chat text, the chart, the XLSX/CSV exports and the CLI — on the demo
tree with a hand-made set of confirmations, checked against numbers computed by hand."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime

import pytest
from openpyxl import load_workbook

from bot.db.models import Campaign, MemberStudy, User
from bot.reports import gather
from bot.reports.chart import build_png
from bot.reports.export import CELL_HEADERS, MISSING_HEADERS, UNIT_HEADERS, build_csv, build_xlsx
from bot.reports.text import render_report
from bot.services import campaigns, confirmations, orgs, roles
from bot.services.confirmations import Attendance
from bot.services.people import upsert_user
from bot.services.roles import Role
from bot.services.rollups import Tally
from tests.broadcast_world import build_world
from tests.test_cli import nqbot

NOW = datetime(2026, 12, 5, 3, 0, tzinfo=UTC)  # 05/12/2026 10:00 local
LATE = datetime(2026, 12, 11, 2, 0, tzinfo=UTC)  # after the 10/12/2026 deadline
DOCS = {"NQ57", "KL69", "NQ20"}
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

# The confirmations below, by hand (demo tree: X01 228 members in 7 cells, X02 246 in 8,
# X03 268 in 8, X04 273 in 9 — 1015 members in 32 cells):
#   X01-CB01 (32) 30/32 by its secretary; X01-CB02 (46) 40/45 by the X01 secretary (on behalf);
#   X02-CB01 (27) 27/27 by its secretary, after the deadline; X03-CB02 (15) 15/15 by the admin.
# Province: 4/32 cells; attended 112; denominator 1015 - (32+46+27+15) + (32+45+27+15) = 1014.
# Members' own marks: 2 in X01-CB01, 1 in X02-CB01.


@pytest.fixture
async def world(app):
    world = await build_world(app, [])
    async with app.sessions() as s, s.begin():
        people = {"admin": world.admin.id}
        for key, code in (("sec1", "X01-CB01"), ("secx", "X01"), ("secy", "X02-CB01"),
                          ("both", "X01-CB03")):
            user = await upsert_user(s, "telegram", key, f"Đồng chí {key}")
            await roles.grant(s, user, Role.SECRETARY, await orgs.get_unit(s, code),
                              source="cli")
            people[key] = user.id
        await roles.grant(s, await s.get(User, people["both"]), Role.SECRETARY,
                          await orgs.get_unit(s, "X01-CB04"), source="cli")
        campaign = await campaigns.create(
            s, actor=None, document="NQ57", title="Quán triệt Nghị quyết 57-NQ/TW",
            scope_code="T01", deadline="10/12/2026", opens=None, now=NOW, tz=app.settings.tz,
            documents=DOCS)
        campaign_id = campaign.id
    for who, cell, attended, total, now, held in (
            ("sec1", "X01-CB01", 30, 32, NOW, date(2026, 12, 4)),
            ("secx", "X01-CB02", 40, 45, NOW, date(2026, 12, 4)),
            ("secy", "X02-CB01", 27, 27, LATE, date(2026, 12, 11)),
            ("admin", "X03-CB02", 15, 15, NOW, date(2026, 12, 3))):
        async with app.sessions() as s, s.begin():
            await confirmations.record(
                s, campaign=await s.get(Campaign, campaign_id),
                cell=await orgs.get_unit(s, cell), user=await s.get(User, people[who]),
                channel="telegram", held_on=held, attendance=Attendance(attended, total),
                now=now, tz=app.settings.tz, slack=app.settings.confirm_total_slack)
    async with app.sessions() as s, s.begin():
        for i, code in enumerate(("X01-CB01", "X01-CB01", "X02-CB01")):
            member = await upsert_user(s, "zalo", f"m{i}", f"Đảng viên {i}")
            unit = await orgs.get_unit(s, code)
            s.add(MemberStudy(campaign_id=campaign_id, user_id=member.id, unit_id=unit.id,
                              channel="zalo", created_at=NOW))
    return campaign_id


async def _data(app, campaign_id: int, code: str, **kwargs):
    async with app.sessions() as s:
        campaign = await s.get(Campaign, campaign_id)
        root = await orgs.get_unit(s, code)
        return await gather(s, campaign, root, now=NOW, **kwargs)


def _xlsx(app, data) -> bytes:
    return build_xlsx(data.campaign, data.root, scope=data.scope, total=data.total,
                      units=data.units, cells=data.cells, laggards=data.laggards,
                      generated_at=data.generated_at, tz=app.settings.tz,
                      parent_names=data.parent_names, document="NQ57 — Nghị quyết số 57-NQ/TW")


async def test_figures_and_subtotals_match_hand_computed(app, world):
    data = await _data(app, world, "T01", exports=True)
    t = data.total
    assert (t.cells, t.confirmed, t.late, t.members, t.attended, t.denominator, t.studied) == (
        32, 4, 1, 1015, 112, 1014, 3)
    assert [(c.code, c.cells, c.confirmed, c.late, c.attended, c.denominator)
            for c in data.children] == [("X01", 7, 2, 0, 70, 227), ("X02", 8, 1, 1, 27, 246),
                                        ("X03", 8, 1, 0, 15, 268), ("X04", 9, 0, 0, 0, 273)]
    # the subtotals (aggregated over the cells) agree with the SQL rollup at every level
    assert [(u.tally.code, u.depth) for u in data.units] == [
        ("T01", 0), ("X01", 1), ("X02", 1), ("X03", 1), ("X04", 1)]
    root = data.units[0].tally
    assert (root.cells, root.confirmed, root.late, root.members, root.attended,
            root.denominator, root.studied) == (32, 4, 1, 1015, 112, 1014, 3)
    for unit, child in zip(data.units[1:], data.children, strict=True):
        assert (unit.tally.cells, unit.tally.confirmed, unit.tally.late, unit.tally.attended,
                unit.tally.denominator) == (child.cells, child.confirmed, child.late,
                                            child.attended, child.denominator)
    assert data.laggard_count == 28 and len(data.laggards) == 28
    assert [c.code for c in data.cells][:3] == ["X01-CB01", "X01-CB02", "X01-CB03"]
    assert data.laggards[0].code == "X01-CB03"  # tree order
    assert data.laggards[0].secretaries == ["Đồng chí both"]


async def test_text_report(app, world):
    province = await _data(app, world, "T01", max_laggards=10)
    text = render_report(province.campaign, province.total, province.children,
                         province.laggard_count, province.laggards, app.settings.tz, 10,
                         now=NOW)
    assert "4/32 chi bộ (12,5%); 112/1.014 đảng viên (11%)" in text
    assert "Xác nhận sau hạn: 1 chi bộ" in text
    assert "• Đảng bộ xã An Bình: 2/7 (28,6%)" in text
    assert "• Đảng bộ xã Phú Mỹ: 0/9 (0%)" in text
    assert "Chưa xác nhận: 28 chi bộ" in text
    assert "… và 18 chi bộ khác." in text
    assert "«đã học»: 3" in text and "đăng ký với bot" in text
    assert "05/12/2026 10:00" in text
    assert len(text) <= 1500, len(text)
    commune = await _data(app, world, "X01", max_laggards=10)
    text = render_report(commune.campaign, commune.total, commune.children,
                         commune.laggard_count, commune.laggards, app.settings.tz, 10, now=NOW)
    assert "2/7 chi bộ (28,6%); 70/227 đảng viên (30,8%)" in text
    assert "• Chi bộ thôn 1: 30/32 đảng viên (93,8%)" in text
    assert "• Chi bộ thôn 3: chưa xác nhận" in text
    assert "Chưa xác nhận: 5 chi bộ" in text
    assert "– Chi bộ thôn 3 — bí thư Đồng chí both" in text
    assert "– Chi bộ thôn 4 — bí thư Đồng chí both" in text
    assert "«đã học»: 2" in text
    assert len(text) <= 1500


def test_text_report_summarises_many_children():
    campaign = Campaign(title="Đợt lớn", deadline=date(2026, 12, 31), status="open")
    children = [Tally(f"X{i:03d}", f"Đảng bộ xã {i}", "xa", cells=100, confirmed=i,
                      members=2500, attended=i * 25, denominator=2500) for i in range(100)]
    total = Tally("T01", "Tỉnh", "tinh", cells=10_000, confirmed=sum(range(100)),
                  members=250_000, attended=25 * sum(range(100)), denominator=250_000)
    text = render_report(campaign, total, children, 10_000 - 4950, [],
                         __import__("zoneinfo").ZoneInfo("Asia/Ho_Chi_Minh"), 10, now=NOW)
    assert "4.950/10.000 chi bộ (49,5%); 123.750/250.000 đảng viên (49,5%)" in text
    rows = [line for line in text.splitlines() if line.startswith("• ")]
    assert len(rows) == 12
    assert rows[0] == "• Đảng bộ xã 0: 0/100 (0%)"
    assert rows[-1].startswith("• 89 đơn vị khác: ")


async def test_xlsx_reads_back(app, world):
    data = await _data(app, world, "T01", exports=True)
    book = load_workbook(io.BytesIO(_xlsx(app, data)))
    assert book.sheetnames == ["Tổng hợp", "Theo đơn vị", "Từng chi bộ", "Chưa xác nhận"]
    summary = book["Tổng hợp"]
    rows = {row[0].value: row for row in summary.iter_rows() if row[0].value}
    assert rows["Đợt quán triệt"][1].value.endswith("Quán triệt Nghị quyết 57-NQ/TW")
    assert rows["Hạn hoàn thành"][1].value == datetime(2026, 12, 10)
    assert rows["Hạn hoàn thành"][1].number_format == "dd/mm/yyyy"
    assert rows["Lập lúc (giờ Việt Nam)"][1].value == datetime(2026, 12, 5, 10, 0)
    cells = rows["Chi bộ đã xác nhận"]
    assert (cells[1].value, cells[2].value, cells[3].value) == (4, 32, 0.125)
    assert cells[3].number_format == "0.0%" and cells[1].number_format == "0"
    members = rows["Đảng viên có mặt"]
    assert (members[1].value, members[2].value) == (112, 1014)
    assert members[3].value == pytest.approx(112 / 1014)
    assert rows["Chi bộ xác nhận sau hạn"][1].value == 1
    assert rows["Đảng viên tự báo «đã học»"][1].value == 3
    assert "đăng ký với bot" in rows["Ghi chú"][1].value

    units = book["Theo đơn vị"]
    assert [c.value for c in units[1]] == UNIT_HEADERS
    assert units.freeze_panes == "A2" and units["A1"].font.bold
    table = [[c.value for c in row] for row in units.iter_rows(min_row=2)]
    assert table[0][:6] == ["T01", "Đảng bộ tỉnh (mẫu)", "Tỉnh/Thành phố", 32, 4, 0.125]
    assert table[1][:5] == ["X01", "Đảng bộ xã An Bình", "Xã/Phường/Đặc khu", 7, 2]
    assert table[1][6:] == [228, 70, pytest.approx(70 / 227), 0]
    assert table[2][9] == 1  # X02: one late
    assert sum(row[3] for row in table[1:]) == table[0][3]  # subtotals add up
    assert sum(row[4] for row in table[1:]) == table[0][4]
    assert sum(row[7] for row in table[1:]) == table[0][7]
    assert units["B3"].alignment.indent == 2 and not units["B2"].alignment.indent
    assert units["F2"].number_format == "0.0%" and units["D2"].number_format == "0"

    per_cell = book["Từng chi bộ"]
    assert [c.value for c in per_cell[1]] == CELL_HEADERS
    assert per_cell.freeze_panes == "C2"
    assert per_cell.max_row == 33
    by_code = {row[0].value: row for row in per_cell.iter_rows(min_row=2)}
    cb01 = by_code["X01-CB01"]
    assert [c.value for c in cb01[:4]] == ["X01-CB01", "Chi bộ thôn 1", "Đảng bộ xã An Bình", 32]
    assert cb01[4].value == datetime(2026, 12, 4) and cb01[4].number_format == "dd/mm/yyyy"
    assert (cb01[5].value, cb01[6].value, cb01[7].value) == (30, 32, 0.9375)
    assert cb01[7].number_format == "0.0%"
    assert (cb01[8].value, cb01[9].value, cb01[10].value) == ("Không", "Không", 2)
    assert by_code["X01-CB02"][9].value == "Có"  # confirmed by the X01 secretary
    assert by_code["X02-CB01"][8].value == "Có"  # late
    assert by_code["X01-CB03"][4].value is None and by_code["X01-CB03"][8].value in ("", None)

    missing = book["Chưa xác nhận"]
    assert [c.value for c in missing[1]] == MISSING_HEADERS
    assert missing.freeze_panes == "A2" and missing.max_row == 29
    assert [c.value for c in missing[2]] == ["X01-CB03", "Chi bộ thôn 3", "Đảng bộ xã An Bình",
                                             "Đồng chí both"]
    for sheet in book.worksheets[1:]:
        assert sheet.column_dimensions["B"].width >= 30


async def test_xlsx_for_one_commune_and_csv(app, world):
    data = await _data(app, world, "X01", exports=True)
    book = load_workbook(io.BytesIO(_xlsx(app, data)))
    assert [[c.value for c in row][:5] for row in book["Theo đơn vị"].iter_rows(min_row=2)] == [
        ["X01", "Đảng bộ xã An Bình", "Xã/Phường/Đặc khu", 7, 2]]
    assert book["Từng chi bộ"].max_row == 8 and book["Chưa xác nhận"].max_row == 6

    text = build_csv(data.cells, data.parent_names)
    assert text.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    assert rows[0] == CELL_HEADERS and len(rows) == 8
    assert rows[1] == ["X01-CB01", "Chi bộ thôn 1", "Đảng bộ xã An Bình", "32", "04/12/2026",
                       "30", "32", "93,8%", "Không", "Không", "2"]
    assert rows[2][7:10] == ["88,9%", "Không", "Có"]
    assert rows[3] == ["X01-CB03", "Chi bộ thôn 3", "Đảng bộ xã An Bình", "47", "", "", "", "",
                       "", "", "0"]


def _png_size(data: bytes) -> tuple[int, int]:
    from PIL import Image

    with Image.open(io.BytesIO(data)) as image:
        image.load()
        return image.size


async def test_png_chart(app, world):
    data = await _data(app, world, "T01")
    png = build_png(data.campaign, data.total, data.children)
    assert png.startswith(PNG_SIGNATURE)
    width, height = _png_size(png)
    assert width == 1080 and 400 < height < 1500


def test_png_chart_with_many_children_shows_the_lowest_25():
    """One readable picture however many units (its speed: benchmarks/report.py)."""
    campaign = Campaign(title="Quán triệt Nghị quyết 57-NQ/TW về đột phá phát triển khoa học, "
                              "công nghệ, đổi mới sáng tạo", deadline=date(2026, 12, 31))
    children = [Tally(f"X{i:03d}", f"Đảng bộ xã Tên Khá Dài Số {i}", "xa", cells=100,
                      confirmed=(i * 37) % 101) for i in range(100)]
    total = Tally("T01", "Đảng bộ tỉnh", "tinh", cells=10_000,
                  confirmed=sum(c.confirmed for c in children))
    png = build_png(campaign, total, children)
    assert png.startswith(PNG_SIGNATURE)
    width, height = _png_size(png)
    assert width == 1080 and height < 3200


# -- the command line (real processes, SQLite) -------------------------------------------------
def test_cli_campaign_and_report(tmp_path):
    assert nqbot("org", "demo", tmp_path=tmp_path).returncode == 0
    base = ("campaign", "create", "--title", "Quán triệt NQ57")
    for extra, message in (
            (("--document", "NQ57", "--org", "T01", "--deadline", "01/01/2020"), "đã qua"),
            (("--document", "NQ57", "--org", "ZZ9", "--deadline", "31/12/2099"),
             "Không có đơn vị"),
            (("--document", "NQ99", "--org", "T01", "--deadline", "31/12/2099"),
             "Không có tài liệu")):
        proc = nqbot(*base, *extra, tmp_path=tmp_path)
        assert proc.returncode == 1 and proc.stderr.startswith("LỖI: ")  # refused input
        assert message in proc.stderr, proc.stderr
    made = nqbot(*base, "--document", "nq57", "--org", "X01", "--deadline", "31/12/2099",
                 "--json", tmp_path=tmp_path)
    assert made.returncode == 0, made.stderr
    import json

    created = json.loads(made.stdout)
    assert created["document"] == "NQ57" and created["org"] == "X01" and created["cells"] == 7
    listing = nqbot("campaign", "list", tmp_path=tmp_path)
    assert f"#{created['id']} [đang mở] NQ57" in listing.stdout
    out = {name: tmp_path / f"r.{name}" for name in ("xlsx", "csv", "png")}
    report = nqbot("report", "--campaign", str(created["id"]), "--xlsx", str(out["xlsx"]),
                   "--csv", str(out["csv"]), "--png", str(out["png"]), tmp_path=tmp_path)
    assert report.returncode == 0, report.stderr
    assert "0/7 chi bộ (0%); 0/228 đảng viên (0%)" in report.stdout
    assert "Chưa xác nhận: 7 chi bộ" in report.stdout
    assert load_workbook(out["xlsx"]).sheetnames[2] == "Từng chi bộ"
    assert out["csv"].read_bytes().startswith(b"\xef\xbb\xbfM")
    assert out["png"].read_bytes().startswith(PNG_SIGNATURE)
    for args, message, code in ((("--campaign", "99"), "không có đợt", 4),
                                (("--campaign", str(created["id"]), "--org", "ZZ9"),
                                 "không có đơn vị", 4),
                                (("--campaign", str(created["id"]), "--org", "X02"),
                                 "không thuộc phạm vi", 1)):
        proc = nqbot("report", *args, tmp_path=tmp_path)
        assert proc.returncode == code and message in proc.stderr, proc.stderr
    closed = nqbot("campaign", "close", str(created["id"]), tmp_path=tmp_path)
    assert closed.returncode == 0 and "Đã đóng đợt" in closed.stdout
    show = nqbot("campaign", "show", str(created["id"]), tmp_path=tmp_path)
    assert show.returncode == 0 and "(đã đóng)" in show.stdout
