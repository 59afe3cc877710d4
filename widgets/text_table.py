"""A DataTable that shows a str cell as the text it is, never as markup.

Titles, authors, device names and sync details come from ebook files, providers and KOReader
devices; Textual's DataTable reads a str cell as Rich markup, so a title holding "[/b]" stopped
the app when its row was painted and "[red]" restyled it. Every table in shelver is one of
these: a str cell becomes plain ``Text``; a ``Text`` a screen styled itself is kept as it is.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.coordinate import Coordinate
from textual.widgets import DataTable
from textual.widgets.data_table import ColumnKey, RowKey


def plain(cell: object) -> object:
    return Text(cell) if isinstance(cell, str) else cell


class TextTable(DataTable[Any]):
    def add_row(
        self,
        *cells: Any,
        height: int | None = 1,
        key: str | None = None,
        label: Any = None,
    ) -> RowKey:
        return super().add_row(*map(plain, cells), height=height, key=key, label=label)

    def update_cell(
        self,
        row_key: RowKey | str,
        column_key: ColumnKey | str,
        value: Any,
        *,
        update_width: bool = False,
    ) -> None:
        super().update_cell(row_key, column_key, plain(value), update_width=update_width)

    def update_cell_at(
        self, coordinate: Coordinate, value: Any, *, update_width: bool = False
    ) -> None:
        super().update_cell_at(coordinate, plain(value), update_width=update_width)
