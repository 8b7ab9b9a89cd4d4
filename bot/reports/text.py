"""The short report a secretary reads in the chat: one or two phone screens."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from bot.db.models import Campaign, utcnow
from bot.services.campaigns import fmt
from bot.services.confirmations import CELL_LEVEL, pct
from bot.services.rollups import Laggard, Tally

MAX_ROWS = 12  # lines of the by-unit table (the rest summarised in one more line)
MAX_NAME = 40


def number(n: int) -> str:
    return f"{n:,}".replace(",", ".")


def ratio(part: int, whole: int) -> str:
    return f"{number(part)}/{number(whole)}"


def _short(name: str, limit: int = MAX_NAME) -> str:
    return name if len(name) <= limit else name[:limit - 1].rstrip() + "…"


def _share(tally: Tally) -> float:
    return tally.confirmed / tally.cells if tally.cells else 0.0


def headline(total: Tally) -> str:
    """"X/Y chi bộ (Z%); X/Y đảng viên (Z%)"."""
    line = (f"{ratio(total.confirmed, total.cells)} chi bộ "
            f"({pct(total.confirmed, total.cells)}); "
            f"{ratio(total.attended, total.denominator)} đảng viên "
            f"({pct(total.attended, total.denominator)})")
    if total.denominator != total.members:  # the cells that confirmed declared their own total
        line += f" — tổng theo số chi bộ khai; danh sách ghi {number(total.members)}"
    return line


def pick_rows(children: list[Tally], limit: int) -> tuple[list[Tally], list[Tally]]:
    """All children in code order when they fit; else the `limit - 1` lowest by the share of
    cells confirmed (lowest first) and the rest to summarise."""
    if len(children) <= limit:
        return list(children), []
    ranked = sorted(children, key=lambda t: (_share(t), t.code))
    return ranked[:limit - 1], ranked[limit - 1:]


def render_report(campaign: Campaign, total: Tally, children: list[Tally], laggards_count: int,
                  laggards: list[Laggard], tz: ZoneInfo, max_laggards: int, *,
                  now: datetime | None = None) -> str:
    when = (now or utcnow()).astimezone(tz).strftime("%d/%m/%Y %H:%M")
    state = "đang mở" if campaign.status == "open" else "đã đóng"
    lines = [
        f"📊 {campaign.title}",
        f"{total.name} · hạn {fmt(campaign.deadline)} ({state}) · số liệu lúc {when}",
        "",
        f"✅ {headline(total)}",
        f"⏰ Xác nhận sau hạn: {number(total.late)} chi bộ",
    ]
    if children:
        shown, rest = pick_rows(children, MAX_ROWS)
        cells = children[0].level == CELL_LEVEL
        lines += ["", ("Từng chi bộ:" if cells else "Theo đơn vị (chi bộ đã xác nhận):")
                  if not rest else
                  f"Theo đơn vị — {len(shown)} đơn vị có tỉ lệ thấp nhất:"]
        for tally in shown:
            if tally.level == CELL_LEVEL:  # a cell: its attendance, or not yet
                figure = (f"{ratio(tally.attended, tally.denominator)} đảng viên "
                          f"({pct(tally.attended, tally.denominator)})" if tally.confirmed
                          else "chưa xác nhận")
            else:
                figure = (f"{ratio(tally.confirmed, tally.cells)} "
                          f"({pct(tally.confirmed, tally.cells)})")
            lines.append(f"• {_short(tally.name)}: {figure}")
        if rest:
            confirmed = sum(t.confirmed for t in rest)
            cells = sum(t.cells for t in rest)
            lines.append(f"• {number(len(rest))} đơn vị khác: {ratio(confirmed, cells)} "
                         f"({pct(confirmed, cells)})")
    lines += ["", f"⏳ Chưa xác nhận: {number(laggards_count)} chi bộ"]
    listed = laggards[:max(max_laggards, 0)]
    for laggard in listed:
        line = f"– {_short(laggard.name)}"
        if laggard.parent and laggard.parent != total.name:
            line += f" ({_short(laggard.parent, 30)})"
        if laggard.secretaries:
            line += " — bí thư " + ", ".join(laggard.secretaries[:2])
        lines.append(line)
    if laggards_count > len(listed) and listed:
        lines.append(f"… và {number(laggards_count - len(listed))} chi bộ khác.")
    lines += ["", f"🙋 Đảng viên tự báo «đã học»: {number(total.studied)} (chỉ đếm đảng viên "
              "đã đăng ký với bot, không thay cho số liệu của chi bộ)."]
    return "\n".join(lines)
