"""`nqbot org …`: import the org tree from the Excel or CSV file a unit keeps, export it in the
same layout, an Excel template, the demo tree, and the printed tree."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable
from pathlib import Path

from bot.cli_common import EXIT_NOT_FOUND, EXIT_OK, EXIT_USER, fail, with_session
from bot.config import Settings

DEMO_ORG_CSV = Path(__file__).resolve().parent.parent / "content" / "demo" / "org_demo.csv"
TEMPLATE_NAME = "mau-cay-to-chuc.xlsx"
EXPORT_XLSX_NAME = "cay-to-chuc.xlsx"


def add_parser(sub: argparse._SubParsersAction) -> None:
    org = sub.add_parser("org", help="cây tổ chức đảng")
    org_sub = org.add_subparsers(dest="org_command", required=True)
    imp = org_sub.add_parser(
        "import", help="nhập từ tệp Excel (.xlsx) hoặc CSV: mã, tên, cấp, mã cấp trên, "
                       "số đảng viên")
    imp.add_argument("file")
    imp.add_argument("--sheet", help="tên trang trong tệp Excel (mặc định: trang đầu)")
    imp.add_argument("--yes", "-y", action="store_true",
                     help="áp dụng thay đổi (đổi tên, chuyển, xóa) không hỏi lại")
    imp.add_argument("--dry-run", action="store_true", help="chỉ in những gì sẽ thay đổi")
    export = org_sub.add_parser("export", help="xuất ra CSV hoặc Excel (nhập lại được)")
    export.add_argument("-o", "--output", help="tệp đích (.csv hoặc .xlsx)")
    export.add_argument("--xlsx", action="store_true",
                        help=f"xuất Excel (mặc định vào {EXPORT_XLSX_NAME})")
    template = org_sub.add_parser("template", help="tạo tệp Excel mẫu để điền cây tổ chức")
    template.add_argument("-o", "--output", default=TEMPLATE_NAME)
    org_sub.add_parser("demo", help="nạp cây tổ chức mẫu, nhóm và người dùng mẫu nếu cơ sở "
                                    "dữ liệu chưa có đơn vị nào")
    tree = org_sub.add_parser("tree", help="in cây tổ chức")
    tree.add_argument("code", nargs="?")


async def run(settings: Settings, args: argparse.Namespace,
              ask: Callable[[str], str] | None = None) -> int:
    command = args.org_command
    if command == "import":
        return await _import(settings, args, ask or _ask)
    if command == "export":
        return await _export(settings, args)
    if command == "template":
        return await _template(args)
    if command == "demo":
        return await _demo(settings)
    return await _tree(settings, args)


def _ask(question: str) -> str:
    if not sys.stdin.isatty():
        return ""
    try:
        return input(question)
    except EOFError:
        return ""


async def _import(settings: Settings, args: argparse.Namespace,
                  ask: Callable[[str], str]) -> int:
    from bot.services import orgs
    from bot.tables import TableError, read_table

    if not await asyncio.to_thread(Path(args.file).exists):
        return fail(f"không có tệp {args.file}", EXIT_NOT_FOUND)
    try:
        table = await asyncio.to_thread(read_table, args.file, sheet=args.sheet)
    except TableError as exc:
        return fail(str(exc))
    rows, problems = orgs.parse_table(table)

    async def plan(session):  # type: ignore[no-untyped-def]
        return await orgs.plan_import(session, rows, problems)

    try:
        first = await with_session(settings, plan)
    except orgs.OrgImportError as exc:
        print(f"Không nhập gì vì tệp có lỗi ({table.source}):", file=sys.stderr)
        for problem in exc.problems:
            print(f"  {problem}", file=sys.stderr)
        return EXIT_USER
    touches_existing = bool(first.renamed or first.moved or first.changed or first.removed)
    if args.dry_run or touches_existing:
        print(f"Tệp {args.file} ({table.source}) sẽ thay đổi cây tổ chức như sau:")
        for line in first.describe():
            print(f"  {line}")
    if args.dry_run:
        return EXIT_OK
    if touches_existing and not args.yes:
        answer = ask("Áp dụng các thay đổi trên? Gõ «c» (có) rồi Enter: ")
        if answer.strip().lower() not in ("c", "co", "có", "y", "yes"):
            print("Chưa thay đổi gì. Để áp dụng không hỏi lại: thêm --yes.")
            return EXIT_USER

    async def apply(session):  # type: ignore[no-untyped-def]
        again = await orgs.plan_import(session, rows, problems)
        if again.describe() != first.describe():
            raise orgs.OrgImportError(["Cây tổ chức vừa bị thay đổi ở nơi khác trong lúc chờ: "
                                       "chạy lại lệnh để xem thay đổi mới"])
        return await orgs.apply_plan(session, again)

    try:
        report = await with_session(settings, apply)
    except orgs.OrgImportError as exc:
        for problem in exc.problems:
            print(f"LỖI: {problem}", file=sys.stderr)
        return EXIT_USER
    removed = f", {report.removed} xóa" if report.removed else ""
    print(f"Đã nhập: {report.created} đơn vị mới, {report.updated} cập nhật, "
          f"{report.unchanged} không đổi{removed}.")
    return EXIT_OK


async def _export(settings: Settings, args: argparse.Namespace) -> int:
    from bot.services import orgs

    output = args.output
    as_xlsx = args.xlsx or (output or "").lower().endswith(".xlsx")
    if as_xlsx:
        data = await with_session(settings, orgs.export_xlsx)
        target = Path(output or EXPORT_XLSX_NAME)
        await asyncio.to_thread(target.write_bytes, data)
        print(f"Đã xuất cây tổ chức ra {target} (sửa rồi nhập lại: nqbot org import {target}).")
        return EXIT_OK
    text = await with_session(settings, orgs.export_csv)
    if output:
        await asyncio.to_thread(Path(output).write_text, text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return EXIT_OK


async def _template(args: argparse.Namespace) -> int:
    from bot.services import orgs

    target = Path(args.output)
    if await asyncio.to_thread(target.exists):
        return fail(f"{target} đã có: chọn tên khác bằng -o TỆP.xlsx")
    await asyncio.to_thread(target.write_bytes, orgs.xlsx_book(orgs.TEMPLATE_ROWS))
    print(f"Đã tạo tệp mẫu {target}: mỗi đơn vị một dòng (mã, tên, cấp, mã cấp trên, số đảng "
          f"viên); cột «Cấp» có danh sách để chọn. Điền xong: nqbot org import {target}")
    return EXIT_OK


async def _demo(settings: Settings) -> int:
    from bot.services import demo

    text = await asyncio.to_thread(DEMO_ORG_CSV.read_text, encoding="utf-8")
    report = await with_session(settings, lambda s: demo.load(s, text))
    if report is None:
        print("Cây tổ chức đã có dữ liệu: không nạp cây mẫu.")
    else:
        print(report)
    return EXIT_OK


async def _tree(settings: Settings, args: argparse.Namespace) -> int:
    from bot.services import orgs

    try:
        tree = await with_session(settings, lambda s: orgs.render_tree(s, args.code))
    except LookupError as exc:
        print(f"LỖI: {exc}", file=sys.stderr)
        return EXIT_NOT_FOUND
    print(tree or "Chưa có đơn vị nào. Nhập bằng: nqbot org import TỆP.xlsx "
                   "(tệp mẫu: nqbot org template)")
    return EXIT_OK
