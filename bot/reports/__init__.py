"""Campaign reports: the chat text, a bar chart (PNG) and the exports (XLSX, CSV).

The figures come from `bot.services.rollups` (SQL over the materialised path); `units.py` adds
the per-unit subtotals at every level of a subtree for the XLSX, aggregated over the subtree's
`cell_rows()`. The builders here are pure functions of those figures (no database access), so
the chat handlers, the CLI and the benchmark share them."""

from bot.reports.units import ReportData, gather, unit_subtotals

__all__ = ["ReportData", "gather", "unit_subtotals"]
