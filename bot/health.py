"""Health and metrics endpoints for the running bot: a small runtime state (which channels run,
which dispatchers hold their lease), a database ping, and the callables `bot/web.py` serves."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from bot.metrics import METRICS, Metrics

DB_PING_TIMEOUT = 2.0  # seconds; no answer = database "error"


@dataclass
class RuntimeState:
    """What `nqbot run` started: channels expose `running`, dispatchers `holds_lease`."""

    channels: dict[str, Any] = field(default_factory=dict)
    dispatchers: dict[str, Any] = field(default_factory=dict)

    def channel_states(self) -> dict[str, bool]:
        return {name: bool(getattr(c, "running", False)) for name, c in self.channels.items()}

    def dispatcher_states(self) -> dict[str, bool]:
        return {name: bool(getattr(d, "holds_lease", False))
                for name, d in self.dispatchers.items()}


async def database_ok(engine: AsyncEngine, timeout: float = DB_PING_TIMEOUT) -> bool:  # noqa: ASYNC109
    async def ping() -> None:
        async with engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    try:
        await asyncio.wait_for(ping(), timeout)
    except Exception:
        return False
    return True


async def health_report(engine: AsyncEngine, state: RuntimeState,
                        timeout: float = DB_PING_TIMEOUT) -> tuple[int, dict[str, Any]]:  # noqa: ASYNC109
    """(HTTP status, body): 200 while the database answers, 503 otherwise."""
    db = await database_ok(engine, timeout)
    channels = state.channel_states()
    body = {
        "status": "ok" if db and all(channels.values()) else ("degraded" if db else "error"),
        "database": "ok" if db else "error",
        "channels": {name: "running" if up else "stopped" for name, up in channels.items()},
        "dispatcher": state.dispatcher_states(),
    }
    return (200 if db else 503), body


def endpoints(engine: AsyncEngine, sessions: async_sessionmaker, state: RuntimeState,
              metrics: Metrics = METRICS,
              ) -> tuple[Callable[[], Awaitable[tuple[int, dict[str, Any]]]],
                         Callable[[], Awaitable[bytes]]]:
    """The /healthz and /metrics callables for `WebServer.set_health` / `add_metrics`."""

    async def health() -> tuple[int, dict[str, Any]]:
        return await health_report(engine, state)

    async def render() -> bytes:
        await metrics.refresh(sessions, channels=state.channel_states(),
                              dispatchers=state.dispatcher_states())
        return metrics.render()

    return health, render
