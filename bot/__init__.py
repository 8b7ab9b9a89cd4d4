"""Trợ lý Nghị quyết: configuration, database, services, channel adapters and the CLI."""
