"""`nqbot db copy`: a small but complete SQLite world copied into PostgreSQL by the real command,
then read back with the application (values, types, foreign keys, fresh ids)."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, text, update
from sqlalchemy.engine import make_url

from bot.app import build_app
from bot.db.migrate import alembic_config
from bot.db.models import (
    Base,
    Broadcast,
    BroadcastRun,
    Campaign,
    Chat,
    Confirmation,
    Delivery,
    DispatcherLease,
    OrgUnit,
    QuestionLog,
    User,
)
from bot.services import campaigns, confirmations, orgs
from bot.services.confirmations import Attendance
from bot.services.people import upsert_user
from scheduler.broadcasts import Draft
from scheduler.runs import fire_due
from tests.broadcast_world import Clock, build_world, create
from tests.conftest import make_settings

ROOT = Path(__file__).resolve().parent.parent
NOW = datetime(2026, 12, 5, 3, 0, tzinfo=UTC)
SECRET = "mat-khau-khong-duoc-in"


def nqbot(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": f"sqlite+aiosqlite:///{cwd / 'unused.sqlite3'}",
           "TELEGRAM_BOT_TOKEN": "", "ZALO_BOT_TOKEN": "", "PYTHONIOENCODING": "utf-8"}
    return subprocess.run([sys.executable, "-m", "bot", *args], capture_output=True, text=True,
                          encoding="utf-8", cwd=cwd, env=env, timeout=120)


async def counts(app) -> dict[str, int]:  # type: ignore[no-untyped-def]
    async with app.sessions() as s:
        return {t.name: await s.scalar(select(func.count()).select_from(t))
                for t in Base.metadata.sorted_tables}


async def build_source(url: str) -> dict:
    """Every kind of row the bot writes, with the awkward cases: a parent unit with a higher id
    than its child, a user linked to a later user, a broadcast pointing at a campaign."""
    app = await build_app(make_settings(url))
    try:
        world = await build_world(app)
        clock = Clock()
        bid, _ = await create(app, Draft(text="Họp chi bộ quán triệt Nghị quyết 57 tối thứ Sáu.",
                                         targets=("X01",), channel="telegram"),
                              actor=world.reporter, now=clock.now)
        async with app.sessions() as s, s.begin():
            await fire_due(s, app.kb, now=clock.now, grace=timedelta(hours=1), tz=app.settings.tz)
            await orgs.import_units(s, orgs.parse_csv(
                "code,name,level,parent_code,members\n"
                "X99,Đảng bộ xã Hòa Bình Mới,xa,T01,40\n"
                "X01-CB05,Chi bộ khu phố 5,chi_bo,X99,23\n"))
            campaign = await campaigns.create(
                s, actor=None, document="NQ57", title="Quán triệt Nghị quyết 57 — đợt 1",
                scope_code="T01", deadline="10/12/2026", opens=None, now=NOW,
                tz=app.settings.tz, documents={"NQ57"})
            admin = await s.get(User, world.admin.id)
            await confirmations.record(
                s, campaign=campaign, cell=await orgs.get_unit(s, "X01-CB01"), user=admin,
                channel="telegram", held_on=date(2026, 12, 4), attendance=Attendance(30, 32),
                now=NOW, tz=app.settings.tz, slack=app.settings.confirm_total_slack)
            admin.linked_user_id = world.member.id
            await s.execute(update(Broadcast).where(Broadcast.id == bid)
                            .values(campaign_id=campaign.id))
            s.add(QuestionLog(channel="zalo", text="Nghị quyết 57 có mấy quan điểm chỉ đạo?",
                              normalized="nghi quyet 57", outcome="answered", score=0.87))
            s.add(DispatcherLease(channel="telegram", holder="máy-1", expires_at=NOW))
        return {"counts": await counts(app), "admin": world.admin.id,
                "member": world.member.id, "campaign": campaign.id, "broadcast": bid}
    finally:
        await app.close()


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
async def test_copy_sqlite_world_into_postgres(database_url, tmp_path):
    source_url = f"sqlite+aiosqlite:///{tmp_path / 'source.sqlite3'}"
    expected = await build_source(source_url)
    assert all(expected["counts"][t] > 0 for t in ("deliveries", "broadcast_runs", "campaigns",
                                                   "confirmations", "role_assignments"))
    target = make_url(database_url)
    if not target.password:  # trust auth ignores it; it must never be printed
        target = target.set(password=SECRET)
    target_url = target.render_as_string(hide_password=False)

    # a source one migration behind is refused, the target untouched
    old = tmp_path / "old.sqlite3"
    shutil.copy(tmp_path / "source.sqlite3", old)
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(alembic_config())
    previous = script.get_revision(script.get_current_head()).down_revision
    with sqlite3.connect(old) as conn:
        conn.execute("UPDATE alembic_version SET version_num = ?", (previous,))
    proc = nqbot("db", "copy", "--from", f"sqlite:///{old}", "--to", target_url, cwd=tmp_path)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "LỖI" in proc.stderr and "nqbot db upgrade" in proc.stderr

    proc = nqbot("db", "copy", "--from", source_url, "--to", target_url, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert SECRET not in proc.stdout + proc.stderr
    assert "Đã chép xong" in proc.stdout and "deliveries" in proc.stdout

    source = await build_app(make_settings(source_url))
    app = await build_app(make_settings(database_url))
    try:
        assert await counts(app) == {**expected["counts"], "dispatcher_leases": 0}
        async with source.sessions() as src, app.sessions() as dst:
            for model in (User, OrgUnit, Campaign, Confirmation, BroadcastRun, Delivery, Chat):
                pk = model.__table__.primary_key.columns
                a = (await src.execute(select(model.__table__).order_by(*pk))).all()
                b = (await dst.execute(select(model.__table__).order_by(*pk))).all()
                assert [_utc(r) for r in a] == [_utc(r) for r in b], model.__tablename__
            admin = await dst.get(User, expected["admin"])
            assert admin.display_name == "Quản trị"
            assert admin.linked_user_id == expected["member"]
            assert admin.created_at.tzinfo is not None
            moved = await orgs.get_unit(dst, "X01-CB05")
            parent = await orgs.get_unit(dst, "X99")
            assert parent.name == "Đảng bộ xã Hòa Bình Mới" and moved.parent_id == parent.id
            assert parent.id > moved.id
            campaign = await dst.get(Campaign, expected["campaign"])
            assert campaign.title == "Quán triệt Nghị quyết 57 — đợt 1"
            assert campaign.deadline == date(2026, 12, 10)
            confirmation = await dst.scalar(select(Confirmation))
            assert confirmation.held_on == date(2026, 12, 4)
            assert confirmation.on_behalf is True and confirmation.late is False
            assert confirmation.created_at == NOW
            broadcast = await dst.get(Broadcast, expected["broadcast"])
            assert broadcast.campaign_id == campaign.id
            assert "Nghị quyết 57" in broadcast.text
            # who sends right now is runtime state of the old database: not copied
            assert await dst.get(DispatcherLease, "telegram") is None
        # sequences moved past the copied ids: new rows get fresh ones
        async with app.sessions() as s, s.begin():
            max_unit = await s.scalar(select(func.max(OrgUnit.id)))
            await orgs.import_units(s, orgs.parse_csv(
                "code,name,level,parent_code,members\nX99-CB01,Chi bộ thôn Mới,chi_bo,X99,9\n"))
            user = await upsert_user(s, "zalo", "z-new", "Người mới")
            log = QuestionLog(channel="zalo", text="câu hỏi mới", outcome="unknown")
            s.add(log)
            await s.flush()
            assert (await orgs.get_unit(s, "X99-CB01")).id > max_unit
            assert user.id > expected["member"] and log.id > 1
        async with app.sessions() as s:
            assert await s.scalar(text("SELECT count(*) FROM users")) == (
                expected["counts"]["users"] + 1)
    finally:
        await source.close()
        await app.close()

    # the target now holds data: refused without --force, replaced with it
    proc = nqbot("db", "copy", "--from", source_url, "--to", target_url, cwd=tmp_path)
    assert proc.returncode == 1 and "đã có dữ liệu" in proc.stderr and "--force" in proc.stderr
    assert SECRET not in proc.stdout + proc.stderr
    proc = nqbot("db", "copy", "--from", source_url, "--to", target_url, "--force", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "--force: xoá" in proc.stdout
    app = await build_app(make_settings(database_url))
    try:
        assert await counts(app) == {**expected["counts"], "dispatcher_leases": 0}
    finally:
        await app.close()


def _utc(row) -> tuple:  # type: ignore[no-untyped-def]
    return tuple(v.replace(tzinfo=UTC) if isinstance(v, datetime) and v.tzinfo is None
                 else v for v in row)


def test_copy_refuses_bad_and_unreachable_urls(tmp_path):
    source = tmp_path / "s.sqlite3"
    source.touch()
    cases = [
        (["--from", "khong-phai-url", "--to", f"sqlite:///{tmp_path / 't.sqlite3'}"],
         "không hợp lệ"),
        (["--from", f"sqlite:///{tmp_path / 'missing.sqlite3'}", "--to", "sqlite:///t.sqlite3"],
         "không có tệp"),
        (["--from", f"sqlite:///{source}",
          "--to", f"postgresql+asyncpg://nqbot:{SECRET}@127.0.0.1:1/nqbot"],
         "không kết nối được"),
    ]
    for args, message in cases:
        proc = nqbot("db", "copy", *args, cwd=tmp_path)
        assert proc.returncode == 2, proc.stdout + proc.stderr
        assert proc.stderr.startswith("LỖI:") and message in proc.stderr
        assert SECRET not in proc.stdout + proc.stderr
