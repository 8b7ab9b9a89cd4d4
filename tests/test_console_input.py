"""The terminal as people really use it (issue 12, item 13): a paste cut in the middle of a
character, a question file saved in another encoding, Ctrl-C. Real `nqbot` processes."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from bot.channels.console import PROMPT
from handlers.types import Incoming

ROOT = str(Path(__file__).resolve().parent.parent)


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONIOENCODING", "LANG", "LC_ALL", "LC_CTYPE", "LOG_FORMAT")}
    env.update({"PYTHONPATH": ROOT, "TELEGRAM_BOT_TOKEN": "", "ZALO_BOT_TOKEN": "",
                "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'chat.sqlite3'}", **extra})
    return env


def test_undecodable_bytes_do_not_end_the_chat(tmp_path):
    # "hành" cut after its first byte, a Latin-1 "à", then a normal question: the chat goes on.
    # LC_ALL=C: Python lets undecodable bytes through as surrogates (what killed the chat).
    typed = (b"nq57 ban h" + "ành".encode()[:1] + b"\n"
             + b"kl69 ban h\xe0nh ng\xe0y n\xe0o\n"
             + "nghị quyết 57 ban hành ngày nào\n/thoat\n".encode())
    proc = subprocess.run([sys.executable, "-m", "bot", "chat"], input=typed,
                          capture_output=True, cwd=tmp_path, env=_env(tmp_path, LC_ALL="C"),
                          timeout=120)
    out, err = proc.stdout.decode("utf-8"), proc.stderr.decode("utf-8", "replace")
    assert proc.returncode == 0, err
    assert "Traceback" not in err and "UnicodeEncodeError" not in err
    assert out.count("Trợ lý:") >= 4  # the greeting and one answer per line typed
    assert "22/12/2024" in out  # the last, well-formed question was answered
    assert "Tạm biệt!" in out


def test_lone_surrogates_become_replacement_characters():
    incoming = Incoming("console", "c", "u", user_name="Bác\udcc3", text="nq57 ban h\udcc3")
    assert incoming.text == "nq57 ban h\ufffd" and incoming.user_name == "Bác\ufffd"
    incoming.text.encode("utf-8")  # storable, printable


def test_question_file_in_another_encoding_is_a_clear_error(tmp_path):
    questions = tmp_path / "cau_hoi.txt"
    questions.write_bytes("nq57 ban hành ngày nào\nkl69 ban hành ngày nào\n".encode("cp1258"))
    proc = subprocess.run([sys.executable, "-m", "bot", "ask", "--json", "--file",
                           str(questions)], capture_output=True, cwd=tmp_path,
                          env=_env(tmp_path, PYTHONIOENCODING="utf-8"), timeout=120)
    err = proc.stderr.decode("utf-8")
    assert proc.returncode == 1  # input refused (README: exit codes)
    assert proc.stdout == b"" and "Traceback" not in err
    [line] = err.strip().splitlines()
    assert "không phải văn bản UTF-8" in line and "dòng 1" in line and "cau_hoi.txt" in line


def test_question_file_with_a_bom_is_read(tmp_path):
    questions = tmp_path / "cau_hoi.txt"
    questions.write_bytes("nq57 ban hành ngày nào\n".encode("utf-8-sig"))
    proc = subprocess.run([sys.executable, "-m", "bot", "ask", "--json", "--file",
                           str(questions)], capture_output=True, cwd=tmp_path,
                          env=_env(tmp_path, PYTHONIOENCODING="utf-8"), timeout=120)
    assert proc.returncode == 0 and b'"status": "answered"' in proc.stdout


async def test_ctrl_c_ends_the_chat_at_once(tmp_path):
    """Ctrl-C while the chat waits for a line: it exits without waiting for an Enter."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "chat", cwd=tmp_path,
        env=_env(tmp_path, PYTHONIOENCODING="utf-8"), stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    assert process.stdout is not None and process.stdin is not None
    seen = b""
    try:
        async with asyncio.timeout(90):
            while PROMPT.encode() not in seen:  # waiting for the user
                chunk = await process.stdout.read(4096)
                assert chunk, "the chat ended before asking"
                seen += chunk
        process.send_signal(signal.SIGINT)
        started = time.monotonic()
        try:
            async with asyncio.timeout(10):  # stdin stays open: no Enter will ever come
                rest, err = await process.communicate()
        except TimeoutError:
            raise AssertionError("Ctrl-C did not end the chat: it waits for an Enter") from None
        assert time.monotonic() - started < 10
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert process.returncode == 130
    assert "Traceback" not in err.decode("utf-8", "replace")
    assert "Tạm biệt!" in (seen + rest).decode("utf-8")
