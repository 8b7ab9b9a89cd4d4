"""Small access rules: invites only in private chat, a campaign's title only inside its scope,
unit codes the import accepts always make working buttons."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.services import campaigns, orgs, roles
from bot.services.orgs import OrgImportError
from bot.services.people import upsert_user
from bot.services.roles import Role
from handlers import payloads, texts
from handlers.types import ChatKind, Incoming
from tests.broadcast_world import build_world

EXTRA_CSV = "code,name,level,parent_code,members\nX01-CBĐoàn,Chi bộ Đoàn thanh niên,chi_bo,X01,12\n"


def _msg(user: str, text: str | None = None, payload: str | None = None, *,
         group: str | None = None) -> Incoming:
    if group:
        return Incoming("telegram", group, user, ChatKind.GROUP, f"Người {user}", "Nhóm",
                        text=text, payload=payload)
    return Incoming("telegram", user, user, user_name=f"Người {user}", text=text,
                    payload=payload)


async def test_moi_in_a_group_posts_no_code(app):
    world = await build_world(app)
    [refused] = await app.router.handle(_msg(world.admin.external_id, "/moi bithu X01-CB01",
                                             group="-1001"))
    assert refused.text == texts.INVITE_PRIVATE_ONLY
    async with app.sessions() as s:
        assert await roles.list_invites(s) == []
    [made] = await app.router.handle(_msg(world.admin.external_id, "/moi bithu X01-CB01"))
    assert "Mã mời bí thư/phó bí thư" in made.text


async def test_a_campaign_button_pressed_outside_its_scope_reveals_nothing(app):
    await build_world(app)
    async with app.sessions() as s, s.begin():
        campaign = await campaigns.create(
            s, actor=None, document="NQ57", title="Đợt bí mật của xã 1", scope_code="X01",
            deadline="31/12/2026", opens=None, now=datetime.now(UTC), tz=app.settings.tz,
            documents={"NQ57"})
        outsider = await upsert_user(s, "telegram", "61", "Bí thư xã 2")
        await roles.grant(s, outsider, Role.SECRETARY, await orgs.get_unit(s, "X02-CB01"),
                          source="cli")
        insider = await upsert_user(s, "telegram", "62", "Bí thư thôn 1")
        await roles.grant(s, insider, Role.SECRETARY, await orgs.get_unit(s, "X01-CB01"),
                          source="cli")
        campaign_id = campaign.id
    [refused] = await app.router.handle(_msg("61", payload=payloads.confirm_campaign(campaign_id)))
    assert refused.text == texts.CF_UNAVAILABLE and "bí mật" not in refused.text
    [missing] = await app.router.handle(_msg("61", payload=payloads.confirm_campaign(999)))
    assert "bí mật" not in missing.text
    [asked] = await app.router.handle(_msg("62", payload=payloads.confirm_campaign(campaign_id)))
    assert "Đợt bí mật của xã 1" in asked.text


async def test_unit_codes_with_vietnamese_letters_make_working_buttons(app):
    world = await build_world(app)
    async with app.sessions() as s, s.begin():
        await orgs.import_units(s, orgs.parse_csv(EXTRA_CSV))
        unit = await orgs.get_unit(s, "X01-CBĐoàn")
        assert unit is not None
    for payload in (payloads.link(unit.code), payloads.compose(f"u:{unit.code}"),
                    payloads.confirm_choice(123456789, unit.code),
                    payloads.report(123456789, unit.code, "xlsx")):
        assert payloads.fits(payload) and payloads.parse(payload) is not None, payload
    # the group link button works: the group is linked to the unit
    [linked] = await app.router.handle(_msg(world.admin.external_id,
                                            payload=payloads.link(unit.code), group="-5005"))
    assert linked.text == texts.LINK_DONE.format(unit="Chi bộ Đoàn thanh niên (X01-CBĐoàn)")


def test_the_import_refuses_codes_no_button_can_carry():
    too_long = "Đ" * 25  # 50 bytes
    with pytest.raises(OrgImportError) as err:
        orgs.parse_csv(f"code,name,level,parent_code,members\n{too_long},Tên,chi_bo,,1\n")
    assert "quá dài" in str(err.value)
    with pytest.raises(OrgImportError):
        orgs.parse_csv("code,name,level,parent_code,members\nX\u200b01\u0007,Tên,chi_bo,,1\n")
    assert orgs.parse_csv(EXTRA_CSV)[0].code == "X01-CBĐoàn"


async def test_link_codes_are_given_in_private_chat_only(app):
    world = await build_world(app)
    [refused] = await app.router.handle(_msg(world.admin.external_id, "/lienkettaikhoan",
                                             group="-1001"))
    assert refused.text == texts.LINK_PRIVATE_ONLY and "LK-" not in refused.text
