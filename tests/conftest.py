"""Shared fixtures: a real database per test (SQLite file, and PostgreSQL when reachable)."""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import AsyncIterator

import pytest
from sqlalchemy.engine import make_url

from bot.app import App, build_app
from bot.config import Settings

DEFAULT_PG_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"


def postgres_base_url() -> str | None:
    url = os.environ.get("TEST_POSTGRES_URL")
    if url:
        return url
    try:
        with socket.create_connection(("127.0.0.1", 5432), timeout=0.5):
            return DEFAULT_PG_URL
    except OSError:
        return None


def _plain_dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@pytest.fixture(params=["sqlite", "postgres"])
async def database_url(request: pytest.FixtureRequest, tmp_path) -> AsyncIterator[str]:
    """A fresh, empty database: a SQLite file, or a throw-away PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'nqbot-test.sqlite3'}"
        return
    base = postgres_base_url()
    if base is None:
        pytest.skip("PostgreSQL không chạy trên 127.0.0.1:5432 và chưa đặt TEST_POSTGRES_URL")
    import asyncpg

    name = f"nqbot_test_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(_plain_dsn(base))
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    try:
        yield make_url(base).set(database=name).render_as_string(hide_password=False)
    finally:
        admin = await asyncpg.connect(_plain_dsn(base))
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


def make_settings(database_url: str, **overrides) -> Settings:
    return Settings(_env_file=None, database_url=database_url, **overrides)


@pytest.fixture
async def app(database_url: str) -> AsyncIterator[App]:
    application = await build_app(make_settings(database_url))
    try:
        yield application
    finally:
        await application.close()
