"""Campaign report benchmark (issue 6): rollups, laggards, XLSX, PNG and text on a province.

Usage:  python benchmarks/report.py [--runs 7] [--database-url URL]

A fresh database (a SQLite file in a temp dir, or a throw-away PostgreSQL database created
next to the one `--database-url` names) gets 1 tỉnh → 100 xã → 100 chi bộ each (10,000 cells,
25 members each: 250,000), a secretary per cell, one campaign over the province and 9,000
confirmations (every cell but one in ten; 5% late, 10% on behalf) plus 9,000 members' own marks
— all bulk inserts with SQLAlchemy core. Each figure is the median of `--runs` runs after one
warm-up, each run in a fresh session:

  province: rollup (total + 100 xã) + laggards (count + the first 10 with secretaries);
  one xã: the same for a commune of 100 cells;
  XLSX for the province: gather every cell, all 1,000 laggards and the subtotals, then build;
  PNG for the province (100 xã → the lowest 25) and the chat text.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from datetime import UTC, date, datetime
from pathlib import Path

SCRIPT = Path(__file__).resolve()
ROOT = SCRIPT.parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(SCRIPT.parent))

from sqlalchemy import insert, select  # noqa: E402

from bot.config import Settings  # noqa: E402
from bot.db.models import (  # noqa: E402
    Campaign,
    Confirmation,
    MemberStudy,
    OrgUnit,
    RoleAssignment,
    User,
)

XAS = 100
PER_XA = 100
MEMBERS = 25
SKIP_EVERY = 10  # one cell in ten has not confirmed → 9,000 confirmations
TARGETS = {"province": 0.300, "xa": 0.030, "xlsx": 5.0}


async def seed(sessions) -> int:  # type: ignore[no-untyped-def]
    now = datetime.now(UTC)
    units = [dict(id=1, code="T01", name="Đảng bộ tỉnh (benchmark)", level="tinh",
                  parent_id=None, path="/1/", depth=0, members=XAS * PER_XA * MEMBERS,
                  created_at=now, updated_at=now)]
    users, grants, confirmations, studies = [], [], [], []
    next_id = 2 + XAS
    for x in range(XAS):
        xa_id = 2 + x
        units.append(dict(id=xa_id, code=f"X{x + 1:03d}", name=f"Đảng bộ xã {x + 1}",
                          level="xa", parent_id=1, path=f"/1/{xa_id}/", depth=1,
                          members=PER_XA * MEMBERS, created_at=now, updated_at=now))
        for c in range(PER_XA):
            cb_id = next_id
            next_id += 1
            n = len(users) + 1
            units.append(dict(id=cb_id, code=f"X{x + 1:03d}-CB{c + 1:03d}",
                              name=f"Chi bộ {c + 1} xã {x + 1}", level="chi_bo",
                              parent_id=xa_id, path=f"/1/{xa_id}/{cb_id}/", depth=2,
                              members=MEMBERS, created_at=now, updated_at=now))
            users.append(dict(id=n, channel="telegram", external_id=str(100_000 + n),
                              display_name=f"Bí thư {n}", created_at=now, last_seen_at=now))
            grants.append(dict(user_id=n, role="secretary", org_unit_id=cb_id, source="cli",
                               created_at=now))
            if n % SKIP_EVERY == 3:
                continue
            confirmations.append(dict(
                campaign_id=1, unit_id=cb_id, confirmed_by=n, on_behalf=n % 10 == 5,
                channel="telegram", held_on=date(2026, 12, 1 + n % 20), attended=MEMBERS - n % 4,
                total=MEMBERS, late=n % 20 == 7, created_at=now, updated_at=now))
            studies.append(dict(campaign_id=1, user_id=n, unit_id=cb_id, channel="telegram",
                                created_at=now))
    async with sessions() as s, s.begin():
        await s.execute(insert(OrgUnit), units)
        await s.execute(insert(User), users)
        await s.execute(insert(RoleAssignment), grants)
        await s.execute(insert(Campaign), [dict(
            id=1, document="NQ57", title="Quán triệt Nghị quyết 57-NQ/TW (benchmark)",
            scope_unit_id=1, opens_on=date(2026, 12, 1), deadline=date(2026, 12, 15),
            status="open", created_at=now)])
        await s.execute(insert(Confirmation), confirmations)
        await s.execute(insert(MemberStudy), studies)
    return len(confirmations)


async def main(args: argparse.Namespace) -> int:
    from broadcast import create_pg_database, database_label, drop_pg_database, machine, timed

    from bot.app import build_app
    from bot.reports import gather
    from bot.reports.chart import build_png
    from bot.reports.export import build_csv, build_xlsx
    from bot.reports.text import render_report
    from bot.services import rollups

    tmp = Path(tempfile.mkdtemp(prefix="nqbot-bench-"))
    if args.database_url:
        database_url = await create_pg_database(args.database_url)
    else:
        database_url = f"sqlite+aiosqlite:///{tmp / 'report.sqlite3'}"
    app = await build_app(Settings(_env_file=None, database_url=database_url))
    tz = app.settings.tz
    figures: dict[str, tuple[float, list[float]]] = {}
    sizes: dict[str, int] = {}
    try:
        started = time.perf_counter()
        confirmed = await seed(app.sessions)
        seed_seconds = time.perf_counter() - started
        if not app.settings.is_sqlite:
            async with app.engine.begin() as conn:
                from sqlalchemy import text

                await conn.execute(text("ANALYZE"))
        info = machine(await database_label(app))
        print(f"Machine: {info['cpu']}, {info['cores']} cores, {info['ram']} RAM, {info['os']}, "
              f"Python {info['python']}; {info['database']}")
        print(f"Seeded 1 tỉnh, {XAS} xã, {XAS * PER_XA} chi bộ ({XAS * PER_XA * MEMBERS} "
              f"members), {confirmed} confirmations in {seed_seconds:.2f} s")

        async def units(code: str):  # type: ignore[no-untyped-def]
            async with app.sessions() as s:
                campaign = await s.get(Campaign, 1)
                root = await s.scalar(select(OrgUnit).where(OrgUnit.code == code))
                return campaign, root

        campaign, province = await units("T01")
        _, commune = await units("X050")

        def rollup_of(root):  # type: ignore[no-untyped-def]
            async def work():  # type: ignore[no-untyped-def]
                async with app.sessions() as s:
                    total, children = await rollups.rollup(s, campaign, root)
                    count, named = await rollups.laggards(s, campaign, root, limit=10)
                    return total, children, count, named
            return work

        figures["province"] = await timed(args.runs, rollup_of(province))
        figures["xa"] = await timed(args.runs, rollup_of(commune))
        total, children, count, named = await rollup_of(province)()
        assert (total.cells, total.confirmed, count) == (10_000, confirmed, 10_000 - confirmed)

        async def gather_all():  # type: ignore[no-untyped-def]
            async with app.sessions() as s:
                return await gather(s, campaign, province, now=datetime.now(UTC),
                                    exports=True)

        data = await gather_all()

        async def xlsx():  # type: ignore[no-untyped-def]
            data = await gather_all()
            content = build_xlsx(campaign, province, scope=province, total=data.total,
                                 units=data.units, cells=data.cells, laggards=data.laggards,
                                 generated_at=data.generated_at, tz=tz,
                                 parent_names=data.parent_names, document="NQ57")
            sizes["xlsx"] = len(content)

        async def xlsx_build_only():  # type: ignore[no-untyped-def]
            build_xlsx(campaign, province, scope=province, total=data.total, units=data.units,
                       cells=data.cells, laggards=data.laggards, generated_at=data.generated_at,
                       tz=tz, parent_names=data.parent_names, document="NQ57")

        async def csv_text():  # type: ignore[no-untyped-def]
            sizes["csv"] = len(build_csv(data.cells, data.parent_names).encode())

        async def png():  # type: ignore[no-untyped-def]
            sizes["png"] = len(build_png(campaign, total, children))

        async def chat_text():  # type: ignore[no-untyped-def]
            sizes["text"] = len(render_report(campaign, total, children, count, named, tz, 10))

        figures["gather"] = await timed(args.runs, gather_all)
        figures["xlsx"] = await timed(max(3, args.runs // 2), xlsx)
        figures["xlsx_build"] = await timed(max(3, args.runs // 2), xlsx_build_only)
        figures["csv"] = await timed(args.runs, csv_text)
        figures["png"] = await timed(args.runs, png)
        figures["text"] = await timed(args.runs, chat_text)
    finally:
        await app.close()
        if args.database_url:
            await drop_pg_database(database_url)

    def ms(key: str) -> str:
        median, runs = figures[key]
        return (f"{median * 1000:.1f} ms (runs: "
                + ", ".join(f"{t * 1000:.0f}" for t in runs) + ")")

    def verdict(key: str) -> str:
        return "met" if figures[key][0] <= TARGETS[key] else "MISSED"

    print("\n== Campaign report benchmark (median after one warm-up)")
    rows = [
        ("province: rollup + laggards (count, first 10)",
         f"{ms('province')}  target ≤ 300 ms: {verdict('province')}"),
        ("one xã (100 cells): rollup + laggards", f"{ms('xa')}  target ≤ 30 ms: {verdict('xa')}"),
        ("XLSX province: gather + build", f"{ms('xlsx')}  target ≤ 5 s: {verdict('xlsx')}"
         f"; {sizes.get('xlsx', 0) / 1024:.0f} KiB"),
        ("  of which gather (rollup, cell_rows, laggards, subtotals)", ms("gather")),
        ("  of which build_xlsx", ms("xlsx_build")),
        ("CSV province (10,000 rows)", f"{ms('csv')}; {sizes.get('csv', 0) / 1024:.0f} KiB"),
        ("PNG province (100 xã → lowest 25)", f"{ms('png')}; {sizes.get('png', 0) / 1024:.0f} KiB"),
        ("chat text province", f"{ms('text')}; {sizes.get('text', 0)} characters"),
    ]
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        print(f"{key:<{width}}  {value}")
    return 0


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--database-url", default="",
                        help="PostgreSQL URL of an existing database (a throw-away database is "
                        "created next to it); default: a SQLite file in a temp dir")
    return parser.parse_args()


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main(parse_args())))
