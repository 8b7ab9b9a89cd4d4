"""What ends a `nqbot` process, said in one Vietnamese line that tells the operator what to fix.

Every exception that escapes a command comes here (`report`) and leaves through the logging
handler, so it is redacted like any log line and is one JSON object when LOG_FORMAT=json: no raw
traceback, no token. Known causes (settings that do not parse, a token the platform rejects, a
database that cannot be reached, a port in use) get their own line; anything else is logged once
with its (redacted) traceback, since that is a bug to report.
"""

from __future__ import annotations

import errno
import logging
import traceback
from collections.abc import Iterator

log = logging.getLogger("nqbot")

EXIT_CONFIG = 2
EXIT_FAILED = 1
EXIT_DB_TOO_NEW = 3

_PYDANTIC_TYPES = {
    "int_parsing": "phải là số nguyên",
    "int_from_float": "phải là số nguyên",
    "float_parsing": "phải là số",
    "bool_parsing": "phải là true hoặc false",
    "string_type": "phải là chuỗi ký tự",
    "missing": "chưa được đặt",
    "greater_than": "quá nhỏ",
    "greater_than_equal": "quá nhỏ",
    "less_than": "quá lớn",
    "less_than_equal": "quá lớn",
    "json_invalid": "không đúng định dạng",
}


def settings_problems(exc: Exception) -> list[str]:
    """One Vietnamese line per setting that failed, naming the variable and never its value."""
    lines: dict[str, str] = {}
    for error in exc.errors(include_url=False, include_input=False):  # type: ignore[attr-defined]
        loc = error.get("loc") or ("?",)
        name = str(loc[0]).upper()
        if name in lines:
            continue
        kind = error.get("type", "")
        line = f"LỖI cấu hình: {name} {_PYDANTIC_TYPES.get(kind, 'có giá trị không hợp lệ')}."
        cause = (error.get("ctx") or {}).get("error")
        if kind == "value_error" and cause is not None and str(cause).startswith(f"{name}:"):
            # the project's validators say what is expected, prefixed by the variable's name
            # (and nothing of the value); any other message might quote the value: not shown
            line = f"LỖI cấu hình: {str(cause).rstrip('.')}."
        lines[name] = line
    return list(lines.values())


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """The exception, what it was raised from, and the members of exception groups."""
    seen: set[int] = set()
    todo = [exc]
    while todo:
        current = todo.pop(0)
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        if isinstance(current, BaseExceptionGroup):
            todo.extend(current.exceptions)
        for nxt in (current.__cause__, current.__context__):
            if nxt is not None:
                todo.append(nxt)


def _first_line(exc: BaseException, limit: int = 160) -> str:
    text = str(exc).strip().splitlines()
    line = text[0] if text else type(exc).__name__
    return line[:limit]


def _in_modules(exc: BaseException, *folders: str) -> bool:
    """Raised from inside one of these folders (by the frames of its traceback)."""
    for frame in traceback.extract_tb(exc.__traceback__):
        path = frame.filename.replace("\\", "/")
        if any(f"/{folder}/" in path for folder in folders):
            return True
    return False


_DB_PACKAGES = ("sqlalchemy", "asyncpg", "aiosqlite", "alembic", "bot/db")


def _safe_url(url: str) -> str:
    try:
        from sqlalchemy.engine import make_url

        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "DATABASE_URL"


def _database_line(exc: BaseException, url: str) -> str | None:
    import asyncpg
    from sqlalchemy import exc as sa_exc

    for error in _chain(exc):
        if isinstance(error, sa_exc.ArgumentError | sa_exc.NoSuchModuleError) or (
                isinstance(error, ImportError) and _in_modules(error, "sqlalchemy")):
            return ("LỖI: DATABASE_URL không hợp lệ: dùng sqlite+aiosqlite:///đường/dẫn.sqlite3 "
                    "hoặc postgresql+asyncpg://người_dùng:mật_khẩu@máy:5432/tên_csdl.")
    for error in _chain(exc):
        is_db = isinstance(error, sa_exc.OperationalError | sa_exc.InterfaceError)
        is_db = is_db or isinstance(error, asyncpg.PostgresError | asyncpg.InterfaceError)
        if not is_db and isinstance(error, OSError | TimeoutError):
            is_db = _in_modules(error, *_DB_PACKAGES)
        if not is_db:
            continue
        root = error
        orig = getattr(error, "orig", None)
        if isinstance(orig, BaseException):
            root = orig
        reason = _first_line(root) if str(root).strip() else "hết thời gian chờ"
        target = _safe_url(url)
        if target.startswith("sqlite"):
            return (f"LỖI: cơ sở dữ liệu SQLite {target} không dùng được ({reason}). Kiểm tra "
                    "DATABASE_URL: thư mục phải tồn tại và ghi được, tệp không bị chương trình "
                    "khác giữ.")
        return (f"LỖI: không kết nối được cơ sở dữ liệu {target} ({reason}). Kiểm tra "
                "DATABASE_URL (máy, cổng, tên người dùng, mật khẩu, tên cơ sở dữ liệu) và máy "
                "chủ PostgreSQL có đang chạy không.")
    return None


def _platform_line(exc: BaseException) -> str | None:
    from telegram.error import BadRequest, InvalidToken, NetworkError

    from bot.channels.zalo_client import ZaloError

    for error in _chain(exc):
        if isinstance(error, InvalidToken):
            return ("LỖI: Telegram từ chối TELEGRAM_BOT_TOKEN (token sai hoặc đã bị thu hồi "
                    "bằng /revoke): lấy token mới từ @BotFather rồi đặt lại TELEGRAM_BOT_TOKEN.")
        if isinstance(error, ZaloError) and error.status in (401, 403):
            return ("LỖI: Zalo từ chối ZALO_BOT_TOKEN (token sai hoặc đã bị đổi): lấy token "
                    "mới trên Zalo Bot Platform rồi đặt lại ZALO_BOT_TOKEN.")
    for error in _chain(exc):
        if isinstance(error, BadRequest):  # a NetworkError subclass, but Telegram did answer
            return (f"LỖI: Telegram từ chối yêu cầu khi khởi động ({_first_line(error)}). Kiểm "
                    "tra TELEGRAM_WEBHOOK_URL (https, công khai) và TELEGRAM_WEBHOOK_SECRET.")
        if isinstance(error, NetworkError):
            return (f"LỖI: không kết nối được tới Telegram ({_first_line(error)}). Kiểm tra "
                    "mạng, tường lửa và TELEGRAM_API_BASE_URL.")
        if isinstance(error, ZaloError):
            return (f"LỖI: Zalo trả lỗi khi khởi động ({error.status}: "
                    f"{error.description[:120]}). Kiểm tra mạng và ZALO_API_BASE_URL.")
    return None


def _port_line(exc: BaseException, host: str, port: int) -> str | None:
    for error in _chain(exc):
        if (isinstance(error, OSError)
                and error.errno in (errno.EADDRINUSE, errno.EADDRNOTAVAIL, errno.EACCES)
                and _in_modules(error, "aiohttp")):
            return (f"LỖI: không mở được cổng {host}:{port} cho máy chủ web "
                    f"({_first_line(error)}). Đổi WEB_HOST/WEB_PORT hoặc dừng chương trình "
                    "đang dùng cổng này.")
    return None


def describe(exc: BaseException, *, database_url: str = "", web_host: str = "",
             web_port: int = 0) -> tuple[list[str], int] | None:
    """Lines for the operator and the exit code, for a failure whose cause is known."""
    from pydantic import ValidationError

    from bot.db.migrate import DatabaseTooNewError

    for error in _chain(exc):
        if isinstance(error, ValidationError):
            return settings_problems(error), EXIT_CONFIG
        if isinstance(error, DatabaseTooNewError):
            return [f"LỖI: {error}"], EXIT_DB_TOO_NEW
    line = (_platform_line(exc) or _database_line(exc, database_url)
            or (_port_line(exc, web_host, web_port) if web_port else None))
    return ([line], EXIT_FAILED) if line else None


def report(exc: BaseException, *, database_url: str = "", web_host: str = "",
           web_port: int = 0) -> int:
    """Log why the process ends (redacted, in the configured format); return the exit code."""
    known = describe(exc, database_url=database_url, web_host=web_host, web_port=web_port)
    if known is not None:
        lines, code = known
        for line in lines:
            log.error("%s", line)
        return code
    log.critical("LỖI không lường trước (%s): chương trình dừng. Hãy gửi dòng này cùng chi tiết "
                 "bên dưới cho người phát triển.", type(exc).__name__, exc_info=exc)
    return EXIT_FAILED
