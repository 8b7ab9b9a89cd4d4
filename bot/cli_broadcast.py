"""`nqbot broadcast …`: create, list, show, pause, resume, cancel, deliver — as the operator.

The operator at the command line has the database in hand, so acts without a chat role
(recorded as such in the audit log); every input is checked as in the chat composer."""

from __future__ import annotations

import argparse
import asyncio
import json
from pathlib import Path

from bot.cli_common import EXIT_BUSY, EXIT_NOT_FOUND, EXIT_USAGE, fail
from bot.config import Settings
from bot.db.models import utcnow


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    broadcast = sub.add_parser("broadcast", help="thông báo tới các nhóm")
    bsub = broadcast.add_subparsers(dest="broadcast_command", required=True)
    create = bsub.add_parser("create", help="tạo thông báo (gửi ngay, hẹn giờ hoặc lặp lại)")
    content = create.add_mutually_exclusive_group()
    content.add_argument("--text", help="nội dung")
    content.add_argument("--file", help="tệp chứa nội dung (UTF-8)")
    content.add_argument("--entry", help="mã một câu hỏi–đáp trong bộ nội dung")
    content.add_argument("--series", help="chuỗi câu hỏi hằng ngày: TÀI_LIỆU:chủ_đề")
    create.add_argument("--campaign", type=int,
                        help="thông báo một đợt quán triệt: kèm nút «Chi bộ đã quán triệt»")
    create.add_argument("--target", required=True, help="mã đơn vị, nhiều mã cách nhau dấu phẩy")
    create.add_argument("--level", help="chỉ các nhóm ở cấp này, vd. chi_bo")
    create.add_argument("--audience", default="groups",
                        choices=["groups", "secretary", "reporter", "member"],
                        help="groups = các nhóm; còn lại = tin nhắn riêng tới người giữ vai trò")
    create.add_argument("--channel", default="all", choices=["telegram", "zalo", "all"])
    when = create.add_mutually_exclusive_group()
    when.add_argument("--at", help='một lần, giờ Việt Nam: "dd/mm/yyyy HH:MM"')
    when.add_argument("--cron", help='lặp lại, giờ Việt Nam: "phút giờ ngày tháng thứ"')
    create.add_argument("--json", action="store_true")
    listing = bsub.add_parser("list", help="danh sách thông báo")
    listing.add_argument("--json", action="store_true")
    for name, help_text in (("show", "xem một thông báo và các lần gửi"),
                            ("pause", "tạm dừng"), ("resume", "tiếp tục"), ("cancel", "huỷ")):
        command = bsub.add_parser(name, help=help_text)
        command.add_argument("id", type=int)
    bsub.add_parser("deliver", help="gửi ngay những gì đã đến hạn rồi thoát")


def _limits(settings: Settings) -> dict[str, int]:
    return {"telegram": settings.telegram_max_reply_chars,
            "zalo": settings.zalo_max_message_chars}


async def run(settings: Settings, args: argparse.Namespace) -> int:
    from bot.app import build_app

    app = await build_app(settings)
    try:
        command = args.broadcast_command
        if command == "create":
            return await _create(app, args)
        if command == "list":
            return await _list(app, args)
        if command == "show":
            return await _show(app, args.id)
        if command == "deliver":
            return await _deliver(app)
        return await _change(app, args.id, command)
    finally:
        await app.close()


async def _create(app, args: argparse.Namespace) -> int:  # type: ignore[no-untyped-def]
    from handlers.types import clean_text
    from scheduler import broadcasts
    from scheduler.broadcasts import BroadcastError, Draft
    from scheduler.summaries import local, number
    from scheduler.targets import CHANNEL_LABELS, parse_codes

    settings = app.settings
    text = args.text or ""
    if args.file:
        try:
            text = await asyncio.to_thread(Path(args.file).read_text, encoding="utf-8-sig")
        except OSError as exc:
            return fail(f"không đọc được tệp {args.file}: {exc.strerror}")
        except UnicodeDecodeError:
            return fail(f"tệp {args.file} không phải văn bản UTF-8: hãy lưu lại với mã hóa "
                        "UTF-8 rồi chạy lại")
        text = clean_text(text)  # no NUL (PostgreSQL refuses it)
    if not (text or args.entry or args.series or args.campaign):
        return fail("cần --text, --file, --entry, --series hoặc --campaign")
    kind = "entry" if args.entry else "series" if args.series else "text"
    draft = Draft(content_kind=kind, text=text, entry_id=args.entry, series=args.series,
                  targets=parse_codes(args.target), level=args.level, audience=args.audience,
                  channel=args.channel, at=args.at, cron=args.cron, campaign_id=args.campaign)
    now = utcnow()
    try:
        async with app.sessions() as session, session.begin():
            prepared = await broadcasts.prepare(session, app.kb, draft, actor=None, now=now,
                                                tz=settings.tz, limits=_limits(settings))
            broadcast = await broadcasts.create(session, prepared, actor=None, now=now)
    except BroadcastError as exc:
        return fail(str(exc))
    if args.json:
        print(json.dumps({
            "id": broadcast.id, "counts": prepared.counts, "schedule": prepared.schedule.kind,
            "cron": broadcast.cron, "first_fire_at": prepared.first_fire.isoformat(),
            "first_fire_local": local(prepared.first_fire, settings.tz),
        }, ensure_ascii=False))
        return 0
    reach = ", ".join(f"{CHANNEL_LABELS[c]}: {number(n)}" for c, n in prepared.counts.items())
    print(f"Đã tạo thông báo #{broadcast.id} — {prepared.schedule.describe(settings.tz)}")
    print(f"Số nơi nhận: {reach}")
    print(f"Lần gửi đầu: {local(prepared.first_fire, settings.tz)} (giờ Việt Nam). Bot đang "
          f"chạy sẽ gửi trong vòng {settings.broadcast_sync_seconds:g} giây kể từ lúc đó; "
          "hoặc chạy `nqbot broadcast deliver`.")
    return 0


async def _list(app, args: argparse.Namespace) -> int:  # type: ignore[no-untyped-def]
    from scheduler import broadcasts, summaries

    async with app.sessions() as session:
        rows = await broadcasts.list_broadcasts(session, None, limit=50)
    if args.json:
        print(json.dumps([{
            "id": b.id, "status": b.status, "schedule": b.schedule_kind, "cron": b.cron,
            "next_fire_at": broadcasts.aware(b.next_fire_at).isoformat()
            if b.next_fire_at else None, "targets": json.loads(b.targets),
        } for b in rows], ensure_ascii=False))
        return 0
    if not rows:
        print("Chưa có thông báo nào.")
    for b in rows:
        print(summaries.line(b, app.settings.tz))
    return 0


async def _show(app, broadcast_id: int) -> int:  # type: ignore[no-untyped-def]
    from bot.db.models import Broadcast
    from scheduler import broadcasts, summaries

    tz = app.settings.tz
    async with app.sessions() as session:
        broadcast = await session.get(Broadcast, broadcast_id)
        if broadcast is None:
            return fail(f"không có thông báo số {broadcast_id}", EXIT_NOT_FOUND)
        print(summaries.details(broadcast, tz))
        for run in await broadcasts.latest_runs(session, broadcast_id, limit=5):
            if run.status == "missed":
                print(f"\nĐợt {summaries.local(run.fire_at, tz)}: đã lỡ (hệ thống ngừng quá lâu)")
                continue
            stats = await broadcasts.run_stats(session, run)
            state = "đang gửi" if run.status == "running" else "xong"
            print(f"\n[{state}] " + summaries.run_summary(broadcast, stats, tz))
            if stats.open:
                print(f"Còn chờ gửi: {summaries.number(stats.open)}")
    return 0


async def _change(app, broadcast_id: int, action: str) -> int:  # type: ignore[no-untyped-def]
    from scheduler import broadcasts, summaries

    try:
        async with app.sessions() as session, session.begin():
            broadcast = await broadcasts.change_status(session, broadcast_id, action,
                                                       actor=None, now=utcnow(),
                                                       tz=app.settings.tz)
            print(summaries.line(broadcast, app.settings.tz))
    except broadcasts.BroadcastError as exc:
        return fail(str(exc))
    return 0


async def _deliver(app) -> int:  # type: ignore[no-untyped-def]
    """Fire what is due and send every message that can go now, then exit (cron jobs, tests,
    recovering after an outage without starting the chat channels)."""
    from scheduler.service import DeliveryService, build_senders, has_demo_chats

    senders = build_senders(app, demo=await has_demo_chats(app))
    if not senders:
        return fail("chưa cấu hình TELEGRAM_BOT_TOKEN hoặc ZALO_BOT_TOKEN (hoặc nạp dữ liệu "
                    "mẫu: nqbot org demo)", EXIT_USAGE)
    service = DeliveryService(app, senders)
    for sender in senders.values():
        await sender.start()
    from scheduler.dispatcher import DispatcherBusy

    try:
        report = await service.tick()
        await asyncio.gather(*(d.drain() for d in service.dispatchers.values()))
    except DispatcherBusy as exc:
        return fail(f"một tiến trình khác (bot đang chạy) đang gửi thông báo trên {exc.channel}; "
                     "nó sẽ tự gửi những gì đến hạn, không cần chạy lệnh này", EXIT_BUSY)
    finally:
        for sender in senders.values():
            await sender.close()
    for channel, dispatcher in service.dispatchers.items():
        s = dispatcher.stats
        print(f"{channel}: đã gửi {s.sent}, lỗi {s.failed}, chưa chắc chắn {s.uncertain}, "
              f"bỏ qua {s.skipped}, gặp 429: {s.rate_limited}")
    print(f"Đợt mới: {len(report.runs)}; lỡ: {len(report.missed)}")
    return 0
