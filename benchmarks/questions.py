"""Question analytics benchmark (issue 15): /cauhoi on a province with 1 million logged questions.

Usage:  python benchmarks/questions.py [--rows 1000000] [--runs 5] [--database-url URL]

A fresh database (a SQLite file in a temp dir, or a throw-away PostgreSQL database created next
to the one `--database-url` names) gets 1 tỉnh → 100 xã → 100 chi bộ each (10,000 cells), 20,000
question groups and `--rows` questions generated inside the database (INSERT … SELECT over a
series): spread evenly over the last 365 days (the default retention) and over the cells;
outcomes 60% answered (over 200 entries), 15% suggested, 15% unknown, 10% small talk; each
unanswered question in one of the groups, a few groups very large and most small (skewed), three
wordings per group. Each figure is the median of `--runs` runs after one warm-up, each run in a
fresh session, and is exactly what /cauhoi computes for its first page: the counts, the top 5
entries, the number of open groups and the 5 largest with 3 examples each.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

SCRIPT = Path(__file__).resolve()
ROOT = SCRIPT.parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(SCRIPT.parent))

from sqlalchemy import insert, select, text  # noqa: E402

from bot.config import Settings  # noqa: E402
from bot.db.models import OrgUnit  # noqa: E402

XAS = 100
PER_XA = 100
GROUPS = 20_000
FIRST_CELL = 2 + XAS
TARGET = 1.0  # seconds, for a province


async def seed_units(sessions) -> None:  # type: ignore[no-untyped-def]
    now = datetime.now(UTC)
    units = [dict(id=1, code="T01", name="Đảng bộ tỉnh (benchmark)", level="tinh",
                  parent_id=None, path="/1/", depth=0, members=0, created_at=now,
                  updated_at=now)]
    next_id = FIRST_CELL
    for x in range(XAS):
        xa_id = 2 + x
        units.append(dict(id=xa_id, code=f"X{x + 1:03d}", name=f"Đảng bộ xã {x + 1}",
                          level="xa", parent_id=1, path=f"/1/{xa_id}/", depth=1, members=0,
                          created_at=now, updated_at=now))
        for c in range(PER_XA):
            units.append(dict(id=next_id, code=f"X{x + 1:03d}-CB{c + 1:03d}",
                              name=f"Chi bộ {c + 1} xã {x + 1}", level="chi_bo",
                              parent_id=xa_id, path=f"/1/{xa_id}/{next_id}/", depth=2,
                              members=25, created_at=now, updated_at=now))
            next_id += 1
    async with sessions() as s, s.begin():
        await s.execute(insert(OrgUnit), units)


def _series_sql(dialect: str, rows: int, now: datetime) -> list[str]:
    """Groups and questions generated in the database itself (seconds, not minutes)."""
    cells = XAS * PER_XA
    stamp = now.strftime("%Y-%m-%d %H:%M:%S")
    # pseudo-random r in [0, 1) from the row number; group = GROUPS * r^3 (a few very large)
    if dialect == "sqlite":
        series = (f"WITH RECURSIVE s(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM s "
                  f"WHERE x < {rows})")
        gseries = (f"WITH RECURSIVE g(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM g "
                   f"WHERE x < {GROUPS})")
        created = (f"strftime('%Y-%m-%d %H:%M:%f', '{stamp}', "
                   f"'-' || ((x * 7919) % 31536000) || ' seconds')")
        gnow = f"'{stamp}'"
        r = "(((x * 104729) % 1000003) / 1000003.0)"
        group = f"(1 + CAST({GROUPS} * {r} * {r} * {r} AS INTEGER))"
        concat = "'câu hỏi mẫu nhóm ' || {g} || ' cách hỏi ' || (x % 3)"
        gtext = "'câu hỏi mẫu nhóm ' || x"
        return [
            f"{gseries} INSERT INTO question_groups (id, key, sample, status, examples, "
            f"created_at) SELECT x, 'k' || x, {gtext}, 'open', '', {gnow} FROM g",
            _questions(series, created, group, concat, cells),
        ]
    series = f"WITH s(x) AS (SELECT generate_series(1, {rows})::bigint)"
    created = f"(TIMESTAMPTZ '{stamp}+00' - ((x * 7919) % 31536000) * INTERVAL '1 second')"
    r = "(((x * 104729) % 1000003) / 1000003.0)"
    group = f"(1 + FLOOR({GROUPS} * {r} * {r} * {r}))::int"
    concat = "'câu hỏi mẫu nhóm ' || {g} || ' cách hỏi ' || (x % 3)"
    return [
        f"INSERT INTO question_groups (id, key, sample, status, examples, created_at) "
        f"SELECT x, 'k' || x, 'câu hỏi mẫu nhóm ' || x, 'open', '', TIMESTAMPTZ '{stamp}+00' "
        f"FROM generate_series(1, {GROUPS}) AS x",
        _questions(series, created, group, concat, cells),
        f"SELECT setval('question_groups_id_seq', {GROUPS})",
    ]


def _questions(series: str, created: str, group: str, concat: str, cells: int) -> str:
    outcome = ("CASE WHEN x % 20 < 12 THEN 'answered' WHEN x % 20 < 15 THEN 'suggested' "
               "WHEN x % 20 < 18 THEN 'unknown' ELSE 'small_talk' END")
    entry = "CASE WHEN x % 20 < 12 THEN 'entry-' || (((x * 31) % 1009) % 200) END"
    group_id = f"CASE WHEN x % 20 >= 12 AND x % 20 < 18 THEN {group} END"
    text_ = (f"CASE WHEN x % 20 >= 12 AND x % 20 < 18 THEN {concat.format(g=group)} "
             f"ELSE 'câu hỏi số ' || (x % 5000) END")
    return (f"{series} INSERT INTO question_log (created_at, channel, text, normalized, "
            f"outcome, entry_id, score, kb_version, unit_id, group_id) "
            f"SELECT {created}, 'telegram', {text_}, '', {outcome}, {entry}, 0.5, 'bench', "
            f"{FIRST_CELL} + ((x * 7) % {cells}), {group_id} FROM s")


async def main(args: argparse.Namespace) -> int:
    from broadcast import create_pg_database, database_label, drop_pg_database, machine, timed

    from bot.app import build_app
    from bot.services import question_stats

    tmp = Path(tempfile.mkdtemp(prefix="nqbot-bench-"))
    if args.database_url:
        database_url = await create_pg_database(args.database_url)
    else:
        database_url = f"sqlite+aiosqlite:///{tmp / 'questions.sqlite3'}"
    app = await build_app(Settings(_env_file=None, database_url=database_url))
    failed = False
    try:
        started = time.perf_counter()
        await seed_units(app.sessions)
        now = datetime.now(UTC)
        async with app.engine.begin() as conn:
            for statement in _series_sql(app.engine.dialect.name, args.rows, now):
                await conn.execute(text(statement))
        async with app.engine.begin() as conn:
            await conn.execute(text("ANALYZE"))
        seeded = time.perf_counter() - started
        info = machine(await database_label(app))
        print(f"Machine: {info['cpu']}, {info['cores']} cores, {info['ram']} RAM, {info['os']}, "
              f"Python {info['python']}; {info['database']}")
        print(f"Seeded 1 tỉnh, {XAS} xã, {XAS * PER_XA} chi bộ, {GROUPS} groups, "
              f"{args.rows:,} questions over 365 days in {seeded:.1f} s")

        async def scope_of(code: str) -> question_stats.Scope:
            async with app.sessions() as s:
                unit = await s.scalar(select(OrgUnit).where(OrgUnit.code == code))
                return question_stats.scope_of_units([unit])

        province, commune = await scope_of("T01"), await scope_of("X050")

        def first_page(scope: question_stats.Scope, days: int):  # type: ignore[no-untyped-def]
            async def work():  # type: ignore[no-untyped-def]
                since = datetime.now(UTC) - timedelta(days=days)
                async with app.sessions() as s:
                    counts = await question_stats.counts(s, scope, since)
                    top = await question_stats.top_entries(s, scope, since)
                    groups, total = await question_stats.open_groups(s, scope, since, limit=5)
                    return counts, top, groups, total
            return work

        rows = []
        for label, scope in (("province", province), ("xã", commune)):
            for days in (7, 30, 365):
                median, _ = await timed(args.runs, first_page(scope, days))
                counts, _top, groups, total = await first_page(scope, days)()
                rows.append((label, days, counts.total, total, median))
                assert groups and groups[0].examples
                if label == "province" and days == 7 and median > TARGET:
                    failed = True
        print()
        print("| scope | period | questions in period | open groups | /cauhoi first page |")
        print("|---|---|---|---|---|")
        for label, days, n, total, median in rows:
            print(f"| {label} | {days} days | {n:,} | {total:,} | {median * 1000:.0f} ms |")
        print()
        print(f"Target: /cauhoi for a province (7 days) ≤ {TARGET:.1f} s — "
              f"{'NOT met' if failed else 'met'}")
    finally:
        await app.close()
        if args.database_url:
            await drop_pg_database(database_url)
    return 1 if failed else 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--database-url", help="PostgreSQL base URL (default: SQLite)")
    sys.exit(asyncio.run(main(parser.parse_args())))
