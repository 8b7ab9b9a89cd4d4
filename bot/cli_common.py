"""What every `nqbot` subcommand shares."""

from __future__ import annotations

import sys


def fail(message: str) -> int:
    """A refusal the operator reads: "LỖI: …" on stderr, exit code 2."""
    print(f"LỖI: {message}", file=sys.stderr)
    return 2
