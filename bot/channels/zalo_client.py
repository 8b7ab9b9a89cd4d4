"""A thin aiohttp client for the Zalo Bot Platform (`<base>/bot<token>/<method>`).

The token sits in the URL path, so it is redacted from every error this client raises.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import aiohttp

log = logging.getLogger(__name__)

MAX_TEXT = 2000
SAFE_CHUNK = 1800  # stay under 2000 with room for multi-byte/emoji counting differences


class ZaloError(Exception):
    def __init__(self, status: int, description: str) -> None:
        super().__init__(f"Zalo API {status}: {description}")
        self.status = status
        self.description = description


class ZaloTimeout(ZaloError):
    """The request may or may not have been carried out (no answer in time)."""


class ZaloClient:
    def __init__(self, base_url: str, token: str, *, poll_timeout: int = 30,
                 request_timeout: float = 15.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.poll_timeout = poll_timeout
        self.request_timeout = request_timeout
        self._session: aiohttp.ClientSession | None = None

    def _redact(self, text: str) -> str:
        return text.replace(self.token, "***") if self.token else text

    async def __aenter__(self) -> ZaloClient:
        self._session = aiohttp.ClientSession()
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def call(self, method: str, *, request_budget: float | None = None,
                   **params: Any) -> Any:
        if self._session is None:
            self._session = aiohttp.ClientSession()
        url = f"{self.base_url}/bot{self.token}/{method}"
        budget = aiohttp.ClientTimeout(total=request_budget or self.request_timeout)
        try:
            async with self._session.post(url, json=params, timeout=budget) as resp:
                try:
                    body = await resp.json(content_type=None)
                except ValueError:
                    body = {"ok": False, "description": (await resp.text())[:200]}
        except TimeoutError:
            raise ZaloTimeout(0, f"{method}: no answer in time") from None
        except aiohttp.ClientError as exc:
            raise ZaloError(0, self._redact(f"{method}: {exc}")) from None
        if not isinstance(body, dict) or not body.get("ok"):
            status = resp.status if resp.status >= 400 else int(body.get("error_code") or 400)
            description = str(body.get("description", "")) if isinstance(body, dict) else ""
            raise ZaloError(status, self._redact(description or "error"))
        return body.get("result")

    # -- methods -------------------------------------------------------------------------------
    async def get_me(self) -> dict[str, Any]:
        return await self.call("getMe")

    async def get_updates(self) -> dict[str, Any] | None:
        """One update, or None when the long poll ends empty (HTTP 408)."""
        try:
            return await self.call("getUpdates", request_budget=self.poll_timeout + 10,
                                   timeout=str(self.poll_timeout))
        except ZaloError as exc:
            if exc.status == 408:
                return None
            raise

    async def set_webhook(self, url: str, secret_token: str) -> Any:
        return await self.call("setWebhook", url=url, secret_token=secret_token)

    async def delete_webhook(self) -> Any:
        return await self.call("deleteWebhook")

    async def get_webhook_info(self) -> Any:
        try:
            return await self.call("getWebhookInfo")
        except ZaloError as exc:
            if exc.status == 404:  # no webhook set (measured, undocumented)
                return None
            raise

    async def send_message(self, chat_id: str, text: str) -> list[Any]:
        """Send text, split on paragraph/line/sentence boundaries under the platform limit."""
        from handlers.render import split_text

        results = []
        for chunk in split_text(text, SAFE_CHUNK):
            results.append(await self.call("sendMessage", chat_id=chat_id, text=chunk))
        return results

    async def send_photo(self, chat_id: str, photo_url: str, caption: str = "") -> Any:
        params: dict[str, Any] = {"chat_id": chat_id, "photo": photo_url}
        if caption:
            params["caption"] = caption[:MAX_TEXT]
        return await self.call("sendPhoto", **params)

    async def send_chat_action(self, chat_id: str, action: str = "typing") -> Any:
        return await self.call("sendChatAction", chat_id=chat_id, action=action)


async def sleep_floor(started: float, floor: float) -> None:
    """Wait so that consecutive polls are at least `floor` seconds apart."""
    loop = asyncio.get_running_loop()
    remaining = floor - (loop.time() - started)
    if remaining > 0:
        await asyncio.sleep(remaining)
