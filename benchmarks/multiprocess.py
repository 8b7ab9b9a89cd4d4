"""Several bot processes behind one bot (PostgreSQL): one sends, the others stand by.

Usage:  python benchmarks/multiprocess.py --database-url postgresql+asyncpg://… [--groups N]

A throw-away PostgreSQL database next to the one `--database-url` names is seeded as in
`benchmarks/broadcast.py` (1 tỉnh → xã → chi bộ, one linked Telegram group each) and one
broadcast to the province is expanded. The fake Telegram Bot API runs in this process, enforcing
30 msg/s (429 above); three child processes (this script with `--child`) each run a dispatcher
at 25 msg/s with the channel's lease and PostgreSQL advisory lock, as `nqbot run` does: one
holds the role, two stand by. At about half-way the holder gets SIGKILL. Figures from the fake's
log: lost, duplicates against the rows in flight, the most accepted sends in any 1 s window
(whole run, all processes), takeover time (kill → next accepted send), total time.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import signal
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import broadcast as base  # benchmarks/broadcast.py: seeding, machine description

SCRIPT = Path(__file__).resolve()
ROOT = SCRIPT.parent.parent

from sqlalchemy import select  # noqa: E402

from bot.config import Settings  # noqa: E402
from bot.db.engine import create_engine, session_factory  # noqa: E402
from bot.db.models import BroadcastRun  # noqa: E402


async def child_main(args: argparse.Namespace) -> int:
    import logging

    from scheduler.dispatcher import Dispatcher, DispatcherBusy, Limits
    from scheduler.lease import Lease
    from scheduler.senders import TelegramSender

    logging.basicConfig(level=logging.WARNING, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = Settings(_env_file=None, database_url=args.database_url)
    engine = create_engine(settings)
    sessions = session_factory(engine)
    sender = TelegramSender(base.TOKEN, args.api_url, timeout=settings.broadcast_request_timeout,
                            pool_size=args.concurrency + 4)
    await sender.start()
    dispatcher = Dispatcher(sessions, sender,
                            Limits(rate=args.rate, per_chat_interval=1.0,
                                   concurrency=args.concurrency, batch_size=args.batch_size),
                            lease=Lease(sessions, "telegram", ttl=args.lease_seconds))
    print(json.dumps({"event": "ready"}), flush=True)
    while True:  # a standby until it holds the role, then drains what is left
        try:
            await dispatcher.drain()
            break
        except DispatcherBusy:
            continue
    await sender.close()
    await engine.dispose()
    print(json.dumps({"event": "done", "sent": dispatcher.stats.sent}), flush=True)
    return 0


async def spawn(args: argparse.Namespace, database_url: str, api_url: str,
                log_path: Path) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, str(SCRIPT), "--child", "--database-url", database_url,
        "--api-url", api_url, "--rate", str(args.rate), "--concurrency", str(args.concurrency),
        "--batch-size", str(args.batch_size), "--lease-seconds", str(args.lease_seconds),
        stdout=asyncio.subprocess.DEVNULL, stderr=log_path.open("wb"), cwd=str(ROOT))


async def main(args: argparse.Namespace) -> int:
    from bot.app import build_app
    from scheduler.lease import Lease
    from scheduler.service import DeliveryService
    from tests.fakes.telegram_api import FakeTelegram

    t0 = time.monotonic()
    tmp = Path(tempfile.mkdtemp(prefix="nqbot-multi-"))
    database_url = await base.create_pg_database(args.database_url)
    app = await build_app(Settings(_env_file=None, database_url=database_url))
    fake = None
    procs: list[asyncio.subprocess.Process] = []
    try:
        await base.seed(app.sessions, args.groups)
        info = base.machine(await base.database_label(app))
        await base.new_broadcast(app)
        (run_id,) = (await DeliveryService(app, {}).tick()).runs
        async with app.sessions() as s:
            assert await s.scalar(select(BroadcastRun.total).where(
                BroadcastRun.id == run_id)) == args.groups
        fake = await FakeTelegram(token=base.TOKEN, rate_limit=args.fake_rate).start()
        logs = [tmp / f"child-{i}.log" for i in range(args.processes)]
        started = time.monotonic()
        procs = [await spawn(args, database_url, fake.base_url, log) for log in logs]
        await fake.wait_for(lambda: len(fake.delivered()) >= args.groups // 2,
                            timeout=args.groups)
        holder = await Lease(app.sessions, "telegram", ttl=60).current_holder()
        assert holder is not None
        victim = next(p for p in procs if p.pid == int(holder.rsplit(":", 2)[1]))
        victim.send_signal(signal.SIGKILL)
        killed_at = time.monotonic()
        in_flight = (await base.status_counts(app.sessions, run_id)).get("sending", 0)
        await victim.wait()
        accepted_at_kill = len([c for c in fake.delivered() if c.at <= killed_at])
        codes = [await p.wait() for p in procs if p is not victim]
        total = time.monotonic() - started
        text = "".join(p.read_text(encoding="utf-8", errors="replace") for p in logs)
        recovered = sum(int(n) for n in re.findall(r"(\d+) message\(s\) were in flight", text))
        sends = [c for c in fake.delivered() if int(c.params["chat_id"]) < 0]
        per_chat = Counter(int(c.params["chat_id"]) for c in sends)
        phase = base.Phase("multi", args.groups)
        base.measure(phase, fake, base.group_ids(args.groups))
        after = [c.at for c in sends if c.at > killed_at]
        takeover = min(after) - killed_at if after else float("nan")
        db = await base.status_counts(app.sessions, run_id)
        results = {
            "date": time.strftime("%Y-%m-%d"), "machine": info, "groups": args.groups,
            "processes": args.processes, "rate": args.rate, "fake_rate": args.fake_rate,
            "accepted_at_kill": accepted_at_kill, "in_flight_at_kill": in_flight,
            "recovered": recovered, "lost": phase.lost, "duplicates": phase.duplicates,
            "extra_sends": sum(n - 1 for n in per_chat.values()), "max_1s": phase.max_1s,
            "too_many": fake.too_many, "takeover_seconds": takeover,
            "rate_achieved": phase.rate, "total_seconds": total, "exit_codes": codes,
            "db": db, "script_seconds": time.monotonic() - t0,
        }
    finally:
        for p in procs:
            if p.returncode is None:
                p.kill()
                await p.wait()
        if fake is not None:
            await fake.stop()
        await app.close()
        await base.drop_pg_database(database_url)
    m = results["machine"]
    print("\n== Several processes behind one bot")
    print(f"Date {results['date']}; machine: {m['cpu']}, {m['cores']} cores, {m['ram']} RAM, "
          f"{m['os']}, Python {m['python']}; {m['database']}")
    rows = [
        ("processes / groups", f"{args.processes} / {args.groups}"),
        ("fake limit / configured rate per process", f"{args.fake_rate:g} / {args.rate:g} msg/s"),
        ("SIGKILL of the role holder after (accepted sends)",
         f"{accepted_at_kill} of {args.groups}"),
        ("rows `sending` at the kill / put back by the successor",
         f"{in_flight} / {recovered}"),
        ("lost (target 0) / duplicates (target ≤ in flight)",
         f"{phase.lost} / {phase.duplicates} ({results['extra_sends']} extra sends)"),
        ("most accepted sends in any 1 s window (all processes)",
         f"{phase.max_1s} (configured {args.rate:g}; fake 429s: {fake.too_many})"),
        ("takeover: kill → next accepted send", f"{takeover:.2f} s"),
        ("achieved rate (first → last accepted send)", f"{phase.rate:.2f} msg/s"),
        ("total time (children start → last exit)", f"{total:.1f} s"),
        ("standbys' exit codes / rows by status", f"{codes} / {db}"),
    ]
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        print(f"{key:<{width}}  {value}")
    if args.json:
        args.json.write_text(json.dumps(results, ensure_ascii=False, indent=2), encoding="utf-8")
    return 0


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default="postgresql+asyncpg://postgres@127.0.0.1:5432/test",
                        help="PostgreSQL URL of an existing database (a throw-away database is "
                        "created next to it)")
    parser.add_argument("--groups", type=int, default=5_000)
    parser.add_argument("--processes", type=int, default=3)
    parser.add_argument("--rate", type=float, default=25.0)
    parser.add_argument("--fake-rate", type=float, default=30.0)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lease-seconds", type=float, default=15.0)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--api-url", help=argparse.SUPPRESS)
    return parser.parse_args()


if __name__ == "__main__":
    arguments = parse_args()
    if arguments.child:
        raise SystemExit(asyncio.run(child_main(arguments)))
    raise SystemExit(asyncio.run(main(arguments)))
