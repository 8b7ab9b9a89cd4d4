"""The `nqbot` command line, run as a user runs it (a real process)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def nqbot(*args: str, tmp_path: Path, stdin: str | None = None, **env: str):
    environment = {
        **os.environ,
        "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'cli.sqlite3'}",
        "TELEGRAM_BOT_TOKEN": "",
        "ZALO_BOT_TOKEN": "",
        "PYTHONIOENCODING": "utf-8",
        **env,
    }
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        input=stdin,
        capture_output=True,
        text=True,
        encoding="utf-8",
        cwd=tmp_path,
        env=environment,
        timeout=120,
    )


def test_ask_json_answers_with_source(tmp_path):
    proc = nqbot("ask", "--json", "nq57 ban hanh ngay nao", tmp_path=tmp_path)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["status"] == "answered"
    assert "22/12/2024" in data["answer"]
    assert data["source"].startswith("Nghị quyết 57-NQ/TW")
    assert data["entry_id"].startswith("nq57-")
    assert set(data) >= {"status", "answer", "entry_id", "source", "score", "suggestions"}


def test_ask_json_file_gives_one_object_per_line(tmp_path):
    questions = tmp_path / "q.txt"
    questions.write_text(
        "kết luận 69 ban hành ngày nào\nthời tiết hôm nay\nnghị quyết 68 là gì\n\n😀\n",
        encoding="utf-8",
    )
    proc = nqbot("ask", "--json", "--file", str(questions), tmp_path=tmp_path)
    assert proc.returncode == 0, proc.stderr
    rows = [json.loads(line) for line in proc.stdout.splitlines()]
    assert len(rows) == 5  # one output line per input line, the blank one too
    assert rows[0]["status"] == "answered" and "11/01/2024" in rows[0]["answer"]
    assert [r["status"] for r in rows[1:]] == ["unknown", "unknown", "empty", "small_talk"]
    assert rows[2]["reason"] == "other_document"
    for row in rows[1:]:
        assert row["answer"] is None and row["entry_id"] is None


def test_ask_plain_prints_answer_and_source(tmp_path):
    proc = nqbot("ask", "Kết luận 69 có mấy nhiệm vụ", tmp_path=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "Nguồn: Kết luận 69-KL/TW" in proc.stdout


def test_run_without_token_opens_console_chat_and_migrates(tmp_path):
    proc = nqbot("run", tmp_path=tmp_path, stdin="nghi quyet 57 co may quan diem chi dao\n/thoat\n")
    assert proc.returncode == 0, proc.stderr
    assert "terminal" in proc.stdout
    assert "Xin chào" in proc.stdout
    assert "Nguồn: Nghị quyết 57-NQ/TW" in proc.stdout
    assert (tmp_path / "cli.sqlite3").exists()


def test_db_upgrade_and_current(tmp_path):
    up = nqbot("db", "upgrade", tmp_path=tmp_path)
    assert up.returncode == 0, up.stderr
    assert "trống →" in up.stdout
    from bot.db.migrate import head_revision

    cur = nqbot("db", "current", tmp_path=tmp_path)
    assert f"Phiên bản cơ sở dữ liệu: {head_revision()} (mới nhất: {head_revision()})" in (
        cur.stdout
    )


def test_content_check_command(tmp_path):
    proc = nqbot("content", "check", tmp_path=tmp_path)
    assert proc.returncode == 0, proc.stdout
    assert proc.stdout.strip().splitlines()[-1].startswith("ĐẠT")


def test_org_import_tree_export(tmp_path):
    demo = ROOT / "content" / "demo" / "org_demo.csv"
    first = nqbot("org", "import", str(demo), tmp_path=tmp_path)
    assert first.returncode == 0, first.stderr
    assert "37 đơn vị mới" in first.stdout
    again = nqbot("org", "import", str(demo), tmp_path=tmp_path)
    assert "0 đơn vị mới, 0 cập nhật, 37 không đổi" in again.stdout
    tree = nqbot("org", "tree", "X01", tmp_path=tmp_path)
    assert tree.stdout.splitlines()[0].startswith("X01 · Đảng bộ xã An Bình")
    exported = nqbot("org", "export", tmp_path=tmp_path)
    assert exported.stdout.splitlines()[0] == "code,name,level,parent_code,members"
    assert len(exported.stdout.splitlines()) == 38


def test_org_import_bad_file_reports_lines_and_imports_nothing(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("code,name,level,parent_code,members\nT,T,tinh,,0\nX,,xa,T,abc\n",
                   encoding="utf-8")
    proc = nqbot("org", "import", str(bad), tmp_path=tmp_path)
    assert proc.returncode == 1
    assert "Dòng 3" in proc.stderr
    tree = nqbot("org", "tree", tmp_path=tmp_path)
    assert "Chưa có đơn vị nào" in tree.stdout


def test_admin_add_and_invite_create(tmp_path):
    demo = ROOT / "content" / "demo" / "org_demo.csv"
    nqbot("org", "import", str(demo), tmp_path=tmp_path)
    admin = nqbot("admin", "add", "--channel", "telegram", "--user-id", "4242", tmp_path=tmp_path)
    assert "đã được cấp" in admin.stdout
    again = nqbot("admin", "add", "--channel", "telegram", "--user-id", "4242", tmp_path=tmp_path)
    assert "đã có sẵn" in again.stdout
    proc = nqbot("invite", "create", "--role", "secretary", "--org", "X01-CB01", "--uses", "2",
                 "--expires", "3d", "--json", tmp_path=tmp_path,
                 TELEGRAM_BOT_USERNAME="nq57_demo_bot")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["telegram_link"] == f"https://t.me/nq57_demo_bot?start={data['code']}"
    assert data["uses"] == 2 and data["org"] == "X01-CB01"
    chat = nqbot("chat", tmp_path=tmp_path, stdin=f"{data['code']}\n/toi\n/thoat\n")
    assert "bí thư/phó bí thư — Chi bộ thôn 1 (X01-CB01)" in chat.stdout
    bad = nqbot("invite", "create", "--role", "member", "--org", "NOPE", tmp_path=tmp_path)
    assert bad.returncode == 4 and "không có đơn vị mã NOPE" in bad.stderr
    bad_time = nqbot("invite", "create", "--role", "member", "--org", "X01", "--expires", "mai",
                     tmp_path=tmp_path)
    assert bad_time.returncode == 1 and "không hợp lệ" in bad_time.stderr


def test_demo_tree_is_loaded_only_into_an_empty_database(tmp_path):
    first = nqbot("org", "demo", tmp_path=tmp_path)
    assert "Đã nạp cây tổ chức mẫu: 37 đơn vị" in first.stdout
    second = nqbot("org", "demo", tmp_path=tmp_path)
    assert "không nạp cây mẫu" in second.stdout


def test_broadcast_commands_create_list_pause_cancel(tmp_path):
    import sqlite3

    assert nqbot("org", "demo", tmp_path=tmp_path).returncode == 0
    with sqlite3.connect(tmp_path / "cli.sqlite3") as db:  # two groups linked in chat earlier
        for external_id, code in (("-1001", "X01-CB01"), ("zg-1", "X01-CB02")):
            db.execute(
                "INSERT INTO chats (channel, external_id, kind, title, active, org_unit_id, "
                "created_at, updated_at) SELECT ?, ?, 'group', 'Nhóm', 1, id, "
                "'2026-12-01 00:00:00', '2026-12-01 00:00:00' FROM org_units WHERE code = ?",
                ("telegram" if external_id.startswith("-") else "zalo", external_id, code))
    past = nqbot("broadcast", "create", "--text", "Tin", "--target", "X01",
                 "--at", "01/01/2020 07:00", tmp_path=tmp_path)
    assert past.returncode == 1 and "đã qua" in past.stderr
    unknown = nqbot("broadcast", "create", "--text", "Tin", "--target", "X01,ZZ9",
                    tmp_path=tmp_path)
    assert unknown.returncode == 1 and "«ZZ9»" in unknown.stderr
    created = nqbot("broadcast", "create", "--text", "Họp chi bộ", "--target", "X01",
                    "--level", "chi_bo", "--cron", "0 7 * * 1", "--json", tmp_path=tmp_path)
    assert created.returncode == 0, created.stderr
    data = json.loads(created.stdout)
    assert data["counts"] == {"telegram": 1, "zalo": 1, "console": 7}  # 7 demo groups
    assert data["schedule"] == "cron"
    assert data["first_fire_local"].endswith("07:00")
    listed = nqbot("broadcast", "list", tmp_path=tmp_path)
    assert f"#{data['id']} «Họp chi bộ» — đang hoạt động, lần tới" in listed.stdout
    paused = nqbot("broadcast", "pause", str(data["id"]), tmp_path=tmp_path)
    assert "tạm dừng" in paused.stdout
    cancelled = nqbot("broadcast", "cancel", str(data["id"]), tmp_path=tmp_path)
    assert "đã huỷ" in cancelled.stdout
    again = nqbot("broadcast", "resume", str(data["id"]), tmp_path=tmp_path)
    assert again.returncode == 1 and "đã huỷ" in again.stderr
    shown = nqbot("broadcast", "show", str(data["id"]), tmp_path=tmp_path)
    assert "Gửi tới: các nhóm đã liên kết thuộc X01, chỉ cấp Chi bộ" in shown.stdout
