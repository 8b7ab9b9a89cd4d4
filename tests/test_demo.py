"""The demo without a token: `nqbot org demo` gives demo groups and people, the README's
broadcast example is delivered to the outbox file and counted, `nqbot chat --as` plays a role."""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
from pathlib import Path

from scheduler.lease import Lease

ROOT = Path(__file__).resolve().parent.parent


def nqbot(*args: str, tmp_path: Path, stdin: str | None = None):
    env = {**os.environ, "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'demo.sqlite3'}",
           "TELEGRAM_BOT_TOKEN": "", "ZALO_BOT_TOKEN": "", "PYTHONIOENCODING": "utf-8",
           "DEMO_OUTBOX_FILE": str(tmp_path / "demo-outbox.log")}
    return subprocess.run([sys.executable, "-m", "bot", *args], input=stdin,
                          capture_output=True, text=True, encoding="utf-8", cwd=tmp_path,
                          env=env, timeout=120)


def test_readme_broadcast_reaches_the_demo_groups_and_is_counted(tmp_path):
    loaded = nqbot("org", "demo", tmp_path=tmp_path)
    assert "32 nhóm demo" in loaded.stdout, loaded.stderr
    created = nqbot("broadcast", "create", "--text", "Họp chi bộ quán triệt NQ 57 tối thứ Sáu",
                    "--target", "X01,X02", "--level", "chi_bo", "--channel", "all",
                    tmp_path=tmp_path)
    assert created.returncode == 0, created.stderr
    assert "nhóm demo (terminal): 15" in created.stdout
    delivered = nqbot("broadcast", "deliver", tmp_path=tmp_path)
    assert delivered.returncode == 0, delivered.stderr
    assert "đã gửi 15" in delivered.stdout
    outbox = (tmp_path / "demo-outbox.log").read_text(encoding="utf-8")
    assert outbox.count("Họp chi bộ quán triệt NQ 57 tối thứ Sáu") == 15
    assert "→ demo-X01-CB01" in outbox and "→ demo-X02-CB08" in outbox
    shown = nqbot("broadcast", "show", "1", tmp_path=tmp_path)
    assert "Đã gửi: 15/15" in shown.stdout
    # a campaign announcement with its button: numbered on the console, like Zalo
    opened = nqbot("campaign", "create", "--document", "NQ57", "--title", "Quán triệt NQ 57",
                   "--org", "X01", "--deadline", "31/12/2030", tmp_path=tmp_path)
    assert opened.returncode == 0, opened.stderr
    nqbot("broadcast", "create", "--campaign", "1", "--target", "X01", "--level", "chi_bo",
          tmp_path=tmp_path)
    nqbot("broadcast", "deliver", tmp_path=tmp_path)
    outbox = (tmp_path / "demo-outbox.log").read_text(encoding="utf-8")
    assert "1. ✅ Chi bộ đã quán triệt" in outbox


def test_chat_as_a_demo_person_confirms_and_the_report_counts_it(tmp_path):
    nqbot("org", "demo", tmp_path=tmp_path)
    nqbot("campaign", "create", "--document", "NQ57", "--title", "Quán triệt NQ 57", "--org",
          "X01", "--deadline", "31/12/2030", tmp_path=tmp_path)
    who = nqbot("chat", "--as", "bithu", tmp_path=tmp_path, stdin="/toi\n/thoat\n")
    assert "Xin chào Bí thư chi bộ thôn 1 (demo)!" in who.stdout
    assert "bí thư/phó bí thư — Chi bộ thôn 1 (X01-CB01)" in who.stdout
    confirmed = nqbot("chat", "--as", "bithu", tmp_path=tmp_path,
                      stdin="đã quán triệt 30/32\nhôm nay\n1\n/thoat\n")
    assert "đã xác nhận quán triệt" in confirmed.stdout, confirmed.stdout[-800:]
    report = nqbot("report", "--campaign", "1", tmp_path=tmp_path)
    assert "1/7 chi bộ" in report.stdout, report.stdout
    member = nqbot("chat", "--as", "dangvien", tmp_path=tmp_path, stdin="/toi\n/thoat\n")
    assert "đảng viên — Chi bộ thôn 1" in member.stdout
    plain = nqbot("chat", tmp_path=tmp_path, stdin="/thoat\n")
    assert "Xin chào đồng chí!" in plain.stdout  # never the OS account name


async def test_a_released_lease_is_taken_over_without_a_warning(app, caplog):
    gone = f"{socket.gethostname()[:48]}:999999:deadbeef"  # a process of this host, not running
    old = Lease(app.sessions, "telegram", ttl=30, holder=gone)
    assert await old.acquire()
    await old.release()  # a clean stop
    with caplog.at_level(logging.WARNING, logger="scheduler.lease"):
        new = Lease(app.sessions, "telegram", ttl=30, holder="bot:1:new")
        assert await new.acquire()
    assert "no longer exists" not in caplog.text
    if app.engine.dialect.name == "sqlite":  # a crash: the lease was still held
        crashed = Lease(app.sessions, "zalo", ttl=30, holder=gone)
        assert await crashed.acquire()
        with caplog.at_level(logging.WARNING, logger="scheduler.lease"):
            assert await Lease(app.sessions, "zalo", ttl=30, holder="bot:1:new").acquire()
        assert "no longer exists" in caplog.text


def test_reporter_composes_in_the_console_and_the_demo_groups_receive_it(tmp_path):
    nqbot("org", "demo", tmp_path=tmp_path)
    # /thongbao → new → text → X01 → only chi bộ groups → all channels → now → confirm
    chat = nqbot("chat", "--as", "baocaovien", tmp_path=tmp_path,
                 stdin="/thongbao\n1\nHọp chi bộ tối nay\nX01\n2\n3\n1\n1\n/thoat\n")
    assert "nhóm demo (terminal): 7 nhóm" in chat.stdout, chat.stdout[-1500:]
    outbox = (tmp_path / "demo-outbox.log").read_text(encoding="utf-8")
    assert outbox.count("→ demo-X01-CB") == 7
    assert "Đã gửi: 7/7" in nqbot("broadcast", "show", "1", tmp_path=tmp_path).stdout
