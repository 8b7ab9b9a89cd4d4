"""`nqbot questions report|drafts` and `nqbot content export-learned`, run as a process, over a
database where members asked and a báo cáo viên acted in chat."""

from __future__ import annotations

import asyncio
from pathlib import Path

import yaml
from openpyxl import load_workbook
from sqlalchemy import select

from bot.app import build_app
from bot.db.models import LearnedPhrasing
from bot.reports.questions_export import SHEET_GROUPS, SHEET_SUMMARY, SHEET_TOP
from tests.conftest import make_settings
from tests.test_cli import nqbot
from tests.test_question_review import ELDERLY, ELDERLY_ENTRY, OTHER_COMMUNE, _msg, _setup

FORMULA = "=HYPERLINK(\"http://x\",\"bấm\") chuyển đổi số ở xã"


async def _world(url: str) -> None:
    app = await build_app(make_settings(url))
    try:
        await _setup(app)
        for user, text in (("m1", ELDERLY), ("m1", ELDERLY), ("m1", FORMULA),
                           ("m1", "Nghị quyết 57 ban hành ngày nào?"), ("m2", OTHER_COMMUNE)):
            await app.router.handle(_msg(user, text))
        [report] = await app.router.handle(_msg("adm", "/cauhoi"))
        groups = [b.payload for b in report.flat_buttons() if b.payload.startswith("cq:g:")]
        for payload in groups:
            [detail] = await app.router.handle(_msg("adm", payload=payload))
            buttons = [b.payload for b in detail.flat_buttons()]
            if "lớn tuổi" in detail.text:
                assign = next(p for p in buttons if p.endswith(ELDERLY_ENTRY))
                await app.router.handle(_msg("adm", payload=assign))
            elif "cán bộ" in detail.text:
                await app.router.handle(_msg("adm", payload=next(
                    p for p in buttons if p.startswith("cq:d:"))))
    finally:
        await app.close()


def test_report_xlsx_csv_drafts_and_export(tmp_path: Path):
    url = f"sqlite+aiosqlite:///{tmp_path / 'cli.sqlite3'}"
    asyncio.run(_world(url))

    proc = nqbot("questions", "report", "--org", "X01", "--xlsx", "q.xlsx", "--csv", "q.csv",
                 tmp_path=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "Tổng số 4: trả lời được 1" in proc.stdout
    assert "cán bộ công nghệ" not in proc.stdout  # asked in another commune
    book = load_workbook(tmp_path / "q.xlsx")
    assert book.sheetnames[:3] == [SHEET_SUMMARY, SHEET_GROUPS, SHEET_TOP]
    summary = {row[0]: row[1] for row in book[SHEET_SUMMARY].iter_rows(values_only=True)
               if row[0]}
    assert summary["Tổng số câu hỏi"] == 4
    cells = [c for row in book[SHEET_GROUPS].iter_rows(min_row=2) for c in row]
    formula_cell = next(c for c in cells if isinstance(c.value, str) and "HYPERLINK" in c.value)
    assert formula_cell.data_type == "s" and formula_cell.value == FORMULA
    top = list(book[SHEET_TOP].iter_rows(min_row=2, values_only=True))
    assert top and top[0][3] == 1
    csv_text = (tmp_path / "q.csv").read_text(encoding="utf-8")
    assert csv_text.startswith("\ufeff") and "'=HYPERLINK" in csv_text

    proc = nqbot("questions", "report", "--since", "31/02/2026", tmp_path=tmp_path)
    assert proc.returncode == 1 and "không có thật" in proc.stderr  # input refused

    proc = nqbot("questions", "drafts", tmp_path=tmp_path)
    assert proc.returncode == 0 and OTHER_COMMUNE in proc.stdout

    async def committed_one() -> None:  # as if exported earlier and now in the content files
        app = await build_app(make_settings(url))
        try:
            async with app.sessions() as s, s.begin():
                s.add(LearnedPhrasing(entry_id="nq57-thong-tin-chung",
                                      text=app.qa.kb.entries["nq57-thong-tin-chung"].question))
        finally:
            await app.close()

    asyncio.run(committed_one())
    proc = nqbot("content", "export-learned", "--out", "learned", tmp_path=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "1 cách hỏi đã có trong tệp nội dung" in proc.stdout
    [written] = list((tmp_path / "learned").glob("*.yaml"))
    data = yaml.safe_load(written.read_text(encoding="utf-8"))
    assert data == {ELDERLY_ENTRY: [ELDERLY]}

    async def merged() -> dict[str, bool]:
        app = await build_app(make_settings(url))
        try:
            async with app.sessions() as s:
                rows = (await s.execute(select(LearnedPhrasing.entry_id,
                                               LearnedPhrasing.merged_at))).all()
                return {entry_id: when is not None for entry_id, when in rows}
        finally:
            await app.close()

    assert asyncio.run(merged()) == {ELDERLY_ENTRY: False, "nq57-thong-tin-chung": True}
