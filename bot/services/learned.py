"""Learned phrasings: members' own wordings, taught by a báo cáo viên as phrasings of an entry.

They live in the database (who, when, from which group), are audited and revocable, and reach
every process at once: each change bumps the "learned" stamp in `kb_stamps`; before answering,
every process compares the stamp with the one its matcher was built for and rebuilds the matcher
over a knowledge base whose entries carry the extra phrasings (the calibrated model is kept; it
is not re-fitted from learned phrasings).

Safety: a wording is refused when it would change what the matcher answers for another entry's
own phrasings (leave-one-out over the phrasings that now rank their own entry first), or when it
is word for word another entry's phrasing.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.models import KbStamp, LearnedPhrasing, QuestionGroup, User, utcnow
from bot.services import question_stats
from bot.services.roles import audit
from content.kb import KnowledgeBase
from content.matcher import Matcher, Reason
from content.normalize import analyze, clean

STAMP = "learned"
MAX_PHRASINGS_PER_GROUP = 10
NEIGHBOUR_ENTRIES = 6  # entries near a new wording whose phrasings are re-checked

Phrasings = dict[str, tuple[str, ...]]  # entry id -> learned wordings


# -- stamp ---------------------------------------------------------------------------------------
async def current_stamp(session: AsyncSession) -> int:
    return await session.scalar(select(KbStamp.version).where(KbStamp.name == STAMP)) or 0


async def bump(session: AsyncSession) -> None:
    insert = pg_insert if session.bind.dialect.name == "postgresql" else sqlite_insert
    await session.execute(
        insert(KbStamp).values(name=STAMP, version=1, updated_at=utcnow())
        .on_conflict_do_update(index_elements=["name"],
                               set_={"version": KbStamp.version + 1, "updated_at": utcnow()}))


async def active(session: AsyncSession) -> Phrasings:
    rows = await session.execute(
        select(LearnedPhrasing.entry_id, LearnedPhrasing.text)
        .where(LearnedPhrasing.revoked_at.is_(None), LearnedPhrasing.merged_at.is_(None))
        .order_by(LearnedPhrasing.id))  # merged ones are in the content files now
    result: dict[str, list[str]] = {}
    for entry_id, text in rows.all():
        result.setdefault(entry_id, []).append(text)
    return {k: tuple(v) for k, v in result.items()}


# -- matchers --------------------------------------------------------------------------------------
_CACHE: OrderedDict[tuple[int, frozenset[tuple[str, tuple[str, ...]]]],
                    tuple[Matcher, Matcher]] = OrderedDict()  # key -> (base, built)
_CACHE_LOCK = threading.Lock()


def with_phrasings(kb: KnowledgeBase, phrasings: Phrasings) -> KnowledgeBase:
    entries = dict(kb.entries)
    for entry_id, extra in phrasings.items():
        entry = entries.get(entry_id)
        if entry is not None and extra:
            entries[entry_id] = replace(entry, phrasings=(*entry.phrasings, *extra))
    return replace(kb, entries=entries)


def build_matcher(base: Matcher, phrasings: Phrasings) -> Matcher:
    """A matcher over the base knowledge base plus these phrasings, with the base's calibrated
    model (the last two built are kept: the safety check's matcher serves the next question)."""
    if not any(phrasings.values()):
        return base
    key = (id(base), frozenset(phrasings.items()))
    with _CACHE_LOCK:
        cached = _CACHE.get(key)
        if cached is not None and cached[0] is base:
            _CACHE.move_to_end(key)
            return cached[1]
    matcher = Matcher(with_phrasings(base.kb, phrasings), model=base.model)
    with _CACHE_LOCK:
        _CACHE[key] = (base, matcher)
        while len(_CACHE) > 2:
            _CACHE.popitem(last=False)
    return matcher


# -- safety ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Conflict:
    entry_id: str  # the entry whose own phrasing would be answered differently
    wording: str
    new_top: str  # what the matcher would rank first instead


def _top(matcher: Matcher, wording: str, variant: int) -> str | None:
    result = matcher.match(wording, exclude_variants={variant})
    return result.candidates[0].entry.id if result.candidates else None


_CHECKED: OrderedDict[tuple[int, int, str, tuple[str, ...]],
                      tuple[Matcher, Matcher, Conflict | None]] = OrderedDict()


def check(current: Matcher, proposed: Matcher, entry_id: str,
          wordings: list[str]) -> Conflict | None:
    """None when the proposed matcher (current + the new wordings of `entry_id`) still ranks
    every nearby entry's own phrasings as the current one does; else the first conflict.
    Remembered for the last few checks (the work is done once, before the transaction)."""
    key = (id(current), id(proposed), entry_id, tuple(wordings))
    with _CACHE_LOCK:
        cached = _CHECKED.get(key)
        if cached is not None and cached[0] is current and cached[1] is proposed:
            return cached[2]
    result = _check(current, proposed, entry_id, wordings)
    with _CACHE_LOCK:
        _CHECKED[key] = (current, proposed, result)
        while len(_CHECKED) > 8:
            _CHECKED.popitem(last=False)
    return result


def _check(current: Matcher, proposed: Matcher, entry_id: str,
           wordings: list[str]) -> Conflict | None:
    neighbours: list[str] = []
    for wording in wordings:
        result = current.match(wording)
        if result.reason is Reason.EXACT and result.entry is not None and (
                result.entry.id != entry_id):  # word for word another entry's phrasing
            return Conflict(result.entry.id, wording, entry_id)
        for cand in result.candidates[:NEIGHBOUR_ENTRIES]:
            if cand.entry.id != entry_id and cand.entry.id not in neighbours:
                neighbours.append(cand.entry.id)
    for other_id in neighbours:
        old_indices = current.variant_indices(other_id)
        new_indices = proposed.variant_indices(other_id)
        # an entry's wordings keep their order; learned ones are appended after them
        for old_vi, new_vi in zip(old_indices, new_indices[:len(old_indices)], strict=True):
            wording = current.wording(old_vi)
            if _top(current, wording, old_vi) != other_id:
                continue  # already not ranked first: not this wording's doing
            top = _top(proposed, wording, new_vi)
            if top != other_id:
                return Conflict(other_id, wording, top or "")
    return None


def prepare(texts: list[str], existing: tuple[str, ...] = ()) -> list[str]:
    """Cleaned, distinct wordings (by their folded form), without those already learned."""
    seen = {analyze(t).folded for t in existing}
    out: list[str] = []
    for text in texts:
        cleaned = clean(text)
        folded = analyze(cleaned).folded
        if cleaned and folded and folded not in seen:
            seen.add(folded)
            out.append(cleaned)
    return out[:MAX_PHRASINGS_PER_GROUP]


# -- decisions on a group --------------------------------------------------------------------
async def record(session: AsyncSession, actor: User | None, group: QuestionGroup,
                 entry_id: str, wordings: list[str], now: datetime | None = None) -> int:
    """Store checked wordings as learned phrasings of `entry_id`; the group is assigned."""
    now = now or utcnow()
    for text in wordings:
        session.add(LearnedPhrasing(entry_id=entry_id, text=text, group_id=group.id,
                                    created_by=actor.id if actor else None, created_at=now))
    group.status, group.entry_id = question_stats.ASSIGNED, entry_id
    group.examples = json.dumps(wordings, ensure_ascii=False)
    group.decided_by, group.decided_at = (actor.id if actor else None), now
    await audit(session, actor, "question.learn", f"group:{group.id}", entry=entry_id,
                wordings=wordings)
    await bump(session)
    await session.flush()
    return len(wordings)


async def decide(session: AsyncSession, actor: User | None, group: QuestionGroup, status: str,
                 examples: list[str], now: datetime | None = None) -> None:
    """Mark a group out of scope ("Chưa có nội dung") or as a draft for a new entry."""
    group.status, group.entry_id = status, None
    group.examples = json.dumps(examples, ensure_ascii=False)
    group.decided_by, group.decided_at = (actor.id if actor else None), now or utcnow()
    await audit(session, actor, f"question.{status}", f"group:{group.id}", examples=examples)
    await bump(session)
    await session.flush()


async def reopen(session: AsyncSession, actor: User | None, group: QuestionGroup) -> None:
    await audit(session, actor, "question.reopen", f"group:{group.id}", was=group.status)
    group.status, group.entry_id, group.decided_by, group.decided_at = (
        question_stats.OPEN, None, None, None)
    await bump(session)
    await session.flush()


async def revoke(session: AsyncSession, actor: User | None, phrasing: LearnedPhrasing,
                 now: datetime | None = None) -> None:
    """Take a learned phrasing back ("Bỏ"); its group reopens when none of its phrasings is
    left."""
    now = now or utcnow()
    phrasing.revoked_at, phrasing.revoked_by = now, actor.id if actor else None
    await audit(session, actor, "question.unlearn", f"learned:{phrasing.id}",
                entry=phrasing.entry_id, wording=phrasing.text)
    await session.flush()
    if phrasing.group_id is not None:
        left = await session.scalar(select(func.count()).select_from(LearnedPhrasing).where(
            LearnedPhrasing.group_id == phrasing.group_id,
            LearnedPhrasing.revoked_at.is_(None)))
        group = await session.get(QuestionGroup, phrasing.group_id)
        if not left and group is not None and group.status == question_stats.ASSIGNED:
            group.status, group.entry_id = question_stats.OPEN, None
    await bump(session)
    await session.flush()


async def listing(session: AsyncSession, *, offset: int = 0,
                  limit: int = 10) -> tuple[list[LearnedPhrasing], int]:
    where = LearnedPhrasing.revoked_at.is_(None)
    total = await session.scalar(select(func.count()).select_from(LearnedPhrasing).where(where))
    rows = await session.scalars(select(LearnedPhrasing).where(where)
                                 .order_by(LearnedPhrasing.id.desc()).offset(offset).limit(limit))
    return list(rows.all()), total or 0


async def mark_merged(session: AsyncSession, ids: list[int], now: datetime | None = None) -> None:
    if ids:
        await session.execute(update(LearnedPhrasing).where(LearnedPhrasing.id.in_(ids))
                              .values(merged_at=now or utcnow()))
        await bump(session)


def export_yaml(rows: list[LearnedPhrasing], kb: KnowledgeBase) -> dict[str, str]:
    """File name -> YAML text in the format of content/kb/phrasings/*.yaml (entry id -> list),
    one file per knowledge-base file, for review and commit."""
    import yaml

    by_file: dict[str, dict[str, list[str]]] = {}
    for row in rows:
        entry = kb.entries.get(row.entry_id)
        if entry is None:
            continue
        by_file.setdefault(entry.file or "khac.yaml", {}).setdefault(row.entry_id, []).append(
            row.text)
    header = ("# Cách hỏi do báo cáo viên dạy bot (nqbot content export-learned); xem lại rồi "
              "chép vào content/kb/phrasings/\n")
    return {name: header + yaml.safe_dump(data, allow_unicode=True, sort_keys=True, width=100)
            for name, data in sorted(by_file.items())}
