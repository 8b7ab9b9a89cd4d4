"""The org tree from the files units really keep: Excel workbooks and CSV files in the encodings
and separators Excel writes, Vietnamese headers and level names, every error in one pass, a
re-import that shows what changes, removals that would lose data refused."""

from __future__ import annotations

import os
import subprocess
import sys
import unicodedata
from datetime import date
from pathlib import Path

import pytest
from openpyxl import Workbook, load_workbook
from sqlalchemy import select

from bot.db.models import Campaign, Chat, Confirmation, OrgUnit, utcnow
from bot.services import orgs
from bot.tables import TableError, read_table

ROOT = Path(__file__).resolve().parent.parent
HEADER = "Mã,Tên,Cấp,Mã cấp trên,Số đảng viên"
TREE = [
    ["T1", "Tỉnh Hòa An", "Tỉnh", "", ""],
    ["P1", "Tân Tiến", "PHƯỜNG", "T1", ""],
    ["X1", "Xã Hòa Bình", "XÃ", "T1", ""],
    ["DK", "Hòn Ngọc", "đặc khu", "T1", ""],
    ["DB", "Đảng bộ Trường THPT", "dang bo co so", "P1", ""],
    ["CB1", "Chi bộ khu phố 1", "Chi bộ", "P1", "1.200"],
    ["CB2", "Chi bộ giáo viên", "chi_bo", "DB", "25"],
    ["CBCS", "Chi bộ Trạm Y tế", "Chi bộ cơ sở", "X1", "12"],
    ["TP", "Thành phố Cũ", "Thành phố", "T1", ""],
    ["Q1", "Quận 1", "Quận", "T1", ""],
]


def csv_text(rows: list[list[str]], sep: str = ",", header: str = HEADER) -> str:
    return "\n".join([header.replace(",", sep)] + [sep.join(r) for r in rows]) + "\n"


def to_cp1258(text: str) -> bytes:
    """What Windows-1258 Excel writes: letters with their shape mark (ă â ê ô ơ ư đ) from the
    code page, tone marks as combining characters after them."""
    out = bytearray()
    for ch in unicodedata.normalize("NFC", text):
        try:
            out += ch.encode("cp1258")
            continue
        except UnicodeEncodeError:
            pass
        parts = unicodedata.normalize("NFD", ch)
        shape = "".join(c for c in parts[1:] if c in "\u0302\u0306\u031b")
        tones = "".join(c for c in parts[1:] if c not in "\u0302\u0306\u031b")
        out += (unicodedata.normalize("NFC", parts[0] + shape) + tones).encode("cp1258")
    return bytes(out)


async def _import_file(app, path: Path, *, removals: bool = True, sheet: str | None = None):
    rows, problems = orgs.parse_table(read_table(path, sheet=sheet))
    async with app.sessions() as s, s.begin():
        plan = await orgs.plan_import(s, rows, problems, removals=removals)
        return plan, await orgs.apply_plan(s, plan)


async def _tree(app, code: str | None = None) -> str:
    async with app.sessions() as s:
        return await orgs.render_tree(s, code)


# -- level names ---------------------------------------------------------------------------------
async def test_vietnamese_level_names_in_any_case_and_the_labels_shown(app, tmp_path):
    path = tmp_path / "cay.csv"
    path.write_text(csv_text(TREE), encoding="utf-8")
    _plan, report = await _import_file(app, path)
    assert report.created == len(TREE)
    async with app.sessions() as s:
        kinds = {u.code: (u.level, u.level_label)
                 for u in (await s.scalars(select(OrgUnit))).all()}
    assert kinds["T1"] == ("tinh", "Tỉnh")
    assert kinds["P1"] == ("xa", "Phường") and kinds["X1"] == ("xa", "Xã")
    assert kinds["DK"] == ("xa", "Đặc khu")
    assert kinds["DB"][0] == "dang_bo_co_so" and kinds["CBCS"] == ("chi_bo", "Chi bộ cơ sở")
    assert kinds["CB2"] == ("chi_bo", None)  # a code is still accepted
    assert kinds["TP"] == ("huyen", "Thành phố")  # a city under a province: the legacy tier
    assert kinds["Q1"][0] == "huyen"
    tree = await _tree(app)
    assert "P1 · Phường Tân Tiến (" in tree  # the label the file used, before the name
    assert "DK · Đặc khu Hòn Ngọc (" in tree
    assert "CBCS · Chi bộ Trạm Y tế (Chi bộ cơ sở, 12 đảng viên)" in tree
    assert "CB1 · Chi bộ khu phố 1 (1200 đảng viên)" in tree
    assert "(Xã/Phường" not in tree.replace("X1 · Xã Hòa Bình", "")


async def test_a_city_at_the_top_is_a_province(app, tmp_path):
    path = tmp_path / "hn.csv"
    path.write_text(csv_text([["HN", "Thành phố Hà Nội", "Thành phố", "", ""],
                              ["P", "Phường Ba Đình", "Phường", "HN", ""]]), encoding="utf-8")
    await _import_file(app, path)
    async with app.sessions() as s:
        assert (await orgs.get_unit(s, "HN")).level == "tinh"


# -- encodings and separators ----------------------------------------------------------------
@pytest.mark.parametrize(("encoding", "sep", "source"), [
    ("utf-8", ",", "UTF-8"),
    ("utf-8-sig", ";", "UTF-8 (có BOM)"),
    ("utf-16", "\t", "UTF-16"),  # Excel's "Unicode Text"
    ("cp1258", ";", "Windows-1258"),
])
def test_csv_in_each_encoding_and_separator_reads_the_same(tmp_path, encoding, sep, source):
    text = csv_text(TREE, sep)
    path = tmp_path / f"cay-{encoding}.csv"
    path.write_bytes(to_cp1258(text) if encoding == "cp1258" else text.encode(encoding))
    table = read_table(path)
    assert table.source.startswith(f"CSV {source}")
    rows, problems = orgs.parse_table(table)
    assert problems == []
    assert [(r.code, r.name) for r in rows] == [(t[0], t[1]) for t in TREE]
    assert rows[1].label == "Phường" and rows[2].name == "Xã Hòa Bình"


def test_windows_1252_is_refused_with_its_name(tmp_path):
    path = tmp_path / "ansi.csv"
    # what Excel's "CSV (Comma delimited)" writes on a Western Windows: letters outside the code
    # page become "?", the others (ê, à…) stay in Windows-1252
    path.write_bytes(csv_text([["T1", "T?nh Hòa Yên", "T?nh", "", ""]]).replace(
        "Mã", "Ma").replace("Tên", "Ten").replace("Cấp", "Cap").replace("cấp trên", "cap tren")
        .replace("Số đảng viên", "So dang vien").encode("cp1252"))
    with pytest.raises(TableError, match="Windows-1252"):
        read_table(path)


def test_question_marks_in_names_are_reported(tmp_path):
    path = tmp_path / "lost.csv"
    path.write_text(csv_text([["T1", "T?nh H?ng Yên", "Tỉnh", "", ""]]), encoding="utf-8")
    _, problems = orgs.parse_table(read_table(path))
    assert any("Dòng 2" in p and "dấu «?»" in p for p in problems)


# -- Excel ---------------------------------------------------------------------------------------
def _workbook(path: Path, rows: list[list[object]], *, title_row: bool = False,
              second: list[list[object]] | None = None) -> None:
    book = Workbook()
    ws = book.active
    ws.title = "Đảng bộ"
    if title_row:
        ws.append(["DANH SÁCH TỔ CHỨC ĐẢNG"])
    ws.append(HEADER.split(","))
    for row in rows:
        ws.append(row)
    if second is not None:
        other = book.create_sheet("Chi bộ mới")
        other.append(["mã", "tên", "cấp", "mã cấp trên", "số đảng viên"])
        for row in second:
            other.append(row)
    book.save(path)


async def test_xlsx_first_sheet_or_the_named_one(app, tmp_path):
    path = tmp_path / "cay.xlsx"
    numeric = [[*r[:4], int(r[4].replace(".", "")) if r[4] else None] for r in TREE]
    _workbook(path, numeric, title_row=True,
              second=[["CB9", "Chi bộ thôn 9", "Chi bộ", "X1", 17]])
    _plan, report = await _import_file(app, path, removals=False)
    assert report.created == len(TREE)
    async with app.sessions() as s:
        assert (await orgs.get_unit(s, "CB1")).members == 1200
    _, report = await _import_file(app, path, sheet="Chi bộ mới", removals=False)
    assert report.created == 1
    with pytest.raises(TableError, match="không có trang «Không có»"):
        read_table(path, sheet="Không có")


def test_a_line_number_is_the_one_excel_shows(tmp_path):
    path = tmp_path / "loi.xlsx"
    _workbook(path, [["T1", "Tỉnh", "Tỉnh", "", None], ["X1", "", "Xã", "T1", None]],
              title_row=True)
    _, problems = orgs.parse_table(read_table(path))
    assert problems == ["Dòng 4: tên đơn vị trống hoặc dài quá 255 ký tự"]


# -- every error in one pass ---------------------------------------------------------------------
async def test_every_error_of_a_file_in_one_pass_by_line(app, tmp_path):
    path = tmp_path / "loi.csv"
    path.write_text(csv_text([
        ["T1", "Tỉnh", "Tỉnh", "", ""],
        ["CB1", "Chi bộ 1", "Chi bộ", "T1", "10"],
        ["X1", "Xã dưới chi bộ", "Xã", "CB1", "0"],  # a xã under a chi bộ
        ["X2", "Xã 2", "Xã", "KHONGCO", "0"],  # unknown parent
        ["X3", "Xã 3", "làng", "T1", "0"],
        ["X4", "Xã 4", "Xã", "T1", "99999999999999999999999"],  # no OverflowError
        ["T0", "Tỉnh dưới xã", "Tỉnh", "X4", "0"],
    ]), encoding="utf-8")
    rows, problems = orgs.parse_table(read_table(path))
    async with app.sessions() as s, s.begin():
        with pytest.raises(orgs.OrgImportError) as err:
            await orgs.plan_import(s, rows, problems)
    assert [p.split(":")[0] for p in err.value.problems] == [
        "Dòng 4", "Dòng 5", "Dòng 6", "Dòng 7", "Dòng 8"]
    text = "\n".join(err.value.problems)
    assert "Dòng 4: xã không thể trực thuộc chi bộ CB1" in text
    assert "Dòng 5: không tìm thấy đơn vị cấp trên KHONGCO" in text
    assert "Dòng 6: cấp 'làng' không hợp lệ" in text
    assert "Dòng 7: số đảng viên" in text and "1.000.000" in text
    assert "Dòng 8: tỉnh không thể trực thuộc" in text
    async with app.sessions() as s:
        assert (await s.scalars(select(OrgUnit))).first() is None


# -- export, template, re-import -------------------------------------------------------------
async def test_export_xlsx_round_trips_with_the_labels(app, tmp_path):
    path = tmp_path / "cay.csv"
    path.write_text(csv_text(TREE), encoding="utf-8")
    await _import_file(app, path)
    async with app.sessions() as s:
        data = await orgs.export_xlsx(s)
    out = tmp_path / "xuat.xlsx"
    out.write_bytes(data)
    sheet = load_workbook(out).worksheets[0]
    values = [[c.value for c in row] for row in sheet.iter_rows()]
    assert values[0] == ["Mã", "Tên", "Cấp", "Mã cấp trên", "Số đảng viên"]
    assert ["P1", "Tân Tiến", "Phường", "T1", 0] in values
    plan, report = await _import_file(app, out)
    assert not plan.has_changes and report.unchanged == len(TREE)


def test_template_has_headers_a_list_of_levels_and_two_examples(tmp_path):
    out = tmp_path / "mau.xlsx"
    out.write_bytes(orgs.xlsx_book(orgs.TEMPLATE_ROWS))
    book = load_workbook(out)
    sheet = book.worksheets[0]
    rows = [[c.value for c in row] for row in sheet.iter_rows()]
    assert rows[0] == ["Mã", "Tên", "Cấp", "Mã cấp trên", "Số đảng viên"] and len(rows) == 3
    validation = sheet.data_validations.dataValidation[0]
    assert validation.type == "list" and "C2" in str(validation.sqref)
    listed = [c.value for c in book["Danh mục"]["C"] if c.value]
    assert {"Tỉnh", "Xã", "Phường", "Đặc khu", "Chi bộ cơ sở", "Chi bộ"} <= set(listed)
    rows_, problems = orgs.parse_table(read_table(out))
    assert problems == [] and [r.level for r in rows_] == ["xa", "chi_bo"]


async def test_reimport_plans_added_renamed_moved_removed(app, tmp_path):
    path = tmp_path / "cay.csv"
    path.write_text(csv_text(TREE), encoding="utf-8")
    await _import_file(app, path)
    changed = [r[:] for r in TREE if r[0] != "CBCS"]  # removed
    changed[5][1] = "Chi bộ khu phố Một"  # CB1 renamed
    changed[6][3] = "P1"  # CB2 moved from DB to P1
    changed.append(["CB3", "Chi bộ mới", "Chi bộ", "X1", "7"])  # added
    path.write_text(csv_text(changed), encoding="utf-8")
    rows, problems = orgs.parse_table(read_table(path))
    async with app.sessions() as s:
        plan = await orgs.plan_import(s, rows, problems)
    assert [r.code for r in plan.added] == ["CB3"]
    assert plan.renamed == [("CB1", "Chi bộ khu phố 1", "Chi bộ khu phố Một")]
    assert plan.moved == [("CB2", "DB", "P1")]
    assert [u.code for u in plan.removed] == ["CBCS"]
    described = "\n".join(plan.describe())
    assert "Thêm 1: CB3" in described and "Xóa 1" in described and "Đổi tên 1" in described
    _, report = await _import_file(app, path)
    assert (report.created, report.updated, report.removed) == (1, 2, 1)
    async with app.sessions() as s:
        assert await orgs.get_unit(s, "CBCS") is None
        p1 = await orgs.get_unit(s, "P1")
        assert "CB2" in [u.code for u in await orgs.subtree(s, p1)]


async def test_removing_a_unit_with_confirmations_or_groups_is_refused(app, tmp_path):
    path = tmp_path / "cay.csv"
    path.write_text(csv_text(TREE), encoding="utf-8")
    await _import_file(app, path)
    async with app.sessions() as s, s.begin():
        units = {u.code: u for u in (await s.scalars(select(OrgUnit))).all()}
        s.add(Chat(channel="telegram", external_id="-100", kind="group", title="Nhóm CB1",
                   active=True, org_unit_id=units["CB1"].id))
        campaign = Campaign(document="NQ57", title="Quán triệt", scope_unit_id=units["T1"].id,
                            opens_on=date(2026, 12, 1), deadline=date(2026, 12, 31))
        s.add(campaign)
        await s.flush()
        s.add(Confirmation(campaign_id=campaign.id, unit_id=units["CB2"].id, channel="console",
                           held_on=date(2026, 12, 1), attended=20, total=25,
                           created_at=utcnow(), updated_at=utcnow()))
    path.write_text(csv_text([r for r in TREE if r[0] not in ("CB1", "CB2")]),
                    encoding="utf-8")
    rows, problems = orgs.parse_table(read_table(path))
    async with app.sessions() as s:
        with pytest.raises(orgs.OrgImportError) as err:
            await orgs.plan_import(s, rows, problems)
    text = "\n".join(err.value.problems)
    assert "Không xóa được CB1" in text and "1 nhóm chat liên kết" in text
    assert "Không xóa được CB2" in text and "1 xác nhận quán triệt" in text


# -- the command line ----------------------------------------------------------------------------
def nqbot(*args: str, tmp_path: Path, stdin: str | None = None):
    env = {**os.environ, "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'cli.sqlite3'}",
           "TELEGRAM_BOT_TOKEN": "", "ZALO_BOT_TOKEN": "", "PYTHONIOENCODING": "utf-8"}
    return subprocess.run([sys.executable, "-m", "bot", *args], input=stdin,
                          capture_output=True, text=True, encoding="utf-8", cwd=tmp_path,
                          env=env, timeout=120)


def test_cli_template_import_reimport_asks_or_applies_with_yes(tmp_path):
    made = nqbot("org", "template", tmp_path=tmp_path)
    assert made.returncode == 0, made.stderr
    assert (tmp_path / "mau-cay-to-chuc.xlsx").exists()
    walk = ROOT / "content" / "demo" / "cay-to-chuc.csv"  # the README's walk-through file
    first = nqbot("org", "import", str(walk), tmp_path=tmp_path)
    assert first.returncode == 0, first.stderr
    tree = nqbot("org", "tree", "T02", tmp_path=tmp_path).stdout
    assert "P11 · Phường Tân Tiến" in tree and "Đặc khu Hòn Ngọc" in tree
    exported = nqbot("org", "export", "--xlsx", tmp_path=tmp_path)
    assert exported.returncode == 0 and (tmp_path / "cay-to-chuc.xlsx").exists()
    book = load_workbook(tmp_path / "cay-to-chuc.xlsx")
    sheet = book.worksheets[0]
    for row in sheet.iter_rows(min_row=2):
        if row[0].value == "X12-CB02":
            row[1].value = "Chi bộ thôn Tây Mới"
    book.save(tmp_path / "sua.xlsx")
    asked = nqbot("org", "import", "sua.xlsx", tmp_path=tmp_path, stdin="")
    assert asked.returncode == 1
    assert "Đổi tên 1: X12-CB02 «Chi bộ thôn Tây» → «Chi bộ thôn Tây Mới»" in asked.stdout
    assert "--yes" in asked.stdout
    assert "Tây Mới" not in nqbot("org", "tree", "X12", tmp_path=tmp_path).stdout
    applied = nqbot("org", "import", "sua.xlsx", "--yes", tmp_path=tmp_path)
    assert applied.returncode == 0, applied.stderr
    assert "1 cập nhật" in applied.stdout
    assert "Tây Mới" in nqbot("org", "tree", "X12", tmp_path=tmp_path).stdout


def test_cli_refuses_an_unreadable_encoding_and_a_missing_file(tmp_path):
    (tmp_path / "ansi.csv").write_bytes("code,name,level,parent_code,members\nT,Hòa Bình,tinh,,0\n"
                                        .encode("cp1252"))
    proc = nqbot("org", "import", "ansi.csv", tmp_path=tmp_path)
    assert proc.returncode == 1 and "Windows-1252" in proc.stderr
    missing = nqbot("org", "import", "khong-co.xlsx", tmp_path=tmp_path)
    assert missing.returncode == 4 and "không có tệp" in missing.stderr
