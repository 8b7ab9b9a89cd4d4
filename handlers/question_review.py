"""/cauhoi: what members ask, for báo cáo viên and admins in private chat, and the loop that
turns unanswered questions into answers ("Gán vào mục…", "Chưa có nội dung", "Đề nghị soạn mục
mới", "Đã học" → "Bỏ").

Every press is checked again on the server: the user must still be a báo cáo viên or an admin,
and the group must have been asked within their subtree. Texts and counts only, never who asked.

Payloads (each at most 64 bytes):
  cq:p:<days>:<page>        the report, a page of groups
  cq:g:<group>:<days>       one group: examples and what to do with it
  cq:a:<group>:<entry_id>   learn the group's wordings as phrasings of the entry
  cq:s:<group>              search an entry by words (the next message is the search)
  cq:o:<group>              "Chưa có nội dung"        cq:d:<group>   "Đề nghị soạn mục mới"
  cq:l:<page>               learned phrasings         cq:x:<learned> take one back ("Bỏ")
"""

from __future__ import annotations

import asyncio
import logging
import re
from datetime import timedelta
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.db.models import LearnedPhrasing, QuestionGroup, User
from bot.services import learned, question_stats
from bot.services.dialogs import DialogStore
from bot.services.identities import same_person
from bot.services.qa import QAService
from bot.services.question_stats import EVERYTHING, Scope, scope_of_units
from bot.services.roles import Role, roles_of
from content.kb import Entry
from handlers import payloads
from handlers import texts_cauhoi as t
from handlers.browse import BUTTON_LABEL_CHARS, menu_button
from handlers.render import shorten
from handlers.types import Button, ChatKind, Incoming, Reply

if TYPE_CHECKING:
    from handlers.router import Context

log = logging.getLogger(__name__)

COMMAND = "/cauhoi"
PREFIX = "cq:"
SEARCH_KIND = "cauhoi_search"
SEARCH = DialogStore(SEARCH_KIND)
SEARCH_TTL = timedelta(minutes=15)
DEFAULT_DAYS = 7
MAX_DAYS = 366
GROUPS_PER_PAGE = 5
LEARNED_PER_PAGE = 5
CANDIDATES = 3
SEARCH_RESULTS = 5
EXAMPLE_CHARS = 90
_NUM = r"([0-9]{1,9})"
_ENTRY = r"([a-z0-9-]{1,48})"
_PATTERNS = {
    "p": re.compile(rf"{_NUM}:{_NUM}"),
    "g": re.compile(rf"{_NUM}:{_NUM}"),
    "a": re.compile(rf"{_NUM}:{_ENTRY}"),
    "s": re.compile(_NUM),
    "o": re.compile(_NUM),
    "d": re.compile(_NUM),
    "l": re.compile(_NUM),
    "x": re.compile(_NUM),
}


def owns(payload: str | None) -> bool:
    return bool(payload) and payload.startswith(PREFIX)


async def scope_for(session: AsyncSession, user: User) -> Scope | None:
    """Admins over the whole tree see everything; a báo cáo viên (or a scoped admin) sees the
    questions asked within their subtrees; anyone else nothing (None)."""
    held = await roles_of(session, user)
    if any(role is Role.ADMIN and unit is None for role, unit in held):
        return EVERYTHING
    units = [unit for role, unit in held if role in (Role.ADMIN, Role.REPORTER) and unit]
    return scope_of_units(units) if units else None


async def _gate(ctx: Context) -> Scope | Reply:
    if ctx.incoming.chat_kind is not ChatKind.PRIVATE:
        return Reply(t.PRIVATE_ONLY)
    scope = await scope_for(ctx.session, ctx.user)
    return scope if scope is not None else Reply(t.NOT_ALLOWED)


# -- the report ------------------------------------------------------------------------------------
async def command(ctx: Context, argument: str) -> Reply:
    """/cauhoi [số ngày]: the last 7 days by default."""
    gate = await _gate(ctx)
    if isinstance(gate, Reply):
        return gate
    days = DEFAULT_DAYS
    if argument.strip().isdigit():
        days = max(1, min(MAX_DAYS, int(argument.strip())))
    return await _report(ctx, gate, days, 1)


def _quote(text: str) -> str:
    return f"«{shorten(' '.join(text.split()), EXAMPLE_CHARS)}»"


async def _report(ctx: Context, scope: Scope, days: int, page: int) -> Reply:
    since = ctx.now - timedelta(days=days)
    counts = await question_stats.counts(ctx.session, scope, since)
    local = since.astimezone(ctx.tz).strftime("%d/%m/%Y")
    lines = [t.TITLE.format(days=days, since=local, scope=scope.label or "—")]
    nav: list[Button] = []
    rows: list[list[Button]] = []
    if counts.total == 0:
        lines.append(t.NOTHING)
    else:
        lines.append(t.COUNTS.format(total=counts.total, answered=counts.answered,
                                     suggested=counts.suggested, unknown=counts.unknown,
                                     small_talk=counts.small_talk))
        top = await question_stats.top_entries(ctx.session, scope, since)
        if top and page == 1:
            lines.append(t.TOP_TITLE)
            kb = ctx.qa.kb
            for n, (entry_id, count) in enumerate(top, start=1):
                entry = kb.entries.get(entry_id)
                question = shorten(entry.question, EXAMPLE_CHARS) if entry else entry_id
                lines.append(t.TOP_LINE.format(n=n, question=question, count=count))
        groups, total = await question_stats.open_groups(
            ctx.session, scope, since, offset=(page - 1) * GROUPS_PER_PAGE,
            limit=GROUPS_PER_PAGE)
        pages = max(1, -(-total // GROUPS_PER_PAGE))
        if total:
            lines.append(t.GROUPS_TITLE.format(total=total, page=min(page, pages), pages=pages))
            for n, group in enumerate(groups, start=(page - 1) * GROUPS_PER_PAGE + 1):
                examples = " / ".join(_quote(e) for e in group.examples)
                lines.append(t.GROUP_LINE.format(n=n, count=group.count, examples=examples))
                rows.append([Button(t.GROUP_BUTTON.format(n=n),
                                    f"{PREFIX}g:{group.group_id}:{days}")])
        else:
            lines.append(t.NO_GROUPS)
        if page > 1:
            nav.append(Button(t.PREV, f"{PREFIX}p:{days}:{page - 1}"))
        if page < pages:
            nav.append(Button(t.NEXT, f"{PREFIX}p:{days}:{page + 1}"))
    if nav:
        rows.append(nav)
    rows.append([Button(t.LEARNED_BUTTON, f"{PREFIX}l:1")])
    rows.append([menu_button()])
    return Reply("\n\n".join(lines), rows)


# -- presses ---------------------------------------------------------------------------------------
async def on_payload(ctx: Context, payload: str) -> Reply:
    gate = await _gate(ctx)
    if isinstance(gate, Reply):
        return gate
    op, _, rest = payload[len(PREFIX):].partition(":")
    pattern = _PATTERNS.get(op)
    match = pattern.fullmatch(rest) if pattern else None
    if match is None:
        return Reply(t.GONE, [[Button(t.BACK, f"{PREFIX}p:{DEFAULT_DAYS}:1")]])
    a = match.group(1)
    if op == "p":
        return await _report(ctx, gate, max(1, min(MAX_DAYS, int(a))), max(1, int(match[2])))
    if op == "l":
        return await _learned_list(ctx, max(1, int(a)))
    if op == "x":
        return await _revoke(ctx, int(a))
    group = await _visible_group(ctx, gate, int(a))
    if group is None:
        return Reply(t.GONE, [[Button(t.BACK, f"{PREFIX}p:{DEFAULT_DAYS}:1")]])
    if group.status != question_stats.OPEN:
        return Reply(t.ALREADY, [[Button(t.BACK, f"{PREFIX}p:{DEFAULT_DAYS}:1")]])
    if op == "g":
        return await _group(ctx, gate, group, max(1, min(MAX_DAYS, int(match[2]))))
    if op == "a":
        return await _assign(ctx, gate, group, match[2])
    if op == "s":
        await SEARCH.save(ctx.session, ctx.incoming.channel, ctx.incoming.chat_id,
                          ctx.incoming.user_id, {"group": group.id}, now=ctx.now, ttl=SEARCH_TTL)
        return Reply(t.SEARCH_ASK)
    examples = await question_stats.group_examples(ctx.session, group.id, gate, limit=5)
    status = question_stats.OUT_OF_SCOPE if op == "o" else question_stats.DRAFT
    await learned.decide(ctx.session, ctx.user, group, status, examples, now=ctx.now)
    return Reply(t.OUT_DONE if op == "o" else t.DRAFT_DONE,
                 [[Button(t.BACK, f"{PREFIX}p:{DEFAULT_DAYS}:1")]])


async def _visible_group(ctx: Context, scope: Scope, group_id: int) -> QuestionGroup | None:
    group = await ctx.session.get(QuestionGroup, group_id)
    if group is None or not await question_stats.group_visible(ctx.session, group.id, scope):
        return None
    return group


def _entry_buttons(group_id: int, entries: list[Entry]) -> list[list[Button]]:
    return [[Button(t.ASSIGN_BUTTON.format(question=shorten(e.question, BUTTON_LABEL_CHARS - 2)),
                    f"{PREFIX}a:{group_id}:{e.id}")] for e in entries
            if payloads.fits(f"{PREFIX}a:{group_id}:{e.id}")]


async def _group(ctx: Context, scope: Scope, group: QuestionGroup, days: int) -> Reply:
    since = ctx.now - timedelta(days=days)
    examples = await question_stats.group_examples(ctx.session, group.id, scope, limit=3)
    count = await question_stats.group_count(ctx.session, group.id, scope, since)
    await ctx.qa.refresh(ctx.session)
    best: dict[str, tuple[float, Entry]] = {}
    for example in examples:
        result = ctx.qa.matcher.match(example)
        found = [(c.rank, c.entry) for c in result.candidates[:CANDIDATES]]
        if result.entry is not None and not result.candidates:
            found.append((float("inf"), result.entry))
        for rank, entry in found:
            if entry.id not in best or best[entry.id][0] < rank:
                best[entry.id] = (rank, entry)
    candidates = [e for _, e in sorted(best.values(), key=lambda p: -p[0])][:CANDIDATES]
    text = t.GROUP_TITLE.format(count=count, days=days,
                                examples="\n".join(f"• {_quote(e)}" for e in examples))
    rows = [*_entry_buttons(group.id, candidates),
            [Button(t.SEARCH_BUTTON, f"{PREFIX}s:{group.id}")],
            [Button(t.OUT_BUTTON, f"{PREFIX}o:{group.id}"),
             Button(t.DRAFT_BUTTON, f"{PREFIX}d:{group.id}")],
            [Button(t.BACK, f"{PREFIX}p:{days}:1")]]
    return Reply(f"{text}\n\n{t.GROUP_PICK}", rows)


async def _wordings(session: AsyncSession, scope: Scope, group: QuestionGroup, entry_id: str,
                    active: learned.Phrasings) -> list[str]:
    examples = await question_stats.group_examples(
        session, group.id, scope, limit=learned.MAX_PHRASINGS_PER_GROUP)
    return learned.prepare(examples, active.get(entry_id, ()))


async def _proposal(qa: QAService, active: learned.Phrasings, entry_id: str,
                    wordings: list[str]) -> learned.Conflict | None:
    """Build the matcher with the new wordings and run the safety check (seconds of work, in a
    thread; both remembered, so the press's transaction finds them done)."""
    proposed = dict(active)
    proposed[entry_id] = (*active.get(entry_id, ()), *wordings)
    current = qa.matcher
    matcher = await asyncio.to_thread(learned.build_matcher, qa.base_matcher, proposed)
    return await asyncio.to_thread(learned.check, current, matcher, entry_id, wordings)


async def before_transaction(sessions: async_sessionmaker, qa: QAService,
                             incoming: Incoming) -> None:
    """Heavy work outside an update's transaction (SQLite has one writer at a time): bring the
    matcher up to date with learned phrasings, and for a press on an entry in "Gán vào mục…"
    build and check the proposal read-only. The press itself is checked and recorded later, in
    the transaction, which then finds the work done."""
    await qa.sync(sessions)
    if not owns(incoming.payload) or not (incoming.payload or "").startswith(f"{PREFIX}a:"):
        return
    match = _PATTERNS["a"].fullmatch((incoming.payload or "")[len(PREFIX) + 2:])
    if match is None or match[2] not in qa.kb.entries:
        return
    try:
        async with sessions() as session:
            user = await session.scalar(select(User).where(
                User.channel == incoming.channel, User.external_id == incoming.user_id))
            scope = await scope_for(session, user) if user is not None else None
            group = await session.get(QuestionGroup, int(match[1])) if scope else None
            if scope is None or group is None or group.status != question_stats.OPEN:
                return
            active = await learned.active(session)
            wordings = await _wordings(session, scope, group, match[2], active)
        if wordings:
            await _proposal(qa, active, match[2], wordings)
    except Exception:  # only a head start: the press is handled (and checked) regardless
        log.exception("preparing a learned phrasing failed")


async def _assign(ctx: Context, scope: Scope, group: QuestionGroup, entry_id: str) -> Reply:
    entry = ctx.qa.kb.entries.get(entry_id)
    if entry is None:
        return Reply(t.GONE)
    await ctx.qa.refresh(ctx.session)
    active = await learned.active(ctx.session)
    wordings = await _wordings(ctx.session, scope, group, entry_id, active)
    back = [[Button(t.BACK, f"{PREFIX}p:{DEFAULT_DAYS}:1")]]
    if not wordings:
        return Reply(t.LEARNED_NONE, back)
    conflict = await _proposal(ctx.qa, active, entry_id, wordings)
    if conflict is not None:
        other = ctx.qa.kb.entries.get(conflict.entry_id)
        return Reply(t.CONFLICT.format(wording=shorten(conflict.wording, EXAMPLE_CHARS),
                                       other=other.question if other else conflict.entry_id),
                     back)
    await learned.record(ctx.session, ctx.user, group, entry_id, wordings, now=ctx.now)
    return Reply(t.LEARNED.format(n=len(wordings), question=shorten(entry.question, 120)), back)


# -- search by words -------------------------------------------------------------------------------
async def on_text(ctx: Context, text: str, live: set[str]) -> Reply | None:
    """The words of a search started with "Tìm mục khác…"; None when no search is under way."""
    if SEARCH_KIND not in live or ctx.incoming.chat_kind is not ChatKind.PRIVATE:
        return None
    incoming = ctx.incoming
    data = await SEARCH.load(ctx.session, incoming.channel, incoming.chat_id, incoming.user_id,
                             ctx.now)
    await SEARCH.drop(ctx.session, incoming.channel, incoming.chat_id, incoming.user_id)
    if not isinstance(data, dict) or text.strip().startswith("/"):
        return None
    gate = await _gate(ctx)
    if isinstance(gate, Reply):
        return gate
    group = await _visible_group(ctx, gate, int(data.get("group", 0)))
    if group is None or group.status != question_stats.OPEN:
        return Reply(t.GONE)
    await ctx.qa.refresh(ctx.session)
    result = ctx.qa.matcher.match(text)
    found: list[Entry] = [result.entry] if result.entry is not None else []
    found += [c.entry for c in result.candidates if c.entry not in found]
    found = found[:SEARCH_RESULTS]
    if not found:
        return Reply(t.SEARCH_NONE, [[Button(t.SEARCH_BUTTON, f"{PREFIX}s:{group.id}")]])
    return Reply(t.SEARCH_RESULT, [*_entry_buttons(group.id, found),
                                   [Button(t.BACK, f"{PREFIX}p:{DEFAULT_DAYS}:1")]])


# -- learned phrasings -----------------------------------------------------------------------------
async def _learned_list(ctx: Context, page: int) -> Reply:
    rows, total = await learned.listing(ctx.session, offset=(page - 1) * LEARNED_PER_PAGE,
                                        limit=LEARNED_PER_PAGE)
    back = [Button(t.BACK, f"{PREFIX}p:{DEFAULT_DAYS}:1")]
    if not total:
        return Reply(t.LEARNED_EMPTY, [back])
    pages = max(1, -(-total // LEARNED_PER_PAGE))
    lines = [t.LEARNED_TITLE.format(total=total, page=min(page, pages), pages=pages)]
    buttons: list[list[Button]] = []
    kb = ctx.qa.kb
    for n, row in enumerate(rows, start=(page - 1) * LEARNED_PER_PAGE + 1):
        entry = kb.entries.get(row.entry_id)
        when = row.created_at.astimezone(ctx.tz).strftime("%d/%m/%Y") if row.created_at.tzinfo \
            else row.created_at.strftime("%d/%m/%Y")
        lines.append(t.LEARNED_LINE.format(
            n=n, text=shorten(row.text, EXAMPLE_CHARS), when=when,
            question=shorten(entry.question, 80) if entry else row.entry_id))
        buttons.append([Button(t.REVOKE_BUTTON.format(n=n), f"{PREFIX}x:{row.id}")])
    nav = []
    if page > 1:
        nav.append(Button(t.PREV, f"{PREFIX}l:{page - 1}"))
    if page < pages:
        nav.append(Button(t.NEXT, f"{PREFIX}l:{page + 1}"))
    return Reply("\n".join(lines), [*buttons, *([nav] if nav else []), back])


async def _revoke(ctx: Context, learned_id: int) -> Reply:
    row = await ctx.session.get(LearnedPhrasing, learned_id)
    back = [[Button(t.LEARNED_BUTTON, f"{PREFIX}l:1")]]
    if row is None or row.revoked_at is not None:
        return Reply(t.GONE, back)
    held = await roles_of(ctx.session, ctx.user)
    is_admin = any(role is Role.ADMIN and unit is None for role, unit in held)
    if not is_admin and row.created_by not in await same_person(ctx.session, ctx.user):
        return Reply(t.REVOKE_DENIED, back)
    await learned.revoke(ctx.session, ctx.user, row, now=ctx.now)
    return Reply(t.REVOKED.format(text=shorten(row.text, EXAMPLE_CHARS)), back)
