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
