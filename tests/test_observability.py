"""Health, metrics and structured logs: /metrics after routed updates and a real dispatch (with
a 429) against the fake Telegram server, /healthz 200/503, JSON log lines without secrets."""

from __future__ import annotations

import asyncio
import io
import json
import logging
from types import SimpleNamespace
from urllib.parse import quote

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families
from pydantic import ValidationError

from bot.db.engine import create_engine
from bot.health import RuntimeState, endpoints
from bot.logging_setup import make_handler, settings_secrets
from bot.web import WebServer
from handlers import payloads
from handlers.types import ChatKind, Incoming
from scheduler.broadcasts import Draft
from scheduler.dispatcher import Limits
from scheduler.senders import TelegramSender
from scheduler.service import DeliveryService
from tests.broadcast_world import Clock, build_world, create
from tests.conftest import make_settings
from tests.fakes.telegram_api import FakeTelegram, Fault

TOKEN = "123456:AAH-secret-token-value"
ZALO_TOKEN = "zalo-bot-token-0123456789"
HOOK_SECRET = "tg_webhook_secret_XYZ"
FILES_SECRET = "files-signing-secret!"


# -- helpers -----------------------------------------------------------------------------------
class Served:
    """The project's web server on a free loopback port, with /healthz and /metrics."""

    def __init__(self, app, state: RuntimeState, engine=None) -> None:  # type: ignore[no-untyped-def]
        self.web = WebServer("127.0.0.1", 0)
        health, metrics = endpoints(engine or app.engine, app.sessions, state)
        self.web.set_health(health)
        self.web.add_metrics(metrics)
        self.http: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> Served:
        port = await self.web.start()
        self.base = f"http://127.0.0.1:{port}"
        self.http = aiohttp.ClientSession()
        return self

    async def __aexit__(self, *_exc: object) -> None:
        assert self.http is not None
        await self.http.close()
        await self.web.stop()

    async def get(self, path: str) -> tuple[int, str, str]:
        assert self.http is not None
        async with self.http.get(self.base + path) as response:
            return response.status, response.headers["Content-Type"], await response.text()

    async def samples(self) -> dict[tuple[str, frozenset], float]:
        status, content_type, body = await self.get("/metrics")
        assert status == 200 and content_type.startswith("text/plain")
        return {(s.name, frozenset(s.labels.items())): s.value
                for family in text_string_to_metric_families(body) for s in family.samples}


def value(samples: dict, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def delta(after: dict, before: dict, name: str, **labels: str) -> float:
    return value(after, name, **labels) - value(before, name, **labels)


# -- /metrics: routed updates ------------------------------------------------------------------
async def test_metrics_count_updates_qa_outcomes_and_latency(app):
    entry = next(iter(app.kb.entries.values()))
    answered_text = entry.question
    assert app.qa.evaluate(answered_text).outcome.value == "answered"
    other_text = "giá vé xem bóng đá tối nay bao nhiêu tiền"
    other_outcome = app.qa.evaluate(other_text).outcome.value
    assert other_outcome in ("unknown", "suggested", "other_document")

    def incoming(**kw) -> Incoming:  # type: ignore[no-untyped-def]
        return Incoming("telegram", "42", "42", user_name="Đảng viên", **kw)

    async with Served(app, RuntimeState()) as served:
        before = await served.samples()
        await app.router.handle(incoming(text=answered_text))
        await app.router.handle(incoming(text=other_text))
        await app.router.handle(incoming(text="/help"))
        await app.router.handle(incoming(payload=payloads.menu()))
        await app.router.handle(Incoming("zalo", "z1", "z1", text=answered_text))
        # group chatter not addressed to the bot is ignored: not an update handled
        await app.router.handle(Incoming("telegram", "-5", "42", chat_kind=ChatKind.GROUP,
                                         text="chào cả nhà", addressed=False))
        after = await served.samples()

    assert delta(after, before, "nqbot_updates_total", channel="telegram", kind="message") == 2
    assert delta(after, before, "nqbot_updates_total", channel="telegram", kind="command") == 1
    assert delta(after, before, "nqbot_updates_total", channel="telegram", kind="button") == 1
    assert delta(after, before, "nqbot_updates_total", channel="zalo", kind="message") == 1
    assert delta(after, before, "nqbot_qa_outcomes_total", channel="telegram",
                 outcome="answered") == 1
    assert delta(after, before, "nqbot_qa_outcomes_total", channel="telegram",
                 outcome=other_outcome) == 1
    assert delta(after, before, "nqbot_qa_outcomes_total", channel="zalo",
                 outcome="answered") == 1
    assert delta(after, before, "nqbot_handle_seconds_count", channel="telegram",
                 kind="message") == 2
    assert delta(after, before, "nqbot_handle_seconds_bucket", channel="telegram",
                 kind="message", le="+Inf") == 2
    assert delta(after, before, "nqbot_handle_seconds_sum", channel="telegram",
                 kind="message") > 0
    assert delta(after, before, "nqbot_update_errors_total", channel="telegram") == 0


# -- /metrics and /healthz: a dispatch with a 429 and a kicked group ---------------------------
@pytest.fixture
async def fake():
    server = await FakeTelegram().start()
    try:
        yield server
    finally:
        await server.stop()


async def test_delivery_metrics_queue_depth_and_dispatcher_role(app, fake):
    world = await build_world(app)
    clock = Clock()
    sender = TelegramSender(fake.token, fake.base_url, timeout=5.0, pool_size=8)
    service = DeliveryService(app, {"telegram": sender}, clock=clock)
    dispatcher = service.dispatchers["telegram"]
    dispatcher.limits = Limits(rate=0, per_chat_interval=0)
    dispatcher._limiter = None
    await sender.start()
    fake.fail_next(-1001, Fault(429, "Too Many Requests: retry after 1", {"retry_after": 1}))
    fake.kick(-1002)
    await create(app, Draft(text="Họp chi bộ.", targets=("X01",), channel="telegram"),
                 actor=world.reporter, now=clock.now)
    state = RuntimeState(channels={"telegram": SimpleNamespace(running=True)},
                         dispatchers=dict(service.dispatchers))
    try:
        async with Served(app, state) as served:
            before = await served.samples()
            await service.tick()  # the run's rows are now pending
            queued = await served.samples()
            assert value(queued, "nqbot_delivery_queue_depth", channel="telegram") == 3
            assert value(queued, "nqbot_dispatcher_active", channel="telegram") == 0

            await dispatcher.drain()
            after = await served.samples()
            assert delta(after, before, "nqbot_deliveries_total", channel="telegram",
                         status="sent") == 2
            assert delta(after, before, "nqbot_deliveries_total", channel="telegram",
                         status="failed") == 1
            assert delta(after, before, "nqbot_rate_limited_total", channel="telegram") == 1
            assert delta(after, before, "nqbot_delivery_retries_total", channel="telegram") == 0
            assert value(after, "nqbot_delivery_queue_depth", channel="telegram") == 0
            assert value(after, "nqbot_channel_up", channel="telegram") == 1

            # while dispatching, this process holds the channel's lease: health and metrics
            stop = asyncio.Event()
            task = asyncio.create_task(dispatcher.run(stop))
            await fake.wait_for(lambda: dispatcher.holds_lease, timeout=5)
            status, _, body = await served.get("/healthz")
            assert status == 200
            assert json.loads(body) == {"status": "ok", "database": "ok",
                                        "channels": {"telegram": "running"},
                                        "dispatcher": {"telegram": True}}
            held = await served.samples()
            assert value(held, "nqbot_dispatcher_active", channel="telegram") == 1
            stop.set()
            await asyncio.wait_for(task, 5)
            assert dispatcher.holds_lease is False
            status, _, body = await served.get("/healthz")
            assert json.loads(body)["dispatcher"] == {"telegram": False}
    finally:
        await sender.close()


# -- /healthz ----------------------------------------------------------------------------------
async def test_healthz_reports_database_and_channels(app):
    state = RuntimeState(channels={"telegram": SimpleNamespace(running=True),
                                   "zalo": SimpleNamespace(running=False)},
                         dispatchers={"telegram": SimpleNamespace(holds_lease=False)})
    async with Served(app, state) as served:
        status, content_type, body = await served.get("/healthz")
    assert status == 200 and content_type.startswith("application/json")
    assert json.loads(body) == {"status": "degraded", "database": "ok",
                                "channels": {"telegram": "running", "zalo": "stopped"},
                                "dispatcher": {"telegram": False}}


async def test_healthz_is_503_when_the_database_does_not_answer(app, tmp_path):
    if app.settings.is_sqlite:  # a directory cannot be opened as a database file
        (tmp_path / "not-a-file").mkdir()
        url = f"sqlite+aiosqlite:///{tmp_path / 'not-a-file'}"
    else:  # nothing listens on port 1
        url = "postgresql+asyncpg://postgres@127.0.0.1:1/nqbot"
    broken = create_engine(make_settings(url))
    state = RuntimeState(channels={"telegram": SimpleNamespace(running=True)})
    try:
        async with Served(app, state, engine=broken) as served:
            status, _, body = await served.get("/healthz")
            metrics_status, _, _ = await served.get("/metrics")  # metrics still answer
    finally:
        await broken.dispose()
    assert status == 503
    assert json.loads(body) == {"status": "error", "database": "error",
                                "channels": {"telegram": "running"}, "dispatcher": {}}
    assert metrics_status == 200


# -- structured logs ---------------------------------------------------------------------------
def _json_logger(stream: io.StringIO, secrets: list[str]) -> logging.Logger:
    logger = logging.getLogger("test.observability.json")
    logger.handlers[:] = [make_handler(secrets, "json", stream)]
    logger.propagate = False
    logger.setLevel(logging.INFO)
    return logger


def test_json_log_lines_parse_and_hold_no_secret():
    settings = make_settings("sqlite+aiosqlite:///:memory:", telegram_bot_token=TOKEN,
                             zalo_bot_token=ZALO_TOKEN, telegram_webhook_secret=HOOK_SECRET,
                             files_secret=FILES_SECRET)
    secrets = settings_secrets(settings)
    assert {TOKEN, ZALO_TOKEN, HOOK_SECRET, FILES_SECRET} <= set(secrets)
    stream = io.StringIO()
    logger = _json_logger(stream, secrets)

    logger.info("calling https://api.telegram.org/bot%s/getMe", TOKEN)
    logger.warning("webhook secret %s, files %s, zalo %s", HOOK_SECRET, FILES_SECRET,
                   quote(ZALO_TOKEN + "/x", safe=""))
    try:
        try:
            raise aiohttp.InvalidURL(f"https://api.telegram.org/bot{TOKEN}/sendMessage")
        except aiohttp.InvalidURL as exc:
            raise ConnectionError(f"cannot reach https://api.telegram.org/bot{TOKEN}/getUpdates"
                                  ) from exc
    except ConnectionError:
        logger.exception("polling failed")
    logger.info("with extra fields", extra={"url": f"https://x/bot{TOKEN}/getMe",
                                            "nested": {"secret": [FILES_SECRET]},
                                            "error": ValueError(f"bad {HOOK_SECRET}")})

    output = stream.getvalue()
    for secret in (TOKEN, ZALO_TOKEN, quote(ZALO_TOKEN, safe=""), HOOK_SECRET, FILES_SECRET):
        assert secret not in output
    lines = [json.loads(line) for line in output.splitlines()]
    assert len(lines) == 4
    for line in lines:
        assert {"time", "level", "logger", "message"} <= set(line)
        assert line["logger"] == "test.observability.json"
    assert lines[0]["message"] == "calling https://api.telegram.org/bot***/getMe"
    assert lines[0]["level"] == "INFO"
    assert lines[2]["level"] == "ERROR" and lines[2]["message"] == "polling failed"
    assert "ConnectionError" in lines[2]["exc_info"] and "InvalidURL" in lines[2]["exc_info"]
    assert "bot***/getUpdates" in lines[2]["exc_info"]
    assert lines[3]["url"] == "https://x/bot***/getMe"
    assert lines[3]["nested"] == {"secret": ["***"]}


def test_text_logs_redact_webhook_and_files_secrets():
    settings = make_settings("postgresql+asyncpg://nqbot:db-password-123@127.0.0.1/nqbot",
                             zalo_webhook_secret=HOOK_SECRET, files_secret=FILES_SECRET)
    stream = io.StringIO()
    logger = logging.getLogger("test.observability.text")
    logger.handlers[:] = [make_handler(settings_secrets(settings), "text", stream)]
    logger.propagate = False
    try:
        raise OSError(f"hook {HOOK_SECRET} files {FILES_SECRET} db db-password-123")
    except OSError:
        logger.exception("boom %s", HOOK_SECRET)
    output = stream.getvalue()
    assert "boom ***" in output and "OSError" in output
    for secret in (HOOK_SECRET, FILES_SECRET, "db-password-123"):
        assert secret not in output


def test_log_format_setting_is_validated():
    assert make_settings("sqlite+aiosqlite:///:memory:").log_format == "text"
    assert make_settings("sqlite+aiosqlite:///:memory:", log_format=" JSON ").log_format == "json"
    with pytest.raises(ValidationError):
        make_settings("sqlite+aiosqlite:///:memory:", log_format="xml")
