"""Tokens never reach the logs, not even inside exception text from HTTP clients."""

from __future__ import annotations

import io
import logging

from bot.logging_setup import RedactingFilter

TOKEN = "123456:AAH-secret-token-value"


def _logger(stream: io.StringIO) -> logging.Logger:
    logger = logging.getLogger("test.redaction")
    logger.handlers[:] = []
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactingFilter([TOKEN, ""]))
    logger.addHandler(handler)
    logger.propagate = False
    return logger


def test_token_in_message_and_args_is_redacted():
    stream = io.StringIO()
    _logger(stream).warning("calling https://api.telegram.org/bot%s/getMe", TOKEN)
    assert TOKEN not in stream.getvalue()
    assert "bot***/getMe" in stream.getvalue()


def test_token_in_exception_text_is_redacted():
    stream = io.StringIO()
    logger = _logger(stream)
    try:
        raise ConnectionError(f"cannot reach https://api.telegram.org/bot{TOKEN}/getUpdates")
    except ConnectionError:
        logger.exception("polling failed")
    output = stream.getvalue()
    assert "polling failed" in output and "ConnectionError" in output
    assert TOKEN not in output


def test_short_secrets_are_redacted_too():
    stream = io.StringIO()
    logger = logging.getLogger("test.redaction.short")
    logger.handlers[:] = []
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactingFilter(["Q7x!", "kz"]))
    logger.addHandler(handler)
    logger.propagate = False
    logger.warning("webhook secret Q7x! and the other one kz")
    assert "Q7x!" not in stream.getvalue() and "kz" not in stream.getvalue()
    assert "webhook secret *** and the other one ***" in stream.getvalue()


def test_start_up_logging_reads_secrets_and_format_from_the_environment(tmp_path, monkeypatch):
    """Before the settings are parsed (they may not parse), secrets from the environment and
    from .env are already masked, in JSON when LOG_FORMAT=json."""
    import json

    from bot.logging_setup import bootstrap_logging

    env_file = tmp_path / ".env"
    env_file.write_text("ZALO_BOT_TOKEN=zz-from-dotenv-42\nLOG_FORMAT=json\n", encoding="utf-8")
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "999:env-token")
    monkeypatch.setenv("DATABASE_URL", "postgresql+asyncpg://u:pgpw@127.0.0.1/db")
    monkeypatch.delenv("LOG_FORMAT", raising=False)
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    stream = io.StringIO()
    try:
        bootstrap_logging(env_file)
        root.handlers[0].setStream(stream)  # type: ignore[attr-defined]
        logging.getLogger("test.boot").error("999:env-token zz-from-dotenv-42 pgpw")
    finally:
        root.handlers[:], level = saved
        root.setLevel(level)
    record = json.loads(stream.getvalue())
    assert record["message"] == "*** *** ***"
