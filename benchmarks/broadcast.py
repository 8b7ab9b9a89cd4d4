"""Broadcast delivery benchmark (issue 5): expansion, paced rate, ceiling, crash and restart.

Usage:  python benchmarks/broadcast.py [--quick] [--groups N] [--database-url URL]

A fresh database (a SQLite file in a temp dir, or a throw-away PostgreSQL database created
next to the one `--database-url` names) gets an org tree of 1 tỉnh → N/100 xã → 100 chi bộ each
and one linked Telegram group per chi bộ (bulk inserts). The fake Telegram Bot API
(`tests/fakes/telegram_api.py`) runs on loopback in this process, so its log is the record of
what "Telegram" accepted; each dispatcher runs in a child process (this script with `--child`)
against the same database, as the bot would, and can be killed with SIGKILL.

  (0) expansion: `DeliveryService.tick()` for a "now" broadcast to the province (one
      INSERT … SELECT of N delivery rows);
  (a) fake enforcing 30 msg/s, dispatcher at 25 msg/s: achieved rate, 429s, lost, duplicates,
      the most accepted sends in any 1 s window;
  (b) no limit on either side: the dispatcher's own ceiling;
  (c) SIGKILL at about half-way, then a second dispatcher drains: lost and duplicates against
      the rows that were in flight (`sending`) when the first one died.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import signal
import statistics
import sys
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

SCRIPT = Path(__file__).resolve()
ROOT = SCRIPT.parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, insert, select  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from bot.config import Settings  # noqa: E402
from bot.db.engine import create_engine, session_factory  # noqa: E402
from bot.db.models import BroadcastRun, Chat, Delivery, OrgUnit  # noqa: E402

TEXT = ("Thông báo: các chi bộ tổ chức học tập, quán triệt Nghị quyết 57-NQ/TW về đột phá phát "
        "triển khoa học, công nghệ, đổi mới sáng tạo và chuyển đổi số quốc gia; báo cáo kết quả "
        "về Đảng uỷ xã trước ngày 15.")
PER_XA = 100  # chi bộ per xã
GROUP_ID_BASE = 1_000_000_000  # chat ids are -(base + i)
TOKEN = "123456:TEST-TOKEN"


# -- database ----------------------------------------------------------------------------------
def _plain_dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


async def create_pg_database(base: str) -> str:
    import asyncpg

    name = f"nqbot_bench_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(_plain_dsn(base))
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    return make_url(base).set(database=name).render_as_string(hide_password=False)


async def drop_pg_database(url: str) -> None:
    import asyncpg

    name = make_url(url).database
    admin = await asyncpg.connect(_plain_dsn(make_url(url).set(database="postgres")
                                             .render_as_string(hide_password=False)))
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


async def seed(sessions, groups: int) -> None:  # type: ignore[no-untyped-def]
    """1 tỉnh → ceil(groups/100) xã → up to 100 chi bộ each; one linked group per chi bộ."""
    now = datetime.now(UTC)
    xas = (groups + PER_XA - 1) // PER_XA
    units = [dict(id=1, code="T01", name="Đảng bộ tỉnh (benchmark)", level="tinh",
                  parent_id=None, path="/1/", depth=0, members=0, created_at=now,
                  updated_at=now)]
    chats = []
    next_id = 2 + xas
    for x in range(xas):
        xa_id = 2 + x
        units.append(dict(id=xa_id, code=f"X{x + 1:03d}", name=f"Đảng bộ xã {x + 1}",
                          level="xa", parent_id=1, path=f"/1/{xa_id}/", depth=1, members=0,
                          created_at=now, updated_at=now))
        for c in range(min(PER_XA, groups - x * PER_XA)):
            cb_id = next_id
            next_id += 1
            units.append(dict(id=cb_id, code=f"X{x + 1:03d}-CB{c + 1:03d}",
                              name=f"Chi bộ {c + 1} xã {x + 1}", level="chi_bo", parent_id=xa_id,
                              path=f"/1/{xa_id}/{cb_id}/", depth=2, members=20,
                              created_at=now, updated_at=now))
            chats.append(dict(channel="telegram", external_id=str(-(GROUP_ID_BASE + len(chats))),
                              kind="group", title=f"Nhóm chi bộ {c + 1} xã {x + 1}", active=True,
                              org_unit_id=cb_id, linked_at=now, created_at=now, updated_at=now))
    async with sessions() as s, s.begin():
        await s.execute(insert(OrgUnit), units)
        await s.execute(insert(Chat), chats)


def group_ids(groups: int) -> set[int]:
    return {-(GROUP_ID_BASE + i) for i in range(groups)}


async def new_broadcast(app) -> int:  # type: ignore[no-untyped-def]
    from scheduler import broadcasts
    from scheduler.broadcasts import Draft

    now = datetime.now(UTC)
    async with app.sessions() as s, s.begin():
        prepared = await broadcasts.prepare(
            s, app.kb, Draft(text=TEXT, targets=("T01",), channel="telegram"), actor=None,
            now=now, tz=app.settings.tz,
            limits={"telegram": app.settings.telegram_max_reply_chars,
                    "zalo": app.settings.zalo_max_message_chars})
        broadcast = await broadcasts.create(s, prepared, actor=None, now=now)
        return broadcast.id


async def status_counts(sessions, run_id: int) -> dict[str, int]:  # type: ignore[no-untyped-def]
    async with sessions() as s:
        rows = await s.execute(select(Delivery.status, func.count())
                               .where(Delivery.run_id == run_id).group_by(Delivery.status))
        return {status: int(n) for status, n in rows.all()}


# -- the child: one dispatcher process ---------------------------------------------------------
async def child_main(args: argparse.Namespace) -> int:
    import logging

    from scheduler.dispatcher import Dispatcher, Limits
    from scheduler.senders import TelegramSender

    logging.basicConfig(level=logging.WARNING, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = Settings(_env_file=None, database_url=args.database_url)
    engine = create_engine(settings)
    limits = Limits(rate=args.rate, per_chat_interval=args.per_chat_interval,
                    concurrency=args.concurrency, batch_size=args.batch_size)
    sender = TelegramSender(TOKEN, args.api_url, timeout=settings.broadcast_request_timeout,
                            pool_size=args.concurrency + 4)
    await sender.start()
    dispatcher = Dispatcher(session_factory(engine), sender, limits)
    print(json.dumps({"event": "ready"}), flush=True)
    started = time.monotonic()
    await dispatcher.drain()
    seconds = time.monotonic() - started
    await sender.close()
    await engine.dispose()
    print(json.dumps({"event": "done", "seconds": seconds, "stats": asdict(dispatcher.stats)}),
          flush=True)
    return 0


async def spawn(args: argparse.Namespace, database_url: str, api_url: str, *, rate: float,
                per_chat_interval: float, log_path: Path) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, str(SCRIPT), "--child",
        "--database-url", database_url, "--api-url", api_url,
        "--rate", str(rate), "--per-chat-interval", str(per_chat_interval),
        "--concurrency", str(args.concurrency), "--batch-size", str(args.batch_size),
        stdout=asyncio.subprocess.PIPE, stderr=log_path.open("ab"), cwd=str(ROOT))


async def read_events(proc: asyncio.subprocess.Process) -> dict[str, dict]:
    assert proc.stdout is not None
    events: dict[str, dict] = {}
    async for line in proc.stdout:
        try:
            event = json.loads(line)
        except ValueError:
            continue
        events[event.get("event", "?")] = event
    await proc.wait()
    return events


# -- figures from the fake's log ---------------------------------------------------------------
@dataclass
class Phase:
    name: str
    groups: int
    accepted: int = 0
    rate: float = 0.0  # accepted / (last - first accepted send time)
    span: float = 0.0
    wall: float = 0.0  # child started → child exited (process start-up included)
    drain: float = 0.0  # dispatcher.drain() inside the child
    too_many: int = 0  # 429s the fake answered
    rate_limited: int = 0  # 429s the dispatcher saw (in the child that finished)
    lost: int = 0
    duplicates: int = 0
    extra_sends: int = 0
    max_1s: int = 0
    db: dict[str, int] = field(default_factory=dict)
    in_flight: int | None = None
    recovered: int | None = None
    accepted_at_kill: int | None = None
    first_stats: dict | None = None


def measure(phase: Phase, fake, expected: set[int]) -> None:  # type: ignore[no-untyped-def]
    sends = [c for c in fake.delivered() if int(c.params["chat_id"]) < 0]
    times = sorted(c.at for c in sends)
    per_chat = Counter(int(c.params["chat_id"]) for c in sends)
    phase.accepted = len(sends)
    phase.span = times[-1] - times[0] if len(times) > 1 else 0.0
    phase.rate = len(times) / phase.span if phase.span else 0.0
    phase.lost = len(expected - set(per_chat))
    phase.duplicates = sum(1 for n in per_chat.values() if n > 1)
    phase.extra_sends = sum(n - 1 for n in per_chat.values() if n > 1)
    phase.too_many = fake.too_many
    best, i = 0, 0
    for j, t in enumerate(times):
        while t - times[i] >= 1.0:
            i += 1
        best = max(best, j - i + 1)
    phase.max_1s = best


async def run_phase(name: str, args: argparse.Namespace, app, database_url: str,
                    expected: set[int], tmp: Path, *, fake_rate: float | None, rate: float,
                    per_chat_interval: float, kill_at: int | None = None
                    ) -> tuple[Phase, float, int]:  # type: ignore[no-untyped-def]
    from scheduler.service import DeliveryService
    from tests.fakes.telegram_api import FakeTelegram

    bid = await new_broadcast(app)
    started = time.perf_counter()
    report = await DeliveryService(app, {}).tick()
    expand_seconds = time.perf_counter() - started
    (run_id,) = report.runs
    async with app.sessions() as s:
        rows = await s.scalar(select(BroadcastRun.total).where(BroadcastRun.id == run_id))
    assert rows == len(expected), (rows, len(expected), bid)

    fake = await FakeTelegram(token=TOKEN, rate_limit=fake_rate).start()
    phase = Phase(name, len(expected))
    log_path = tmp / f"child-{name}.log"
    try:
        started = time.monotonic()
        proc = await spawn(args, database_url, fake.base_url, rate=rate,
                           per_chat_interval=per_chat_interval, log_path=log_path)
        if kill_at is None:
            events = await read_events(proc)
        else:
            reader = asyncio.create_task(read_events(proc))
            seen = counted = 0
            while counted < kill_at and proc.returncode is None:
                await asyncio.sleep(0.005)
                calls = fake.calls
                counted += sum(1 for c in calls[seen:] if c.accepted
                               and c.method == "sendMessage")
                seen = len(calls)
            proc.send_signal(signal.SIGKILL)
            first = await reader
            phase.accepted_at_kill = sum(1 for c in fake.delivered()
                                         if int(c.params["chat_id"]) < 0)
            phase.first_stats = first.get("done", {}).get("stats")
            phase.in_flight = (await status_counts(app.sessions, run_id)).get("sending", 0)
            proc = await spawn(args, database_url, fake.base_url, rate=rate,
                               per_chat_interval=per_chat_interval, log_path=log_path)
            events = await read_events(proc)
        phase.wall = time.monotonic() - started
        if proc.returncode != 0 or "done" not in events:
            tail = log_path.read_text(encoding="utf-8", errors="replace")[-3000:]
            raise RuntimeError(f"phase {name}: child exited with {proc.returncode}\n{tail}")
        phase.drain = events["done"]["seconds"]
        phase.rate_limited = events["done"]["stats"]["rate_limited"]
        measure(phase, fake, expected)
        phase.db = await status_counts(app.sessions, run_id)
        if kill_at is not None:
            warnings = log_path.read_text(encoding="utf-8", errors="replace")
            phase.recovered = next((int(line.split("telegram: ")[1].split()[0])
                                    for line in warnings.splitlines()
                                    if "were in flight" in line), 0)
    finally:
        await fake.stop()
    return phase, expand_seconds, rows


# -- machine -----------------------------------------------------------------------------------
async def timed(runs: int, work) -> tuple[float, list[float]]:  # type: ignore[no-untyped-def]
    await work()  # warm-up
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        await work()
        times.append(time.perf_counter() - started)
    return statistics.median(times), times


def machine(database: str) -> dict[str, str]:
    cpu = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    ram = "?"
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                ram = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    except OSError:
        pass
    return {"cpu": cpu, "cores": str(os.cpu_count()), "ram": ram,
            "os": f"{platform.system()} {platform.release()}",
            "python": platform.python_version(), "database": database}


async def database_label(app) -> str:  # type: ignore[no-untyped-def]
    async with app.sessions() as s:
        if app.settings.is_sqlite:
            version = await s.scalar(select(func.sqlite_version()))
            return f"SQLite {version} (file, WAL)"
        version = await s.scalar(select(func.current_setting("server_version")))
        return f"PostgreSQL {version}"


# -- the parent --------------------------------------------------------------------------------
async def main(args: argparse.Namespace) -> int:
    from bot.app import build_app

    t0 = time.monotonic()
    tmp = Path(tempfile.mkdtemp(prefix="nqbot-bench-"))
    if args.database_url:
        database_url = await create_pg_database(args.database_url)
    else:
        database_url = f"sqlite+aiosqlite:///{tmp / 'broadcast.sqlite3'}"
    app = await build_app(Settings(_env_file=None, database_url=database_url))
    results: dict = {}
    try:
        started = time.perf_counter()
        await seed(app.sessions, args.groups)
        seed_seconds = time.perf_counter() - started
        info = machine(await database_label(app))
        print(f"Machine: {info['cpu']}, {info['cores']} cores, {info['ram']} RAM, {info['os']}, "
              f"Python {info['python']}; {info['database']}")
        print(f"Seeded 1 tỉnh, {(args.groups + PER_XA - 1) // PER_XA} xã, {args.groups} chi bộ "
              f"and {args.groups} linked Telegram groups in {seed_seconds:.2f} s")
        expected = group_ids(args.groups)
        phases: list[Phase] = []
        expansions: list[float] = []
        plan = [
            ("a", dict(fake_rate=30.0, rate=25.0, per_chat_interval=1.0)),
            ("b", dict(fake_rate=None, rate=0.0, per_chat_interval=0.0)),
            ("c", dict(fake_rate=None, rate=args.crash_rate, per_chat_interval=1.0,
                       kill_at=args.groups // 2)),
        ]
        for name, kwargs in plan:
            if name not in args.phases:
                continue
            print(f"phase ({name}) …", flush=True)
            phase, expand_seconds, rows = await run_phase(name, args, app, database_url,
                                                          expected, tmp, **kwargs)
            expansions.append(expand_seconds)
            phases.append(phase)
            print(f"  expansion {expand_seconds * 1000:.0f} ms for {rows} rows; "
                  f"{json.dumps(asdict(phase), ensure_ascii=False)}", flush=True)
        results = {"machine": info, "groups": args.groups, "seed_seconds": seed_seconds,
                   "expansion_seconds": expansions, "phases": [asdict(p) for p in phases]}
        report(results, args, phases, expansions, time.monotonic() - t0)
    finally:
        await app.close()
        if args.database_url:
            await drop_pg_database(database_url)
    if args.json:
        args.json.write_text(json.dumps(results, ensure_ascii=False, indent=2), encoding="utf-8")
    return 0


def report(results: dict, args: argparse.Namespace, phases: list[Phase],
           expansions: list[float], total: float) -> None:
    m = results["machine"]
    by = {p.name: p for p in phases}
    print("\n== Broadcast delivery benchmark")
    print(f"Machine: {m['cpu']}, {m['cores']} cores, {m['ram']} RAM, {m['os']}, "
          f"Python {m['python']}")
    print(f"Database: {m['database']}; {args.groups} linked groups "
          f"(concurrency {args.concurrency}, batch {args.batch_size})")
    rows: list[tuple[str, str]] = []
    if expansions:
        rows.append(("(0) expansion: tick() → INSERT…SELECT of the delivery rows",
                     f"{expansions[0] * 1000:.0f} ms (all runs: "
                     + ", ".join(f"{e * 1000:.0f}" for e in expansions) + " ms)"))
    if a := by.get("a"):
        rows += [
            ("(a) fake 30 msg/s, dispatcher 25 msg/s: achieved rate",
             f"{a.rate:.2f} msg/s = {a.rate / 25:.3f} × 25 (target ≥ 0.95: "
             f"{'met' if a.rate / 25 >= 0.95 else 'MISSED'})"),
            ("(a) total time (child wall / drain() / first→last send)",
             f"{a.wall:.1f} s / {a.drain:.1f} s / {a.span:.1f} s"),
            ("(a) 429s (fake answered / dispatcher saw)", f"{a.too_many} / {a.rate_limited}"),
            ("(a) lost / duplicates", f"{a.lost} / {a.duplicates}"),
            ("(a) most accepted sends in any 1 s window", f"{a.max_1s}"),
            ("(a) delivery rows by status", f"{a.db}"),
        ]
    if b := by.get("b"):
        rows += [
            ("(b) no limits: dispatcher ceiling",
             f"{b.rate:.0f} msg/s ({b.accepted} sends in {b.span:.1f} s; drain() {b.drain:.1f} s)"),
            ("(b) lost / duplicates", f"{b.lost} / {b.duplicates}"),
            ("(b) delivery rows by status", f"{b.db}"),
        ]
    if c := by.get("c"):
        rows += [
            (f"(c) SIGKILL at ~half ({args.crash_rate:g} msg/s): accepted at kill",
             f"{c.accepted_at_kill} of {c.groups}"),
            ("(c) rows `sending` at the kill (in flight) / put back by recover()",
             f"{c.in_flight} / {c.recovered}"),
            ("(c) lost (target 0) / duplicates (target ≤ in flight)",
             f"{c.lost} / {c.duplicates} ({c.extra_sends} extra sends)"),
            ("(c) total time (both children, wall)", f"{c.wall:.1f} s"),
            ("(c) delivery rows by status", f"{c.db}"),
        ]
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        print(f"{key:<{width}}  {value}")
    print(f"Script wall time: {total:.0f} s")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--groups", type=int, default=10_000)
    parser.add_argument("--quick", action="store_true", help="1,000 groups")
    parser.add_argument("--database-url", default="",
                        help="PostgreSQL URL of an existing database (a throw-away database is "
                        "created next to it); default: a SQLite file in a temp dir")
    parser.add_argument("--phases", default="abc", help="which of a, b, c to run")
    parser.add_argument("--crash-rate", type=float, default=200.0)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--json", type=Path)
    # child mode (internal)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--api-url", help=argparse.SUPPRESS)
    parser.add_argument("--rate", type=float, default=25.0, help=argparse.SUPPRESS)
    parser.add_argument("--per-chat-interval", type=float, default=1.0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.quick:
        args.groups = 1_000
    return args


if __name__ == "__main__":
    arguments = parse_args()
    if arguments.child:
        raise SystemExit(asyncio.run(child_main(arguments)))
    raise SystemExit(asyncio.run(main(arguments)))
