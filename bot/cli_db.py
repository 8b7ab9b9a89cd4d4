"""`nqbot db copy --from URL --to URL [--force]`: copy every table to another database.

Typically SQLite → PostgreSQL when a deployment outgrows one file. The target is migrated to
this code's newest revision first; the source must already be at that revision (so both have
the same columns). Rows are copied table by table in foreign-key order, in batches, inside one
transaction on the target (a failure leaves it as it was); PostgreSQL sequences are then moved
past the copied ids, and row counts are compared before committing."""

from __future__ import annotations

import argparse
import asyncio
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Column, DateTime, Table, bindparam, func, select, text, update
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bot.config import Settings

BATCH_ROWS = 1000
CONNECT_TIMEOUT_S = 20.0
# plain dialect names a user may type → the async drivers this project uses
ASYNC_DRIVERS = {"sqlite": "sqlite+aiosqlite", "postgresql": "postgresql+asyncpg",
                 "postgres": "postgresql+asyncpg"}


class CopyError(Exception):
    """A refusal or failure, reported as `LỖI: …` with this exit code."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


def add_parser(db_sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    copy = db_sub.add_parser(
        "copy", help="chép toàn bộ dữ liệu sang cơ sở dữ liệu khác (vd. SQLite → PostgreSQL)")
    copy.add_argument("--from", dest="source", required=True, metavar="URL",
                      help="cơ sở dữ liệu nguồn, vd. sqlite+aiosqlite:///data/nqbot.sqlite3")
    copy.add_argument("--to", dest="target", required=True, metavar="URL",
                      help="cơ sở dữ liệu đích, vd. postgresql+asyncpg://nqbot:…@localhost/nqbot")
    copy.add_argument("--force", action="store_true",
                      help="xoá hết dữ liệu đang có ở đích trước khi chép")


async def run(settings: Settings, args: argparse.Namespace) -> int:
    try:
        source = parse_url(args.source, "--from")
        target = parse_url(args.target, "--to")
        if _same_database(source, target):
            raise CopyError("nguồn và đích là cùng một cơ sở dữ liệu.", 2)
        if source.get_backend_name() == "sqlite":
            _require_sqlite_file(source)
        tables = await copy_database(settings, source, target, force=args.force)
    except CopyError as exc:
        print(f"LỖI: {exc}", file=sys.stderr)
        return exc.code
    print_summary(tables, source, target)
    return 0


# -- URLs ----------------------------------------------------------------------------------------
def parse_url(raw: str, option: str) -> URL:
    try:
        url = make_url(raw.strip())
    except (ArgumentError, ValueError):
        raise CopyError(f"{option}: địa chỉ cơ sở dữ liệu không hợp lệ. Dạng đúng: "
                        "sqlite+aiosqlite:///đường/dẫn.sqlite3 hoặc "
                        "postgresql+asyncpg://người_dùng:mật_khẩu@máy:5432/tên_csdl", 2) from None
    driver = ASYNC_DRIVERS.get(url.drivername, url.drivername)
    if driver not in ("sqlite+aiosqlite", "postgresql+asyncpg"):
        raise CopyError(f"{option}: chỉ hỗ trợ sqlite+aiosqlite:// và postgresql+asyncpg:// "
                        f"(nhận được {url.drivername}://).", 2)
    url = url.set(drivername=driver)
    if driver.startswith("sqlite") and (not url.database or url.database == ":memory:"):
        raise CopyError(f"{option}: cần đường dẫn tệp SQLite, vd. "
                        "sqlite+aiosqlite:///data/nqbot.sqlite3", 2)
    if driver.startswith("postgresql") and not url.database:
        raise CopyError(f"{option}: thiếu tên cơ sở dữ liệu PostgreSQL (…/tên_csdl).", 2)
    return url


def shown(url: URL) -> str:
    return url.render_as_string(hide_password=True)


def _same_database(a: URL, b: URL) -> bool:
    if a.get_backend_name() != b.get_backend_name():
        return False
    if a.get_backend_name() == "sqlite":
        return Path(a.database or "").expanduser().resolve() == Path(
            b.database or "").expanduser().resolve()
    return (a.host or "localhost", a.port or 5432, a.database) == (
        b.host or "localhost", b.port or 5432, b.database)


def _require_sqlite_file(url: URL) -> None:
    path = Path(url.database or "").expanduser()
    if not path.is_file():
        raise CopyError(f"không có tệp SQLite nguồn {path}.", 2)


def _scrub(message: str, *urls: URL) -> str:
    for url in urls:
        if url.password:
            message = message.replace(str(url.password), "***")
    return message.strip().splitlines()[0] if message.strip() else ""


# -- the copy ------------------------------------------------------------------------------------
@dataclass
class TableCount:
    name: str
    source: int
    target: int


RUNTIME_TABLES = {"dispatcher_leases"}


def copy_order(tables: list[Table]) -> list[Table]:
    """Parents before children, counting every foreign key except a table's own (those columns
    are filled in a second pass), including `use_alter` ones that `sorted_tables` leaves out."""
    remaining = list(tables)
    done: set[str] = set()
    order: list[Table] = []
    while remaining:
        ready = [t for t in remaining
                 if all(fk.column.table.name in done or fk.column.table is t
                        for fk in t.foreign_keys)]
        if not ready:  # a cycle between tables: break it; its columns go to the second pass
            ready = remaining[:1]
        for table in ready:
            order.append(table)
            done.add(table.name)
            remaining.remove(table)
    return order


def deferred_columns(table: Table, copied: set[str]) -> list[Column]:
    """Foreign-key columns that point at this table itself or at one not copied yet."""
    columns = []
    for fk in table.foreign_keys:
        if fk.column.table is table or fk.column.table.name not in copied:
            if not fk.parent.nullable:
                raise CopyError(f"không chép được bảng {table.name}: cột {fk.parent.name} "
                                "tham chiếu vòng và không được để trống.")
            columns.append(fk.parent)
    return columns


def _convert(columns: list[Column], row: dict) -> dict:
    """SQLite returns naive datetimes (stored in UTC): make them aware; store aware ones in UTC."""
    for column in columns:
        value = row[column.name]
        if isinstance(value, datetime):
            row[column.name] = (value.replace(tzinfo=UTC) if value.tzinfo is None
                                else value.astimezone(UTC))
    return row


async def _count(conn: AsyncConnection, table: Table) -> int:
    return int(await conn.scalar(select(func.count()).select_from(table)) or 0)


async def _copy_table(src: AsyncConnection, dst: AsyncConnection, table: Table,
                      deferred: list[Column]) -> int:
    aware_columns = [c for c in table.columns
                     if isinstance(c.type, DateTime) and c.type.timezone]
    deferred_names = {c.name for c in deferred}
    pk = list(table.primary_key.columns)
    later: list[dict] = []
    copied = 0
    result = await src.stream(select(table).order_by(*pk))
    async for partition in result.partitions(BATCH_ROWS):
        rows = [_convert(aware_columns, dict(r._mapping)) for r in partition]
        if deferred_names:
            for row in rows:
                values = {name: row[name] for name in deferred_names if row[name] is not None}
                if values:
                    later.append({**{f"pk_{c.name}": row[c.name] for c in pk}, **values})
                    for name in values:
                        row[name] = None
        await dst.execute(table.insert(), rows)
        copied += len(rows)
    for column in deferred:  # second pass: self-references and broken cycles
        pending = [r for r in later if column.name in r]
        where = [c == bindparam(f"pk_{c.name}") for c in pk]
        statement = update(table).where(*where).values({column.name: bindparam(column.name)})
        for start in range(0, len(pending), BATCH_ROWS):
            batch = [{**{k: v for k, v in r.items() if k.startswith("pk_")},
                      column.name: r[column.name]} for r in pending[start:start + BATCH_ROWS]]
            await dst.execute(statement.execution_options(synchronize_session=False), batch)
    return copied


async def _empty_target(dst: AsyncConnection, tables: list[Table]) -> None:
    for table in reversed(tables):
        for fk in table.foreign_keys:
            if fk.column.table is table:  # a self-reference could block deleting a parent row
                await dst.execute(update(table).values({fk.parent.name: None}))
        await dst.execute(table.delete())


async def _reset_sequences(dst: AsyncConnection, tables: list[Table]) -> None:
    for table in tables:
        pk = list(table.primary_key.columns)
        if len(pk) != 1 or pk[0].type.python_type is not int:
            continue
        column = pk[0].name
        await dst.execute(text(
            f'SELECT setval(pg_get_serial_sequence(:table, :column), '
            f'COALESCE(MAX("{column}"), 1), MAX("{column}") IS NOT NULL) FROM "{table.name}"'
        ), {"table": table.name, "column": column})


def _engine(settings: Settings, url: URL) -> AsyncEngine:
    from bot.db.engine import create_engine

    return create_engine(settings.model_copy(
        update={"database_url": url.render_as_string(hide_password=False)}))


async def _probe(engine: AsyncEngine, url: URL, role: str, *others: URL) -> None:
    try:
        async with asyncio.timeout(CONNECT_TIMEOUT_S):
            async with engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
    except (OSError, TimeoutError, SQLAlchemyError) as exc:
        detail = _scrub(str(getattr(exc, "orig", None) or exc) or type(exc).__name__, url,
                        *others)
        raise CopyError(f"không kết nối được cơ sở dữ liệu {role} {shown(url)}: {detail}",
                        2) from None


async def copy_database(settings: Settings, source: URL, target: URL, *,
                        force: bool) -> list[TableCount]:
    from bot.db.migrate import current_revision, head_revision, upgrade
    from bot.db.models import Base

    src_engine, dst_engine = _engine(settings, source), _engine(settings, target)
    try:
        await _probe(src_engine, source, "nguồn", target)
        await _probe(dst_engine, target, "đích", source)
        head = head_revision()
        revision = await current_revision(src_engine)
        if revision is None:
            raise CopyError(f"nguồn {shown(source)} chưa có dữ liệu của bot (chưa có phiên bản "
                            "cơ sở dữ liệu nào).")
        if revision != head:
            raise CopyError(
                f"nguồn đang ở phiên bản {revision}, phần mềm này ở phiên bản {head}. Hãy "
                f"nâng cấp nguồn trước: DATABASE_URL='{shown(source)}' nqbot db upgrade "
                "(nếu nguồn mới hơn phần mềm thì cập nhật phần mềm).")
        before, after = await upgrade(dst_engine)
        if before != after:
            print(f"Đã nâng cấp đích {shown(target)}: {before or 'trống'} → {after}")
        # runtime state stays behind: who sends right now belongs to the old database's process
        tables = [t for t in Base.metadata.sorted_tables if t.name not in RUNTIME_TABLES]
        order = copy_order(tables)
        counts: list[TableCount] = []
        async with src_engine.connect() as src, dst_engine.begin() as dst:
            if source.get_backend_name() == "postgresql":
                await src.execution_options(isolation_level="REPEATABLE READ")
            occupied = [(t.name, n) for t in tables if (n := await _count(dst, t))]
            if occupied and not force:
                listing = ", ".join(f"{name} ({n})" for name, n in occupied)
                raise CopyError(f"đích {shown(target)} đã có dữ liệu: {listing}. Không chép đè; "
                                "thêm --force để xoá hết dữ liệu ở đích rồi chép lại.")
            if occupied:
                total = sum(n for _, n in occupied)
                print(f"--force: xoá {total} dòng đang có ở đích ({len(occupied)} bảng).")
                await _empty_target(dst, order)
            copied: set[str] = set()
            for table in order:
                expected = await _count(src, table)
                await _copy_table(src, dst, table, deferred_columns(table, copied))
                copied.add(table.name)
                counts.append(TableCount(table.name, expected, await _count(dst, table)))
            if target.get_backend_name() == "postgresql":
                await _reset_sequences(dst, order)
            wrong = [c for c in counts if c.source != c.target]
            if wrong:  # raising rolls the target back
                listing = ", ".join(f"{c.name} {c.source}→{c.target}" for c in wrong)
                raise CopyError(f"số dòng không khớp ({listing}); đích không thay đổi. "
                                "Hãy dừng bot đang ghi vào nguồn rồi chép lại.")
        return counts
    except SQLAlchemyError as exc:
        detail = _scrub(str(getattr(exc, "orig", None) or exc), source, target)
        raise CopyError(f"chép thất bại, đích không thay đổi: {detail}") from None
    finally:
        await src_engine.dispose()
        await dst_engine.dispose()


def print_summary(counts: list[TableCount], source: URL, target: URL) -> None:
    width = max(len("Bảng"), *(len(c.name) for c in counts))
    print(f"Nguồn: {shown(source)}")
    print(f"Đích:  {shown(target)}")
    print(f"{'Bảng':<{width}}  {'Nguồn':>8}  {'Đích':>8}")
    print("-" * (width + 20))
    for c in sorted(counts, key=lambda c: c.name):
        print(f"{c.name:<{width}}  {c.source:>8}  {c.target:>8}")
    print("-" * (width + 20))
    total = sum(c.source for c in counts)
    print(f"{'Tổng':<{width}}  {total:>8}  {sum(c.target for c in counts):>8}")
    print(f"Đã chép xong {total} dòng của {len(counts)} bảng; số dòng khớp. "
          "Đặt DATABASE_URL trỏ tới đích rồi khởi động lại bot.")
