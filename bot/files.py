"""Files sent as links (for channels that cannot send them): stored on disk, served by the
project's web server behind an HMAC-signed, expiring URL, and deleted once their links have
expired (`prune`, run by the delivery service's periodic job)."""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import shutil
import time
import uuid
from pathlib import Path

from aiohttp import web

_ID_RE = re.compile(r"^[0-9a-f]{32}$")


class FileStore:
    def __init__(self, directory: str | Path, key: bytes) -> None:
        self.directory = Path(directory)
        self.key = key

    def _sign(self, file_id: str, expires: int) -> str:
        message = f"{file_id}:{expires}".encode()
        return hmac.new(self.key, message, hashlib.sha256).hexdigest()[:32]

    def save(self, name: str, data: bytes) -> str:
        """Store the bytes (blocking: call through asyncio.to_thread); returns the file id."""
        file_id = uuid.uuid4().hex
        folder = self.directory / file_id
        folder.mkdir(parents=True, exist_ok=True)
        safe_name = re.sub(r"[^\w.\-]+", "_", name)[:100] or "tep"
        (folder / safe_name).write_bytes(data)
        return file_id

    def link(self, base_url: str, file_id: str, ttl_seconds: int,
             now: float | None = None) -> str:
        expires = int((now or time.time()) + ttl_seconds)
        return (f"{base_url.rstrip('/')}/files/{file_id}"
                f"?exp={expires}&sig={self._sign(file_id, expires)}")

    def check(self, file_id: str, expires: str, signature: str,
              now: float | None = None) -> Path | None:
        """The file behind a valid, unexpired link; None otherwise."""
        if not _ID_RE.match(file_id) or not expires.isdigit():
            return None
        if not hmac.compare_digest(self._sign(file_id, int(expires)), signature):
            return None
        if int(expires) < (now or time.time()):
            return None
        files = list((self.directory / file_id).glob("*"))
        return files[0] if files else None

    def prune(self, ttl_seconds: float, now: float | None = None) -> int:
        """Delete the files stored more than `ttl_seconds` ago (their links have expired);
        blocking: call through asyncio.to_thread. Returns how many were deleted."""
        cutoff = (time.time() if now is None else now) - ttl_seconds
        removed = 0
        try:
            folders = list(os.scandir(self.directory))
        except FileNotFoundError:  # nothing was ever stored
            return 0
        for folder in folders:
            if not _ID_RE.match(folder.name) or not folder.is_dir(follow_symlinks=False):
                continue  # only what `save` made
            try:
                if folder.stat(follow_symlinks=False).st_mtime > cutoff:
                    continue
            except FileNotFoundError:  # another process pruned it
                continue
            shutil.rmtree(folder.path, ignore_errors=True)
            removed += 1
        return removed

    def handler(self):  # type: ignore[no-untyped-def]
        async def serve(request: web.Request) -> web.StreamResponse:
            path = self.check(request.match_info["file_id"], request.query.get("exp", ""),
                              request.query.get("sig", ""))
            if path is None:
                return web.Response(status=403, text="Đường dẫn không hợp lệ hoặc đã hết hạn.")
            return web.FileResponse(
                path, headers={"Content-Disposition": f'attachment; filename="{path.name}"'})

        return serve
