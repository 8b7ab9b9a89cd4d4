"""What members ask: the question log grouped and counted for báo cáo viên and admins.

Privacy: everything here returns question texts and counts, never who asked. Each logged
question carries the org unit it was asked from (`unit_id`, found when it is logged) and, when
the bot did not answer it, its group (`group_id`): questions with the same grouping key — the
matcher's normalised, typo-snapped syllables without their order — share one group, and so do
near-duplicates whose keys differ by one syllable (not a number). Grouping happens once, when a
question is logged, by exact lookups on indexed keys, so a report is a GROUP BY over an indexed
column and never compares questions pairwise.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, case, delete, exists, func, or_, select, true
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.models import (
    Chat,
    OrgUnit,
    QuestionGroup,
    QuestionGroupKey,
    QuestionLog,
    RoleAssignment,
    utcnow,
)
from bot.services.orgs import path_under

# QuestionLog.outcome values (bot.services.qa.Outcome) counted under each heading
ANSWERED = ("answered",)
SUGGESTED = ("suggested",)
UNKNOWN = ("unknown", "other_document")
SMALL_TALK = ("small_talk",)
GROUPED = ("suggested", "unknown")  # the questions a báo cáo viên can act on
MAX_KEY = 500
NEAR_MIN_TOKENS = 5  # a near-duplicate differs by one syllable from a key at least this long
OPEN, ASSIGNED, OUT_OF_SCOPE, DRAFT = "open", "assigned", "out_of_scope", "draft"


# -- grouping key, placement (when a question is logged) -----------------------------------------
def group_key(tokens: tuple[str, ...]) -> str:
    """Order-free key of a question's (typo-snapped, folded) syllables: "57 nghi quyet la gi"
    and "nghi quyet 57 la gi" group together."""
    return " ".join(sorted(set(tokens)))[:MAX_KEY]


def _near_keys(key: str) -> list[str]:
    """The key with one syllable left out (never a number: "2030" and "2045" stay apart), for
    keys long enough that one syllable is not the point of the question."""
    tokens = key.split()
    if len(tokens) <= NEAR_MIN_TOKENS:
        return []
    return [" ".join(tokens[:i] + tokens[i + 1:]) for i, t in enumerate(tokens)
            if not t.isdigit()]


async def group_for(session: AsyncSession, key: str, sample: str) -> QuestionGroup | None:
    """The group for a question's key: the group with this key; else an open group whose key
    has one syllable more or one less (a near-duplicate: "mỗi xã có bao nhiêu cán bộ công nghệ"
    and "xã có bao nhiêu cán bộ công nghệ"); else a new group (two processes at once: one row).
    All exact lookups on indexed keys, at logging time."""
    if not key:
        return None
    group = await session.scalar(select(QuestionGroup).where(QuestionGroup.key == key))
    if group is not None:
        return group
    near_keys = _near_keys(key)
    if len(key.split()) >= NEAR_MIN_TOKENS:
        longer = select(QuestionGroupKey.group_id).where(QuestionGroupKey.key == key)
        shorter = select(QuestionGroup.id).where(QuestionGroup.key.in_(near_keys)) \
            if near_keys else None
        ids = longer if shorter is None else longer.union(shorter)
        near = await session.scalar(
            select(QuestionGroup).where(QuestionGroup.id.in_(ids), QuestionGroup.status == OPEN)
            .order_by(QuestionGroup.id).limit(1))
        if near is not None:
            return near
    insert = pg_insert if session.bind.dialect.name == "postgresql" else sqlite_insert
    await session.execute(
        insert(QuestionGroup).values(key=key, sample=sample[:500], status=OPEN, examples="",
                                     created_at=utcnow())
        .on_conflict_do_nothing(index_elements=["key"])
    )
    group = await session.scalar(select(QuestionGroup).where(QuestionGroup.key == key))
    if group is not None and near_keys:
        await session.execute(
            insert(QuestionGroupKey).values([{"key": k, "group_id": group.id} for k in near_keys])
            .on_conflict_do_nothing(index_elements=["key"]))
    return group


async def place(session: AsyncSession, user_id: int | None, chat_id: int | None) -> int | None:
    """The org unit a question comes from: the unit its group chat is linked to; else the
    asker's deepest role (their own or their linked identity's); else the unit of their last
    placed question (a member known from a linked group asks in private)."""
    if chat_id is not None:
        unit_id = await session.scalar(select(Chat.org_unit_id).where(Chat.id == chat_id))
        if unit_id is not None:
            return unit_id
    if user_id is None:
        return None
    from bot.db.models import User
    from bot.services.identities import same_person

    user = await session.get(User, user_id)
    if user is not None:
        people = await same_person(session, user)
        unit_id = await session.scalar(
            select(OrgUnit.id).join(RoleAssignment, RoleAssignment.org_unit_id == OrgUnit.id)
            .where(RoleAssignment.user_id.in_(people))
            .order_by(OrgUnit.depth.desc(), OrgUnit.id).limit(1))
        if unit_id is not None:
            return unit_id
    return await session.scalar(
        select(QuestionLog.unit_id)
        .where(QuestionLog.user_id == user_id, QuestionLog.unit_id.is_not(None))
        .order_by(QuestionLog.id.desc()).limit(1))


# -- scope -----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Scope:
    """Whose questions a report covers: everything (admins), or org subtrees by path."""

    paths: tuple[str, ...] = ()
    everything: bool = False
    label: str = ""

    def clause(self) -> ColumnElement[bool]:
        if self.everything:
            return true()
        if not self.paths:
            return QuestionLog.id < 0  # nothing
        units = select(OrgUnit.id).where(or_(*(path_under(p) for p in self.paths)))
        return QuestionLog.unit_id.in_(units)


def scope_of_units(units: list[OrgUnit]) -> Scope:
    """The subtrees of these units, without a unit nested in another one listed."""
    paths = sorted({u.path for u in units}, key=len)
    kept: list[str] = []
    for p in paths:
        if not any(p.startswith(k) for k in kept):
            kept.append(p)
    names = ", ".join(u.name for u in units if u.path in kept)
    return Scope(paths=tuple(kept), label=names)


EVERYTHING = Scope(everything=True, label="toàn bộ tổ chức")


# -- report ------------------------------------------------------------------------------------
@dataclass
class Counts:
    answered: int = 0
    suggested: int = 0
    unknown: int = 0
    small_talk: int = 0
    other: int = 0

    @property
    def total(self) -> int:
        return self.answered + self.suggested + self.unknown + self.small_talk + self.other


@dataclass
class GroupRow:
    group_id: int
    count: int
    examples: list[str] = field(default_factory=list)
    status: str = OPEN
    entry_id: str | None = None


def _tally(values: tuple[str, ...]) -> ColumnElement[int]:
    return func.coalesce(func.sum(case((QuestionLog.outcome.in_(values), 1), else_=0)), 0)


async def counts(session: AsyncSession, scope: Scope, since: datetime,
                 until: datetime | None = None) -> Counts:
    """One pass over the period's rows (no GROUP BY, so the planner ranges over created_at
    instead of walking the whole outcome index)."""
    query = select(_tally(ANSWERED), _tally(SUGGESTED), _tally(UNKNOWN), _tally(SMALL_TALK),
                   func.count()).where(QuestionLog.created_at >= since, scope.clause())
    if until is not None:
        query = query.where(QuestionLog.created_at < until)
    answered, suggested, unknown, small_talk, total = (await session.execute(query)).one()
    return Counts(int(answered), int(suggested), int(unknown), int(small_talk),
                  int(total) - int(answered) - int(suggested) - int(unknown) - int(small_talk))


async def counts_by_unit(session: AsyncSession, scope: Scope, since: datetime,
                         until: datetime | None = None) -> dict[int, Counts]:
    """The same figures per unit the questions were asked from (for a breakdown by level)."""
    query = select(QuestionLog.unit_id, _tally(ANSWERED), _tally(SUGGESTED), _tally(UNKNOWN),
                   _tally(SMALL_TALK), func.count()).where(
        QuestionLog.created_at >= since, QuestionLog.unit_id.is_not(None), scope.clause(),
    ).group_by(QuestionLog.unit_id)
    if until is not None:
        query = query.where(QuestionLog.created_at < until)
    result: dict[int, Counts] = {}
    for unit_id, a, sg, u, st, total in (await session.execute(query)).all():
        result[unit_id] = Counts(int(a), int(sg), int(u), int(st),
                                 int(total) - int(a) - int(sg) - int(u) - int(st))
    return result


def add(into: Counts, other: Counts) -> None:
    into.answered += other.answered
    into.suggested += other.suggested
    into.unknown += other.unknown
    into.small_talk += other.small_talk
    into.other += other.other


async def top_entries(session: AsyncSession, scope: Scope, since: datetime,
                      limit: int = 5) -> list[tuple[str, int]]:
    """(entry id, times answered), most asked first."""
    n = func.count().label("n")
    rows = await session.execute(
        select(QuestionLog.entry_id, n)
        .where(QuestionLog.created_at >= since, QuestionLog.outcome == "answered",
               QuestionLog.entry_id.is_not(None), scope.clause())
        .group_by(QuestionLog.entry_id).order_by(n.desc(), QuestionLog.entry_id).limit(limit))
    return [(entry_id, count) for entry_id, count in rows.all()]


def _group_filter(scope: Scope, since: datetime) -> list[ColumnElement[bool]]:
    return [QuestionLog.created_at >= since, QuestionLog.outcome.in_(GROUPED),
            QuestionLog.group_id.is_not(None), scope.clause()]


async def open_groups(session: AsyncSession, scope: Scope, since: datetime, *, offset: int = 0,
                      limit: int = 5, examples: int = 3) -> tuple[list[GroupRow], int]:
    """Groups of unanswered and suggested questions still to act on, largest first, one page;
    and how many such groups there are (one grouping pass; the page is cut here)."""
    n = func.count().label("n")
    rows = (await session.execute(
        select(QuestionLog.group_id, n).where(*_group_filter(scope, since))
        .group_by(QuestionLog.group_id))).all()
    ranked = sorted(rows, key=lambda r: (-r[1], -r[0]))
    decided = set((await session.scalars(select(QuestionGroup.id).where(
        QuestionGroup.status != OPEN))).all())
    still_open = [(group_id, count) for group_id, count in ranked if group_id not in decided]
    groups = [GroupRow(group_id, count) for group_id, count in still_open[offset:offset + limit]]
    for g in groups:
        g.examples = await group_examples(session, g.group_id, scope, since, limit=examples)
    return groups, len(still_open)


async def group_examples(session: AsyncSession, group_id: int, scope: Scope,
                         since: datetime | None = None, *, limit: int = 3) -> list[str]:
    """The group's most frequent distinct wordings within the scope (texts only)."""
    n = func.count().label("n")
    query = (select(QuestionLog.text, n)
             .where(QuestionLog.group_id == group_id, scope.clause())
             .group_by(QuestionLog.text).order_by(n.desc(), QuestionLog.text).limit(limit))
    if since is not None:
        query = query.where(QuestionLog.created_at >= since)
    return [text for text, _ in (await session.execute(query)).all()]


async def group_count(session: AsyncSession, group_id: int, scope: Scope,
                      since: datetime) -> int:
    return await session.scalar(select(func.count()).select_from(QuestionLog).where(
        QuestionLog.group_id == group_id, QuestionLog.created_at >= since,
        scope.clause())) or 0


async def group_visible(session: AsyncSession, group_id: int, scope: Scope) -> bool:
    """A báo cáo viên acts only on groups asked within their subtree (checked at each press)."""
    return bool(await session.scalar(
        select(exists().where(QuestionLog.group_id == group_id, scope.clause()))))


async def decided_groups(session: AsyncSession, status: str) -> list[QuestionGroup]:
    rows = await session.scalars(select(QuestionGroup).where(QuestionGroup.status == status)
                                 .order_by(QuestionGroup.decided_at.desc(), QuestionGroup.id))
    return list(rows.all())


def examples_of(group: QuestionGroup) -> list[str]:
    try:
        value = json.loads(group.examples or "[]")
    except ValueError:
        return []
    return [str(v) for v in value] if isinstance(value, list) else []


# -- retention -------------------------------------------------------------------------------------
async def prune(session: AsyncSession, keep_days: int, now: datetime | None = None) -> int:
    """Delete questions older than `keep_days`, and open groups left without any question."""
    cutoff = (now or utcnow()) - timedelta(days=keep_days)
    removed = (await session.execute(
        delete(QuestionLog).where(QuestionLog.created_at < cutoff))).rowcount or 0
    if removed:
        await session.execute(delete(QuestionGroup).where(
            QuestionGroup.status == OPEN,
            ~exists().where(QuestionLog.group_id == QuestionGroup.id)))
    return removed
