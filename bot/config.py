"""Application settings, read from the environment and `.env` (pydantic-settings)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Annotated
from zoneinfo import ZoneInfo

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def _int_list(value: object, message: str) -> object:
    """"1, 2;3" → [1, 2, 3]; the error names the setting, never the value (it may be a secret
    pasted into the wrong variable)."""
    if not isinstance(value, str):
        return value
    try:
        return [int(part) for part in value.replace(";", ",").split(",") if part.strip()]
    except ValueError:
        raise ValueError(message) from None


class Settings(BaseSettings):
    # `.env` of the project, then of the current directory (which wins); the environment wins
    # over both
    model_config = SettingsConfigDict(env_file=(PROJECT_ROOT / ".env", ".env"),
                                      env_file_encoding="utf-8", extra="ignore")

    database_url: str = Field(
        default=f"sqlite+aiosqlite:///{PROJECT_ROOT / 'data' / 'nqbot.sqlite3'}",
        description="SQLAlchemy async URL: SQLite by default, postgresql+asyncpg://… in production",
    )
    sqlite_busy_timeout_ms: int = 5000

    telegram_bot_token: str = ""
    telegram_api_base_url: str = "https://api.telegram.org/bot"
    telegram_bot_username: str = ""
    telegram_max_reply_chars: int = 4000  # Telegram's hard limit is 4096
    telegram_max_retries: int = 3  # retries after a 429 on interactive replies
    # replies per second for this process (Telegram allows ~30 for the whole bot: with N
    # processes set about 30/N); broadcasts have their own, global pace
    telegram_reply_rate: float = 30.0
    # updates waiting in the inbox before the webhook answers 503 (polling pauses instead)
    telegram_webhook_max_backlog: int = 200
    telegram_concurrent_updates: int = 8  # updates handled at once by this process
    telegram_poll_interval: float = 0.0
    telegram_poll_timeout: int = 10
    telegram_webhook_url: str = ""  # public https URL; empty = long polling
    telegram_webhook_secret: str = ""
    telegram_webhook_path: str = "/telegram/webhook"

    # the project's own web server (webhooks, health, file links)
    web_host: str = "127.0.0.1"
    web_port: int = 8080
    public_base_url: str = ""  # e.g. https://bot.example.vn; empty = no file links
    files_dir: str = str(PROJECT_ROOT / "data" / "files")
    files_secret: str = ""  # signs file links; empty = derived from the bot tokens
    file_link_ttl_hours: int = 24

    @property
    def files_signing_key(self) -> bytes:
        import hashlib

        material = self.files_secret or f"{self.telegram_bot_token}|{self.zalo_bot_token}"
        return hashlib.sha256(("nqbot-files|" + material).encode()).digest()
    admin_telegram_ids: Annotated[list[int], NoDecode] = Field(default_factory=list)

    zalo_bot_token: str = ""
    zalo_api_base_url: str = "https://bot-api.zaloplatforms.com"
    zalo_webhook_url: str = ""  # public https URL; empty = long polling
    zalo_webhook_secret: str = ""
    zalo_webhook_path: str = "/zalo/webhook"
    zalo_poll_timeout: int = 30
    zalo_poll_floor: float = 1.0  # seconds between polls (getUpdates has no offset)
    zalo_webhook_max_backlog: int = 200  # updates waiting in the inbox before a 503
    zalo_concurrent_updates: int = 8  # updates handled at once by this process
    zalo_options_ttl_minutes: int = 60  # how long numbered options stay valid
    zalo_broadcast_options_ttl_hours: int = 168  # a broadcast's numbered action, for anyone

    zalo_max_message_chars: int = 2000  # a broadcast is one message: longer ones are refused

    # broadcasts (scheduler/): limits are settings because platforms do not publish them exactly
    broadcast_telegram_rate: float = 25.0  # messages/second for the whole bot (Telegram ~30)
    broadcast_zalo_rate: float = 5.0  # messages/second; Zalo publishes no figure: kept low
    broadcast_per_chat_interval: float = 1.0  # seconds between two messages to one chat
    broadcast_concurrency: int = 16  # requests in flight per channel
    broadcast_batch_size: int = 64  # rows claimed from the outbox at a time
    broadcast_max_attempts: int = 5  # for network errors before the message was accepted
    broadcast_retry_base_seconds: float = 2.0  # back-off: base × 2^(attempt-1)
    broadcast_request_timeout: float = 15.0  # seconds; no answer = "chưa chắc chắn", no resend
    broadcast_default_retry_after: float = 30.0  # a 429 that names no wait (Zalo)
    broadcast_grace_minutes: int = 60  # a firing missed while down still runs within this
    broadcast_sync_seconds: float = 10.0  # how often the database is checked for due firings
    broadcast_draft_ttl_minutes: int = 60  # how long an unfinished /thongbao draft is kept
    processed_updates_keep_days: int = 7  # handled updates kept in the inbox (deduplication)
    question_log_keep_days: int = 365  # questions kept for /cauhoi, then pruned hourly
    # the inbox of incoming updates (bot/inbox.py)
    inbox_max_attempts: int = 3  # handling attempts before an update is parked as failed
    inbox_retry_base_seconds: float = 2.0  # a failed update waits base × 2^(attempt-1)
    inbox_claim_seconds: float = 120.0  # another process takes over an update after this
    inbox_poll_seconds: float = 1.0  # how often the inbox is checked for others' updates
    dispatcher_lease_seconds: float = 15.0  # a dead sender's channel is taken over after this

    # quán triệt campaigns and reports
    confirm_total_slack: float = 1.5  # a cell's total may exceed its registered members by this
    # reminders: days before the deadline (positive) or after it (negative), at this local hour
    reminder_offsets_days: Annotated[list[int], NoDecode] = Field(
        default_factory=lambda: [3, 1, -1])
    reminder_hour: int = 8
    report_max_laggards: int = 10  # cells listed by name in a chat report (the rest counted)
    confirm_dialog_ttl_minutes: int = 30  # how long a started confirmation waits for answers

    timezone: str = "Asia/Ho_Chi_Minh"
    log_level: str = "INFO"
    log_format: str = "text"  # text | json (one JSON object per line)

    # Q&A behaviour
    max_question_chars: int = 500
    console_max_reply_chars: int = 3500
    # deliveries to the demo's console groups and people (no bot token needed) are written here
    demo_outbox_file: str = str(PROJECT_ROOT / "data" / "demo-outbox.log")
    browse_page_size: int = 6

    @field_validator("admin_telegram_ids", mode="before")
    @classmethod
    def _split_ids(cls, value: object) -> object:
        return _int_list(value, "ADMIN_TELEGRAM_IDS: các số id Telegram, cách nhau bằng dấu phẩy")

    @field_validator("reminder_offsets_days", mode="before")
    @classmethod
    def _split_offsets(cls, value: object) -> object:
        return _int_list(value, "REMINDER_OFFSETS_DAYS: các số ngày (số nguyên), cách nhau bằng "
                                "dấu phẩy, ví dụ 3,1,-1")

    @field_validator("telegram_webhook_secret")
    @classmethod
    def _secret_charset(cls, value: str) -> str:
        if (value and not all(c.isalnum() or c in "_-" for c in value)) or len(value) > 256:
            raise ValueError("TELEGRAM_WEBHOOK_SECRET: chỉ gồm 1–256 ký tự A-Z a-z 0-9 _ -")
        return value

    @field_validator("log_format")
    @classmethod
    def _log_format(cls, value: str) -> str:
        value = value.strip().lower()
        if value not in ("text", "json"):
            raise ValueError("LOG_FORMAT: text hoặc json")
        return value

    @field_validator("timezone")
    @classmethod
    def _valid_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (KeyError, ValueError, OSError):  # ZoneInfoNotFoundError is a KeyError
            raise ValueError("TIMEZONE: tên múi giờ IANA, ví dụ Asia/Ho_Chi_Minh") from None
        return value

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
