"""Webhook load benchmark (issue 7): `nqbot run` on one process and on three, against PTB's echo.

Usage:  python benchmarks/load.py [--quick] [--configs sqlite1,pg1,pg3,echo,echo_rl]
                                  [--database-url URL] [--rates 10,20,40,…] [--step-seconds S]

The fake Telegram Bot API (`tests/fakes/telegram_api.py`) and the load generator (an aiohttp
client) run on loopback in this process; the bot runs as real `nqbot run` child processes in
webhook mode (TELEGRAM_WEBHOOK_URL/SECRET, each on its own WEB_PORT, TELEGRAM_API_BASE_URL = the
fake, LOG_LEVEL=WARNING), on a fresh database migrated here first (a SQLite file in a temp dir,
or a throw-away PostgreSQL database created next to `--database-url`), with the demo org tree.

Load: open loop at a fixed rate per step, round-robin over the processes' webhook URLs; 80 %
questions (texts of benchmarks/data/qa_eval.yaml, in-scope and out-of-scope in the file's
proportion), 20 % button presses (callback queries: m, d:<DOC>, t:<DOC>:<topic>:1, e:<entry>).
Every update comes from a new private chat (its own user), so the bot's first sendMessage to that
chat after the post is its reply: latency = the fake's arrival time of that call − the post time
(both `time.monotonic()` in this process). A step passes when p95 ≤ 200 ms and every update is
answered (within `--drain` seconds after the step); the steps stop at the first that fails, and
the highest passing rate is the sustained rate.

Configurations: sqlite1 = one process on SQLite; pg1 / pg3 = one / three processes sharing one
PostgreSQL database; echo = the baseline, a bare PTB Application (same PTB, `updater(None)`, the
same concurrent_updates, an aiohttp webhook handler putting updates on `update_queue`, one handler
that answers the callback query and echoes every message/press with sendMessage) started as a
child the same way (this script with `--echo-child`); echo_rl = the same with the bot's
`AIORateLimiter` (30 sendMessage/s per process), to separate the limiter from the rest;
sqlite1_nolimit (diagnostic, not in the default list) = sqlite1 with the limiter's overall
30/s limit switched off in the child (a subclass patched in before `nqbot run` imports it).
CPU % (average over the step; 100 % = one core) and peak RSS come from psutil on the child pids,
this process and, for PostgreSQL, the server backends connected to the benchmark's database;
"machine" is the whole machine's CPU use over the step (0–100 % of all cores), which shows
other load sharing the machine.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import random
import signal
import socket
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

SCRIPT = Path(__file__).resolve()
ROOT = SCRIPT.parent.parent
sys.path.insert(0, str(ROOT))

import aiohttp  # noqa: E402
import psutil  # noqa: E402
import yaml  # noqa: E402
from broadcast import create_pg_database, drop_pg_database  # noqa: E402 (benchmarks/)
from sqlalchemy import func, select  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from bot.config import Settings  # noqa: E402

TOKEN = "123456:TEST-TOKEN"
SECRET = "bench-Secret_7"
WEBHOOK_PATH = "/telegram/webhook"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
DEFAULT_PG_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
QA_SET = ROOT / "benchmarks" / "data" / "qa_eval.yaml"
P95_TARGET = 0.200
CHAT_BASE = 7_000_000_000  # private chat ids (= user ids) are CHAT_BASE + n
CONFIGS = ("sqlite1", "pg1", "pg3", "echo", "echo_rl", "sqlite1_nolimit")
# `nqbot run` with AIORateLimiter's overall 30/s limit switched off (diagnostic, not a setting)
NOLIMIT_RUN = """import sys
import telegram.ext as ext
class NoOverallLimit(ext.AIORateLimiter):
    def __init__(self, *args, **kwargs):
        kwargs["overall_max_rate"] = 0
        super().__init__(*args, **kwargs)
ext.AIORateLimiter = NoOverallLimit
from bot.cli import main
sys.exit(main(["run"]))
"""


# -- database ----------------------------------------------------------------------------------
async def prepare_database(database_url: str) -> str:
    """Migrate, load the demo org tree; return the database's label."""
    from bot.app import build_app
    from bot.cli import DEMO_ORG_CSV
    from bot.services import orgs

    app = await build_app(Settings(_env_file=None, database_url=database_url))
    try:
        async with app.sessions() as s, s.begin():
            await orgs.import_units(s, orgs.parse_csv(DEMO_ORG_CSV.read_text(encoding="utf-8")))
        async with app.sessions() as s:
            if app.settings.is_sqlite:
                version = await s.scalar(select(func.sqlite_version()))
                return f"SQLite {version} (file, WAL)"
            version = await s.scalar(select(func.current_setting("server_version")))
            return f"PostgreSQL {version}"
    finally:
        await app.close()


# -- the echo baseline child -------------------------------------------------------------------
async def echo_child(args: argparse.Namespace) -> int:
    import logging

    from aiohttp import web
    from telegram import Update
    from telegram.ext import (
        AIORateLimiter,
        ApplicationBuilder,
        CallbackQueryHandler,
        MessageHandler,
        filters,
    )

    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    builder = (ApplicationBuilder().token(TOKEN).base_url(args.api_url).updater(None)
               .concurrent_updates(Settings(_env_file=None).telegram_concurrent_updates))
    if args.rate_limiter:
        builder = builder.rate_limiter(AIORateLimiter(max_retries=3))
    ptb = builder.build()

    async def on_message(update: Update, _context: Any) -> None:
        message = update.effective_message
        if message is not None and message.text:
            await ptb.bot.send_message(message.chat.id, message.text)

    async def on_button(update: Update, _context: Any) -> None:
        query = update.callback_query
        if query is None:
            return
        await query.answer()
        if query.message is not None:
            await ptb.bot.send_message(query.message.chat.id, f"echo {query.data}")

    ptb.add_handler(CallbackQueryHandler(on_button))
    ptb.add_handler(MessageHandler(filters.TEXT, on_message))

    async def webhook(request: web.Request) -> web.Response:
        if request.headers.get(SECRET_HEADER) != SECRET:
            return web.Response(status=401)
        update = Update.de_json(await request.json(), ptb.bot)
        if update is not None:
            await ptb.update_queue.put(update)
        return web.Response(text="ok")

    async def health(_request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    server = web.Application()
    server.router.add_post(WEBHOOK_PATH, webhook)
    server.router.add_get("/healthz", health)
    runner = web.AppRunner(server, access_log=None)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with ptb:
        await ptb.start()
        await ptb.bot.set_webhook("https://echo.example.vn/telegram/webhook", secret_token=SECRET)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", args.port).start()
        await stop.wait()
        await runner.cleanup()
        await ptb.stop()
    return 0


# -- the fake, watching for replies ------------------------------------------------------------
@dataclass
class Sent:
    chat: int
    posted: float
    kind: str  # question | button
    answered: float | None = None
    error_reply: bool = False
    post_status: int = 0


class ReplyWatch(list):
    """The fake's `calls` list: on each sendMessage/editMessageText, settle that chat's update."""

    def __init__(self) -> None:
        super().__init__()
        self.pending: dict[int, Sent] = {}
        self.replies = 0
        self.error_text = ""
        self.idle = asyncio.Event()  # set when no posted update waits for its reply

    def append(self, call: Any) -> None:  # type: ignore[override]
        if call.method in ("sendMessage", "editMessageText"):
            self.replies += 1
            try:
                chat = int(call.params.get("chat_id", 0))
            except (TypeError, ValueError):
                chat = 0
            sent = self.pending.pop(chat, None)
            if sent is not None:
                sent.answered = call.at
                sent.error_reply = str(call.params.get("text", "")) == self.error_text
                if not self.pending:
                    self.idle.set()
            return  # not kept: the benchmark needs only the first reply per chat
        super().append(call)


# -- load --------------------------------------------------------------------------------------
class Mix:
    """80 % questions from the evaluation set, 20 % button presses with valid payloads."""

    def __init__(self, seed: int = 7) -> None:
        from content.kb import load_kb

        data = yaml.safe_load(QA_SET.read_text(encoding="utf-8"))
        self.questions = [item["q"] for item in data["in_scope"]] + [
            item["q"] for item in data["out_of_scope"]]
        kb = load_kb()
        docs = [d for d in kb.documents if kb.topics.get(d)]
        self.payloads = {
            "menu": ["m"],
            "document": [f"d:{d}" for d in docs],
            "topic": [f"t:{d}:{t.id}:1" for d in docs for t in kb.topics[d]],
            "entry": [f"e:{e}" for e in kb.entries],
        }
        self.rng = random.Random(seed)
        self.counter = 0

    def next(self) -> tuple[int, str, dict[str, Any]]:
        self.counter += 1
        n = self.counter
        chat = CHAT_BASE + n
        user = {"id": chat, "is_bot": False, "first_name": f"Người dùng {n}"}
        private = {"id": chat, "type": "private", "first_name": user["first_name"]}
        now = int(time.time())
        if self.rng.random() < 0.8:
            body = {"update_id": n, "message": {
                "message_id": n, "date": now, "chat": private, "from": user,
                "text": self.rng.choice(self.questions)}}
            return chat, "question", body
        kind = self.rng.choice(list(self.payloads))
        body = {"update_id": n, "callback_query": {
            "id": f"cb{n}", "from": user, "chat_instance": str(chat),
            "data": self.rng.choice(self.payloads[kind]),
            "message": {"message_id": 1, "date": now, "text": "…", "chat": private}}}
        return chat, "button", body


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


@dataclass
class Step:
    rate: float
    seconds: float
    offered: float = 0.0
    sent: int = 0
    answered: int = 0
    answered_rate: float = 0.0
    p50_ms: float = 0.0
    p95_ms: float = 0.0
    p99_ms: float = 0.0
    max_ms: float = 0.0
    lost: int = 0
    post_errors: int = 0
    error_replies: int = 0
    question_p95_ms: float = 0.0
    button_p95_ms: float = 0.0
    cpu: dict[str, float] = field(default_factory=dict)  # label -> average CPU % over the step
    rss_mib: dict[str, float] = field(default_factory=dict)  # label -> peak RSS
    passed: bool = False


class Sampler:
    """CPU % (cpu_times delta / wall) and peak RSS of the children, this process, PostgreSQL."""

    def __init__(self, pids: dict[str, int], pg_database: str) -> None:
        self.procs = {label: psutil.Process(pid) for label, pid in pids.items()}
        self.procs["parent (fake + load)"] = psutil.Process()
        self.pg_database = pg_database
        self.rss: dict[str, float] = {}

    def _pg(self) -> list[psutil.Process]:
        """The server backends connected to our database ("postgres: … user DB host …")."""
        found = []
        for p in psutil.process_iter(["name", "cmdline"]):
            cmdline = " ".join(p.info["cmdline"] or [])
            if p.info["name"] == "postgres" and f" {self.pg_database} " in cmdline:
                found.append(p)
        return found

    @staticmethod
    def _busy(p: psutil.Process) -> float:
        t = p.cpu_times()
        return t.user + t.system

    def start(self) -> None:
        self.t0 = time.monotonic()
        self.c0 = {k: self._busy(p) for k, p in self.procs.items()}
        psutil.cpu_percent()
        self.pg0 = {}
        if self.pg_database:
            for p in self._pg():
                with contextlib.suppress(psutil.Error):
                    self.pg0[p.pid] = (p, self._busy(p))
        self.rss = {}

    def sample_rss(self) -> None:
        for label, p in self.procs.items():
            with contextlib.suppress(psutil.Error):
                mib = p.memory_info().rss / 2**20
                self.rss[label] = max(self.rss.get(label, 0.0), mib)

    def stop(self) -> tuple[dict[str, float], dict[str, float]]:
        wall = time.monotonic() - self.t0
        cpu = {}
        for label, p in self.procs.items():
            with contextlib.suppress(psutil.Error):
                cpu[label] = 100 * (self._busy(p) - self.c0[label]) / wall
        if self.pg_database:
            total = 0.0
            for p in self._pg():  # backends opened during the step count in full
                with contextlib.suppress(psutil.Error):
                    before = self.pg0[p.pid][1] if p.pid in self.pg0 else 0.0
                    total += self._busy(p) - before
            cpu["postgres backends"] = 100 * total / wall
        cpu["machine"] = psutil.cpu_percent()
        return cpu, dict(self.rss)


async def run_step(http: aiohttp.ClientSession, urls: list[str], mix: Mix, watch: ReplyWatch,
                   sampler: Sampler | None, rate: float, seconds: float, drain: float) -> Step:
    step = Step(rate=rate, seconds=seconds)
    sent: list[Sent] = []
    tasks: set[asyncio.Task] = set()

    async def post(url: str, body: dict[str, Any], record: Sent) -> None:
        try:
            async with http.post(url, json=body, headers={SECRET_HEADER: SECRET}) as response:
                record.post_status = response.status
                await response.read()
        except (aiohttp.ClientError, OSError):
            record.post_status = -1

    if sampler:
        sampler.start()
    n = max(1, round(rate * seconds))
    t0 = time.monotonic()
    last_rss = 0.0
    for i in range(n):
        delay = t0 + i / rate - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        chat, kind, body = mix.next()
        record = Sent(chat=chat, posted=time.monotonic(), kind=kind)
        watch.pending[chat] = record
        sent.append(record)
        task = asyncio.create_task(post(urls[i % len(urls)], body, record))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
        if sampler and record.posted - last_rss >= 1.0:
            sampler.sample_rss()
            last_rss = record.posted
    last_post = time.monotonic()
    step.offered = (n - 1) / (last_post - t0) if n > 1 else rate
    if sampler:
        sampler.sample_rss()
        step.cpu, step.rss_mib = sampler.stop()
    if watch.pending:
        watch.idle.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(watch.idle.wait(), drain)
    if tasks:
        await asyncio.wait(tasks, timeout=5)
    for s in sent:
        watch.pending.pop(s.chat, None)
    answered = [s for s in sent if s.answered is not None]
    latencies = [s.answered - s.posted for s in answered]  # type: ignore[operator]
    step.sent = n
    step.answered = len(answered)
    step.lost = n - len(answered)
    step.post_errors = sum(1 for s in sent if s.post_status != 200)
    step.error_replies = sum(1 for s in answered if s.error_reply)
    if answered:
        end = max(s.answered for s in answered)  # type: ignore[type-var]
        step.answered_rate = len(answered) / max(end - t0, 1e-9)
        step.p50_ms = 1000 * pct(latencies, 0.50)
        step.p95_ms = 1000 * pct(latencies, 0.95)
        step.p99_ms = 1000 * pct(latencies, 0.99)
        step.max_ms = 1000 * max(latencies)
        for kind in ("question", "button"):
            lat = [s.answered - s.posted for s in answered if s.kind == kind]  # type: ignore[operator]
            setattr(step, f"{kind}_p95_ms", 1000 * pct(lat, 0.95) if lat else 0.0)
    step.passed = (step.lost == 0 and step.error_replies == 0
                   and step.p95_ms <= P95_TARGET * 1000)
    return step


# -- one configuration -------------------------------------------------------------------------
def tail(path: Path, chars: int = 3000) -> str:
    return path.read_text(encoding="utf-8", errors="replace")[-chars:] if path.exists() else ""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class ConfigResult:
    name: str
    label: str
    processes: int
    database: str
    startup_seconds: float = 0.0
    steps: list[Step] = field(default_factory=list)
    sustained: float = 0.0
    child_log_tail: str = ""


async def start_children(name: str, processes: int, database_url: str, fake_url: str,
                         tmp: Path) -> tuple[list[asyncio.subprocess.Process], list[int], Path]:
    log_path = tmp / f"{name}.log"
    procs, ports = [], []
    for i in range(processes):
        port = free_port()
        ports.append(port)
        if name.startswith("echo"):
            cmd = [sys.executable, str(SCRIPT), "--echo-child", "--api-url", fake_url,
                   "--port", str(port)] + (["--rate-limiter"] if name == "echo_rl" else [])
            env = dict(os.environ)
        else:
            cmd = ([sys.executable, "-c", NOLIMIT_RUN] if name.endswith("_nolimit")
                   else [str(Path(sys.executable).parent / "nqbot"), "run"])
            env = {k: v for k, v in os.environ.items()
                   if not k.startswith(("TELEGRAM_", "ZALO_", "DATABASE_", "WEB_"))}
            env.update({
                "DATABASE_URL": database_url,
                "TELEGRAM_BOT_TOKEN": TOKEN,
                "TELEGRAM_API_BASE_URL": fake_url,
                "TELEGRAM_WEBHOOK_URL": f"https://bot{i}.example.vn{WEBHOOK_PATH}",
                "TELEGRAM_WEBHOOK_SECRET": SECRET,
                "TELEGRAM_WEBHOOK_PATH": WEBHOOK_PATH,
                "WEB_HOST": "127.0.0.1",
                "WEB_PORT": str(port),
                "LOG_LEVEL": "WARNING",
                "FILES_DIR": str(tmp / "files"),
            })
        procs.append(await asyncio.create_subprocess_exec(
            *cmd, env=env, cwd=str(tmp), stdout=log_path.open("ab"),
            stderr=asyncio.subprocess.STDOUT))
    return procs, ports, log_path


async def wait_ready(http: aiohttp.ClientSession, ports: list[int], fake: Any,
                     procs: list[asyncio.subprocess.Process], log_path: Path,
                     limit: float = 60.0) -> None:
    deadline = time.monotonic() + limit
    pending = set(ports)
    while time.monotonic() < deadline:
        for proc in procs:
            if proc.returncode is not None:
                raise RuntimeError(f"a child exited with {proc.returncode}:\n"
                                   + tail(log_path))
        for port in list(pending):
            with contextlib.suppress(aiohttp.ClientError, OSError):
                async with http.get(f"http://127.0.0.1:{port}/healthz") as r:
                    if r.status == 200:
                        pending.discard(port)
        webhooks = sum(1 for c in fake.calls if c.method == "setWebhook")
        if not pending and webhooks >= len(ports):
            return
        await asyncio.sleep(0.1)
    raise RuntimeError("children not ready in time:\n" + tail(log_path))


async def stop_children(procs: list[asyncio.subprocess.Process]) -> None:
    for proc in procs:
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
    for proc in procs:
        try:
            await asyncio.wait_for(proc.wait(), 20)
        except TimeoutError:
            proc.kill()
            await proc.wait()


async def run_config(name: str, args: argparse.Namespace, tmp: Path, mix: Mix) -> ConfigResult:
    from handlers import texts
    from tests.fakes.telegram_api import FakeTelegram

    processes = 3 if name == "pg3" else 1
    on_pg = name.startswith("pg")
    labels = {"sqlite1": "nqbot run × 1, SQLite", "pg1": "nqbot run × 1, PostgreSQL",
              "pg3": "nqbot run × 3, PostgreSQL", "echo": "PTB echo (bare)",
              "echo_rl": "PTB echo + AIORateLimiter",
              "sqlite1_nolimit": "nqbot run × 1, SQLite, no 30/s limiter (diagnostic)"}
    database_url = ""
    database = "—"
    if on_pg:
        database_url = await create_pg_database(args.database_url)
    elif name.startswith("sqlite1"):
        database_url = f"sqlite+aiosqlite:///{tmp / (name + '.sqlite3')}"
    result = ConfigResult(name, labels[name], processes, database)
    fake = FakeTelegram(token=TOKEN)
    watch = ReplyWatch()
    watch.error_text = texts.ERROR
    fake.calls = watch
    await fake.start()
    procs: list[asyncio.subprocess.Process] = []
    log_path = tmp / f"{name}.log"
    connector = aiohttp.TCPConnector(limit=0)
    try:
        async with aiohttp.ClientSession(connector=connector) as http:
            if database_url:
                result.database = await prepare_database(database_url)
            started = time.monotonic()
            procs, ports, log_path = await start_children(name, processes, database_url,
                                                          fake.base_url, tmp)
            await wait_ready(http, ports, fake, procs, log_path)
            result.startup_seconds = time.monotonic() - started
            urls = [f"http://127.0.0.1:{p}{WEBHOOK_PATH}" for p in ports]
            pids = {f"child {i + 1}" if processes > 1 else "child": p.pid
                    for i, p in enumerate(procs)}
            sampler = Sampler(pids, make_url(database_url).database if on_pg else "")
            print(f"[{name}] {result.label}: {processes} process(es) ready in "
                  f"{result.startup_seconds:.1f} s; {result.database}", flush=True)
            await run_step(http, urls, mix, watch, None, 5.0, args.warmup, args.drain)
            for rate in args.rates:
                step = await run_step(http, urls, mix, watch, sampler, rate,
                                      args.step_seconds, args.drain)
                result.steps.append(step)
                cpu = ", ".join(f"{k} {v:.0f}%" for k, v in step.cpu.items())
                rss = ", ".join(f"{k} {v:.0f}" for k, v in step.rss_mib.items())
                print(f"[{name}] offered {step.offered:6.1f}/s answered {step.answered_rate:6.1f}/s"
                      f"  p50 {step.p50_ms:6.1f}  p95 {step.p95_ms:7.1f}  p99 {step.p99_ms:7.1f} ms"
                      f"  lost {step.lost}  post errors {step.post_errors}"
                      f"  error replies {step.error_replies}"
                      f"  {'ok' if step.passed else 'FAIL'} | CPU {cpu} | RSS MiB {rss}",
                      flush=True)
                if step.passed:
                    result.sustained = step.rate
                else:
                    break
                await asyncio.sleep(args.pause)
    finally:
        await stop_children(procs)
        await fake.stop()
        if on_pg and database_url:
            await drop_pg_database(database_url)
    if log_path.exists():
        text = log_path.read_text(encoding="utf-8", errors="replace")
        result.child_log_tail = text[-2000:]
        problems = sum(1 for line in text.splitlines() if "ERROR" in line or "Traceback" in line)
        if problems:
            print(f"[{name}] child log has {problems} ERROR/Traceback lines: {log_path}")
    return result


# -- machine and report ------------------------------------------------------------------------
def machine() -> dict[str, str]:
    cpu = "?"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    ram = f"{psutil.virtual_memory().total / 2**30:.1f} GiB"
    import telegram

    return {"cpu": cpu, "cores": str(os.cpu_count()), "ram": ram,
            "os": f"{platform.system()} {platform.release()}",
            "python": platform.python_version(), "ptb": telegram.__version__,
            "aiohttp": aiohttp.__version__}


def report(results: list[ConfigResult], info: dict[str, str], args: argparse.Namespace,
           total: float) -> None:
    print("\n== Webhook load benchmark")
    print(f"Machine: {info['cpu']}, {info['cores']} cores, {info['ram']} RAM, {info['os']}, "
          f"Python {info['python']}, python-telegram-bot {info['ptb']}, aiohttp {info['aiohttp']}")
    print(f"Steps: {', '.join(f'{r:g}' for r in args.rates)} updates/s, {args.step_seconds:g} s "
          f"each (+ {args.drain:g} s to drain); pass = p95 ≤ {P95_TARGET * 1000:.0f} ms, "
          "nothing lost, no error replies")
    header = ("| configuration | database | offered /s | answered /s | p50 ms | p95 ms | p99 ms "
              "| lost | CPU % (per process) | RSS MiB | pass |")
    print(header)
    print("|" + "---|" * 11)
    for r in results:
        for s in r.steps:
            cpu = ", ".join(f"{k} {v:.0f}" for k, v in s.cpu.items())
            rss = ", ".join(f"{v:.0f}" for k, v in s.rss_mib.items() if not k.startswith("parent"))
            print(f"| {r.label} | {r.database} | {s.offered:.1f} | {s.answered_rate:.1f} "
                  f"| {s.p50_ms:.1f} | {s.p95_ms:.1f} | {s.p99_ms:.1f} | {s.lost} | {cpu} "
                  f"| {rss} | {'yes' if s.passed else 'no'} |")
    print()
    by = {r.name: r for r in results}
    for r in results:
        print(f"{r.label}: sustained {r.sustained:g} updates/s "
              f"(start-up {r.startup_seconds:.1f} s)")
    echo = by.get("echo")
    if echo and echo.sustained:
        for r in results:
            if not r.name.startswith("echo"):
                print(f"  {r.label} / PTB echo (bare): {r.sustained / echo.sustained:.2f}")
    if (rl := by.get("echo_rl")) and rl.sustained:
        for r in results:
            if not r.name.startswith("echo"):
                print(f"  {r.label} / PTB echo + AIORateLimiter: {r.sustained / rl.sustained:.2f}")
    print(f"Script wall time: {total:.0f} s")


async def main(args: argparse.Namespace) -> int:
    t0 = time.monotonic()
    tmp = Path(tempfile.mkdtemp(prefix="nqbot-load-"))
    info = machine()
    print(f"Machine: {info['cpu']}, {info['cores']} cores, {info['ram']} RAM, {info['os']}, "
          f"Python {info['python']}; logs in {tmp}", flush=True)
    mix = Mix()
    results: list[ConfigResult] = []
    for name in args.configs:
        results.append(await run_config(name, args, tmp, mix))
    total = time.monotonic() - t0
    report(results, info, args, total)
    if args.json:
        args.json.write_text(json.dumps({"machine": info, "wall_seconds": total,
                                         "results": [asdict(r) for r in results]},
                                        ensure_ascii=False, indent=2), encoding="utf-8")
    return 0


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true",
                        help="3 s steps at 10, 40, 160 /s, a short drain: to try things out")
    parser.add_argument("--configs", default="sqlite1,pg1,pg3,echo,echo_rl",
                        help="comma-separated: " + ", ".join(CONFIGS))
    parser.add_argument("--database-url", default=DEFAULT_PG_URL,
                        help="PostgreSQL URL of an existing database (a throw-away database is "
                        "created next to it for pg1 and pg3)")
    parser.add_argument("--rates", default="10,20,40,60,80,120,160,240,320",
                        help="offered rates in updates/s, in order")
    parser.add_argument("--step-seconds", type=float, default=15.0)
    parser.add_argument("--drain", type=float, default=10.0,
                        help="seconds after a step for the last replies")
    parser.add_argument("--warmup", type=float, default=3.0, help="seconds at 5/s, not counted")
    parser.add_argument("--pause", type=float, default=2.0, help="seconds between steps")
    parser.add_argument("--json", type=Path)
    # echo child (internal)
    parser.add_argument("--echo-child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--api-url", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--rate-limiter", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.quick:
        args.rates = "10,40,160"
        args.step_seconds, args.drain, args.warmup, args.pause = 3.0, 3.0, 1.0, 0.5
    args.rates = [float(r) for r in str(args.rates).split(",") if r.strip()]
    args.configs = [c.strip() for c in str(args.configs).split(",") if c.strip()]
    unknown = set(args.configs) - set(CONFIGS)
    if unknown:
        parser.error(f"unknown configurations: {', '.join(sorted(unknown))}")
    return args


if __name__ == "__main__":
    arguments = parse_args()
    if arguments.echo_child:
        raise SystemExit(asyncio.run(echo_child(arguments)))
    raise SystemExit(asyncio.run(main(arguments)))
