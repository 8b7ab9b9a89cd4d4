"""Logging with secrets (bot tokens, webhook secrets, FILES_SECRET, the database password)
redacted from every line, including exception text; as text or one JSON object per line.

`bootstrap_logging()` installs it from the raw environment (and `.env`) before the settings are
even parsed, so that a start-up failure (a setting that does not parse, a revoked token, an
unreachable database) is reported through the same redaction and format."""

from __future__ import annotations

import json
import logging
import os
import sys
import threading
from collections.abc import Iterable
from typing import IO, TYPE_CHECKING, Any
from urllib.parse import quote

from pythonjsonlogger.json import JsonFormatter

if TYPE_CHECKING:
    from bot.config import Settings

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
MASK = "***"


# settings whose value never reaches a log line (DATABASE_URL: its password)
SECRET_SETTINGS = ("TELEGRAM_BOT_TOKEN", "ZALO_BOT_TOKEN", "TELEGRAM_WEBHOOK_SECRET",
                   "ZALO_WEBHOOK_SECRET", "FILES_SECRET")


def redactable(secrets: Iterable[str]) -> list[str]:
    """The secrets to mask (every non-empty one, however short: a short secret is still a
    secret) and their URL- and JSON-escaped spellings, longest first (a secret that contains
    another is masked whole)."""
    found: set[str] = set()
    for secret in secrets:
        if not secret:
            continue
        found.update({secret, quote(secret, safe=""), json.dumps(secret)[1:-1]})
    return sorted(found, key=len, reverse=True)


def _url_password(url: str) -> str:
    try:
        from sqlalchemy.engine import make_url

        return make_url(url).password or ""
    except Exception:  # an unparsable URL fails later, with its own message
        return ""


def settings_secrets(settings: Settings) -> list[str]:
    """Everything in the settings that must never reach a log line."""
    secrets = [settings.telegram_bot_token, settings.zalo_bot_token,
               settings.telegram_webhook_secret, settings.zalo_webhook_secret,
               settings.files_secret, _url_password(settings.database_url)]
    return [s for s in secrets if s]


def raw_environment(env_file: str | os.PathLike[str] = ".env") -> dict[str, str]:
    """The variables the settings will read (`.env`, then the environment over it), by upper-case
    name, read without validating anything: what start-up logging needs before the settings."""
    values: dict[str, str] = {}
    try:
        from dotenv import dotenv_values

        if os.path.isfile(env_file):
            values.update({k.upper(): v for k, v in dotenv_values(env_file).items()
                           if v is not None})
    except Exception:  # an unreadable .env is reported by the settings themselves
        pass
    values.update({k.upper(): v for k, v in os.environ.items()})
    return values


def environment_secrets(env: dict[str, str]) -> list[str]:
    secrets = [env.get(name, "") for name in SECRET_SETTINGS]
    secrets.append(_url_password(env.get("DATABASE_URL", "")))
    return [s for s in secrets if s]


def bootstrap_logging(env_file: str | os.PathLike[str] = ".env") -> None:
    """Redacting logging, JSON when LOG_FORMAT=json, from the raw environment: installed first
    thing, replaced by `setup_logging` once the settings are read."""
    env = raw_environment(env_file)
    fmt = "json" if env.get("LOG_FORMAT", "").strip().lower() == "json" else "text"
    setup_logging(env.get("LOG_LEVEL", "INFO"), environment_secrets(env), fmt)
    _route_uncaught_exceptions()


def _route_uncaught_exceptions() -> None:
    """An exception nobody caught (in a thread, or past the CLI's own handler) is logged, so it
    is redacted and formatted like every other line instead of printed raw by Python."""
    log = logging.getLogger("nqbot")

    def excepthook(kind, value, tb) -> None:  # type: ignore[no-untyped-def]
        if issubclass(kind, KeyboardInterrupt):
            sys.__excepthook__(kind, value, tb)
            return
        log.critical("uncaught exception", exc_info=(kind, value, tb))

    def thread_excepthook(args) -> None:  # type: ignore[no-untyped-def]
        if args.exc_type is SystemExit:
            return
        log.critical("uncaught exception in thread %s",
                     args.thread.name if args.thread else "?",
                     exc_info=(args.exc_type, args.exc_value, args.exc_traceback))

    sys.excepthook = excepthook
    threading.excepthook = thread_excepthook


class RedactingFilter(logging.Filter):
    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self.secrets = redactable(secrets)

    def _redact(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, MASK)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        if not self.secrets:
            return True
        record.msg = self._redact(record.getMessage())
        record.args = None
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = self._redact(
                logging.Formatter().formatException(record.exc_info)
            )
            record.exc_info = None
        elif record.exc_text:
            record.exc_text = self._redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self._redact(record.stack_info)
        return True


class RedactingJsonFormatter(JsonFormatter):
    """One JSON object per line: time, level, logger, message, exc_info (and any `extra`
    fields), every string value and the serialized line scrubbed of the secrets."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__("%(levelname)s %(name)s %(message)s",
                         rename_fields={"levelname": "level", "name": "logger"},
                         timestamp="time", json_ensure_ascii=False)
        self.secrets = redactable(secrets)

    def _redact(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, MASK)
        return text

    def _scrub(self, value: Any) -> Any:
        if isinstance(value, str):
            return self._redact(value)
        if isinstance(value, dict):
            return {self._scrub(k): self._scrub(v) for k, v in value.items()}
        if isinstance(value, list | tuple | set):
            return [self._scrub(v) for v in value]
        return value

    def process_log_record(self, log_data: dict[str, Any]) -> dict[str, Any]:
        return self._scrub(super().process_log_record(log_data))

    def serialize_log_record(self, log_data: dict[str, Any]) -> str:
        # objects the encoder turns into text (an exception in `extra`) are caught here
        return self._redact(super().serialize_log_record(log_data))


def make_handler(secrets: Iterable[str] = (), fmt: str = "text",
                 stream: IO[str] | None = None) -> logging.Handler:
    secrets = list(secrets)
    handler = logging.StreamHandler(stream or sys.stderr)
    if fmt == "json":
        handler.setFormatter(RedactingJsonFormatter(secrets))
    else:
        handler.setFormatter(logging.Formatter(TEXT_FORMAT))
    handler.addFilter(RedactingFilter(secrets))
    return handler


def setup_logging(level: str, secrets: Iterable[str] = (), fmt: str = "text") -> None:
    handler = make_handler(secrets, fmt)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    level_no = getattr(logging, str(level).strip().upper(), logging.INFO)
    root.setLevel(level_no if isinstance(level_no, int) else logging.INFO)
    for noisy in ("httpx", "aiosqlite", "alembic", "apscheduler"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
