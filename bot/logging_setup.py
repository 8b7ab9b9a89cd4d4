"""Logging with secrets (bot tokens, webhook secrets, FILES_SECRET, the database password)
redacted from every line, including exception text; as text or one JSON object per line."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterable
from typing import IO, TYPE_CHECKING, Any
from urllib.parse import quote

from pythonjsonlogger.json import JsonFormatter

if TYPE_CHECKING:
    from bot.config import Settings

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
MASK = "***"


def redactable(secrets: Iterable[str]) -> list[str]:
    """The secrets worth masking (6+ characters) and their URL- and JSON-escaped spellings,
    longest first (a secret that contains another is masked whole)."""
    found: set[str] = set()
    for secret in secrets:
        if not secret or len(secret) < 6:
            continue
        found.update({secret, quote(secret, safe=""), json.dumps(secret)[1:-1]})
    return sorted(found, key=len, reverse=True)


def settings_secrets(settings: Settings) -> list[str]:
    """Everything in the settings that must never reach a log line."""
    secrets = [settings.telegram_bot_token, settings.zalo_bot_token,
               settings.telegram_webhook_secret, settings.zalo_webhook_secret,
               settings.files_secret]
    try:
        from sqlalchemy.engine import make_url

        secrets.append(make_url(settings.database_url).password or "")
    except Exception:  # an unparsable URL fails later, with its own message
        pass
    return [s for s in secrets if s]


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
    root.setLevel(getattr(logging, level.upper(), logging.INFO))
    for noisy in ("httpx", "aiosqlite", "alembic.runtime.migration", "apscheduler"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
