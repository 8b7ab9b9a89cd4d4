"""A process that cannot start says why in one Vietnamese line, through the redacting log handler
(JSON when LOG_FORMAT=json): a revoked token, an unreachable database, a setting that does not
parse. No traceback, no secret, a non-zero exit code. Real `nqbot` processes, real HTTP."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

import pytest

from tests.fakes.telegram_api import FakeTelegram

ROOT = str(Path(__file__).resolve().parent.parent)
DB_PASSWORD = "Pw0rd-9xq"
UNREACHABLE_DB = f"postgresql+asyncpg://nqbot:{DB_PASSWORD}@127.0.0.1:1/nqbot"


async def nqbot(*args: str, cwd: Path, **env: str) -> tuple[int, str, str]:
    environment = {k: v for k, v in os.environ.items() if k not in ("LOG_FORMAT", "LOG_LEVEL")}
    environment.update({"PYTHONPATH": ROOT, "PYTHONIOENCODING": "utf-8",
                        "TELEGRAM_BOT_TOKEN": "", "ZALO_BOT_TOKEN": "", "WEB_PORT": "0",
                        "DATABASE_URL": f"sqlite+aiosqlite:///{cwd / 'bot.sqlite3'}", **env})
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", *args, cwd=cwd, env=environment,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    try:
        out, err = await asyncio.wait_for(process.communicate(), 90)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise AssertionError(f"nqbot {' '.join(args)} did not stop by itself") from None
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


def error_lines(stderr: str, fmt: str) -> list[str]:
    """The ERROR/CRITICAL lines' messages; every line must be in the configured format."""
    messages = []
    for line in stderr.splitlines():
        if not line.strip():
            continue
        if fmt == "json":
            record = json.loads(line)  # fails the test on any line that is not JSON
            assert "exc_info" not in record, record
            if record["level"] in ("ERROR", "CRITICAL"):
                messages.append(record["message"])
        else:
            assert not line.startswith((" ", "Traceback")), stderr
            if " ERROR " in line or " CRITICAL " in line:
                messages.append(line)
    return messages


@pytest.mark.parametrize("fmt", ["text", "json"])
async def test_revoked_telegram_token_at_start_is_one_line_without_the_token(tmp_path, fmt):
    fake = await FakeTelegram().start()
    fake.revoke()  # the operator ran /revoke in BotFather; the old token is still configured
    try:
        code, out, err = await nqbot("run", cwd=tmp_path, TELEGRAM_BOT_TOKEN=fake.token,
                                     TELEGRAM_API_BASE_URL=fake.base_url, LOG_FORMAT=fmt)
    finally:
        await fake.stop()
    assert code != 0
    secret_part = fake.token.split(":", 1)[1]
    assert secret_part not in out + err
    assert "Traceback" not in out + err and "InvalidToken" not in out + err
    [line] = error_lines(err, fmt)
    assert "TELEGRAM_BOT_TOKEN" in line and "BotFather" in line and "thu hồi" in line
    assert fake.refused  # it really asked Telegram, and was refused


@pytest.mark.parametrize("fmt", ["text", "json"])
async def test_unreachable_database_is_one_clear_line(tmp_path, fmt):
    code, out, err = await nqbot("run", cwd=tmp_path, TELEGRAM_BOT_TOKEN="123456:abcdefghij",
                                 DATABASE_URL=UNREACHABLE_DB, LOG_FORMAT=fmt)
    assert code != 0
    assert "Traceback" not in out + err and DB_PASSWORD not in out + err
    [line] = error_lines(err, fmt)
    assert "không kết nối được cơ sở dữ liệu" in line and "DATABASE_URL" in line
    assert "127.0.0.1:1" in line  # says which server it tried


async def test_database_command_on_unreachable_database(tmp_path):
    code, out, err = await nqbot("db", "current", cwd=tmp_path, DATABASE_URL=UNREACHABLE_DB)
    assert code != 0 and "Traceback" not in err and DB_PASSWORD not in out + err
    [line] = error_lines(err, "text")
    assert "không kết nối được cơ sở dữ liệu" in line


async def test_settings_errors_name_each_setting_never_its_value(tmp_path):
    secret = "Sup3rSecret!Value#2026"
    code, out, err = await nqbot("db", "current", cwd=tmp_path, TELEGRAM_WEBHOOK_SECRET=secret,
                                 WEB_PORT="80a", ADMIN_TELEGRAM_IDS="12,ab")
    assert code == 2
    assert secret not in out + err and "80a" not in err and "ab" not in err.replace("ADMIN", "")
    assert "Traceback" not in err and "input_value" not in err and "pydantic" not in err
    lines = error_lines(err, "text")
    assert len(lines) == 3
    assert any("TELEGRAM_WEBHOOK_SECRET" in x and "A-Z a-z 0-9 _ -" in x for x in lines)
    assert any("WEB_PORT phải là số nguyên" in x for x in lines)
    assert any("ADMIN_TELEGRAM_IDS" in x for x in lines)


async def test_settings_error_in_json_format(tmp_path):
    code, _out, err = await nqbot("db", "current", cwd=tmp_path, LOG_FORMAT="json",
                                  TELEGRAM_WEBHOOK_SECRET="bad secret!")
    assert code == 2 and "bad secret!" not in err
    [message] = error_lines(err, "json")
    assert message.startswith("LỖI cấu hình: TELEGRAM_WEBHOOK_SECRET")


async def test_rejected_zalo_token_at_start_is_one_line_without_the_token(tmp_path):
    from tests.fakes.zalo_api import FakeZalo

    fake = await FakeZalo().start()
    wrong = "1234567890:zalo-old-token-revoked"  # not the token the platform knows
    try:
        code, out, err = await nqbot("run", cwd=tmp_path, ZALO_BOT_TOKEN=wrong,
                                     ZALO_API_BASE_URL=fake.base_url, LOG_FORMAT="json")
    finally:
        await fake.stop()
    assert code != 0
    assert "zalo-old-token-revoked" not in out + err and "Traceback" not in err
    [message] = error_lines(err, "json")
    assert "ZALO_BOT_TOKEN" in message and "từ chối" in message


async def test_web_port_in_use_is_one_line(tmp_path):
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code, _out, err = await nqbot("run", cwd=tmp_path, TELEGRAM_BOT_TOKEN="123456:abcdefghij",
                                      TELEGRAM_API_BASE_URL="http://127.0.0.1:9/bot",
                                      WEB_PORT=str(port))
    assert code != 0 and "Traceback" not in err
    [line] = error_lines(err, "text")
    assert f"không mở được cổng 127.0.0.1:{port}" in line and "WEB_PORT" in line


def test_known_causes_are_named():
    """The classification behind the lines, for causes the tests above do not start."""
    from sqlalchemy.exc import ArgumentError
    from telegram.error import BadRequest, TimedOut

    from bot.channels.zalo_client import ZaloError
    from bot.fatal import describe

    def line(exc: BaseException) -> str:
        try:  # raised, so that it has a traceback like the real thing
            raise exc
        except BaseException as raised:
            known = describe(raised, database_url="postgresql+asyncpg://u:pw@db/x")
        assert known is not None, exc
        [text], code = known
        assert code == 1
        return text

    assert "TELEGRAM_WEBHOOK_URL" in line(BadRequest("Bad Request: bad webhook: HTTPS url must "
                                                     "be provided for webhook"))
    assert "không kết nối được tới Telegram" in line(TimedOut("Timed out"))
    assert "ZALO_BOT_TOKEN" in line(ZaloError(401, "Unauthorized"))
    assert "DATABASE_URL không hợp lệ" in line(ArgumentError("Could not parse URL"))
    group = ExceptionGroup("start-up", [ZaloError(403, "Forbidden")])
    assert "ZALO_BOT_TOKEN" in line(group)
