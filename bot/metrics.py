"""Prometheus metrics (prometheus_client) in the process's own registry, served at /metrics.

Counters and the latency histogram are updated where things happen (Router.handle,
QAService.ask, the dispatcher); the gauges that describe state (queue depth, who holds a
channel's dispatcher lease, which channels run) are refreshed just before each scrape by an
awaited database count, so rendering never blocks the event loop.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import async_sessionmaker

log = logging.getLogger(__name__)

CONTENT_TYPE = CONTENT_TYPE_LATEST
# Router.handle: a cached answer takes a few ms, a report with a chart up to a second or two
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0)
FINAL_DELIVERY_STATUSES = frozenset({"sent", "failed", "uncertain", "skipped"})
REFRESH_TIMEOUT = 2.0  # seconds for the database counts before a scrape


class Metrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.updates = Counter("nqbot_updates", "Updates handled by the router",
                               ["channel", "kind"], registry=r)
        self.update_errors = Counter("nqbot_update_errors", "Updates whose handling raised",
                                     ["channel"], registry=r)
        self.handle_seconds = Histogram("nqbot_handle_seconds", "Router.handle latency",
                                        ["channel", "kind"], buckets=LATENCY_BUCKETS, registry=r)
        self.qa_outcomes = Counter("nqbot_qa_outcomes", "Questions by outcome "
                                   "(answered, suggested, unknown, …)", ["channel", "outcome"],
                                   registry=r)
        self.deliveries = Counter("nqbot_deliveries", "Broadcast deliveries by final status",
                                  ["channel", "status"], registry=r)
        self.rate_limited = Counter("nqbot_rate_limited", "429 answers received while "
                                    "delivering broadcasts", ["channel"], registry=r)
        self.retries = Counter("nqbot_delivery_retries", "Deliveries put back for a retry "
                               "after a network error", ["channel"], registry=r)
        self.queue_depth = Gauge("nqbot_delivery_queue_depth", "Pending delivery rows "
                                 "(database, at scrape time)", ["channel"], registry=r)
        self.dispatcher_active = Gauge("nqbot_dispatcher_active", "1 while this process holds "
                                       "the channel's dispatcher lease", ["channel"], registry=r)
        self.channel_up = Gauge("nqbot_channel_up", "1 while the channel receives updates",
                                ["channel"], registry=r)
        self.inbox = Gauge("nqbot_inbox_updates", "Incoming updates waiting in the inbox "
                           "(pending) or parked after failing (failed), at scrape time",
                           ["channel", "state"], registry=r)

    # -- hooks ---------------------------------------------------------------------------------
    def observe_update(self, channel: str, kind: str, seconds: float, *,
                       failed: bool = False) -> None:
        self.updates.labels(channel, kind).inc()
        self.handle_seconds.labels(channel, kind).observe(seconds)
        if failed:
            self.update_errors.labels(channel).inc()

    def qa_outcome(self, channel: str, outcome: str) -> None:
        self.qa_outcomes.labels(channel, outcome).inc()

    def delivery(self, channel: str, status: str, count: int = 1) -> None:
        if status in FINAL_DELIVERY_STATUSES and count:
            self.deliveries.labels(channel, status).inc(count)

    def got_rate_limited(self, channel: str) -> None:
        self.rate_limited.labels(channel).inc()

    def retried(self, channel: str) -> None:
        self.retries.labels(channel).inc()

    # -- scrape --------------------------------------------------------------------------------
    async def refresh(self, sessions: async_sessionmaker | None, *,
                      channels: Mapping[str, bool] | None = None,
                      dispatchers: Mapping[str, bool] | None = None,
                      timeout: float = REFRESH_TIMEOUT) -> bool:  # noqa: ASYNC109
        """Set the state gauges; False when the database did not answer in time (the queue
        depth then keeps its last value)."""
        for name, up in (channels or {}).items():
            self.channel_up.labels(name).set(1 if up else 0)
        for name, held in (dispatchers or {}).items():
            self.dispatcher_active.labels(name).set(1 if held else 0)
        if sessions is None:
            return True
        try:
            depth = await asyncio.wait_for(pending_by_channel(sessions), timeout)
            inbox = await asyncio.wait_for(inbox_by_channel(sessions), timeout)
        except Exception as exc:  # a scrape must still answer
            log.warning("metrics: could not count pending deliveries: %s", exc)
            return False
        known = set(depth) | set(dispatchers or {}) | set(channels or {})
        for name in known:
            self.queue_depth.labels(name).set(depth.get(name, 0))
        for name in known | {channel for channel, _ in inbox}:
            for state in ("pending", "failed"):
                self.inbox.labels(name, state).set(inbox.get((name, state), 0))
        return True

    def render(self) -> bytes:
        return generate_latest(self.registry)

    def value(self, name: str, **labels: str) -> float:
        """One sample's value (0 when absent), for tests and the CLI."""
        return self.registry.get_sample_value(name, labels) or 0.0


async def pending_by_channel(sessions: async_sessionmaker) -> dict[str, int]:
    from bot.db.models import Delivery

    async with sessions() as session:
        rows = await session.execute(
            select(Delivery.channel, func.count()).where(Delivery.status == "pending")
            .group_by(Delivery.channel))
        return {channel: int(count) for channel, count in rows.all()}


async def inbox_by_channel(sessions: async_sessionmaker) -> dict[tuple[str, str], int]:
    from bot.db.models import InboxUpdate

    async with sessions() as session:
        rows = await session.execute(
            select(InboxUpdate.channel, InboxUpdate.state, func.count())
            .where(InboxUpdate.state.in_(("pending", "failed")))
            .group_by(InboxUpdate.channel, InboxUpdate.state))
        return {(channel, state): int(count) for channel, state, count in rows.all()}


METRICS = Metrics()  # the process's metrics; hooks import this
