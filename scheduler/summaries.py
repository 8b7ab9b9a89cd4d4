"""What a reporter reads about a broadcast: a line in the list, a run's summary."""

from __future__ import annotations

import json
from datetime import datetime
from zoneinfo import ZoneInfo

from bot.db.models import Broadcast
from bot.services.orgs import level_label
from handlers.render import shorten
from scheduler.broadcasts import STATUS_LABELS, RunStats, aware
from scheduler.targets import AUDIENCES, CHANNEL_LABELS


def local(value: datetime | None, tz: ZoneInfo) -> str:
    return aware(value).astimezone(tz).strftime("%d/%m/%Y %H:%M") if value else "—"


def number(n: int) -> str:
    return f"{n:,}".replace(",", ".")


def title(broadcast: Broadcast) -> str:
    if broadcast.content_kind == "series":
        return f"chuỗi câu hỏi «{broadcast.series}»"
    return f"«{shorten(broadcast.text.replace(chr(10), ' '), 48)}»"


def schedule_text(broadcast: Broadcast) -> str:
    if broadcast.schedule_kind == "cron":
        return f"lặp lại theo lịch «{broadcast.cron}»"
    if broadcast.schedule_kind == "once":
        return "một lần"
    return "gửi ngay"


def line(broadcast: Broadcast, tz: ZoneInfo) -> str:
    """One list line: number, content, status, next firing."""
    status = STATUS_LABELS.get(broadcast.status, broadcast.status)
    text = f"#{broadcast.id} {title(broadcast)} — {status}"
    if broadcast.status in ("active", "paused") and broadcast.next_fire_at:
        text += f", lần tới {local(broadcast.next_fire_at, tz)}"
    return text


def details(broadcast: Broadcast, tz: ZoneInfo) -> str:
    targets = ", ".join(json.loads(broadcast.targets))
    level = f", chỉ cấp {level_label(broadcast.level)}" if broadcast.level else ""
    return (
        f"{line(broadcast, tz)}\n"
        f"Gửi tới: {AUDIENCES.get(broadcast.audience, broadcast.audience)} thuộc {targets}"
        f"{level}; kênh {CHANNEL_LABELS.get(broadcast.channel, broadcast.channel)}\n"
        f"Lịch: {schedule_text(broadcast)}"
    )


def run_summary(broadcast: Broadcast, stats: RunStats, tz: ZoneInfo) -> str:
    """The message the creator gets when a run has finished."""
    run, by = stats.run, stats.by_status
    total = sum(by.values())
    parts = [f"📣 Thông báo #{broadcast.id} {title(broadcast)}, đợt {local(run.fire_at, tz)}:"]
    if total == 0:
        parts.append("Không có nhóm nào để gửi (các nhóm đã huỷ liên kết hoặc rời bot).")
        return "\n".join(parts)
    parts.append(f"✅ Đã gửi: {number(by.get('sent', 0))}/{number(total)}")
    for status, label in (("failed", "❌ Không gửi được"), ("uncertain", "❔ Chưa chắc chắn"),
                          ("skipped", "⏭ Bỏ qua")):
        if by.get(status):
            parts.append(f"{label}: {number(by[status])}")
    if stats.reasons:
        parts.append("Lý do: " + "; ".join(
            f"{reason} ({number(n)})"
            for reason, n in sorted(stats.reasons.items(), key=lambda kv: -kv[1])))
    return "\n".join(parts)


def missed_text(broadcast: Broadcast, fire_at: datetime, tz: ZoneInfo) -> str:
    return (f"⚠️ Thông báo #{broadcast.id} {title(broadcast)} đã lỡ lần gửi lúc "
            f"{local(fire_at, tz)} vì hệ thống tạm ngừng quá lâu, nên không gửi bù. "
            "Nếu cần, hãy tạo lại bằng /thongbao.")


def orphan_text(broadcast: Broadcast) -> str:
    """For the admins above: a broadcast paused because its creator lost the right to send."""
    return (f"⏸ Thông báo #{broadcast.id} {title(broadcast)} đã được tạm dừng: người tạo không "
            "còn quyền gửi tới các đơn vị nhận. Đồng chí xem và quyết định: /thongbao "
            f"{broadcast.id} (tiếp tục hoặc huỷ).")
