"""Taking access back from the command line: roles, invites, identity links; admin ids checked
per channel. Run as a real process, as the operator runs it."""

from __future__ import annotations

import asyncio
import json

from sqlalchemy import select

from bot.app import build_app
from bot.db.models import AuditLog
from bot.services.people import upsert_user
from tests.conftest import make_settings
from tests.test_cli import ROOT, nqbot


async def _linked_pair(url: str) -> None:
    app = await build_app(make_settings(url))
    try:
        async with app.sessions() as s, s.begin():
            telegram = await upsert_user(s, "telegram", "101", "Chị Tư")
            zalo = await upsert_user(s, "zalo", "z-1", "Chị Tư")
            zalo.linked_user_id = telegram.id
    finally:
        await app.close()


async def _audit(url: str) -> list[str]:
    app = await build_app(make_settings(url))
    try:
        async with app.sessions() as s:
            return list((await s.scalars(select(AuditLog.action))).all())
    finally:
        await app.close()


def _setup(tmp_path):  # type: ignore[no-untyped-def]
    nqbot("org", "import", str(ROOT / "content" / "demo" / "org_demo.csv"), tmp_path=tmp_path)


def test_admin_ids_are_validated_per_channel(tmp_path):
    bad = nqbot("admin", "add", "--channel", "telegram", "--user-id", "abc", tmp_path=tmp_path)
    assert bad.returncode == 1 and "không phải mã người dùng telegram hợp lệ" in bad.stderr
    negative = nqbot("admin", "add", "--channel", "telegram", "--user-id", "-5",
                     tmp_path=tmp_path)
    assert negative.returncode == 1
    zalo_bad = nqbot("admin", "add", "--channel", "zalo", "--user-id", "a b;c",
                     tmp_path=tmp_path)
    assert zalo_bad.returncode == 1
    listed = nqbot("role", "list", tmp_path=tmp_path)
    assert "Chưa có vai trò nào" in listed.stdout
    ok = nqbot("admin", "add", "--channel", "zalo", "--user-id", "8f3a2b1c9d", tmp_path=tmp_path)
    assert ok.returncode == 0 and "đã được cấp" in ok.stdout


def test_role_and_invite_list_and_revoke(tmp_path):
    _setup(tmp_path)
    created = nqbot("invite", "create", "--role", "secretary", "--org", "X01-CB01", "--uses",
                    "3", "--json", tmp_path=tmp_path)
    code = json.loads(created.stdout)["code"]
    chat = nqbot("chat", tmp_path=tmp_path, stdin=f"{code}\n/toi\n/thoat\n")
    assert "Chi bộ thôn 1 (X01-CB01)" in chat.stdout
    invites = nqbot("invite", "list", tmp_path=tmp_path)
    assert code in invites.stdout and "đã dùng 1/3" in invites.stdout
    revoked = nqbot("invite", "revoke", code.lower(), tmp_path=tmp_path)
    assert revoked.returncode == 0 and "Đã thu hồi mã mời" in revoked.stdout
    assert code not in nqbot("invite", "list", tmp_path=tmp_path).stdout
    assert "đã thu hồi" in nqbot("invite", "list", "--all", tmp_path=tmp_path).stdout
    roles = nqbot("role", "list", "--json", tmp_path=tmp_path)
    [grant] = [json.loads(line) for line in roles.stdout.splitlines()]
    assert grant["role"] == "secretary" and grant["org"] == "X01-CB01"
    assert grant["source"] == "invite"
    gone = nqbot("role", "revoke", str(grant["id"]), tmp_path=tmp_path)
    assert gone.returncode == 0 and "Đã thu hồi" in gone.stdout
    chat = nqbot("chat", tmp_path=tmp_path, stdin="/toi\n/thoat\n")
    assert "Chưa có vai trò" in chat.stdout
    actions = asyncio.run(_audit(f"sqlite+aiosqlite:///{tmp_path / 'cli.sqlite3'}"))
    assert "invite.revoke" in actions and "role.revoke" in actions
    missing = nqbot("role", "revoke", str(grant["id"]), tmp_path=tmp_path)
    assert missing.returncode == 4
    assert "không có mã mời" in nqbot("invite", "revoke", "ABCD-2345", tmp_path=tmp_path).stderr


def test_link_list_and_revoke(tmp_path):
    _setup(tmp_path)
    none = nqbot("link", "list", tmp_path=tmp_path)
    assert "Chưa có tài khoản nào liên kết" in none.stdout
    asyncio.run(_linked_pair(f"sqlite+aiosqlite:///{tmp_path / 'cli.sqlite3'}"))
    pairs = nqbot("link", "list", tmp_path=tmp_path)
    assert "zalo:z-1 (Chị Tư) ⇄ telegram:101 (Chị Tư)" in pairs.stdout
    undone = nqbot("link", "revoke", "--channel", "telegram", "--user-id", "101",
                   tmp_path=tmp_path)
    assert undone.returncode == 0 and "Đã hủy liên kết" in undone.stdout
    assert "Chưa có tài khoản nào liên kết" in nqbot("link", "list", tmp_path=tmp_path).stdout
    refused = nqbot("link", "revoke", "--channel", "zalo", "--user-id", "nobody",
                    tmp_path=tmp_path)
    assert refused.returncode == 4
    assert "identity.unlink" in asyncio.run(
        _audit(f"sqlite+aiosqlite:///{tmp_path / 'cli.sqlite3'}"))
