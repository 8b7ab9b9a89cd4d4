"""`nqbot questions report|drafts` and `nqbot content export-learned`, as the operator.

The report covers a period (default: the last 7 days) and an org subtree (default: everything);
texts and counts only, never who asked."""

from __future__ import annotations

import argparse
import asyncio
from datetime import datetime, time, timedelta
from pathlib import Path

from bot.cli_common import EXIT_NOT_FOUND, fail
from bot.config import Settings
from bot.db.models import utcnow

DEFAULT_DAYS = 7
TOP = 20
MAX_GROUPS = 1000


def add_parser(sub: argparse._SubParsersAction, content_sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    questions = sub.add_parser("questions", help="câu hỏi của đảng viên (thống kê)")
    qsub = questions.add_subparsers(dest="questions_command", required=True)
    report = qsub.add_parser("report", help="thống kê câu hỏi theo thời gian và đơn vị")
    report.add_argument("--since", help="từ ngày dd/mm/yyyy (mặc định: 7 ngày qua)")
    report.add_argument("--org", help="mã đơn vị (mặc định: toàn bộ)")
    report.add_argument("--xlsx", type=Path, help="ghi tệp Excel")
    report.add_argument("--csv", type=Path, help="ghi tệp CSV các nhóm câu hỏi chưa trả lời")
    qsub.add_parser("drafts", help="các đề nghị soạn mục mới")
    export = content_sub.add_parser("export-learned",
                                    help="ghi các cách hỏi bot đã học ra tệp YAML để duyệt")
    export.add_argument("--out", type=Path, default=Path("learned-phrasings"),
                        help="thư mục ghi (mặc định: learned-phrasings)")


async def run(settings: Settings, args: argparse.Namespace) -> int:
    from bot.app import build_app

    app = await build_app(settings)
    try:
        if args.command == "content":
            return await _export(app, args.out)
        if args.questions_command == "drafts":
            return await _drafts(app)
        return await _report(app, args)
    finally:
        await app.close()


def _since(text: str | None, settings: Settings) -> datetime:
    if not text:
        return utcnow() - timedelta(days=DEFAULT_DAYS)
    from bot.services.campaigns import parse_date

    day = parse_date(text)  # CampaignError (a ValueError) with a Vietnamese message
    return datetime.combine(day, time(0, 0), tzinfo=settings.tz)


async def _report(app, args: argparse.Namespace) -> int:  # type: ignore[no-untyped-def]
    from sqlalchemy import select

    from bot.db.models import OrgUnit
    from bot.reports.questions_export import QuestionReport, build_csv, build_xlsx
    from bot.services import orgs, question_stats

    settings = app.settings
    try:
        since = _since(args.since, settings)
    except ValueError as exc:
        return fail(str(exc))
    until = utcnow()
    async with app.sessions() as session:
        if args.org:
            root = await orgs.get_unit(session, args.org.strip())
            if root is None:
                return fail(f"không có đơn vị mã {args.org}", EXIT_NOT_FOUND)
            scope = question_stats.scope_of_units([root])
            children = list((await session.scalars(
                select(OrgUnit).where(OrgUnit.parent_id == root.id))).all())
        else:
            scope = question_stats.EVERYTHING
            children = list((await session.scalars(
                select(OrgUnit).where(OrgUnit.parent_id.is_(None)))).all())
        counts = await question_stats.counts(session, scope, since)
        top = await question_stats.top_entries(session, scope, since, limit=TOP)
        groups, total = await question_stats.open_groups(session, scope, since,
                                                         limit=MAX_GROUPS)
        per_unit = await question_stats.counts_by_unit(session, scope, since)
        paths = {u.id: u.path for u in (await session.scalars(
            select(OrgUnit).where(OrgUnit.id.in_(list(per_unit))))).all()} if per_unit else {}
        drafts = await question_stats.decided_groups(session, question_stats.DRAFT)
    units = []
    for child in sorted(children, key=lambda u: u.code):
        tally = question_stats.Counts()
        for unit_id, c in per_unit.items():
            if paths.get(unit_id, "").startswith(child.path):
                question_stats.add(tally, c)
        units.append((child.code, child.name, tally))
    kb = app.qa.kb
    top_rows = [(entry_id, kb.entries[entry_id].question if entry_id in kb.entries else "", n)
                for entry_id, n in top]
    local = since.astimezone(settings.tz).strftime("%d/%m/%Y")
    print(f"Câu hỏi từ {local} — phạm vi: {scope.label}")
    print(f"Tổng số {counts.total}: trả lời được {counts.answered}, gợi ý {counts.suggested}, "
          f"chưa trả lời được {counts.unknown}, chào hỏi {counts.small_talk}, khác {counts.other}")
    if top_rows:
        print("Được hỏi nhiều:")
        for n, (entry_id, question, count) in enumerate(top_rows[:10], start=1):
            print(f"  {n}. {question or entry_id} — {count} lần")
    print(f"Nhóm câu hỏi chưa trả lời được hoặc chỉ gợi ý: {total}")
    for n, g in enumerate(groups[:10], start=1):
        print(f"  {n}. ({g.count} lần) " + " / ".join(f"«{e}»" for e in g.examples))
    report = QuestionReport(scope.label, since, until, counts, top_rows, groups, units,
                            [(g.decided_at, question_stats.examples_of(g)) for g in drafts])
    written: list[Path] = []
    try:
        if args.xlsx:
            content = await asyncio.to_thread(build_xlsx, report, settings.tz)
            await asyncio.to_thread(args.xlsx.write_bytes, content)
            written.append(args.xlsx)
        if args.csv:
            await asyncio.to_thread(args.csv.write_text, build_csv(groups), encoding="utf-8",
                                    newline="")
            written.append(args.csv)
    except OSError as exc:
        return fail(f"không ghi được tệp: {exc}")
    for path in written:
        print(f"Đã ghi {path}")
    return 0


async def _drafts(app) -> int:  # type: ignore[no-untyped-def]
    from bot.services import question_stats

    async with app.sessions() as session:
        drafts = await question_stats.decided_groups(session, question_stats.DRAFT)
    if not drafts:
        print("Chưa có đề nghị soạn mục mới nào.")
        return 0
    tz = app.settings.tz
    for n, group in enumerate(drafts, start=1):
        when = group.decided_at
        stamp = when.astimezone(tz).strftime("%d/%m/%Y") if when and when.tzinfo else (
            when.strftime("%d/%m/%Y") if when else "")
        print(f"{n}. [{stamp}] " + " / ".join(f"«{e}»" for e in question_stats.examples_of(group)))
    return 0


async def _export(app, out: Path) -> int:  # type: ignore[no-untyped-def]
    """Write active learned phrasings not yet in the content files; those the content files now
    hold (exported and committed) are marked as merged."""
    from sqlalchemy import select

    from bot.db.models import LearnedPhrasing
    from bot.services import learned
    from content.normalize import analyze

    kb = app.qa.kb  # the content files, without learned phrasings
    async with app.sessions() as session, session.begin():
        rows = list((await session.scalars(select(LearnedPhrasing).where(
            LearnedPhrasing.revoked_at.is_(None), LearnedPhrasing.merged_at.is_(None))
            .order_by(LearnedPhrasing.entry_id, LearnedPhrasing.id))).all())
        merged, pending = [], []
        for row in rows:
            entry = kb.entries.get(row.entry_id)
            known = {analyze(v).folded for v in entry.variants} if entry else set()
            (merged if analyze(row.text).folded in known else pending).append(row)
        await learned.mark_merged(session, [r.id for r in merged])
    files = learned.export_yaml(pending, kb)
    try:
        await asyncio.to_thread(_write_files, out, files)
    except OSError as exc:
        return fail(f"không ghi được tệp: {exc}")
    if merged:
        print(f"{len(merged)} cách hỏi đã có trong tệp nội dung: đánh dấu đã gộp.")
    if not pending:
        print("Không có cách hỏi mới nào cần xuất.")
        return 0
    for name in files:
        print(f"Đã ghi {out / name}")
    print(f"{len(pending)} cách hỏi; duyệt rồi chép vào content/kb/phrasings/ cùng tên tệp.")
    return 0


def _write_files(out: Path, files: dict[str, str]) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (out / name).write_text(text, encoding="utf-8")
