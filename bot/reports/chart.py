"""A bar chart of the share of chi bộ confirmed, by child unit, sized for a phone screen.

Drawn with matplotlib's Agg canvas directly (no pyplot, no GUI, safe in a worker thread);
DejaVu Sans, matplotlib's bundled font, has every Vietnamese letter."""

from __future__ import annotations

import io
import textwrap

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from bot.db.models import Campaign
from bot.reports.text import ratio
from bot.services.campaigns import fmt
from bot.services.confirmations import CELL_LEVEL, pct
from bot.services.rollups import Tally

WIDTH_PX = 1080
DPI = 100
MAX_BARS = 25
ROW_INCHES = 0.95
HEAD_INCHES = 2.3
FONT = "DejaVu Sans"


def _colour(share: float) -> str:
    if share >= 0.8:
        return "#2e7d32"
    if share >= 0.5:
        return "#f9a825"
    return "#c62828"


def _share(tally: Tally) -> float:
    return tally.confirmed / tally.cells if tally.cells else 0.0


def bar(tally: Tally) -> tuple[float, str]:
    """The bar's length and its figure: a chi bộ shows its attendance (a share of chi bộ
    would only ever be 1/1 or 0/1), a unit above shows its chi bộ and its attendance."""
    if tally.level == CELL_LEVEL and tally.cells <= 1:
        if not tally.confirmed:
            return 0.0, "chưa xác nhận"
        share = tally.attended / tally.denominator if tally.denominator else 0.0
        return share, (f"{ratio(tally.attended, tally.denominator)} đảng viên "
                       f"({pct(tally.attended, tally.denominator)})")
    return _share(tally), (f"{ratio(tally.confirmed, tally.cells)} chi bộ · "
                           f"{pct(tally.attended, tally.denominator)} đảng viên")


def _label(name: str, limit: int = 30) -> str:
    return name if len(name) <= limit else name[:limit - 1].rstrip() + "…"


def build_png(campaign: Campaign, root_tally: Tally, children: list[Tally]) -> bytes:
    """PNG bytes, 1080 px wide: one bar per child unit (the lowest 25 when there are more)."""
    rows = [t for t in children if t.cells] or [root_tally]
    note = ""
    if len(rows) > MAX_BARS:
        note = (f"Chỉ hiện {MAX_BARS}/{len(rows)} đơn vị có tỉ lệ thấp nhất.")
        rows = sorted(rows, key=lambda t: (_share(t), t.code))[:MAX_BARS]
    height = HEAD_INCHES + ROW_INCHES * len(rows) + (0.4 if note else 0)
    figure = Figure(figsize=(WIDTH_PX / DPI, height), dpi=DPI)
    FigureCanvasAgg(figure)
    title = textwrap.fill(campaign.title, 42)
    title_lines = title.count("\n") + 1
    top = 1 - (0.45 + 0.42 * title_lines + 0.9) / height
    bottom = (0.25 + (0.4 if note else 0)) / height
    axes = figure.add_axes((0.04, bottom, 0.92, top - bottom))
    figure.text(0.04, 1 - 0.3 / height, title, fontsize=26, fontweight="bold", family=FONT,
                va="top", ha="left")
    figure.text(0.04, 1 - (0.45 + 0.42 * title_lines) / height,
                f"{_label(root_tally.name, 44)} · hạn {fmt(campaign.deadline)}\n"
                f"Chi bộ đã xác nhận: {ratio(root_tally.confirmed, root_tally.cells)} "
                f"({pct(root_tally.confirmed, root_tally.cells)}); đảng viên có mặt: "
                f"{ratio(root_tally.attended, root_tally.denominator)}",
                fontsize=20, family=FONT, va="top", ha="left", color="#333333")
    n = len(rows)
    for i, tally in enumerate(rows):
        y = n - 1 - i
        share, figure_text = bar(tally)
        axes.barh(y, 100, height=0.42, color="#e6e6e6", align="center")
        axes.barh(y, 100 * share, height=0.42, color=_colour(share), align="center")
        axes.text(0, y + 0.28, _label(tally.name), fontsize=20, family=FONT, va="bottom",
                  ha="left")
        axes.text(100, y + 0.28, figure_text, fontsize=20, family=FONT,
                  va="bottom", ha="right", fontweight="bold")
    axes.set_xlim(0, 100)
    axes.set_ylim(-0.5, n - 0.05)
    axes.axis("off")
    if note:
        figure.text(0.04, 0.2 / height, note, fontsize=18, family=FONT, style="italic",
                    va="bottom", ha="left", color="#555555")
    out = io.BytesIO()
    figure.savefig(out, format="png", dpi=DPI)
    return out.getvalue()
