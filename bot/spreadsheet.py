"""Spreadsheets are untrusted output: a cell a user can influence (a display name, a unit name
from the org CSV, a campaign title) must reach Excel or LibreOffice as text, never as a formula.

- XLSX (openpyxl): `append_row` writes every string as a string cell, even one that starts with
  "=" (openpyxl would otherwise store it as a formula), and drops the control characters XML
  cannot carry (openpyxl refuses them).
- CSV: a cell that starts with = + - @, a tab or a carriage return is prefixed with a single
  quote, as OWASP recommends against CSV injection (the spreadsheet shows it as text; the quote
  is visible in a text editor). `csv_unescape` takes that quote off again on import, so an
  exported org tree imports back unchanged.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

CSV_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: Any) -> Any:
    """A CSV field that no spreadsheet evaluates. Numbers are left alone (-5 stays a number)."""
    if isinstance(value, str) and value.startswith(CSV_TRIGGERS):
        return "'" + value
    return value


def csv_row(values: Iterable[Any]) -> list[Any]:
    return [csv_cell(v) for v in values]


def csv_unescape(text: str) -> str:
    """The field as it was before `csv_cell` (for importing an exported file)."""
    if text.startswith("'") and text[1:].startswith(CSV_TRIGGERS):
        return text[1:]
    return text


def xlsx_text(value: Any) -> Any:
    if isinstance(value, str):
        return ILLEGAL_CHARACTERS_RE.sub("", value)
    return value


def append_row(sheet, values: Iterable[Any]) -> None:  # type: ignore[no-untyped-def]
    """`sheet.append(values)` with every string stored as text, never as a formula."""
    row = [xlsx_text(v) for v in values]
    sheet.append(row)
    for column, value in enumerate(row, start=1):
        if isinstance(value, str) and value.startswith("="):  # openpyxl typed it a formula
            sheet.cell(row=sheet.max_row, column=column).data_type = "s"
