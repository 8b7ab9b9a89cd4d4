""""Chi bộ đã quán triệt" in chat: a secretary confirms the cell's study session step by step;
members mark their own study ("Tôi đã học", /dahoc).

Ways in: the announcement button (q:<campaign>), /daquantriet, or a typed "đã quán triệt"
(private chat, or a group where the bot sees the message). The cell is the group's linked chi
bộ, else the user's own cells; a secretary above (or an admin) in private chat types the cell
code. Steps: [pick campaign/cell | cell code] → date held → attendance → summary → confirm.

The dialog lives in the database (DialogState of kind "confirm"). The final confirm deletes the
state first and records only if that delete removed it, so a double tap records once;
record() checks permission and numbers again at that moment.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from datetime import date, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import or_, select

from bot.db.models import Campaign, Confirmation, OrgUnit
from bot.services import orgs
from bot.services.campaigns import fmt, local_today, open_campaigns
from bot.services.confirmations import (
    CELL_LEVEL,
    Attendance,
    ConfirmError,
    acting_as,
    announce,
    check_numbers,
    confirm_phrase,
    in_campaign,
    mark_studied,
    member_cell,
    own_cells,
    parse_attendance,
    parse_held_on,
    pct,
    record,
    studied_phrase,
)
from bot.services.dialogs import DialogStore
from bot.services.roles import Role, roles_of
from handlers import payloads, texts
from handlers.browse import BUTTON_LABEL_CHARS
from handlers.payloads import Action
from handlers.render import shorten
from handlers.types import Button, ChatKind, Reply

if TYPE_CHECKING:
    from handlers.router import Context

KIND = "confirm"
MAX_CHOICES = 8  # buttons offered to choose a chi bộ (and campaign)
MAX_OFFERED = 50  # chi bộ of a secretary above looked at before asking for a code
CHATTER_WORDS = 6  # a longer typed message that does not parse is a question, not an answer
QUESTION_WORDS = {"chua", "khong", "nao", "gi", "sao"}


@dataclass
class Dialog:
    step: str  # pick | cell | date | attendance | summary
    campaign: int | None = None
    cell: str | None = None
    prefill: str = ""  # "23/25" typed with "đã quán triệt"
    held: str | None = None  # ISO date
    attended: int | None = None
    total: int | None = None
    choices: list[list[int | str]] = field(default_factory=list)  # [campaign id, cell code]


_FIELDS = {f.name for f in fields(Dialog)}


# -- entry points (the router calls these) ------------------------------------------------------
async def command(ctx: Context, argument: str) -> Reply:
    """/daquantriet, /daquantriet 23/25, /daquantriet X01-CB03 (a cell, acting on its behalf)."""
    argument = argument.strip()
    code, _, rest = argument.partition(" ")
    if code and await _unit(ctx, code) is not None:
        return await _start(ctx, None, rest.strip(), code=code)
    return await _start(ctx, None, argument)


async def on_action(ctx: Context, action: Action) -> Reply:
    """A pressed button: q:… qc:… qd:… qa:all qx:ok|no."""
    if action.op == "start":
        return await _start(ctx, action.number, "")
    if action.op == "choose":
        return await _choose(ctx, action.number, action.unit_code)
    if action.op == "no":
        return Reply(texts.CF_CANCELLED if await _drop(ctx) else texts.CF_STALE)
    dialog = await _load(ctx)
    if action.op == "ok":
        return await _finish(ctx, dialog)
    if dialog is None:
        return Reply(texts.CF_STALE)
    if action.op == "date" and dialog.step == "date":
        today = local_today(ctx.now, ctx.tz)
        return await _set_date(ctx, dialog, today - timedelta(days=action.number))
    if action.op == "all" and dialog.step == "attendance":
        cell = await _cell(ctx, dialog)
        if cell is None or cell.members <= 0:
            return Reply(texts.CF_STALE)
        return await _set_attendance(ctx, dialog, Attendance(cell.members, cell.members))
    return await _prompt(ctx, dialog, texts.CF_PRESS_OR_TYPE)


async def on_text(ctx: Context, text: str, *, in_dialog: bool = True) -> Reply | None:
    """A typed "đã quán triệt …", "Tôi đã học", or an answer to the live dialog; else None.
    `in_dialog=False` (the router already knows there is none) skips looking for it."""
    rest = confirm_phrase(text)
    if rest is not None and not _is_question(text, rest):
        return await _start(ctx, None, rest)
    if studied_phrase(text) and "?" not in text:
        return await studied(ctx)
    dialog = await _load(ctx) if in_dialog else None
    if dialog is None:
        return None
    return await _answer(ctx, dialog, text.strip())


async def cancel(ctx: Context) -> Reply | None:
    """/huy while a confirmation is being made; None when there is none."""
    return Reply(texts.CF_CANCELLED) if await _drop(ctx) else None


async def studied(ctx: Context) -> Reply:
    """A member's own mark for the open campaign(s) of their chi bộ (idempotent)."""
    cell = await member_cell(ctx.session, ctx.user)
    if cell is None:
        return Reply(texts.ST_NO_CELL)
    campaigns = await open_campaigns(ctx.session, within=cell,
                                     today=local_today(ctx.now, ctx.tz))
    if not campaigns:
        return Reply(texts.CF_NONE_OPEN.format(cell=cell.name))
    new = [c for c in campaigns if await mark_studied(
        ctx.session, campaign=c, user=ctx.user, cell=cell, channel=ctx.incoming.channel,
        now=ctx.now)]
    if new:
        return Reply(texts.ST_DONE.format(titles=_titles(new)))
    return Reply(texts.ST_ALREADY.format(titles=_titles(campaigns)))


# -- which cell, which campaign -----------------------------------------------------------------
async def _start(ctx: Context, campaign_id: int | None, prefill: str, *,
                 code: str | None = None) -> Reply:
    campaign = None
    if campaign_id is not None:
        campaign = await ctx.session.get(Campaign, campaign_id)
        if campaign is None:
            return Reply(texts.CF_NO_CAMPAIGN)
    if code is not None:
        cell = await _typed_cell(ctx, code)
        if isinstance(cell, Reply):
            return cell
        cells = [cell]
    else:
        found = await _cells(ctx)
        if isinstance(found, Reply):
            return found
        if not found:  # a secretary above or an admin, in private: which cell?
            await _save(ctx, Dialog("cell", campaign=campaign_id, prefill=prefill))
            return _cancellable(texts.CF_ASK_CELL)
        cells = found
    return await _pairs(ctx, campaign, cells, prefill)


async def _cells(ctx: Context) -> list[OrgUnit] | Reply:
    """The group's linked cell, else the user's own cells; [] = ask for a code; or a refusal."""
    if ctx.incoming.chat_kind is ChatKind.GROUP and ctx.chat.org_unit_id is not None:
        linked = await ctx.session.get(OrgUnit, ctx.chat.org_unit_id)
        if linked is not None and linked.level == CELL_LEVEL:
            if await acting_as(ctx.session, ctx.user, linked) is None:
                return Reply(texts.CF_NOT_ALLOWED.format(cell=linked.name))
            return [linked]
    own = await own_cells(ctx.session, ctx.user)
    if ctx.incoming.chat_kind is ChatKind.PRIVATE and await _acts_above(ctx):
        below = await _cells_below(ctx)  # a secretary above: the chi bộ of their subtree
        return own + [c for c in below if c.id not in {o.id for o in own}]
    if own:
        return own
    if ctx.incoming.chat_kind is ChatKind.GROUP:
        return Reply(texts.CF_NO_CELL_GROUP)
    return Reply(texts.CF_NO_CELL)


async def _typed_cell(ctx: Context, code: str) -> OrgUnit | Reply:
    unit = await _unit(ctx, code)
    if unit is None or unit.level != CELL_LEVEL:
        return Reply(texts.CF_BAD_CELL.format(code=code.strip()[:40]))
    if await acting_as(ctx.session, ctx.user, unit) is None:
        return Reply(texts.CF_NOT_ALLOWED.format(cell=unit.name))
    return unit


async def _unit(ctx: Context, code: str) -> OrgUnit | None:
    """A unit by its code as typed ("x01-cb03" too)."""
    code = code.strip()
    return await orgs.get_unit(ctx.session, code) or await orgs.get_unit(ctx.session,
                                                                         code.upper())


async def _cells_below(ctx: Context) -> list[OrgUnit]:
    """The chi bộ under the units where the user is secretary above a chi bộ (admins: none
    listed, they type the code: the whole tree is too many to offer)."""
    roots = [unit for role, unit in await roles_of(ctx.session, ctx.user)
             if role is Role.SECRETARY and unit is not None and unit.level != CELL_LEVEL]
    if not roots:
        return []
    rows = await ctx.session.scalars(
        select(OrgUnit).where(OrgUnit.level == CELL_LEVEL,
                              or_(*[orgs.path_under(u.path) for u in roots]))
        .order_by(OrgUnit.path).limit(MAX_OFFERED + 1))
    return list(rows.all())


async def _sees(ctx: Context, scope: OrgUnit) -> bool:
    """A campaign is visible to those holding a role inside its scope or above it."""
    for _role, unit in await roles_of(ctx.session, ctx.user):
        if unit is None or unit.path.startswith(scope.path) or scope.path.startswith(unit.path):
            return True
    return False


async def _acts_above(ctx: Context) -> bool:
    for role, unit in await roles_of(ctx.session, ctx.user):
        if role is Role.ADMIN or (role is Role.SECRETARY and unit is not None
                                  and unit.level != CELL_LEVEL):
            return True
    return False


async def _pairs(ctx: Context, campaign: Campaign | None, cells: list[OrgUnit],
                 prefill: str) -> Reply:
    """The open (campaign, cell) pairs: none → say so, one → go on, several → ask which."""
    pairs: list[tuple[Campaign, OrgUnit]] = []
    if campaign is not None:
        scope = await ctx.session.get(OrgUnit, campaign.scope_unit_id)
        if scope is None or not await _sees(ctx, scope):
            return Reply(texts.CF_UNAVAILABLE)  # not even its title outside its scope
        if campaign.status != "open":
            return Reply(texts.CF_CLOSED.format(title=campaign.title))
        pairs = [(campaign, c) for c in cells if in_campaign(scope, c)]
        if not pairs:
            return Reply(texts.CF_NOT_IN_CAMPAIGN.format(cell=_names(cells),
                                                         title=campaign.title))
    else:
        today = local_today(ctx.now, ctx.tz)
        for cell in cells:
            pairs += [(c, cell) for c in await open_campaigns(ctx.session, within=cell,
                                                              today=today)]
        if not pairs:
            return Reply(texts.CF_NONE_OPEN.format(cell=cells[0].name) if len(cells) == 1
                         else texts.CF_NONE_OPEN_ANY)
    if len(pairs) == 1:
        return await _begin(ctx, *pairs[0], prefill)
    if len(pairs) > MAX_CHOICES:  # offer the chi bộ that have not confirmed yet
        confirmed = set((await ctx.session.execute(
            select(Confirmation.campaign_id, Confirmation.unit_id).where(
                Confirmation.campaign_id.in_({c.id for c, _ in pairs}),
                Confirmation.unit_id.in_({u.id for _, u in pairs})))).tuples().all())
        pairs = [(c, u) for c, u in pairs if (c.id, u.id) not in confirmed] or pairs
    if len(pairs) > MAX_CHOICES:  # still too many to press: the code is typed
        await _save(ctx, Dialog("cell", campaign=campaign.id if campaign else None,
                                prefill=prefill))
        return _cancellable(texts.CF_ASK_CELL)
    choices = [[c.id, u.code] for c, u in pairs
               if payloads.fits(payloads.confirm_choice(c.id, u.code))]
    dialog = Dialog("pick", prefill=prefill, choices=choices)
    await _save(ctx, dialog)
    return await _prompt(ctx, dialog)


async def _choose(ctx: Context, campaign_id: int, code: str) -> Reply:
    campaign = await ctx.session.get(Campaign, campaign_id)
    if campaign is None:
        return Reply(texts.CF_NO_CAMPAIGN)
    cell = await _typed_cell(ctx, code)  # the permission, checked again on the press
    if isinstance(cell, Reply):
        return cell
    dialog = await _load(ctx)
    prefill = dialog.prefill if dialog is not None else ""
    return await _pairs(ctx, campaign, [cell], prefill)


async def _begin(ctx: Context, campaign: Campaign, cell: OrgUnit, prefill: str) -> Reply:
    dialog = Dialog("date", campaign=campaign.id, cell=cell.code, prefill=prefill)
    await _save(ctx, dialog)
    return await _prompt(ctx, dialog)


# -- the answers --------------------------------------------------------------------------------
async def _answer(ctx: Context, dialog: Dialog, text: str) -> Reply | None:
    """A typed answer to the current step; None for chatter that is not one (Q&A goes on)."""
    try:
        if dialog.step == "cell":
            cell = await _typed_cell(ctx, text)
            if isinstance(cell, Reply):
                return None if _chatter(text) else _cancellable(
                    f"{cell.text}\n\n{texts.CF_ASK_CELL}")
            campaign = await ctx.session.get(Campaign, dialog.campaign or 0)
            return await _pairs(ctx, campaign, [cell], dialog.prefill)
        if dialog.step == "date":
            held = parse_held_on(text, local_today(ctx.now, ctx.tz))
            return await _set_date(ctx, dialog, held)
        if dialog.step == "attendance":
            cell = await _cell(ctx, dialog)
            if cell is None:
                return Reply(texts.CF_STALE)
            return await _set_attendance(ctx, dialog, parse_attendance(text, cell.members))
    except ConfirmError as exc:
        return None if _chatter(text) else await _prompt(ctx, dialog, str(exc))
    return None if _chatter(text) else await _prompt(ctx, dialog, texts.CF_PRESS_OR_TYPE)


async def _set_date(ctx: Context, dialog: Dialog, held: date) -> Reply:
    if held > local_today(ctx.now, ctx.tz):
        return await _prompt(ctx, dialog, texts.CF_FUTURE)
    dialog.held, dialog.step = held.isoformat(), "attendance"
    if dialog.prefill:  # "đã quán triệt 23/25": no need to ask
        prefill, dialog.prefill = dialog.prefill, ""
        cell = await _cell(ctx, dialog)
        try:
            attendance = parse_attendance(prefill, cell.members if cell else 0)
        except ConfirmError:
            attendance = None  # not numbers after all ("đã quán triệt NQ57"): just ask
        if attendance is not None:
            return await _set_attendance(ctx, dialog, attendance)
    await _save(ctx, dialog)
    return await _prompt(ctx, dialog)


async def _set_attendance(ctx: Context, dialog: Dialog, attendance: Attendance) -> Reply:
    cell = await _cell(ctx, dialog)
    if cell is None:
        return Reply(texts.CF_STALE)
    dialog.step = "attendance"
    try:
        check_numbers(attendance, cell.members, slack=ctx.confirm_slack)
    except ConfirmError as exc:
        await _save(ctx, dialog)
        return await _prompt(ctx, dialog, str(exc))
    dialog.attended, dialog.total, dialog.step = attendance.attended, attendance.total, "summary"
    await _save(ctx, dialog)
    return await _prompt(ctx, dialog)


async def _finish(ctx: Context, dialog: Dialog | None) -> Reply:
    if dialog is None or dialog.step != "summary" or not await _drop(ctx):
        return Reply(texts.CF_STALE)  # a second tap, a re-sent callback, or expired
    campaign = await ctx.session.get(Campaign, dialog.campaign or 0)
    cell = await _cell(ctx, dialog)
    if campaign is None or cell is None or dialog.held is None or dialog.total is None:
        return Reply(texts.CF_STALE)
    try:
        recorded = await record(
            ctx.session, campaign=campaign, cell=cell, user=ctx.user,
            channel=ctx.incoming.channel, held_on=date.fromisoformat(dialog.held),
            attendance=Attendance(dialog.attended or 0, dialog.total), now=ctx.now, tz=ctx.tz,
            slack=ctx.confirm_slack)
    except ConfirmError as exc:
        return Reply(str(exc))
    line = announce(cell, campaign, recorded.confirmation)
    if recorded.confirmation.on_behalf:
        line += texts.CF_BEHALF_NOTE
    if recorded.created:
        return Reply(line)
    return Reply((texts.CF_UPDATED if recorded.changed else texts.CF_SAME).format(line=line))


# -- questions ------------------------------------------------------------------------------------
async def _prompt(ctx: Context, dialog: Dialog, head: str = "") -> Reply:
    if dialog.step == "pick":
        return await _pick_prompt(ctx, dialog, head)
    if dialog.step == "cell":
        return _cancellable(_join(head, texts.CF_ASK_CELL))
    campaign = await ctx.session.get(Campaign, dialog.campaign or 0)
    cell = await _cell(ctx, dialog)
    if campaign is None or cell is None:
        await _drop(ctx)
        return Reply(texts.CF_STALE)
    if dialog.step == "date":
        question = texts.CF_ASK_DATE.format(cell=cell.name, title=campaign.title)
        return _cancellable(_join(head, question), [
            Button(texts.CF_TODAY, payloads.confirm_date(0)),
            Button(texts.CF_YESTERDAY, payloads.confirm_date(1))])
    if dialog.step == "attendance":
        row = [Button(texts.CF_ALL_BUTTON.format(n=cell.members), payloads.confirm_all())] \
            if cell.members > 0 else []
        return _cancellable(_join(head, texts.CF_ASK_ATTENDANCE), row)
    return await _summary(ctx, dialog, campaign, cell, head)


async def _summary(ctx: Context, dialog: Dialog, campaign: Campaign, cell: OrgUnit,
                   head: str) -> Reply:
    held = date.fromisoformat(dialog.held or local_today(ctx.now, ctx.tz).isoformat())
    attended, total = dialog.attended or 0, dialog.total or 0
    late = texts.CF_SUMMARY_LATE.format(deadline=fmt(campaign.deadline)) \
        if local_today(ctx.now, ctx.tz) > campaign.deadline else ""
    behalf = texts.CF_SUMMARY_BEHALF \
        if await acting_as(ctx.session, ctx.user, cell) == "behalf" else ""
    text = texts.CF_SUMMARY.format(cell=cell.name, title=campaign.title, held=fmt(held),
                                   attended=attended, total=total, pct=pct(attended, total),
                                   late=late, behalf=behalf)
    return Reply(_join(head, text), [
        [Button(texts.CF_OK_BUTTON, payloads.confirm_answer(True))],
        [Button(texts.CF_CANCEL_BUTTON, payloads.confirm_answer(False))]])


async def _pick_prompt(ctx: Context, dialog: Dialog, head: str) -> Reply:
    campaigns = {int(c): await ctx.session.get(Campaign, int(c)) for c, _ in dialog.choices}
    units = {str(u): await orgs.get_unit(ctx.session, str(u)) for _, u in dialog.choices}
    one_cell = len(units) == 1
    rows = []
    for campaign_id, code in dialog.choices:
        campaign, cell = campaigns[int(campaign_id)], units[str(code)]
        if campaign is None or cell is None:
            continue
        label = campaign.title if one_cell else f"{cell.name} — {campaign.title}"
        rows.append([Button(shorten(label, BUTTON_LABEL_CHARS),
                            payloads.confirm_choice(campaign.id, cell.code))])
    rows.append([Button(texts.CF_CANCEL_BUTTON, payloads.confirm_answer(False))])
    return Reply(_join(head, texts.CF_PICK), rows)


# -- small helpers ------------------------------------------------------------------------------
def _is_question(text: str, rest: str) -> bool:
    """"đã quán triệt nghị quyết 57 chưa?" asks; it does not confirm."""
    return "?" in text or bool(QUESTION_WORDS & set(rest.split()))


def _chatter(text: str) -> bool:
    return "?" in text or len(text.split()) >= CHATTER_WORDS


def _cancellable(text: str, row: list[Button] | None = None) -> Reply:
    rows = [row] if row else []
    return Reply(text, [*rows, [Button(texts.CF_CANCEL_BUTTON, payloads.confirm_answer(False))]])


def _titles(campaigns: list[Campaign]) -> str:
    return ", ".join(f"«{c.title}»" for c in campaigns)


def _names(cells: list[OrgUnit]) -> str:
    return ", ".join(c.name for c in cells)


def _join(head: str, text: str) -> str:
    return f"{head}\n\n{text}" if head else text


async def _cell(ctx: Context, dialog: Dialog) -> OrgUnit | None:
    return await orgs.get_unit(ctx.session, dialog.cell) if dialog.cell else None


# -- the dialog in the database ----------------------------------------------------------------
STORE = DialogStore(KIND)


def _key(ctx: Context) -> tuple[str, str, str]:
    return ctx.incoming.channel, ctx.incoming.chat_id, ctx.incoming.user_id


async def _load(ctx: Context) -> Dialog | None:
    """The live dialog (None when there is none, or it expired)."""
    state = await STORE.load(ctx.session, *_key(ctx), ctx.now)
    try:
        return Dialog(**{k: v for k, v in state.items() if k in _FIELDS})  # type: ignore[union-attr]
    except (TypeError, AttributeError):
        return None


async def _save(ctx: Context, dialog: Dialog) -> None:
    await STORE.save(ctx.session, *_key(ctx), asdict(dialog), now=ctx.now, ttl=ctx.confirm_ttl)


async def _drop(ctx: Context) -> bool:
    """Delete the dialog; False if there was none (the row count decides between racers)."""
    return await STORE.drop(ctx.session, *_key(ctx))
