"""Apply Alembic migrations at start-up, or refuse when the database is newer than the code."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.ext.asyncio import AsyncEngine

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"


class DatabaseTooNewError(RuntimeError):
    """The database carries a migration this code does not know (a newer version wrote it)."""


def alembic_config(url: str = "") -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    if url:
        cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def head_revision() -> str:
    return ScriptDirectory.from_config(alembic_config()).get_current_head() or ""


async def current_revision(engine: AsyncEngine) -> str | None:
    async with engine.connect() as conn:
        return await conn.run_sync(
            lambda sync_conn: MigrationContext.configure(sync_conn).get_current_revision()
        )


async def upgrade(engine: AsyncEngine) -> tuple[str | None, str]:
    """Bring the schema to the newest migration. Returns (revision before, revision after)."""
    script = ScriptDirectory.from_config(alembic_config())
    before = await current_revision(engine)
    known = {rev.revision for rev in script.walk_revisions()}
    if before is not None and before not in known:
        raise DatabaseTooNewError(
            f"Cơ sở dữ liệu đang ở phiên bản {before}, mới hơn phần mềm này "
            f"(phiên bản mới nhất phần mềm biết là {script.get_current_head()}). "
            "Hãy cập nhật phần mềm rồi chạy lại; không tự hạ cấp cơ sở dữ liệu."
        )

    def _upgrade(sync_conn) -> None:  # type: ignore[no-untyped-def]
        cfg = alembic_config()
        cfg.attributes["connection"] = sync_conn
        command.upgrade(cfg, "head")

    async with engine.begin() as conn:
        await conn.run_sync(_upgrade)
    return before, script.get_current_head() or ""
