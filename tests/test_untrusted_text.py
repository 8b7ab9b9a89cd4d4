"""Text from outside that the database cannot take (issue 12, item 12): a NUL in a display name,
a group title or a question, and an absurd member count in the org CSV."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bot.db.models import Chat, QuestionLog, User
from bot.services import orgs
from bot.services.people import set_chat_active
from handlers import texts
from handlers.types import ChatKind, Incoming

HEADER = "code,name,level,parent_code,members\n"


def _msg(text: str, name: str = "Bác\x00 Ba") -> Incoming:
    return Incoming("telegram", "4242", "4242", user_name=name, text=text)


async def test_nul_in_a_display_name_does_not_lock_the_person_out(app):
    """On PostgreSQL a NUL in a string is refused ("invalid byte sequence 0x00"): every message
    of that person failed. Now it is dropped on the way in, on SQLite and PostgreSQL alike."""
    for question in ("nq57 ban hanh ngay nao\x00", "/start", "kl69 ban hanh ngay nao"):
        replies = await app.router.handle(_msg(question))
        assert replies and all(r.text != texts.ERROR for r in replies), question
    async with app.sessions() as s:
        user = await s.scalar(select(User).where(User.external_id == "4242"))
        assert user is not None and user.display_name == "Bác Ba"
        logged = (await s.scalars(select(QuestionLog.text))).all()
    assert logged and all("\x00" not in text for text in logged)
    assert "nq57 ban hanh ngay nao" in logged


async def test_nul_in_a_group_title_and_a_group_message(app):
    incoming = Incoming("telegram", "-100777", "4243", chat_kind=ChatKind.GROUP,
                        user_name="Chị\x00Tư", chat_title="Chi bộ\x00 thôn 1",
                        text="/help\x00", addressed=True)
    replies = await app.router.handle(incoming)
    assert replies and all(r.text != texts.ERROR for r in replies)
    async with app.sessions() as s, s.begin():  # the platform's own event: bot added, renamed
        await set_chat_active(s, "telegram", "-100778", True, title="Nhóm\x00 mới")
    async with app.sessions() as s:
        titles = set((await s.scalars(select(Chat.title))).all())
    assert {"Chi bộ thôn 1", "Nhóm mới"} <= titles


def test_an_absurd_member_count_is_a_line_error_not_an_overflow():
    text = (HEADER + "T,Tỉnh,tinh,,0\n"
            "X,Xã,xa,T,99999999999999999999999\n"
            "C,Chi bộ,chi_bo,X,1000001\n"
            "D,Chi bộ D,chi_bo,X,1000000\n")
    with pytest.raises(orgs.OrgImportError) as caught:
        orgs.parse_csv(text)
    assert len(caught.value.problems) == 2
    first, second = caught.value.problems
    assert first.startswith("Dòng 3: số đảng viên") and "1.000.000" in first
    assert second.startswith("Dòng 4: số đảng viên")


async def test_org_import_command_reports_the_line(tmp_path):
    from tests.test_cli import nqbot

    bad = tmp_path / "cay.csv"
    bad.write_text(HEADER + "T,Tỉnh,tinh,,0\nX,Xã,xa,T,99999999999999999999999\n",
                   encoding="utf-8")
    proc = nqbot("org", "import", str(bad), tmp_path=tmp_path)
    assert proc.returncode == 1, proc.stderr
    assert "Dòng 3: số đảng viên" in proc.stderr
    assert "OverflowError" not in proc.stderr and "Traceback" not in proc.stderr


async def test_nul_in_the_org_csv_is_dropped():
    [row] = orgs.parse_csv(HEADER + "T,Tỉnh\x00 Bình,tinh,,0\n")
    assert row.name == "Tỉnh Bình"


async def test_broadcast_text_file_nul_dropped_and_other_encoding_refused(tmp_path):
    import json
    import sqlite3

    from tests.test_cli import nqbot

    assert nqbot("org", "demo", tmp_path=tmp_path).returncode == 0
    latin = tmp_path / "tin-cp1258.txt"
    latin.write_bytes("Ban hành ngày mai".encode("cp1258"))
    refused = nqbot("broadcast", "create", "--file", str(latin), "--target", "X01",
                    "--cron", "0 7 * * 1", tmp_path=tmp_path)
    assert refused.returncode == 1 and "Traceback" not in refused.stderr
    assert "không phải văn bản UTF-8" in refused.stderr
    with sqlite3.connect(tmp_path / "cli.sqlite3") as db:  # a group linked in chat earlier
        db.execute("INSERT INTO chats (channel, external_id, kind, title, active, org_unit_id, "
                   "created_at, updated_at) SELECT 'telegram', '-1001', 'group', 'Nhóm', 1, id, "
                   "'2026-12-01 00:00:00', '2026-12-01 00:00:00' FROM org_units "
                   "WHERE code = 'X01-CB01'")
    with_nul = tmp_path / "tin.txt"
    with_nul.write_text("Họp chi bộ\x00 sáng thứ hai", encoding="utf-8")
    created = nqbot("broadcast", "create", "--file", str(with_nul), "--target", "X01",
                    "--cron", "0 7 * * 1", "--json", tmp_path=tmp_path)
    assert created.returncode == 0, created.stderr
    broadcast_id = json.loads(created.stdout)["id"]
    with sqlite3.connect(tmp_path / "cli.sqlite3") as db:
        [(text,)] = db.execute("SELECT text FROM broadcasts WHERE id = ?", (broadcast_id,))
    assert text == "Họp chi bộ sáng thứ hai"


async def test_telegram_name_with_a_lone_surrogate_and_a_nul_over_polling(database_url):
    """Telegram's JSON may carry "\\ud800" (a broken emoji) or "\\u0000": the update is stored
    in the inbox, answered, and the updates after it are not held up."""
    import asyncio

    from bot.app import build_app
    from bot.channels.telegram import TelegramChannel
    from tests.conftest import make_settings
    from tests.fakes.telegram_api import FakeTelegram

    fake = await FakeTelegram().start()
    app = await build_app(make_settings(database_url, telegram_bot_token=fake.token,
                                        telegram_api_base_url=fake.base_url,
                                        telegram_poll_timeout=1))
    channel = TelegramChannel(app)
    stop = asyncio.Event()
    task = asyncio.create_task(channel.run(stop))
    try:
        await fake.wait_for(lambda: fake.sent(method="getUpdates"))
        fake.send_text(7001, 7001, "nq57 ban hanh ngay nao\x00", name="Bác \ud83d\x00Ba")
        fake.send_text(7002, 7002, "kl69 ban hanh ngay nao", name="Chị Tư")
        await fake.wait_for(lambda: fake.sent(7001) and fake.sent(7002), timeout=20)
        assert all(texts.ERROR not in c.params["text"] for c in fake.sent(7001))
        async with app.sessions() as s:
            user = await s.scalar(select(User).where(User.external_id == "7001"))
        assert user is not None and user.display_name == "Bác \ufffdBa"
    finally:
        stop.set()
        await asyncio.wait_for(task, 15)
        await app.close()
        await fake.stop()
