"""Migrations on a real database (SQLite file and PostgreSQL)."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text

from bot.db.engine import create_engine
from bot.db.migrate import DatabaseTooNewError, current_revision, head_revision, upgrade
from bot.db.models import Base
from tests.conftest import make_settings


async def test_upgrade_creates_schema_and_is_idempotent(database_url):
    engine = create_engine(make_settings(database_url))
    try:
        before, after = await upgrade(engine)
        assert before is None and after == head_revision()
        again = await upgrade(engine)
        assert again == (head_revision(), head_revision())
        assert await current_revision(engine) == head_revision()
    finally:
        await engine.dispose()


async def test_models_and_migrations_agree(database_url):
    engine = create_engine(make_settings(database_url))
    try:
        await upgrade(engine)
        async with engine.connect() as conn:
            diff = await conn.run_sync(
                lambda c: compare_metadata(
                    MigrationContext.configure(c, opts={"compare_type": True}), Base.metadata
                )
            )
        assert diff == []
    finally:
        await engine.dispose()


async def test_database_newer_than_code_is_refused(database_url):
    engine = create_engine(make_settings(database_url))
    try:
        await upgrade(engine)
        async with engine.begin() as conn:
            await conn.execute(text("UPDATE alembic_version SET version_num = '9999_future'"))
        with pytest.raises(DatabaseTooNewError, match="mới hơn phần mềm"):
            await upgrade(engine)
    finally:
        await engine.dispose()


async def test_sqlite_runs_in_wal_mode_with_busy_timeout(tmp_path):
    settings = make_settings(
        f"sqlite+aiosqlite:///{tmp_path / 'sub' / 'x.sqlite3'}", sqlite_busy_timeout_ms=4321
    )
    engine = create_engine(settings)
    try:
        async with engine.connect() as conn:
            assert (await conn.execute(text("PRAGMA journal_mode"))).scalar() == "wal"
            assert (await conn.execute(text("PRAGMA busy_timeout"))).scalar() == 4321
            assert (await conn.execute(text("PRAGMA foreign_keys"))).scalar() == 1
        assert (tmp_path / "sub").is_dir()
    finally:
        await engine.dispose()
