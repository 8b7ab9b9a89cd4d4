"""`nqbot campaign …` (create, list, show, close) and `nqbot report` — as the operator.

The operator at the command line acts without a chat role (actor=None, recorded as such in the
audit log); every input is checked as in the chat."""

from __future__ import annotations

import argparse
import asyncio
import json
from pathlib import Path

from bot.cli_common import EXIT_NOT_FOUND, fail
from bot.config import Settings
from bot.db.models import utcnow


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    campaign = sub.add_parser("campaign", help="đợt quán triệt")
    csub = campaign.add_subparsers(dest="campaign_command", required=True)
    create = csub.add_parser("create", help="mở đợt quán triệt")
    create.add_argument("--document", required=True, help="mã tài liệu, vd. NQ57, KL69, NQ20")
    create.add_argument("--title", required=True, help="tên đợt")
    create.add_argument("--org", required=True, help="mã đơn vị phạm vi của đợt")
    create.add_argument("--deadline", required=True, help="hạn hoàn thành dd/mm/yyyy")
    create.add_argument("--opens", help="ngày bắt đầu dd/mm/yyyy (mặc định hôm nay)")
    create.add_argument("--json", action="store_true")
    listing = csub.add_parser("list", help="danh sách đợt")
    listing.add_argument("--json", action="store_true")
    show = csub.add_parser("show", help="xem một đợt và số liệu của phạm vi")
    show.add_argument("id", type=int)
    close = csub.add_parser("close", help="đóng đợt (không nhận xác nhận nữa)")
    close.add_argument("id", type=int)
    report = sub.add_parser("report", help="báo cáo kết quả quán triệt")
    report.add_argument("--campaign", type=int, required=True, help="số đợt")
    report.add_argument("--org", help="mã đơn vị (mặc định: phạm vi của đợt)")
    report.add_argument("--xlsx", type=Path, help="ghi tệp Excel")
    report.add_argument("--csv", type=Path, help="ghi tệp CSV các chi bộ")
    report.add_argument("--png", type=Path, help="ghi biểu đồ PNG")


async def run(settings: Settings, args: argparse.Namespace) -> int:
    from bot.app import build_app

    app = await build_app(settings)
    try:
        if args.command == "report":
            return await _report(app, args)
        command = args.campaign_command
        if command == "create":
            return await _create(app, args)
        if command == "list":
            return await _list(app, args)
        if command == "show":
            return await _show(app, args.id)
        return await _close(app, args.id)
    finally:
        await app.close()


def _document(app, key: str) -> str:  # type: ignore[no-untyped-def]
    doc = app.kb.documents.get(key)
    return f"{key} — {doc.full_name} ({doc.short})" if doc else key


def _line(campaign, scope) -> str:  # type: ignore[no-untyped-def]
    from bot.services.campaigns import fmt

    state = "đang mở" if campaign.status == "open" else "đã đóng"
    return (f"#{campaign.id} [{state}] {campaign.document} · {campaign.title} · "
            f"{scope.name} ({scope.code}) · {fmt(campaign.opens_on)} → hạn "
            f"{fmt(campaign.deadline)}")


def _as_json(campaign, scope) -> dict:  # type: ignore[no-untyped-def,type-arg]
    return {"id": campaign.id, "document": campaign.document, "title": campaign.title,
            "org": scope.code, "opens_on": campaign.opens_on.isoformat(),
            "deadline": campaign.deadline.isoformat(), "status": campaign.status}


async def _create(app, args: argparse.Namespace) -> int:  # type: ignore[no-untyped-def]
    from bot.db.models import OrgUnit
    from bot.services import campaigns, rollups

    try:
        async with app.sessions() as session, session.begin():
            campaign = await campaigns.create(
                session, actor=None, document=args.document, title=args.title,
                scope_code=args.org, deadline=args.deadline, opens=args.opens, now=utcnow(),
                tz=app.settings.tz, documents=set(app.kb.documents))
            scope = await session.get(OrgUnit, campaign.scope_unit_id)
            total, _ = await rollups.rollup(session, campaign, scope)
    except campaigns.CampaignError as exc:
        return fail(str(exc))
    if args.json:
        print(json.dumps({**_as_json(campaign, scope), "cells": total.cells},
                         ensure_ascii=False))
        return 0
    print(f"Đã mở đợt quán triệt {_line(campaign, scope)}")
    print(f"Tài liệu: {_document(app, campaign.document)}")
    print(f"Số chi bộ trong phạm vi: {total.cells}; đảng viên theo danh sách các chi bộ: "
          f"{total.members} (báo cáo tính theo số chi bộ khai khi xác nhận)")
    return 0


async def _list(app, args: argparse.Namespace) -> int:  # type: ignore[no-untyped-def]
    from bot.services import campaigns

    async with app.sessions() as session:
        rows = await campaigns.list_all(session)
    if args.json:
        print(json.dumps([_as_json(c, u) for c, u in rows], ensure_ascii=False))
        return 0
    if not rows:
        print("Chưa có đợt quán triệt nào. Mở bằng: nqbot campaign create …")
    for campaign, scope in rows:
        print(_line(campaign, scope))
    return 0


async def _show(app, campaign_id: int) -> int:  # type: ignore[no-untyped-def]
    from bot.db.models import Campaign, OrgUnit
    from bot.reports import gather
    from bot.reports.text import render_report

    settings = app.settings
    async with app.sessions() as session:
        campaign = await session.get(Campaign, campaign_id)
        if campaign is None:
            return fail(f"không có đợt quán triệt số {campaign_id}", EXIT_NOT_FOUND)
        scope = await session.get(OrgUnit, campaign.scope_unit_id)
        data = await gather(session, campaign, scope, now=utcnow(),
                            max_laggards=settings.report_max_laggards)
    print(_line(campaign, scope))
    print(f"Tài liệu: {_document(app, campaign.document)}")
    print()
    print(render_report(campaign, data.total, data.children, data.laggard_count, data.laggards,
                        settings.tz, settings.report_max_laggards, now=data.generated_at))
    return 0


async def _close(app, campaign_id: int) -> int:  # type: ignore[no-untyped-def]
    from bot.db.models import OrgUnit
    from bot.services import campaigns

    try:
        async with app.sessions() as session, session.begin():
            campaign = await campaigns.close(session, campaign_id, actor=None, now=utcnow())
            scope = await session.get(OrgUnit, campaign.scope_unit_id)
            print(f"Đã đóng đợt {_line(campaign, scope)}")
    except campaigns.CampaignError as exc:
        return fail(str(exc))
    return 0


async def _report(app, args: argparse.Namespace) -> int:  # type: ignore[no-untyped-def]
    from bot.db.models import Campaign, OrgUnit
    from bot.reports import gather
    from bot.reports.chart import build_png
    from bot.reports.export import build_csv, build_xlsx
    from bot.reports.text import render_report
    from bot.services import orgs
    from bot.services.rollups import cell_prefix

    settings = app.settings
    exports = bool(args.xlsx or args.csv)
    async with app.sessions() as session:
        campaign = await session.get(Campaign, args.campaign)
        if campaign is None:
            return fail(f"không có đợt quán triệt số {args.campaign}", EXIT_NOT_FOUND)
        scope = await session.get(OrgUnit, campaign.scope_unit_id)
        assert scope is not None
        root = scope
        if args.org:
            root = await orgs.get_unit(session, args.org.strip())
            if root is None:
                return fail(f"không có đơn vị mã {args.org}", EXIT_NOT_FOUND)
            if cell_prefix(scope, root) is None:
                return fail(f"{root.name} ({root.code}) không thuộc phạm vi đợt "
                             f"#{campaign.id} ({scope.name})")
            if root.id != scope.id and scope.path.startswith(root.path):
                print(f"Lưu ý: {root.name} rộng hơn phạm vi đợt; báo cáo theo phạm vi "
                      f"{scope.name}.")
                root = scope
        data = await gather(session, campaign, root, now=utcnow(),
                            max_laggards=settings.report_max_laggards, exports=exports)
    print(render_report(campaign, data.total, data.children, data.laggard_count, data.laggards,
                        settings.tz, settings.report_max_laggards, now=data.generated_at))
    written: list[Path] = []
    try:
        if args.xlsx:
            content = await asyncio.to_thread(
                build_xlsx, campaign, root, scope=scope, total=data.total, units=data.units,
                cells=data.cells, laggards=data.laggards, generated_at=data.generated_at,
                tz=settings.tz, parent_names=data.parent_names,
                document=_document(app, campaign.document))
            await asyncio.to_thread(args.xlsx.write_bytes, content)
            written.append(args.xlsx)
        if args.csv:
            text = build_csv(data.cells, data.parent_names)
            await asyncio.to_thread(args.csv.write_text, text, encoding="utf-8", newline="")
            written.append(args.csv)
        if args.png:
            image = await asyncio.to_thread(build_png, campaign, data.total, data.children)
            await asyncio.to_thread(args.png.write_bytes, image)
            written.append(args.png)
    except OSError as exc:
        return fail(f"không ghi được tệp: {exc}")
    for path in written:
        print(f"Đã ghi {path}")
    return 0
