"""Async engine and session factory; SQLite gets WAL mode, a busy timeout and foreign keys.

SQLite through Python's driver begins a transaction only before the first INSERT/UPDATE/DELETE.
A SAVEPOINT issued before any of those (`session.begin_nested()` as the first write) would open
the transaction itself, and releasing it would COMMIT everything so far: the rest of the outer
transaction would no longer be atomic with it (a broadcast run became visible, and was closed as
empty, before its deliveries were inserted). So on SQLite a SAVEPOINT outside a transaction is
preceded by an explicit BEGIN, and the outer `session.begin()` stays one transaction."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine

from bot.config import Settings


def _ensure_sqlite_dir(url: str) -> None:
    database = make_url(url).database
    if database and database != ":memory:":
        Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)


def create_engine(settings: Settings) -> AsyncEngine:
    url = settings.database_url
    if settings.is_sqlite:
        _ensure_sqlite_dir(url)
        timeout_s = settings.sqlite_busy_timeout_ms / 1000
        engine = create_async_engine(url, connect_args={"timeout": timeout_s})

        busy_ms = int(settings.sqlite_busy_timeout_ms)

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record) -> None:  # type: ignore[no-untyped-def]
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute(f"PRAGMA busy_timeout={busy_ms}")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        @event.listens_for(engine.sync_engine, "savepoint")
        def _begin_before_savepoint(conn, _name) -> None:  # type: ignore[no-untyped-def]
            driver = conn.connection.driver_connection  # aiosqlite's connection
            if driver is not None and not driver.in_transaction:
                conn.exec_driver_sql("BEGIN")

        return engine
    return create_async_engine(url, pool_pre_ping=True)


def session_factory(engine: AsyncEngine) -> async_sessionmaker:
    return async_sessionmaker(engine, expire_on_commit=False)
