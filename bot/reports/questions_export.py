"""What members ask, as a workbook and CSV: sheets "Tổng hợp" (period, scope, counts, and the
counts of each unit one level down), "Câu hỏi chưa trả lời" (groups, counts, examples), "Câu hỏi
được hỏi nhiều" (entries, counts) and "Đề nghị soạn mục mới" (drafts for the content editors).

Every cell a member or a báo cáo viên can influence (question texts, unit names) is written as
text, never as a formula; in the CSV such a cell starting with = + - @ gets a leading apostrophe.
Texts and counts only: never who asked."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter

from bot.services.question_stats import Counts, GroupRow

SHEET_SUMMARY = "Tổng hợp"
SHEET_GROUPS = "Câu hỏi chưa trả lời"
SHEET_TOP = "Câu hỏi được hỏi nhiều"
SHEET_DRAFTS = "Đề nghị soạn mục mới"
GROUP_HEADERS = ["STT", "Số lần hỏi", "Ví dụ 1", "Ví dụ 2", "Ví dụ 3"]
TOP_HEADERS = ["STT", "Mã mục", "Câu hỏi của mục", "Số lần trả lời"]
UNIT_HEADERS = ["Mã", "Đơn vị", "Tổng số", "Trả lời được", "Gợi ý", "Chưa trả lời được",
                "Chào hỏi"]
DRAFT_HEADERS = ["STT", "Ngày đề nghị", "Ví dụ câu hỏi"]
BOLD = Font(bold=True)
HEADER_FILL = PatternFill("solid", start_color="FFDDE6F0")
WRAP = Alignment(wrap_text=True, vertical="top")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


@dataclass
class QuestionReport:
    scope_label: str
    since: datetime
    until: datetime
    counts: Counts
    top: list[tuple[str, str, int]]  # entry id, its question, times answered
    groups: list[GroupRow]
    units: list[tuple[str, str, Counts]] = field(default_factory=list)  # code, name, counts
    drafts: list[tuple[datetime | None, list[str]]] = field(default_factory=list)


def _put(sheet, row: int, col: int, value: object, *, text: bool = False):  # type: ignore[no-untyped-def]
    cell = sheet.cell(row=row, column=col, value=value)
    if text and isinstance(value, str):
        cell.data_type = "s"  # never a formula, whatever the text starts with
    return cell


def _header(sheet, row: int, headers: list[str], widths: list[float]) -> None:  # type: ignore[no-untyped-def]
    for col, (title, width) in enumerate(zip(headers, widths, strict=True), start=1):
        cell = _put(sheet, row, col, title)
        cell.font, cell.fill = BOLD, HEADER_FILL
        sheet.column_dimensions[get_column_letter(col)].width = width


def _local(moment: datetime, tz: ZoneInfo) -> str:
    aware = moment if moment.tzinfo else moment.replace(tzinfo=ZoneInfo("UTC"))
    return aware.astimezone(tz).strftime("%d/%m/%Y %H:%M")


def build_xlsx(report: QuestionReport, tz: ZoneInfo) -> bytes:
    book = Workbook()
    summary = book.active
    summary.title = SHEET_SUMMARY
    c = report.counts
    rows: list[tuple[str, object]] = [
        ("Phạm vi", report.scope_label),
        ("Từ", _local(report.since, tz)),
        ("Đến", _local(report.until, tz)),
        ("Tổng số câu hỏi", c.total),
        ("Trả lời được", c.answered),
        ("Gợi ý câu gần đúng", c.suggested),
        ("Chưa trả lời được", c.unknown),
        ("Chào hỏi, cảm ơn", c.small_talk),
        ("Khác (trống, quá dài, không rõ nội dung)", c.other),
        ("Ghi chú", "Chỉ có nội dung câu hỏi và số lần hỏi; không ghi ai hỏi."),
    ]
    for r, (label, value) in enumerate(rows, start=1):
        _put(summary, r, 1, label).font = BOLD
        _put(summary, r, 2, value, text=True)
    summary.column_dimensions["A"].width = 40
    summary.column_dimensions["B"].width = 50
    if report.units:
        start = len(rows) + 2
        _header(summary, start, UNIT_HEADERS, [14, 40, 10, 12, 10, 16, 10])
        for r, (code, name, uc) in enumerate(report.units, start=start + 1):
            _put(summary, r, 1, code, text=True)
            _put(summary, r, 2, name, text=True)
            for col, value in enumerate((uc.total, uc.answered, uc.suggested, uc.unknown,
                                         uc.small_talk), start=3):
                _put(summary, r, col, value)

    groups = book.create_sheet(SHEET_GROUPS)
    _header(groups, 1, GROUP_HEADERS, [6, 11, 50, 50, 50])
    for r, g in enumerate(report.groups, start=2):
        _put(groups, r, 1, r - 1)
        _put(groups, r, 2, g.count)
        for col, example in enumerate(g.examples[:3], start=3):
            _put(groups, r, col, example, text=True).alignment = WRAP
    groups.freeze_panes = "A2"

    top = book.create_sheet(SHEET_TOP)
    _header(top, 1, TOP_HEADERS, [6, 34, 70, 14])
    for r, (entry_id, question, count) in enumerate(report.top, start=2):
        _put(top, r, 1, r - 1)
        _put(top, r, 2, entry_id, text=True)
        _put(top, r, 3, question, text=True).alignment = WRAP
        _put(top, r, 4, count)
    top.freeze_panes = "A2"

    drafts = book.create_sheet(SHEET_DRAFTS)
    _header(drafts, 1, DRAFT_HEADERS, [6, 18, 90])
    for r, (when, examples) in enumerate(report.drafts, start=2):
        _put(drafts, r, 1, r - 1)
        _put(drafts, r, 2, _local(when, tz) if when else "", text=True)
        _put(drafts, r, 3, "\n".join(examples), text=True).alignment = WRAP
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _safe(value: object) -> object:
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def build_csv(groups: list[GroupRow]) -> str:
    """The unanswered groups as CSV (BOM first, so Excel reads UTF-8)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(GROUP_HEADERS)
    for n, g in enumerate(groups, start=1):
        examples = [*g.examples[:3], "", "", ""][:3]
        writer.writerow([n, g.count, *(_safe(e) for e in examples)])
    return "\ufeff" + out.getvalue()
