"""Helpers for DataTables that must fit an 80-column terminal."""

from __future__ import annotations

from textual.widgets import DataTable

MIN_TITLE_WIDTH = 12


def fit_title_width(
    table: DataTable, fixed_columns: tuple[tuple[str, str, int], ...], screen_width: int
) -> int:
    """The width left for a flexible first column after the fixed ones, padding and scrollbar."""
    padding = 2 * table.cell_padding * (len(fixed_columns) + 1)
    fixed = sum(width for _key, _label, width in fixed_columns)
    scrollbar = 1  # the stylesheet makes vertical scrollbars one cell wide
    return max(MIN_TITLE_WIDTH, screen_width - fixed - padding - scrollbar)
