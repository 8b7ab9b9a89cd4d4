"""/thongbao: list, open, pause and cancel broadcasts, and compose a new one step by step.

Private chats only. The draft lives in the database (DialogState of kind "broadcast_draft"),
so it survives a restart and any worker can continue it. Each step checks what it can at
once, for a specific answer; scheduler.broadcasts.prepare() checks everything again at the
preview and once more at the confirmation (permission at the moment of the action).

Steps: content (typed text) | entry (a typed question) | series (document → topic buttons)
→ units → audience → channel → time | daily | weekly → preview → confirm.
"""

from __future__ import annotations

import re
from dataclasses import asdict, fields
from typing import TYPE_CHECKING

from sqlalchemy import select

from bot.db.models import Broadcast, Campaign, OrgUnit
from bot.services.confirmations import CELL_LEVEL
from bot.services.dialogs import DialogStore
from bot.services.orgs import LEVELS
from bot.services.roles import roles_of
from handlers import payloads, texts
from handlers.browse import BUTTON_LABEL_CHARS, menu_button
from handlers.payloads import Action
from handlers.render import shorten
from handlers.types import Button, ChatKind, Reply
from scheduler import broadcasts, summaries
from scheduler.broadcasts import SENDERS, BroadcastError, Draft, Prepared
from scheduler.targets import AUDIENCES, CHANNEL_LABELS, TargetError, parse_codes, resolve_units
from scheduler.timespec import ScheduleError, daily, parse_schedule, weekly

if TYPE_CHECKING:
    from handlers.router import Context

KIND = "broadcast_draft"
LIST_SIZE = 5
MAX_UNIT_BUTTONS = 6
PREVIEW_CHARS = 200
AUDIENCE_CHOICES = {"a:all": ("groups", None), "a:chibo": ("groups", "chi_bo"),
                    "a:sec": ("secretary", None)}
CHANNEL_CHOICES = {"c:telegram": "telegram", "c:zalo": "zalo", "c:all": "all"}
TIME_STEPS = ("time", "daily", "weekly")
_ID_RE = re.compile(r"#?([0-9]{1,9})")
_DRAFT_FIELDS = {f.name for f in fields(Draft)}


# -- entry points (the router calls these) ------------------------------------------------------
async def command(ctx: Context, argument: str) -> Reply:
    """/thongbao: the list of recent broadcasts; /thongbao 12 opens #12."""
    refusal = await _refusal(ctx)
    if refusal is not None:
        return refusal
    number = _ID_RE.fullmatch(argument.strip())
    if number:
        return await _open(ctx, int(number.group(1)))
    return await _listing(ctx)


async def quit_command(ctx: Context) -> Reply:
    """/huy: drop the draft being composed."""
    if ctx.incoming.chat_kind is not ChatKind.PRIVATE:
        return Reply(texts.BC_PRIVATE_ONLY)
    if await _load(ctx) is None:
        return Reply(texts.BC_NO_DRAFT)
    await _drop(ctx)
    return Reply(texts.BC_QUIT)


async def on_action(ctx: Context, action: Action) -> Reply:
    """A pressed button: b:… (manage broadcasts) or bc:… (a composer answer)."""
    if ctx.incoming.chat_kind is not ChatKind.PRIVATE:
        return Reply(texts.BC_PRIVATE_ONLY)
    if action.kind == "broadcast":
        if action.op == "new":
            return await _refusal(ctx) or await _go(ctx, "content", Draft())
        if action.op == "open":
            return await _open(ctx, action.number)
        if action.op == "announce":
            return await _refusal(ctx) or await _announce(ctx, action.number)
        return await _change(ctx, action.op, action.number)
    return await _on_choice(ctx, action)


async def on_text(ctx: Context, text: str) -> Reply | None:
    """Typed text answers the current step; None when no draft is live, or when the text is
    not an answer to this step (a question): Q&A goes on, the draft is kept."""
    loaded = await _load(ctx)
    if loaded is None:
        return None
    step, draft = loaded
    if step == "content":
        draft.content_kind, draft.text, draft.entry_id, draft.series = (
            "text", text.strip(), None, None)
        error = _content_error(ctx, draft)
        if error:
            return await _prompt(ctx, "content", draft, error)
        return await _go(ctx, "units", draft)
    if step == "entry":
        return await _choose_entry(ctx, draft, text)
    if step == "units":
        codes = parse_codes(text)
        if _asks(text, codes) and not await _names_a_unit(ctx, codes):
            return None
        return await _set_units(ctx, draft, codes)
    if step in TIME_STEPS:
        return await _set_time(ctx, step, draft, text.strip())
    return None  # a step answered with buttons: typed text is something else


def _asks(text: str, words: tuple[str, ...]) -> bool:
    """A question rather than an answer: a question mark, or words that are no codes or
    times (no digit in them), e.g. «Nghị quyết 57 ban hành ngày nào»."""
    return "?" in text or sum(not any(c.isdigit() for c in w) for w in words) >= 3


async def _names_a_unit(ctx: Context, codes: tuple[str, ...]) -> bool:
    return any([await _exists(ctx, code) for code in codes])


async def _exists(ctx: Context, code: str) -> bool:
    try:
        await resolve_units(ctx.session, (code,))
    except TargetError:
        return False
    return True


async def _announce(ctx: Context, campaign_id: int) -> Reply:
    """A draft announcing a campaign to its chi bộ groups, with the confirmation button; the
    reporter picks the channel and the time, then sees the preview as usual."""
    campaign = await ctx.session.get(Campaign, campaign_id)
    scope = await ctx.session.get(OrgUnit, campaign.scope_unit_id) if campaign else None
    if campaign is None or scope is None or campaign.status != "open":
        return Reply(texts.STALE_BUTTON)
    draft = Draft(content_kind="text", text=broadcasts.announcement_text(campaign),
                  targets=(scope.code,), level=CELL_LEVEL, audience="groups",
                  campaign_id=campaign.id)
    return await _go(ctx, "channel", draft)


# -- the list and one broadcast -------------------------------------------------------------------
async def _refusal(ctx: Context) -> Reply | None:
    if ctx.incoming.chat_kind is not ChatKind.PRIVATE:
        return Reply(texts.BC_PRIVATE_ONLY)
    if not any(role in SENDERS for role, _ in await roles_of(ctx.session, ctx.user)):
        return Reply(texts.BC_NOT_ALLOWED)
    return None


async def _listing(ctx: Context) -> Reply:
    items = await broadcasts.list_broadcasts(ctx.session, ctx.user, limit=LIST_SIZE)
    text = (texts.BC_LIST_TITLE + "\n" + "\n".join(summaries.line(b, ctx.tz) for b in items)
            if items else texts.BC_LIST_EMPTY)
    buttons = [[Button(texts.BC_NEW_BUTTON, payloads.broadcast("new"))]]
    if await _load(ctx) is not None:
        text += "\n\n" + texts.BC_DRAFT_PENDING
        buttons.append([Button(texts.BC_CONTINUE_BUTTON, payloads.compose("back"))])
    buttons += [
        [Button(shorten(texts.BC_OPEN_BUTTON.format(id=b.id, title=summaries.title(b)),
                        BUTTON_LABEL_CHARS), payloads.broadcast("open", b.id))]
        for b in items if b.status in ("active", "paused")
    ]
    return Reply(text, buttons)


async def _open(ctx: Context, number: int) -> Reply:
    broadcast = await ctx.session.get(Broadcast, number)
    if broadcast is None:
        return Reply(texts.BC_NOT_FOUND.format(id=number))
    if not await broadcasts.may_manage(ctx.session, ctx.user, broadcast):
        return Reply(texts.BC_NOT_YOURS)
    return _details(ctx, broadcast)


async def _change(ctx: Context, op: str, number: int) -> Reply:
    try:
        broadcast = await broadcasts.change_status(ctx.session, number, op, actor=ctx.user,
                                                   now=ctx.now, tz=ctx.tz)
    except BroadcastError as exc:
        return Reply(str(exc))
    return _details(ctx, broadcast, texts.BC_DONE[op].format(id=broadcast.id))


def _details(ctx: Context, broadcast: Broadcast, head: str = "") -> Reply:
    choices = {"active": [("pause", texts.BC_PAUSE_BUTTON), ("cancel", texts.BC_CANCEL_BUTTON)],
               "paused": [("resume", texts.BC_RESUME_BUTTON), ("cancel", texts.BC_CANCEL_BUTTON)]}
    buttons = [[Button(label, payloads.broadcast(op, broadcast.id))]
               for op, label in choices.get(broadcast.status, [])]
    return Reply(_join(head, summaries.details(broadcast, ctx.tz)), buttons)


# -- the composer -------------------------------------------------------------------------------
async def _on_choice(ctx: Context, action: Action) -> Reply:
    loaded = await _load(ctx)
    if loaded is None:
        return _stale()
    step, draft = loaded
    op = action.op
    if op == "quit":
        await _drop(ctx)
        return Reply(texts.BC_QUIT)
    if op == "back":
        return await _prompt(ctx, step, draft)
    if op in ("entry", "series") and step in ("content", "entry", "series"):
        return await _go(ctx, op, draft)
    if op == "sd" and step == "series":
        return _topics(ctx, action.document) or _stale()
    if op == "st" and step == "series":
        return await _choose_series(ctx, draft, action.document, action.topic)
    if op == "u" and step == "units":
        return await _set_units(ctx, draft, (action.unit_code,))
    if op in AUDIENCE_CHOICES and step == "audience":
        draft.audience, draft.level = AUDIENCE_CHOICES[op]
        return await _go(ctx, "channel", draft)
    if op in CHANNEL_CHOICES and step == "channel":
        draft.channel = CHANNEL_CHOICES[op]
        return await _go(ctx, "time", draft)
    if op in texts.BC_TIME_BUTTONS and step in TIME_STEPS:
        if op == "t:now":
            draft.at = draft.cron = None
            return await _go(ctx, "preview", draft)
        return await _go(ctx, "daily" if op == "t:daily" else "weekly", draft)
    if op == "ok" and step == "preview":
        return await _confirm(ctx, draft)
    return _stale()


async def _go(ctx: Context, step: str, draft: Draft, head: str = "") -> Reply:
    """Move the draft to `step` and ask that step's question."""
    if step == "preview":
        return await _preview(ctx, draft, head)
    await _save(ctx, step, draft)
    return await _prompt(ctx, step, draft, head)


async def _prompt(ctx: Context, step: str, draft: Draft, head: str = "") -> Reply:
    if step == "preview":
        return await _preview(ctx, draft, head)
    kb = ctx.qa.kb
    rows: list[list[Button]] = []
    if step == "content":
        question = texts.BC_ASK_CONTENT
        rows = [[Button(texts.BC_ENTRY_BUTTON, payloads.compose("entry"))],
                [Button(texts.BC_SERIES_BUTTON, payloads.compose("series"))]]
    elif step == "entry":
        question = texts.BC_ASK_ENTRY
    elif step == "series":
        question = texts.BC_ASK_DOCUMENT
        rows = [[Button(kb.menu_title(d.key), payloads.compose(f"sd:{d.key}"))]
                for d in kb.browsable_documents()]
    elif step == "units":
        question, rows = texts.BC_ASK_UNITS, await _unit_buttons(ctx)
    elif step == "audience":
        question, rows = texts.BC_ASK_AUDIENCE, _choices(texts.BC_AUDIENCE_BUTTONS)
    elif step == "channel":
        question, rows = texts.BC_ASK_CHANNEL, _choices(texts.BC_CHANNEL_BUTTONS)
    elif step == "time":
        question, rows = texts.BC_ASK_TIME, _choices(texts.BC_TIME_BUTTONS)
    else:
        question = texts.BC_ASK_DAILY if step == "daily" else texts.BC_ASK_WEEKLY
    return Reply(_join(head, question), [*rows, [_quit_button(texts.BC_QUIT_BUTTON)]])


def _topics(ctx: Context, document: str) -> Reply | None:
    kb = ctx.qa.kb
    rows: list[list[Button]] = []
    for topic in kb.topics.get(document, []):
        payload = payloads.compose(f"st:{document}:{topic.id}")
        if kb.entries_for(document, topic.id) and payloads.fits(payload):
            rows.append([Button(shorten(topic.title, BUTTON_LABEL_CHARS), payload)])
    if not rows:
        return None
    return Reply(f"{kb.menu_title(document)}\n{texts.BC_ASK_TOPIC}",
                 [*rows, [_quit_button(texts.BC_QUIT_BUTTON)]])


async def _choose_entry(ctx: Context, draft: Draft, question: str) -> Reply:
    entry = ctx.qa.evaluate(question).entry  # only an answered match counts
    if entry is None:
        return await _prompt(ctx, "entry", draft, texts.BC_ENTRY_NOT_FOUND)
    draft.content_kind, draft.entry_id, draft.text, draft.series = "entry", entry.id, "", None
    error = _content_error(ctx, draft)
    if error:
        return await _prompt(ctx, "entry", draft, error)
    return await _go(ctx, "units", draft, texts.BC_ENTRY_FOUND.format(question=entry.question))


async def _choose_series(ctx: Context, draft: Draft, document: str, topic_id: str) -> Reply:
    topic = ctx.qa.kb.topic(document, topic_id)
    count = len(ctx.qa.kb.entries_for(document, topic_id))
    if topic is None or not count:
        return _stale()
    draft.content_kind, draft.series = "series", f"{document}:{topic_id}"
    draft.text, draft.entry_id = "", None
    error = _content_error(ctx, draft)
    if error:
        return await _prompt(ctx, "series", draft, error)
    return await _go(ctx, "units", draft,
                     texts.BC_SERIES_FOUND.format(topic=topic.title, count=count))


async def _set_units(ctx: Context, draft: Draft, codes: tuple[str, ...]) -> Reply:
    if not codes:
        return await _prompt(ctx, "units", draft, texts.BC_NO_UNITS)
    try:
        units = await resolve_units(ctx.session, codes)
    except TargetError as exc:
        return await _prompt(ctx, "units", draft, str(exc))
    outside = [u for u in units if not await broadcasts.may_send_to(ctx.session, ctx.user, u)]
    if outside:
        names = ", ".join(f"{u.name} ({u.code})" for u in outside)
        return await _prompt(ctx, "units", draft, texts.BC_UNITS_NOT_ALLOWED.format(units=names))
    draft.targets = tuple(u.code for u in units)
    return await _go(ctx, "audience", draft)


async def _set_time(ctx: Context, step: str, draft: Draft, text: str) -> Reply:
    try:
        if step == "daily":
            at, cron = None, daily(text)
        elif step == "weekly":
            days, _, time = text.rpartition(" ")
            at, cron = None, weekly(days, time)
        elif len(text.split()) == 5:
            at, cron = None, text
        else:
            at, cron = text, None
        parse_schedule(at=at, cron=cron, tz=ctx.tz, now=ctx.now)
    except ScheduleError as exc:
        if _asks(text, tuple(text.split())):
            return None  # a question, not a time
        return await _prompt(ctx, step, draft, str(exc))
    draft.at, draft.cron = at, cron
    return await _go(ctx, "preview", draft)


async def _preview(ctx: Context, draft: Draft, head: str = "") -> Reply:
    try:
        prepared = await _prepare(ctx, draft)
    except BroadcastError as exc:
        return await _go(ctx, _step_of_error(ctx, draft), draft, str(exc))
    await _save(ctx, "preview", draft)
    buttons = [[Button(texts.BC_CONFIRM_BUTTON, payloads.compose("ok"))],
               [_quit_button(texts.BC_CANCEL_BUTTON)]]
    return Reply(_join(head, _preview_text(ctx, prepared)), buttons)


async def _confirm(ctx: Context, draft: Draft) -> Reply:
    try:
        prepared = await _prepare(ctx, draft)  # again: the permission is checked now
    except BroadcastError as exc:
        return await _go(ctx, _step_of_error(ctx, draft), draft, str(exc))
    if not await _drop(ctx):  # a second press, or another worker, got there first
        return _stale()
    broadcast = await broadcasts.create(ctx.session, prepared, actor=ctx.user, now=ctx.now)
    ctx.created_broadcast = broadcast.id
    when = texts.BC_CREATED_NOW if prepared.schedule.kind == "now" else (
        texts.BC_CREATED_LATER.format(at=summaries.local(prepared.first_fire, ctx.tz)))
    return Reply(texts.BC_CREATED.format(id=broadcast.id, when=when))


async def _prepare(ctx: Context, draft: Draft) -> Prepared:
    return await broadcasts.prepare(ctx.session, ctx.qa.kb, draft, actor=ctx.user,
                                    now=ctx.now, tz=ctx.tz, limits=ctx.limits)


def _step_of_error(ctx: Context, draft: Draft) -> str:
    """Where to send the user back when prepare() refuses: content, time, or the targets."""
    if _content_error(ctx, draft):
        return "content"
    try:
        parse_schedule(at=draft.at, cron=draft.cron, tz=ctx.tz, now=ctx.now)
    except ScheduleError:
        return "time"
    return "units"


def _content_error(ctx: Context, draft: Draft) -> str | None:
    kb = ctx.qa.kb
    if draft.content_kind == "entry":
        entry = kb.entries.get(draft.entry_id or "")
        if entry is None:
            return texts.BC_ENTRY_NOT_FOUND
        text = broadcasts.entry_text(entry)
    elif draft.content_kind == "series":
        entries = broadcasts.series_entries(kb, draft.series or "")
        if not entries:
            return texts.BC_ENTRY_NOT_FOUND
        text = max((broadcasts.entry_text(e) for e in entries), key=len)
    else:
        text = draft.text.strip()
        if not text:
            return texts.BC_EMPTY
    # the channel is chosen later: here only the loosest platform limit; prepare() checks the
    # chosen channels at the preview and sends the user back to this step if needed
    platform_key = max(ctx.limits, key=lambda c: ctx.limits[c])
    limit, platform = ctx.limits[platform_key], CHANNEL_LABELS[platform_key]
    if len(text) > limit:
        return texts.BC_TOO_LONG.format(length=summaries.number(len(text)),
                                        limit=summaries.number(limit), platform=platform)
    return None


# -- what the preview says ----------------------------------------------------------------------
def _preview_text(ctx: Context, prepared: Prepared) -> str:
    draft = prepared.draft
    noun = texts.BC_COUNT_GROUPS if draft.audience == "groups" else texts.BC_COUNT_PEOPLE
    counts = ", ".join(
        texts.BC_COUNT.format(channel=CHANNEL_LABELS[channel], n=summaries.number(n), noun=noun)
        for channel, n in prepared.counts.items())
    level = texts.BC_LEVEL.format(level=LEVELS.get(draft.level, draft.level).lower()) \
        if draft.level else ""
    return texts.BC_PREVIEW.format(
        content=_content_preview(ctx, prepared), audience=AUDIENCES[draft.audience],
        units=", ".join(f"{u.name} ({u.code})" for u in prepared.units), level=level,
        counts=counts, schedule=_schedule_text(ctx, prepared))


def _content_preview(ctx: Context, prepared: Prepared) -> str:
    draft = prepared.draft
    if draft.content_kind != "series" or not draft.series:
        return _clip(prepared.first_text)
    entries = broadcasts.series_entries(ctx.qa.kb, draft.series)
    document, _, topic_id = draft.series.partition(":")
    topic = ctx.qa.kb.topic(document, topic_id)
    return texts.BC_PREVIEW_SERIES.format(topic=topic.title if topic else draft.series,
                                          count=len(entries),
                                          first=_clip(broadcasts.entry_text(entries[0])))


def _schedule_text(ctx: Context, prepared: Prepared) -> str:
    schedule, at = prepared.schedule, summaries.local(prepared.first_fire, ctx.tz)
    if schedule.kind == "now":
        return texts.BC_SCHEDULE_NOW
    if schedule.kind == "once":
        return texts.BC_SCHEDULE_ONCE.format(at=at)
    return texts.BC_SCHEDULE_CRON.format(repeat=_describe_cron(schedule.cron), at=at)


def _describe_cron(cron: str) -> str:
    """Daily and weekly crons in words; anything else as typed."""
    parts = cron.split()
    if len(parts) == 5 and parts[0].isdigit() and parts[1].isdigit() and parts[2:4] == ["*", "*"]:
        time = f"{int(parts[1]):02d}:{int(parts[0]):02d}"
        if parts[4] == "*":
            return texts.BC_DAILY.format(time=time)
        days = parts[4].split(",")
        if all(day in texts.BC_WEEKDAYS for day in days):
            return texts.BC_WEEKLY.format(days=", ".join(texts.BC_WEEKDAYS[d] for d in days),
                                          time=time)
    return texts.BC_CRON.format(cron=cron)


# -- small helpers ------------------------------------------------------------------------------
async def _unit_buttons(ctx: Context) -> list[list[Button]]:
    """The units the user sends for (a global admin: the roots of the tree)."""
    units: list[OrgUnit] = []
    for role, scope in await roles_of(ctx.session, ctx.user):
        if role not in SENDERS:
            continue
        if scope is None:
            units += (await ctx.session.scalars(
                select(OrgUnit).where(OrgUnit.depth == 0).order_by(OrgUnit.id))).all()
        else:
            units.append(scope)
    unique = list({u.id: u for u in units}.values())[:MAX_UNIT_BUTTONS]
    return [[Button(shorten(f"{u.name} ({u.code})", BUTTON_LABEL_CHARS),
                    payloads.compose(f"u:{u.code}"))]
            for u in unique if payloads.fits(payloads.compose(f"u:{u.code}"))]


def _choices(labels: dict[str, str]) -> list[list[Button]]:
    return [[Button(label, payloads.compose(choice))] for choice, label in labels.items()]


def _quit_button(label: str) -> Button:
    return Button(label, payloads.compose("quit"))


def _stale() -> Reply:
    return Reply(texts.STALE_BUTTON, [[menu_button()]])


def _join(head: str, text: str) -> str:
    return f"{head}\n\n{text}" if head else text


def _clip(text: str) -> str:
    return text if len(text) <= PREVIEW_CHARS else text[:PREVIEW_CHARS].rstrip() + "…"


# -- the draft in the database ------------------------------------------------------------------
STORE = DialogStore(KIND)


def _key(ctx: Context) -> tuple[str, str, str]:
    return ctx.incoming.channel, ctx.incoming.chat_id, ctx.incoming.user_id


async def _load(ctx: Context) -> tuple[str, Draft] | None:
    """The live draft and its step (None when there is none, or it expired)."""
    state = await STORE.load(ctx.session, *_key(ctx), ctx.now)
    try:
        values = {k: v for k, v in state["draft"].items() if k in _DRAFT_FIELDS}  # type: ignore[index]
        values["targets"] = tuple(values.get("targets", ()))
        return str(state["step"]), Draft(**values)  # type: ignore[index]
    except (KeyError, TypeError, AttributeError):
        return None


async def _save(ctx: Context, step: str, draft: Draft) -> None:
    await STORE.save(ctx.session, *_key(ctx), {"step": step, "draft": asdict(draft)},
                     now=ctx.now, ttl=ctx.draft_ttl)


async def _drop(ctx: Context) -> bool:
    """Delete the draft; False if there was none (the row count decides between racers)."""
    return await STORE.drop(ctx.session, *_key(ctx))
