"""The exports of a campaign report: an XLSX workbook (four sheets) and a CSV of the cells.

Sheets: "Tổng hợp" (the campaign and the headline figures), "Theo đơn vị" (every unit of the
subtree above chi bộ with its subtotal, names indented by depth), "Từng chi bộ" (one row per
cell, real dates), "Chưa xác nhận" (the cells still to confirm, with their secretaries).
Numbers are numbers (formats 0 and 0.0%), headers bold and frozen. Names come from users (display
names, the org CSV, campaign titles): every one is written as text, never as a formula, in the
XLSX and the CSV alike (`bot.spreadsheet`)."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from zoneinfo import ZoneInfo

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter

from bot.db.models import Campaign, OrgUnit
from bot.reports.units import UnitTotal
from bot.services.confirmations import pct
from bot.services.orgs import level_label
from bot.services.rollups import CellRow, Laggard, Tally
from bot.spreadsheet import append_row, csv_row

SHEET_SUMMARY = "Tổng hợp"
SHEET_UNITS = "Theo đơn vị"
SHEET_CELLS = "Từng chi bộ"
SHEET_MISSING = "Chưa xác nhận"
UNIT_HEADERS = ["Mã", "Đơn vị", "Cấp", "Số chi bộ", "Đã xác nhận", "% chi bộ xác nhận",
                "Số đảng viên", "Có mặt", "% có mặt", "Sau hạn"]
CELL_HEADERS = ["Mã", "Chi bộ", "Đơn vị cấp trên", "Số đảng viên", "Ngày sinh hoạt", "Có mặt",
                "Tổng số", "% có mặt", "Sau hạn", "Cấp trên xác nhận thay",
                "Đảng viên tự báo đã học"]
MISSING_HEADERS = ["Mã", "Chi bộ", "Đơn vị cấp trên", "Bí thư"]
STUDIED_NOTE = ("Chỉ đếm đảng viên đã đăng ký với bot và tự bấm «Tôi đã học»; không thay cho số "
                "liệu chi bộ báo cáo.")
ATTENDED_NOTE = ("% có mặt = có mặt / (tổng số chi bộ đã báo + số đảng viên của chi bộ chưa xác "
                 "nhận).")
INT, PCT, DATE, STAMP = "0", "0.0%", "dd/mm/yyyy", "dd/mm/yyyy hh:mm"
BOLD = Font(bold=True)
HEADER_FILL = PatternFill("solid", start_color="FFDDE6F0")
WRAP = Alignment(wrap_text=True, vertical="top")


def _ratio(part: int, whole: int) -> float:
    return part / whole if whole else 0.0


def _yes(flag: bool) -> str:
    return "Có" if flag else "Không"


def _header(sheet, headers: list[str], widths: list[float]) -> None:  # type: ignore[no-untyped-def]
    append_row(sheet, headers)
    for column, width in enumerate(widths, start=1):
        cell = sheet.cell(row=1, column=column)
        cell.font, cell.fill, cell.alignment = BOLD, HEADER_FILL, WRAP
        sheet.column_dimensions[get_column_letter(column)].width = width
    sheet.freeze_panes = "A2"


def _formats(sheet, formats: dict[int, str]) -> None:  # type: ignore[no-untyped-def]
    """Number formats by column for the data rows, and a filter over the whole table."""
    for row in sheet.iter_rows(min_row=2):
        for column, number_format in formats.items():
            row[column - 1].number_format = number_format
    sheet.auto_filter.ref = sheet.dimensions


def _summary(book: Workbook, campaign: Campaign, scope: OrgUnit, root: OrgUnit, total: Tally,
             document: str, generated_at: datetime, tz: ZoneInfo) -> None:
    sheet = book.active
    sheet.title = SHEET_SUMMARY
    append_row(sheet, ["Báo cáo kết quả quán triệt"])
    sheet["A1"].font = Font(bold=True, size=14)
    info = [
        ("Đợt quán triệt", f"#{campaign.id} — {campaign.title}"),
        ("Tài liệu", document or campaign.document),
        ("Phạm vi đợt", f"{scope.name} ({scope.code})"),
        ("Đơn vị báo cáo", f"{root.name} ({root.code})"),
        ("Bắt đầu", campaign.opens_on),
        ("Hạn hoàn thành", campaign.deadline),
        ("Trạng thái", "Đang mở" if campaign.status == "open" else "Đã đóng"),
        ("Lập lúc (giờ Việt Nam)", generated_at.astimezone(tz).replace(tzinfo=None)),
    ]
    for label, value in info:
        append_row(sheet, [label, value])
        sheet.cell(row=sheet.max_row, column=1).font = BOLD
        if isinstance(value, datetime):
            sheet.cell(row=sheet.max_row, column=2).number_format = STAMP
        elif not isinstance(value, str):
            sheet.cell(row=sheet.max_row, column=2).number_format = DATE
            sheet.cell(row=sheet.max_row, column=2).alignment = Alignment(horizontal="left")
    append_row(sheet, [])
    append_row(sheet, ["Chỉ tiêu", "Số", "Trên tổng", "Tỉ lệ"])
    head = sheet.max_row
    for column in range(1, 5):
        sheet.cell(row=head, column=column).font = BOLD
        sheet.cell(row=head, column=column).fill = HEADER_FILL
    figures = [
        ("Chi bộ đã xác nhận", total.confirmed, total.cells),
        ("Đảng viên có mặt", total.attended, total.denominator),
        ("Chi bộ xác nhận sau hạn", total.late, total.confirmed),
    ]
    for label, part, whole in figures:
        append_row(sheet, [label, part, whole, _ratio(part, whole)])
    append_row(sheet, ["Đảng viên tự báo «đã học»", total.studied, None, None])
    for row in range(head + 1, sheet.max_row + 1):
        sheet.cell(row=row, column=2).number_format = INT
        sheet.cell(row=row, column=3).number_format = INT
        sheet.cell(row=row, column=4).number_format = PCT
    append_row(sheet, [])
    append_row(sheet, ["Ghi chú", STUDIED_NOTE])
    append_row(sheet, ["", ATTENDED_NOTE])
    sheet.cell(row=sheet.max_row - 1, column=1).font = BOLD
    for row in (sheet.max_row - 1, sheet.max_row):
        sheet.cell(row=row, column=2).alignment = WRAP
    sheet.column_dimensions["A"].width = 30
    sheet.column_dimensions["B"].width = 60
    sheet.column_dimensions["C"].width = 12
    sheet.column_dimensions["D"].width = 10


def _units(book: Workbook, units: list[UnitTotal]) -> None:
    sheet = book.create_sheet(SHEET_UNITS)
    _header(sheet, UNIT_HEADERS, [14, 44, 16, 10, 12, 12, 13, 11, 10, 9])
    for unit in units:
        t = unit.tally
        append_row(sheet, [t.code, t.name, level_label(t.level), t.cells, t.confirmed,
                      _ratio(t.confirmed, t.cells), t.members, t.attended,
                      _ratio(t.attended, t.denominator), t.late])
        row = sheet.max_row
        if unit.depth:
            sheet.cell(row=row, column=2).alignment = Alignment(indent=2 * unit.depth)
        else:
            for column in (1, 2):
                sheet.cell(row=row, column=column).font = BOLD
    _formats(sheet, {4: INT, 5: INT, 6: PCT, 7: INT, 8: INT, 9: PCT, 10: INT})


def cell_values(cell: CellRow, parent: str) -> list:  # type: ignore[type-arg]
    confirmed = cell.held_on is not None
    return [cell.code, cell.name, parent, cell.members, cell.held_on,
            cell.attended if confirmed else None, cell.total if confirmed else None,
            _ratio(cell.attended or 0, cell.total or 0) if confirmed else None,
            _yes(cell.late) if confirmed else "", _yes(cell.on_behalf) if confirmed else "",
            cell.studied]


def _cells(book: Workbook, cells: list[CellRow], parent_names: dict[str, str]) -> None:
    sheet = book.create_sheet(SHEET_CELLS)
    _header(sheet, CELL_HEADERS, [16, 34, 34, 10, 13, 9, 9, 10, 9, 13, 13])
    sheet.freeze_panes = "C2"
    for cell in cells:
        append_row(sheet, cell_values(cell, parent_names.get(cell.parent_code, cell.parent_code)))
    _formats(sheet, {4: INT, 5: DATE, 6: INT, 7: INT, 8: PCT, 11: INT})


def _missing(book: Workbook, laggards: list[Laggard]) -> None:
    sheet = book.create_sheet(SHEET_MISSING)
    _header(sheet, MISSING_HEADERS, [16, 34, 34, 40])
    for laggard in laggards:
        append_row(sheet, [laggard.code, laggard.name, laggard.parent,
                      ", ".join(laggard.secretaries)])
    sheet.auto_filter.ref = sheet.dimensions


def build_xlsx(campaign: Campaign, root: OrgUnit, *, scope: OrgUnit, total: Tally,
               units: list[UnitTotal], cells: list[CellRow], laggards: list[Laggard],
               generated_at: datetime, tz: ZoneInfo, parent_names: dict[str, str] | None = None,
               document: str = "") -> bytes:
    """The workbook as bytes. `laggards` should be all of them (rollups.laggards(limit=None))."""
    book = Workbook()
    _summary(book, campaign, scope, root, total, document, generated_at, tz)
    _units(book, units)
    _cells(book, cells, parent_names or {})
    _missing(book, laggards)
    book.properties.title = f"Báo cáo quán triệt — {campaign.title}"[:255]
    book.properties.creator = "Trợ lý Nghị quyết"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def build_csv(cells: list[CellRow], parent_names: dict[str, str] | None = None) -> str:
    """The per-cell sheet as CSV text: starts with a BOM (write it as UTF-8 so Excel sees the
    encoding), comma separated, dates dd/mm/yyyy, percentages as in the chat (93,8%)."""
    names = parent_names or {}
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CELL_HEADERS)
    for cell in cells:
        values = cell_values(cell, names.get(cell.parent_code, cell.parent_code))
        if cell.held_on is not None:
            values[4] = cell.held_on.strftime("%d/%m/%Y")
            values[7] = pct(cell.attended or 0, cell.total or 0)
        writer.writerow(csv_row("" if v is None else v for v in values))
    return "\ufeff" + out.getvalue()
