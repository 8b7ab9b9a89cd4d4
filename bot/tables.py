"""Tables as offices keep them: an Excel workbook (.xlsx) or a CSV file in whatever encoding and
separator Excel wrote. Every cell comes back as text with the line number a person sees in
Excel, so errors can name the line; the reader never guesses silently: an encoding it cannot
read as Vietnamese is refused with its name.

Writing goes through `write_xlsx`: every value a user typed is stored as text, never as a
formula (a name starting with "=" stays a name; `bot.spreadsheet`)."""

from __future__ import annotations

import csv
import io
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from bot.spreadsheet import append_row, csv_unescape

# Windows-1258 writes Vietnamese as base letters (ă â đ ê ô ơ ư, in the code page) followed by a
# combining tone mark. Read as Windows-1258, a Windows-1252 file gives letters no Vietnamese word
# has ("Hòa" → "Ḥa"): the text is Windows-1258 only if every letter is a Vietnamese one.
_VOWELS = "aăâeêioôơuưy"
_VIETNAMESE = frozenset(
    unicodedata.normalize("NFC", v + tone)
    for v in _VOWELS + _VOWELS.upper() for tone in ("", "\u0300", "\u0301", "\u0303",
                                                      "\u0309", "\u0323")) | set("đĐ")
MAX_BYTES = 20 * 1024 * 1024  # a province's tree is a few MB at most


class TableError(ValueError):
    """The file cannot be read as a table (the message is for the operator, in Vietnamese)."""


@dataclass
class Table:
    rows: list[tuple[int, list[str]]]  # (line number as Excel shows it, cells as text)
    source: str  # "Excel, trang «Cây tổ chức»" / "CSV UTF-8, dấu chấm phẩy"
    notes: list[str] = field(default_factory=list)


def read_table(path: str | Path, *, sheet: str | None = None) -> Table:
    path = Path(path)
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise TableError(f"không mở được tệp {path}: {exc.strerror or exc}") from None
    if size > MAX_BYTES:
        raise TableError(f"tệp {path.name} lớn quá {MAX_BYTES // (1024 * 1024)} MB")
    data = path.read_bytes()
    if data[:4] == b"PK\x03\x04" or path.suffix.lower() in (".xlsx", ".xlsm"):
        return _read_xlsx(data, path.name, sheet)
    if data[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" or path.suffix.lower() == ".xls":
        raise TableError(f"{path.name} là tệp Excel đời cũ (.xls): trong Excel chọn "
                         "Lưu thành → «Sổ làm việc Excel (.xlsx)» rồi nhập lại")
    if sheet is not None:
        raise TableError("--sheet chỉ dùng cho tệp Excel (.xlsx)")
    text, encoding = decode_text(data)
    return _read_csv(text, encoding)


# -- CSV ---------------------------------------------------------------------------------------
def decode_text(data: bytes) -> tuple[str, str]:
    """Text of a CSV file and the name of its encoding (UTF-8 with or without BOM, UTF-16 —
    Excel's "Unicode Text" —, Windows-1258); Windows-1252 and anything else is refused with
    the encoding named, because it cannot hold Vietnamese letters."""
    if data.startswith(b"\xef\xbb\xbf"):
        return _nfc(data[3:].decode("utf-8", errors="strict")), "UTF-8 (có BOM)"
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return _nfc(data.decode("utf-16")), "UTF-16"
        except UnicodeDecodeError:
            raise TableError("tệp bắt đầu như UTF-16 nhưng có byte hỏng") from None
    try:
        return _nfc(data.decode("utf-8")), "UTF-8"
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes

    best = from_bytes(data, cp_isolation=["utf_16_le", "utf_16_be", "cp1252"]).best()
    guess = best.encoding if best is not None else ""
    if guess.startswith("utf_16"):
        return _nfc(data.decode(guess)), "UTF-16"
    as_1258 = _nfc(data.decode("cp1258", errors="replace"))
    foreign = [c for c in as_1258 if c.isalpha() and not c.isascii() and c not in _VIETNAMESE]
    if not foreign and "\ufffd" not in as_1258 and any(c in _VIETNAMESE for c in as_1258):
        return as_1258, "Windows-1258"
    name = "Windows-1252" if guess in ("cp1252", "") else guess
    raise TableError(
        f"tệp CSV được lưu bằng bảng mã {name} (ANSI), bảng mã này không có chữ Việt nên các "
        "chữ có dấu đã hỏng. Trong Excel chọn Lưu thành → «CSV UTF-8 (Comma delimited)», "
        "hoặc nhập thẳng tệp .xlsx")


def read_csv_text(text: str, encoding: str = "UTF-8") -> Table:
    """A table from CSV text already decoded (separator detected)."""
    return _read_csv(_nfc(text.removeprefix("\ufeff")), encoding)


def _nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


def _read_csv(text: str, encoding: str) -> Table:
    sample = "\n".join(text.splitlines()[:20])
    try:
        dialect: type[csv.Dialect] | csv.Dialect = csv.Sniffer().sniff(sample, delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    names = {",": "dấu phẩy", ";": "dấu chấm phẩy", "\t": "dấu tab"}
    rows = []
    reader = csv.reader(io.StringIO(text), dialect)
    try:
        for cells in reader:
            # a quote the export put before "=…" (spreadsheet safety) is taken back
            rows.append((reader.line_num,
                         [csv_unescape(c.replace("\x00", "").strip()) for c in cells]))
    except csv.Error as exc:
        raise TableError(f"dòng {reader.line_num}: không đọc được CSV ({exc})") from None
    return Table(rows, f"CSV {encoding}, ngăn cách bằng {names.get(dialect.delimiter, 'dấu ,')}")


# -- Excel -------------------------------------------------------------------------------------
def _read_xlsx(data: bytes, name: str, sheet: str | None) -> Table:
    from zipfile import BadZipFile

    from openpyxl import load_workbook

    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (BadZipFile, KeyError, OSError, ValueError) as exc:
        raise TableError(f"{name} không phải tệp Excel .xlsx đọc được ({exc})") from None
    try:
        if sheet is None:
            ws = book.worksheets[0]
        elif sheet in book.sheetnames:
            ws = book[sheet]
        else:
            raise TableError(f"không có trang «{sheet}» trong {name} (có: "
                             + ", ".join(f"«{s}»" for s in book.sheetnames) + ")")
        rows = [(line, [_cell_text(v) for v in values])
                for line, values in enumerate(ws.iter_rows(values_only=True), start=1)]
        return Table(rows, f"Excel, trang «{ws.title}»")
    finally:
        book.close()


def _cell_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, bool):
        return "1" if value else "0"
    return _nfc(str(value)).strip()


def write_xlsx(sheet_title: str, header: Sequence[str], rows: Iterable[Sequence[object]], *,
               widths: Sequence[int] = (), choices: dict[int, Sequence[str]] | None = None,
               choices_rows: int = 2000) -> bytes:
    """One sheet: a bold, frozen header, then the rows; strings always stored as text (never
    formulas). `choices` maps a column index to a drop-down list (data validation)."""
    from openpyxl import Workbook
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter
    from openpyxl.worksheet.datavalidation import DataValidation

    book = Workbook()
    ws = book.active
    ws.title = sheet_title[:31]
    ws.append(list(header))
    for cell in ws[1]:
        cell.font = Font(bold=True)
    ws.freeze_panes = "A2"
    for row in rows:
        append_row(ws, row)  # strings stay text, never formulas
    for index, width in enumerate(widths, start=1):
        ws.column_dimensions[get_column_letter(index)].width = width
    lists = book.create_sheet("Danh mục") if choices else None
    for column, values in (choices or {}).items():
        assert lists is not None
        for i, value in enumerate(values, start=1):
            lists.cell(row=i, column=column + 1, value=value)
        letter = get_column_letter(column + 1)
        validation = DataValidation(
            type="list", formula1=f"='Danh mục'!${letter}$1:${letter}${len(values)}",
            allow_blank=True, showErrorMessage=False)
        ws.add_data_validation(validation)
        validation.add(f"{letter}2:{letter}{choices_rows}")
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
