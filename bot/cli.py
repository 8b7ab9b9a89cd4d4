"""`nqbot` command line: run, chat, ask, db, content."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from bot.cli_common import (
    EXIT_BUSY,
    EXIT_INTERRUPTED,
    EXIT_NOT_FOUND,
    EXIT_USER,
)
from bot.cli_common import with_session as _with_session
from bot.cli_org import DEMO_ORG_CSV as DEMO_ORG_CSV  # benchmarks import it from here
from bot.config import Settings, get_settings

log = logging.getLogger("nqbot")


def _setup_logging(settings: Settings) -> None:
    from bot.logging_setup import settings_secrets, setup_logging

    setup_logging(settings.log_level, settings_secrets(settings), settings.log_format)


def _reconfigure_stdio() -> None:
    """UTF-8 everywhere; what cannot be decoded or encoded becomes "\ufffd"/"?" instead of an
    exception (the chat reads standard input as bytes itself: `bot.channels.console`)."""
    for stream in (sys.stdin, sys.stdout, sys.stderr):
        if hasattr(stream, "reconfigure"):
            try:
                stream.reconfigure(encoding="utf-8", errors="replace")
            except (OSError, ValueError):  # a closed or unusual stream: leave it as it is
                pass


# -- commands ----------------------------------------------------------------------------------
async def _cmd_chat(settings: Settings, persona: str | None = None) -> int:
    from bot.app import build_app
    from bot.channels.console import ConsoleChat
    from bot.services.demo import PERSONAS

    app = await build_app(settings)
    stop = asyncio.Event()
    delivery = await _demo_delivery(app, stop)
    try:
        who = PERSONAS.get(persona or "")
        chat = ConsoleChat(app.router, max_chars=settings.console_max_reply_chars,
                           user_id=who.user_id if who else None,
                           user_name=who.name if who else None)
        await chat.run()
    finally:
        stop.set()
        if delivery is not None:
            service, task = delivery
            await asyncio.wait_for(task, 10)
            try:  # what was created just before leaving is still written to the outbox
                await asyncio.wait_for(_deliver_now(service), 15)
            except Exception:
                log.warning("demo deliveries left pending: nqbot broadcast deliver sends them")
        await app.close()
    return 0


async def _deliver_now(service) -> None:  # type: ignore[no-untyped-def]
    await service.tick()
    await asyncio.gather(*(d.drain() for d in service.dispatchers.values()))


async def _demo_delivery(app, stop: asyncio.Event):  # type: ignore[no-untyped-def]
    """While chatting on the terminal, deliver to the demo's groups (the outbox file), unless a
    running bot already does."""
    from scheduler.dispatcher import DispatcherBusy
    from scheduler.service import DeliveryService, build_senders, has_demo_chats

    if not await has_demo_chats(app):
        return None
    service = DeliveryService(app, build_senders(app, demo=True))
    try:
        await service.refuse_second_process()
    except DispatcherBusy:
        return None
    app.router.on_broadcast_created = service.poke
    logging.getLogger("scheduler").setLevel(logging.WARNING)  # no log lines in the chat
    return service, asyncio.create_task(service.run(stop))


async def _cmd_run(settings: Settings) -> int:
    if not settings.telegram_bot_token and not settings.zalo_bot_token:
        print("Chưa cấu hình token Telegram/Zalo: mở chế độ trò chuyện trên terminal.")
        return await _cmd_chat(settings)
    import signal

    from bot.app import build_app
    from bot.health import RuntimeState, endpoints
    from bot.web import WebServer

    app = await build_app(settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    web = WebServer(settings.web_host, settings.web_port)
    state = RuntimeState()  # /healthz and /metrics read the channels' and dispatchers' flags
    try:
        channels = []
        if settings.telegram_bot_token:
            from bot.channels.telegram import TelegramChannel

            channels.append(state.channels.setdefault("telegram", TelegramChannel(app)))
        if settings.zalo_bot_token:
            from bot.channels.zalo import ZaloChannel

            channels.append(state.channels.setdefault("zalo", ZaloChannel(app)))
        for channel in channels:
            if channel.webhook:
                channel.mount(web)
        web.add_files(app.files.handler())
        from scheduler.service import DeliveryService, build_senders, has_demo_chats

        delivery = DeliveryService(app, build_senders(app, demo=await has_demo_chats(app)))
        from scheduler.dispatcher import DispatcherBusy
        from scheduler.lease import describe_holder

        try:  # SQLite: one bot process; a second one is refused instead of standing by
            await delivery.refuse_second_process()
        except DispatcherBusy as exc:
            # through the log: redacted, and JSON when LOG_FORMAT=json, like every start-up error
            log.error("LỖI: một tiến trình bot khác (%s) đang chạy với cùng cơ sở dữ liệu SQLite "
                      "và đang gửi thông báo trên %s. SQLite chỉ cho phép một tiến trình bot: hãy "
                      "dừng tiến trình kia trước, hoặc dùng PostgreSQL (DATABASE_URL="
                      "postgresql+asyncpg://…) để chạy nhiều tiến trình.",
                      describe_holder(exc.holder), exc.channel)
            return EXIT_BUSY
        delivery.attach(app.router)  # wake-ups after a new broadcast, messages to other users
        state.dispatchers.update(delivery.dispatchers)
        health, metrics = endpoints(app.engine, app.sessions, state)
        web.set_health(health)
        web.add_metrics(metrics)
        await web.start()
        try:  # the first failure (a rejected token…) stops the others and ends the process
            async with asyncio.TaskGroup() as group:
                group.create_task(delivery.run(stop))
                for channel in channels:
                    group.create_task(channel.run(stop))
        except BaseExceptionGroup as group_error:
            raise _first_cause(group_error) from None
    except ValueError as exc:
        log.error("%s", exc)
        return 2
    finally:
        await web.stop()
        await app.close()
    return 0


def _first_cause(group: BaseExceptionGroup) -> BaseException:
    """The failure that stopped a task group (not the cancellations it caused)."""
    errors = [e for e in group.exceptions if not isinstance(e, asyncio.CancelledError)]
    first = errors[0] if errors else group.exceptions[0]
    return _first_cause(first) if isinstance(first, BaseExceptionGroup) else first


async def _cmd_db_upgrade(settings: Settings) -> int:
    from bot.db.engine import create_engine
    from bot.db.migrate import upgrade

    engine = create_engine(settings)
    try:
        before, after = await upgrade(engine)
    finally:
        await engine.dispose()
    print(f"Cơ sở dữ liệu: {before or 'trống'} → {after}")
    return 0


async def _cmd_db_current(settings: Settings) -> int:
    from bot.db.engine import create_engine
    from bot.db.migrate import current_revision, head_revision

    engine = create_engine(settings)
    try:
        current = await current_revision(engine)
    finally:
        await engine.dispose()
    print(f"Phiên bản cơ sở dữ liệu: {current or 'trống'} (mới nhất: {head_revision()})")
    return 0


async def _cmd_admin_add(settings: Settings, args: argparse.Namespace) -> int:
    from bot.cli_common import fail
    from bot.services.people import upsert_user, valid_external_id
    from bot.services.roles import Role, grant

    if not valid_external_id(args.channel, str(args.user_id)):
        return fail(f"«{str(args.user_id)[:40]}» không phải mã người dùng {args.channel} hợp lệ"
                    + (" (Telegram: một số nguyên dương)"
                       if args.channel == "telegram" else ""))

    async def work(session):  # type: ignore[no-untyped-def]
        user = await upsert_user(session, args.channel, str(args.user_id), None)
        return await grant(session, user, Role.ADMIN, None, source="cli")

    added = await _with_session(settings, work)
    state = "đã được cấp" if added else "đã có sẵn"
    print(f"Quyền quản trị cho {args.channel}:{args.user_id} {state}.")
    return 0


async def _cmd_invite_create(settings: Settings, args: argparse.Namespace) -> int:
    from bot.services import orgs
    from bot.services.roles import ROLE_LABELS, Role, create_invite, deep_link, parse_duration

    try:
        expires_in = parse_duration(args.expires)
        role = Role(args.role)
    except ValueError as exc:
        print(f"LỖI: {exc}", file=sys.stderr)
        return EXIT_USER

    async def work(session):  # type: ignore[no-untyped-def]
        unit = await orgs.get_unit(session, args.org)
        if unit is None:
            return None, None
        invite = await create_invite(session, role, unit, uses=args.uses, expires_in=expires_in)
        return invite, unit

    try:
        invite, unit = await _with_session(settings, work)
    except ValueError as exc:
        print(f"LỖI: {exc}", file=sys.stderr)
        return EXIT_USER
    if invite is None:
        print(f"LỖI: không có đơn vị mã {args.org}", file=sys.stderr)
        return EXIT_NOT_FOUND
    link = deep_link(settings.telegram_bot_username, invite.code)
    expires_local = invite.expires_at.astimezone(settings.tz).strftime("%d/%m/%Y %H:%M")
    if args.json:
        print(json.dumps({"code": invite.code, "role": role.value, "org": unit.code,
                          "uses": invite.max_uses, "expires_at": invite.expires_at.isoformat(),
                          "telegram_link": link}, ensure_ascii=False))
        return 0
    print(f"Mã mời: {invite.code}")
    print(f"Vai trò: {ROLE_LABELS[role]} — {unit.name} ({unit.code})")
    print(f"Dùng được {invite.max_uses} lần, hết hạn {expires_local}")
    print(f"Đường dẫn Telegram: {link}" if link else
          "Đặt TELEGRAM_BOT_USERNAME để in đường dẫn Telegram; trên Zalo gửi mã cho bot.")
    return 0


def _cmd_ask(settings: Settings, args: argparse.Namespace) -> int:
    from bot.app import build_qa
    from handlers.qa import render_result

    if args.file:
        lines = _question_file(args.file)
        if isinstance(lines, int):
            return lines
    elif args.question is not None:
        lines = [args.question]
    else:
        print("Hãy nhập câu hỏi, ví dụ: nqbot ask \"nq57 mục tiêu 2030 là gì\"", file=sys.stderr)
        return 2
    service = build_qa(settings)
    for line in lines:  # one answer per line: a blank line gets status "empty"
        if not line.strip():
            if args.json:
                print(json.dumps(EMPTY_RESULT, ensure_ascii=False))
            else:
                print("(dòng trống)")
        else:
            result = service.evaluate(line)
            if args.json:
                print(json.dumps(_json_result(service, result), ensure_ascii=False))
            else:
                print(_plain(render_result(service, result), settings.console_max_reply_chars))
        if args.file and not args.json:
            print("-" * 40)
    return 0


def _question_file(path: str) -> list[str] | int:
    """The lines of a UTF-8 text file (a BOM is fine), or the exit code after saying why it
    cannot be read: which file, and for another encoding, the line of the first byte that is
    not UTF-8."""
    from bot.cli_common import fail

    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        return fail(f"không có tệp {path}.", EXIT_NOT_FOUND)
    except IsADirectoryError:
        return fail(f"{path} là thư mục, không phải tệp.")
    except PermissionError:
        return fail(f"không có quyền đọc tệp {path}.")
    except OSError as exc:
        return fail(f"không đọc được tệp {path} ({exc.strerror or exc}).")
    try:
        return data.decode("utf-8-sig").splitlines()
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        return fail(f"tệp {path} không phải văn bản UTF-8 (lỗi mã hóa ở dòng {line}). Hãy lưu "
                    "lại tệp với mã hóa UTF-8 (trong Notepad/Excel: «Lưu thành» → UTF-8) rồi "
                    "chạy lại.")


EMPTY_RESULT = {"status": "empty", "answer": None, "entry_id": None, "source": None,
                "score": 0.0, "suggestions": [], "reason": "empty"}


def _plain(reply, max_chars: int) -> str:  # type: ignore[no-untyped-def]
    """A reply for `nqbot ask`: the suggestions listed, without the "(Gõ số …)" hint nor the
    menu button, which a one-shot command cannot act on."""
    from handlers.render import split_text
    from handlers.texts import MENU_BUTTON

    text = "\n\n".join(split_text(reply.text, max_chars))
    labels = [b.label for b in reply.flat_buttons() if b.label != MENU_BUTTON]
    options = "\n".join(f"{i}. {label}" for i, label in enumerate(labels, start=1))
    return f"{text}\n\n{options}" if options else text


def _json_result(service, result) -> dict:  # type: ignore[no-untyped-def]
    from bot.services.qa import Outcome

    match = result.match
    if match is not None:
        payload = match.to_json()
    else:
        payload = {"status": "unknown", "answer": None, "entry_id": None, "source": None,
                   "score": 0.0, "suggestions": []}
    payload["reason"] = result.outcome.value
    if result.outcome is Outcome.SMALL_TALK:
        payload["status"] = "small_talk"
    elif result.outcome is not Outcome.SUGGESTED and payload["status"] != "answered":
        payload["status"] = "unknown"
    return payload


def _cmd_content_check(args: argparse.Namespace) -> int:
    from content.lint import run_checks

    report = run_checks(retrieval=not args.quick)
    for message in report.errors:
        print(f"LỖI: {message}")
    for message in report.warnings:
        print(f"Lưu ý: {message}")
    status = "ĐẠT" if report.ok else "CHƯA ĐẠT"
    print(f"{status}: {report.entries} mục, phiên bản {report.kb_version}, "
          f"{len(report.errors)} lỗi")
    return 0 if report.ok else 1


def _cmd_content_calibrate(output: str | None = None) -> int:
    """Calibrate and write the model. The fit depends on the order Python iterates sets and
    dicts of strings, which depends on the hash seed: the command runs itself again with a
    fixed seed, so unchanged content gives a byte-identical model file."""
    import os

    if os.environ.get("PYTHONHASHSEED") != "0":
        argv = [sys.executable, "-m", "bot", "content", "calibrate"]
        argv += ["--output", output] if output else []
        sys.stdout.flush()
        os.execve(sys.executable, argv, {**os.environ, "PYTHONHASHSEED": "0"})
    from content.calibrate import calibrate, write_model
    from content.kb import load_kb

    kb = load_kb()
    model = calibrate(kb)
    if output:
        write_model(model, Path(output))
    else:
        write_model(model)
    stats = model["stats"]
    print(
        f"Đã hiệu chỉnh cho {kb.version}: ngưỡng trả lời {model['tau_answer']}, "
        f"ngưỡng gợi ý {model['tau_suggest']}; {stats['samples']} mẫu, "
        f"cách hỏi bỏ-một: trả lời {stats['loo_answered']}/{stats['loo_samples']} "
        f"(đúng {stats['loo_answered_correct']}), câu phát triển: trả lời "
        f"{stats['dev_answered']}/{stats['dev_samples']} (đúng {stats['dev_answered_correct']}), "
        f"ngoài phạm vi bị trả lời {stats['oos_answered']}/{stats['oos_samples']}"
    )
    return 0


# -- parser ------------------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    from bot.cli_parser import VietnameseParser

    parser = VietnameseParser(prog="nqbot", description="Trợ lý Nghị quyết")
    sub = parser.add_subparsers(dest="command", required=True, title="lệnh",
                                metavar="LỆNH")
    sub.add_parser("run", help="chạy bot (terminal khi chưa có token)")
    chat = sub.add_parser("chat", help="trò chuyện với bot trên terminal")
    chat.add_argument("--as", dest="persona", choices=["baocaovien", "bithuxa", "bithu",
                                                       "dangvien"],
                      help="đóng vai người dùng mẫu (sau `nqbot org demo`)")
    ask = sub.add_parser("ask", help="hỏi một câu và in câu trả lời")
    ask.add_argument("question", nargs="?")
    ask.add_argument("--json", action="store_true", help="in kết quả dạng JSON")
    ask.add_argument("--file", help="mỗi dòng của tệp là một câu hỏi")
    db = sub.add_parser("db", help="cơ sở dữ liệu")
    db_sub = db.add_subparsers(dest="db_command", required=True)
    db_sub.add_parser("upgrade", help="áp dụng các bản nâng cấp (migration)")
    db_sub.add_parser("current", help="in phiên bản hiện tại")
    from bot import cli_db

    cli_db.add_parser(db_sub)
    content = sub.add_parser("content", help="nội dung hỏi đáp")
    content_sub = content.add_subparsers(dest="content_command", required=True)
    check = content_sub.add_parser("check", help="kiểm tra nội dung")
    check.add_argument("--quick", action="store_true", help="bỏ qua kiểm tra tìm kiếm")
    calibrate = content_sub.add_parser("calibrate", help="hiệu chỉnh ngưỡng trả lời")
    calibrate.add_argument("-o", "--output", help="ghi mô hình vào tệp này (mặc định: "
                                                  "content/calibration/model.yaml)")
    from bot import cli_org

    cli_org.add_parser(sub)
    admin = sub.add_parser("admin", help="quản trị viên")
    admin_sub = admin.add_subparsers(dest="admin_command", required=True)
    admin_add = admin_sub.add_parser("add", help="cấp quyền quản trị")
    admin_add.add_argument("--channel", choices=["telegram", "zalo"], required=True)
    admin_add.add_argument("--user-id", required=True)
    invite = sub.add_parser("invite", help="mã mời")
    invite_sub = invite.add_subparsers(dest="invite_command", required=True)
    invite_create = invite_sub.add_parser("create", help="tạo mã mời")
    invite_create.add_argument("--role", required=True,
                               choices=["admin", "reporter", "secretary", "member"])
    invite_create.add_argument("--org", required=True, help="mã đơn vị")
    invite_create.add_argument("--uses", type=int, default=1)
    invite_create.add_argument("--expires", default="7d", help="vd. 7d, 12h, 30m")
    invite_create.add_argument("--json", action="store_true")
    from bot import cli_access, cli_broadcast, cli_questions, cli_report

    cli_access.add_parsers(sub, invite_sub)

    cli_broadcast.add_parser(sub)
    cli_report.add_parser(sub)
    cli_questions.add_parser(sub, content_sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Every way out of the process goes through the redacting log handler: it is installed
    first (from the raw environment), and any exception that would end the process is told in
    one Vietnamese line (`bot.fatal`) instead of a traceback."""
    _reconfigure_stdio()
    from bot.fatal import report
    from bot.logging_setup import bootstrap_logging

    bootstrap_logging()
    settings: Settings | None = None
    try:
        args = build_parser().parse_args(argv)
        settings = get_settings()
        _setup_logging(settings)
        return _dispatch(settings, args)
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except SystemExit:  # argparse: usage or --help, already printed
        raise
    except BaseException as exc:  # the last word of the process
        if settings is None:
            return report(exc)
        return report(exc, database_url=settings.database_url, web_host=settings.web_host,
                      web_port=settings.web_port)


def _dispatch(settings: Settings, args: argparse.Namespace) -> int:
    if args.command == "run":
        return asyncio.run(_cmd_run(settings))
    if args.command == "chat":
        return asyncio.run(_cmd_chat(settings, args.persona))
    if args.command == "ask":
        return _cmd_ask(settings, args)
    if args.command == "db":
        if args.db_command == "copy":
            from bot import cli_db

            return asyncio.run(cli_db.run(settings, args))
        if args.db_command == "upgrade":
            return asyncio.run(_cmd_db_upgrade(settings))
        return asyncio.run(_cmd_db_current(settings))
    if args.command == "admin":
        return asyncio.run(_cmd_admin_add(settings, args))
    if args.command == "invite" and args.invite_command == "create":
        return asyncio.run(_cmd_invite_create(settings, args))
    if args.command in ("role", "invite", "link"):
        from bot import cli_access

        return asyncio.run(cli_access.run(settings, args))
    if args.command == "org":
        from bot import cli_org

        return asyncio.run(cli_org.run(settings, args))
    if args.command == "broadcast":
        from bot import cli_broadcast

        return asyncio.run(cli_broadcast.run(settings, args))
    if args.command in ("campaign", "report"):
        from bot import cli_report

        return asyncio.run(cli_report.run(settings, args))
    if args.command == "questions" or getattr(args, "content_command", "") == "export-learned":
        from bot import cli_questions

        return asyncio.run(cli_questions.run(settings, args))
    if args.command == "content":
        if args.content_command == "check":
            return _cmd_content_check(args)
        return _cmd_content_calibrate(args.output)
    return 2
