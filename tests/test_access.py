"""Taking access back: /thuhoi over one's subtree, revoked invites, admins from the setting
reconciled on start, broadcast actions and firings re-checked against the creator's rights."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from bot.app import build_app
from bot.db.models import AuditLog, Broadcast, BroadcastRun, RoleAssignment, User
from bot.services import orgs, roles
from bot.services.people import upsert_user
from bot.services.roles import Role
from handlers import payloads, texts
from handlers.types import Incoming
from scheduler.broadcasts import Draft, change_status
from scheduler.runs import fire_due
from scheduler.timespec import daily
from tests.broadcast_world import REPORTER_TG, Clock, build_world, create
from tests.conftest import make_settings


def _tg(user: str, text: str | None = None, payload: str | None = None) -> Incoming:
    return Incoming("telegram", user, user, user_name=f"Người {user}", text=text,
                    payload=payload)


async def _actions(app) -> list[tuple[str, dict]]:  # type: ignore[no-untyped-def]
    async with app.sessions() as s:
        rows = (await s.scalars(select(AuditLog).order_by(AuditLog.id))).all()
        return [(r.action, json.loads(r.details or "{}")) for r in rows]


async def _grant(app, external_id: str, role: Role, code: str | None) -> int:  # type: ignore[no-untyped-def]
    async with app.sessions() as s, s.begin():
        user = await upsert_user(s, "telegram", external_id, f"Người {external_id}")
        unit = await orgs.get_unit(s, code) if code else None
        await roles.grant(s, user, role, unit, source="cli")
        return await s.scalar(select(RoleAssignment.id).where(
            RoleAssignment.user_id == user.id, RoleAssignment.role == role.value))


async def _roles(app, external_id: str) -> list[tuple[str, str | None]]:  # type: ignore[no-untyped-def]
    async with app.sessions() as s:
        user = await upsert_user(s, "telegram", external_id, None)
        return [(r.value, u.code if u else None) for r, u in await roles.roles_of(s, user)]


# -- /thuhoi -------------------------------------------------------------------------------------
async def test_secretary_takes_back_a_role_below_with_buttons(app):
    await build_world(app)
    await _grant(app, "10", Role.SECRETARY, "X01")  # commune secretary
    cell = await _grant(app, "11", Role.SECRETARY, "X01-CB01")
    await _grant(app, "12", Role.SECRETARY, "X02-CB01")  # another commune: out of scope
    [listing] = await app.router.handle(_tg("10", "/thuhoi"))
    labels = [b.label for b in listing.flat_buttons()]
    assert any("Người 11" in label and "X01-CB01" in label for label in labels)
    assert not any("Người 12" in label for label in labels)
    assert not any("Người 10" in label for label in labels)  # not one's own
    assert not any("Báo cáo viên xã" in label for label in labels)  # a reporter: admins only
    [question] = await app.router.handle(_tg("10", payload=payloads.revoke(cell)))
    assert question.text.startswith("Thu hồi vai trò: Người 11 (Telegram) — bí thư/phó bí thư")
    [done] = await app.router.handle(_tg("10", payload=payloads.revoke(cell, True)))
    assert done.text.startswith("Đã thu hồi: Người 11")
    assert await _roles(app, "11") == []
    [again] = await app.router.handle(_tg("10", payload=payloads.revoke(cell, True)))
    assert again.text == texts.RV_GONE
    assert ("role.revoke", {"role": "secretary", "unit": "X01-CB01", "source": "cli",
                            "by": "user:" + str(await _user_id(app, "10"))}) in await _actions(app)


async def _user_id(app, external_id: str) -> int:  # type: ignore[no-untyped-def]
    async with app.sessions() as s:
        return await s.scalar(select(User.id).where(User.external_id == external_id))


async def test_scope_is_checked_again_at_every_press(app):
    await build_world(app)
    await _grant(app, "10", Role.SECRETARY, "X01")
    commune = await _grant(app, "20", Role.SECRETARY, "X02")
    admin_grant = await _grant(app, "30", Role.ADMIN, None)
    # forged presses for grants outside the secretary's subtree, or a whole-tree admin
    for grant_id in (commune, admin_grant):
        for confirm in (False, True):
            [refused] = await app.router.handle(
                _tg("10", payload=payloads.revoke(grant_id, confirm)))
            assert refused.text == texts.RV_GONE
    assert await _roles(app, "20") == [("secretary", "X02")]
    # a cell secretary cannot take back the commune secretary above
    await _grant(app, "11", Role.SECRETARY, "X01-CB01")
    x01 = await _grant(app, "10", Role.SECRETARY, "X01")
    [refused] = await app.router.handle(_tg("11", payload=payloads.revoke(x01, True)))
    assert refused.text == texts.RV_GONE
    # a member has no /thuhoi; in a group it is refused
    [member] = await app.router.handle(_tg("700", "/thuhoi"))
    assert member.text == texts.RV_NOT_ALLOWED
    # the secretary lost the role between the list and the press
    cell_member = await _grant(app, "12", Role.MEMBER, "X01-CB02")
    [question] = await app.router.handle(_tg("10", payload=payloads.revoke(cell_member)))
    assert "Thu hồi vai trò" in question.text
    async with app.sessions() as s, s.begin():
        assert await roles.revoke_grant(s, x01, None) is not None
    [late] = await app.router.handle(_tg("10", payload=payloads.revoke(cell_member, True)))
    assert late.text == texts.RV_GONE
    assert await _roles(app, "12") == [("member", "X01-CB02")]


async def test_admin_takes_back_any_role_and_a_revoked_invite_binds_nobody(app):
    world = await build_world(app)
    async with app.sessions() as s, s.begin():
        invite = await roles.create_invite(s, Role.MEMBER, await orgs.get_unit(s, "X01-CB01"),
                                           uses=5)
        await roles.revoke_invite(s, invite.code, None)
    [refused] = await app.router.handle(_tg("40", invite.code))
    assert refused.text == texts.INVITE_REVOKED
    assert await _roles(app, "40") == []
    [listing] = await app.router.handle(_tg("900", "/thuhoi X01"))
    assert any("Báo cáo viên xã" in b.label for b in listing.flat_buttons())
    reporter_grant = next(b.payload for b in listing.flat_buttons() if "Báo cáo viên" in b.label)
    number = int(reporter_grant.split(":")[-1])
    [done] = await app.router.handle(_tg("900", payload=payloads.revoke(number, True)))
    assert "Đã thu hồi" in done.text
    assert await _roles(app, world.reporter.external_id) == []


# -- admins from ADMIN_TELEGRAM_IDS ---------------------------------------------------------------
async def test_admins_from_the_setting_are_reconciled_on_start(database_url):
    first = await build_app(make_settings(database_url, admin_telegram_ids=[111, 222]))
    try:
        async with first.sessions() as s, s.begin():
            other = await upsert_user(s, "telegram", "333", None)
            await roles.grant(s, other, Role.ADMIN, None, source="cli")
        assert await _roles(first, "222") == [("admin", None)]
    finally:
        await first.close()
    second = await build_app(make_settings(database_url, admin_telegram_ids=[111]))
    try:
        assert await _roles(second, "111") == [("admin", None)]
        assert await _roles(second, "222") == []  # removed from the setting: role taken back
        assert await _roles(second, "333") == [("admin", None)]  # granted otherwise: kept
        revokes = [d for a, d in await _actions(second) if a == "role.revoke"]
        assert revokes == [{"role": "admin", "unit": None, "source": "bootstrap", "by": "cli",
                            "reason": "removed from the setting"}]
    finally:
        await second.close()
    third = await build_app(make_settings(database_url, admin_telegram_ids=[]))
    try:
        assert await _roles(third, "111") == []
        assert await _roles(third, "333") == [("admin", None)]
    finally:
        await third.close()


# -- broadcasts ---------------------------------------------------------------------------------
MONDAY_0630_LOCAL = datetime(2026, 12, 6, 23, 30, tzinfo=UTC)


async def _revoke_reporter(app) -> None:  # type: ignore[no-untyped-def]
    async with app.sessions() as s, s.begin():
        reporter = await upsert_user(s, "telegram", REPORTER_TG, None)
        for grant in await roles.grants(s, user=reporter):
            await roles.revoke_grant(s, grant.assignment.id, None)


async def test_a_former_reporter_no_longer_controls_their_broadcast(app):
    world = await build_world(app)
    clock = Clock(MONDAY_0630_LOCAL)
    bid, _ = await create(app, Draft(text="Câu hỏi mỗi ngày.", targets=("X01",),
                                     cron=daily("07:00")), actor=world.reporter, now=clock.now)
    [paused] = await app.router.handle(_tg(REPORTER_TG, payload=payloads.broadcast("pause", bid)))
    assert "Đã tạm dừng" in paused.text
    await _revoke_reporter(app)
    for op in ("resume", "pause", "cancel", "open"):
        [refused] = await app.router.handle(_tg(REPORTER_TG,
                                                payload=payloads.broadcast(op, bid)))
        assert "không có quyền" in refused.text, op
    async with app.sessions() as s:
        assert (await s.get(Broadcast, bid)).status == "paused"


async def test_a_recurring_broadcast_whose_creator_lost_the_right_is_paused_at_firing(app):
    world = await build_world(app)
    clock = Clock(MONDAY_0630_LOCAL)
    bid, _ = await create(app, Draft(text="Câu hỏi mỗi ngày.", targets=("X01",),
                                     cron=daily("07:00")), actor=world.reporter, now=clock.now)
    async with app.sessions() as s, s.begin():
        report = await fire_due(s, app.kb, now=clock.advance(minutes=31), tz=app.settings.tz,
                                grace=timedelta(minutes=60))
    assert len(report.runs) == 1
    await _revoke_reporter(app)
    async with app.sessions() as s, s.begin():
        report = await fire_due(s, app.kb, now=clock.advance(days=1), tz=app.settings.tz,
                                grace=timedelta(minutes=60))
    assert report.runs == []
    assert [n.user_id for n in report.notices] == [world.admin.id]
    assert f"Thông báo #{bid}" in report.notices[0].text and "tạm dừng" in report.notices[0].text
    async with app.sessions() as s:
        assert (await s.get(Broadcast, bid)).status == "paused"
        runs = (await s.scalars(select(BroadcastRun).where(BroadcastRun.broadcast_id == bid))
                ).all()
        assert len(runs) == 1
    assert ("broadcast.pause", {"reason": "creator_lost_right", "creator": world.reporter.id}) \
        in await _actions(app)
    # the admin resumes it and answers for it from then on: it fires again
    async with app.sessions() as s, s.begin():
        admin = await s.get(User, world.admin.id)
        await change_status(s, bid, "resume", actor=admin, now=clock.advance(hours=1),
                            tz=app.settings.tz)
    async with app.sessions() as s, s.begin():
        report = await fire_due(s, app.kb, now=clock.advance(hours=23), tz=app.settings.tz,
                                grace=timedelta(minutes=60))
    assert len(report.runs) == 1
    async with app.sessions() as s:
        assert (await s.get(Broadcast, bid)).created_by == world.admin.id


# -- links made before the confirmed flow ---------------------------------------------------------
async def test_unconfirmed_links_from_before_are_undone_by_the_migration(database_url):
    from alembic import command
    from sqlalchemy import text

    from bot.db.engine import create_engine
    from bot.db.migrate import alembic_config, upgrade

    engine = create_engine(make_settings(database_url))
    try:
        def to_0013(sync_conn) -> None:  # type: ignore[no-untyped-def]
            cfg = alembic_config()
            cfg.attributes["connection"] = sync_conn
            command.upgrade(cfg, "0013")

        async with engine.begin() as conn:
            await conn.run_sync(to_0013)
            for uid, channel, ext, linked in ((1, "zalo", "attacker", None),
                                              (2, "telegram", "sec-1", 1),
                                              (3, "telegram", "sec-2", 1)):
                await conn.execute(text(
                    "INSERT INTO users (id, channel, external_id, linked_user_id, created_at, "
                    "last_seen_at) VALUES (:i, :c, :e, :l, CURRENT_TIMESTAMP, "
                    "CURRENT_TIMESTAMP)"), {"i": uid, "c": channel, "e": ext, "l": linked})
        await upgrade(engine)
        async with engine.connect() as conn:
            linked = (await conn.execute(text(
                "SELECT id FROM users WHERE linked_user_id IS NOT NULL"))).all()
            audits = (await conn.execute(text(
                "SELECT target, details FROM audit_log WHERE action = 'identity.unlink' "
                "ORDER BY target"))).all()
        assert linked == []
        assert [t for t, _ in audits] == ["user:2", "user:3"]
        assert json.loads(audits[0][1])["other_user"] == 1
    finally:
        await engine.dispose()
