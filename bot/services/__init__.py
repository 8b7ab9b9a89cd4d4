"""Domain services used by the handlers (channel-neutral, database-backed)."""
