"""What every `nqbot` subcommand shares: exit codes, refusals, a database session."""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable
from typing import Any

from bot.config import Settings

# Exit codes (the README's table): scripts can tell a bad input from a missing thing.
EXIT_OK = 0
EXIT_USER = 1  # the input was refused (a file with errors, an invalid value, a refused action)
EXIT_USAGE = 2  # the command line or the configuration (.env) is wrong
EXIT_DB_TOO_NEW = 3  # the database was written by a newer version (bot.fatal, bot.db.migrate)
EXIT_NOT_FOUND = 4  # a unit, broadcast, campaign or file that does not exist
EXIT_BUSY = 5  # another process is doing it (a running bot sends the broadcasts)
EXIT_INTERRUPTED = 130  # Ctrl-C


def fail(message: str, code: int = EXIT_USER) -> int:
    """A refusal the operator reads: "LỖI: …" on stderr and the exit code."""
    print(f"LỖI: {message}", file=sys.stderr)
    return code


async def with_session(settings: Settings, work: Callable[[Any], Awaitable[Any]]) -> Any:
    """Open the database (migrating it first), run `work(session)` in one transaction."""
    from bot.db.engine import create_engine, session_factory
    from bot.db.migrate import upgrade

    engine = create_engine(settings)
    try:
        await upgrade(engine)
        async with session_factory(engine)() as session, session.begin():
            return await work(session)
    finally:
        await engine.dispose()
