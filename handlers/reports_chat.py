"""/baocao in chat (secretaries, reporters, admins; their own subtree) with drill-down, chart and
Excel buttons, and /dotquantriet to open a campaign in one line (reporters, admins).

Every press is checked again on the server: the campaign must exist and overlap the user's
subtree, and a drilled-down unit must be inside it."""

from __future__ import annotations

import asyncio
import re
from typing import TYPE_CHECKING

from bot.db.models import Campaign, OrgUnit
from bot.reports import ReportData, gather
from bot.reports.text import render_report
from bot.services import campaigns, orgs
from bot.services.campaigns import CREATORS, CampaignError, fmt
from bot.services.confirmations import CELL_LEVEL
from bot.services.roles import Role, holds_over, roles_of
from bot.services.rollups import cell_prefix, members_not_studied
from handlers import payloads, texts
from handlers.browse import BUTTON_LABEL_CHARS
from handlers.payloads import Action
from handlers.render import shorten
from handlers.types import Button, Reply, ReplyFile

if TYPE_CHECKING:
    from handlers.router import Context

REPORTERS = {Role.ADMIN, Role.REPORTER, Role.SECRETARY}
MAX_CAMPAIGN_BUTTONS = 6
MAX_DRILL_BUTTONS = 6
XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
_ID_RE = re.compile(r"#?([0-9]{1,9})")


# -- /baocao --------------------------------------------------------------------------------------
async def command(ctx: Context, argument: str) -> Reply:
    """/baocao: the report of the only visible campaign, or buttons to pick one; /baocao 3."""
    scopes = await _scopes(ctx)
    if not scopes:
        return Reply(texts.RP_NOT_ALLOWED)
    number = _ID_RE.fullmatch(argument.strip())
    if number:
        return await _show(ctx, int(number.group(1)), "")
    visible = await campaigns.visible_to(ctx.session, ctx.user)
    visible.sort(key=lambda pair: (pair[0].status != "open", -pair[0].id))
    if not visible:
        return Reply(texts.RP_NO_CAMPAIGN)
    if len(visible) == 1:
        return await _show(ctx, visible[0][0].id, "")
    rows = [[Button(shorten(f"#{c.id} {c.title}", BUTTON_LABEL_CHARS), payloads.report(c.id))]
            for c, _ in visible[:MAX_CAMPAIGN_BUTTONS]]
    return Reply(texts.RP_PICK, rows)


async def on_action(ctx: Context, action: Action) -> Reply:
    """r:<campaign>[:<unit>] (report, drill-down), rc:… (chart), rx:… (Excel)."""
    if not await _scopes(ctx):
        return Reply(texts.RP_NOT_ALLOWED)
    if action.op == "show":
        return await _show(ctx, action.number, action.unit_code)
    return await _file(ctx, action.op, action.number, action.unit_code)


async def _show(ctx: Context, campaign_id: int, code: str) -> Reply:
    found = await _target(ctx, campaign_id, code)
    if isinstance(found, Reply):
        return found
    campaign, root, top, several = found
    data = await gather(ctx.session, campaign, root, now=ctx.now,
                        max_laggards=ctx.report_laggards)
    text = render_report(campaign, data.total, data.children, data.laggard_count,
                         data.laggards, ctx.tz, ctx.report_laggards, now=ctx.now)
    if root.level == CELL_LEVEL:  # a secretary's own cell: who has not studied yet
        registered, missing = await members_not_studied(ctx.session, campaign, root)
        if registered and missing:
            text += "\n" + texts.RP_NOT_STUDIED.format(
                n=len(missing), registered=registered,
                names=", ".join(missing[:ctx.report_laggards]))
        elif registered:
            text += "\n" + texts.RP_ALL_STUDIED.format(registered=registered)
    return Reply(text, _buttons(campaign, root, top, data, several))


def _buttons(campaign: Campaign, root: OrgUnit, top: OrgUnit, data: ReportData,
             several: bool = False) -> list[list[Button]]:
    rows = []
    for child in data.children:
        payload = payloads.report(campaign.id, child.code)
        if child.level != CELL_LEVEL and payloads.fits(payload):
            rows.append([Button(shorten(f"🔎 {child.name}", BUTTON_LABEL_CHARS), payload)])
    rows = rows[:MAX_DRILL_BUTTONS]
    files = [Button(texts.RP_CHART_BUTTON, payloads.report(campaign.id, root.code, "chart")),
             Button(texts.RP_XLSX_BUTTON, payloads.report(campaign.id, root.code, "xlsx"))]
    if all(payloads.fits(b.payload) for b in files):
        rows.append(files)
    if root.id != top.id or several:
        rows.append([Button(texts.RP_BACK_BUTTON, payloads.report(campaign.id))])
    return rows


async def _file(ctx: Context, op: str, campaign_id: int, code: str) -> Reply:
    found = await _target(ctx, campaign_id, code)
    if isinstance(found, Reply):
        return found
    campaign, root, _, _ = found
    try:
        if op == "chart":
            from bot.reports.chart import build_png
        else:
            from bot.reports.export import build_xlsx
    except ImportError:
        return Reply(texts.RP_EXPORT_MISSING)
    data = await gather(ctx.session, campaign, root, now=ctx.now,
                        max_laggards=ctx.report_laggards, exports=op == "xlsx")
    caption = f"{campaign.title} — {root.name}"
    name = f"quan-triet-{campaign.id}-{root.code}"
    if op == "chart":
        image = await asyncio.to_thread(build_png, campaign, data.total, data.children)
        return Reply(caption, file=ReplyFile(f"{name}.png", image, "image/png"))
    document = ctx.qa.kb.documents.get(campaign.document)
    content = await asyncio.to_thread(
        build_xlsx, campaign, root, scope=data.scope, total=data.total, units=data.units,
        cells=data.cells, laggards=data.laggards, generated_at=data.generated_at, tz=ctx.tz,
        parent_names=data.parent_names,
        document=f"{campaign.document} — {document.full_name}" if document else campaign.document)
    return Reply(caption, file=ReplyFile(f"{name}.xlsx", content, XLSX_MIME))


async def _target(ctx: Context, campaign_id: int, code: str
                  ) -> tuple[Campaign, OrgUnit, OrgUnit, bool] | Reply:
    """The campaign, the unit to report on (checked: inside the user's subtree), the user's
    top unit for it and whether the user has several (a secretary of two chi bộ: without a
    unit, they choose)."""
    campaign = await ctx.session.get(Campaign, campaign_id)
    scope = await ctx.session.get(OrgUnit, campaign.scope_unit_id) if campaign else None
    tops = _tops(await _scopes(ctx), scope) if scope is not None else []
    if campaign is None or scope is None or not tops:
        return Reply(texts.RP_NOT_FOUND.format(id=campaign_id))
    several = len(tops) > 1
    if not code:
        if several:
            rows = [[Button(shorten(f"{u.name} ({u.code})", BUTTON_LABEL_CHARS),
                            payloads.report(campaign.id, u.code))]
                    for u in tops[:MAX_CAMPAIGN_BUTTONS]
                    if payloads.fits(payloads.report(campaign.id, u.code))]
            return Reply(texts.RP_PICK_UNIT.format(title=campaign.title), rows)
        return campaign, tops[0], tops[0], False
    unit = await orgs.get_unit(ctx.session, code)
    if unit is None or cell_prefix(scope, unit) is None or not await holds_over(
            ctx.session, ctx.user, REPORTERS, unit):
        return Reply(texts.RP_OUTSIDE)
    top = next((t for t in tops if unit.path.startswith(t.path)), unit)
    return campaign, unit, top, several


def _tops(scopes: list[OrgUnit | None], scope: OrgUnit) -> list[OrgUnit]:
    """The widest units both in the campaign and in the user's subtrees: one for most people,
    several for a secretary of two chi bộ (or of units in two branches)."""
    candidates: dict[int, OrgUnit] = {}
    for unit in scopes:
        if unit is None or scope.path.startswith(unit.path):
            candidates[scope.id] = scope
        elif unit.path.startswith(scope.path):
            candidates[unit.id] = unit
    widest = [u for u in candidates.values()
              if not any(o.id != u.id and u.path.startswith(o.path) for o in candidates.values())]
    return sorted(widest, key=lambda u: u.path)


async def _scopes(ctx: Context) -> list[OrgUnit | None]:
    return [unit for role, unit in await roles_of(ctx.session, ctx.user) if role in REPORTERS]


# -- /dotquantriet --------------------------------------------------------------------------------
async def campaign_command(ctx: Context, argument: str) -> Reply:
    """/dotquantriet NQ57 X01 31/12/2026 Quán triệt Nghị quyết 57"""
    if not any(role in CREATORS for role, _ in await roles_of(ctx.session, ctx.user)):
        return Reply(texts.CP_NOT_ALLOWED)
    parts = argument.split(maxsplit=3)
    if len(parts) < 4:
        return Reply(texts.CP_USAGE)
    document, code, deadline, title = parts
    try:
        campaign = await campaigns.create(
            ctx.session, actor=ctx.user, document=document, title=title, scope_code=code,
            deadline=deadline, opens=None, now=ctx.now, tz=ctx.tz,
            documents=set(ctx.qa.kb.documents))
    except CampaignError as exc:
        return Reply(str(exc))
    unit = await ctx.session.get(OrgUnit, campaign.scope_unit_id)
    return Reply(texts.CP_CREATED.format(
        id=campaign.id, title=campaign.title, document=campaign.document,
        unit=f"{unit.name} ({unit.code})" if unit else code, deadline=fmt(campaign.deadline)),
        [[Button(texts.CP_ANNOUNCE_BUTTON, payloads.broadcast("announce", campaign.id))]])
