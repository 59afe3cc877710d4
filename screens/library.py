"""Library: the organized books (first page; issue 5 brings the virtualised, searchable view)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.widgets import DataTable

from data import books, overview
from data.db import Database
from data.models import StatusCounts
from data.overview import LibraryRow
from screens.base import PAGE_SIZE, ShelverScreen
from widgets.format import clip, fraction_bar
from widgets.tables import fit_title_width


@dataclass(frozen=True)
class LibraryView:
    counts: StatusCounts
    rows: list[LibraryRow]


class LibraryScreen(ShelverScreen):
    """Organized books by title: author, year, language, formats and how far they are read."""

    MODE = "library"
    TITLE = "Library"
    FIXED_COLUMNS: ClassVar[tuple[tuple[str, str, int], ...]] = (
        ("author", "Author", 18),
        ("year", "Year", 4),
        ("language", "Lang", 4),
        ("formats", "Formats", 7),
        ("read", "Read", 9),
    )

    def compose_body(self) -> ComposeResult:
        yield DataTable(id="library-table", cursor_type="row", zebra_stripes=True)

    async def fetch(self, database: Database) -> LibraryView:
        counts, rows = await asyncio.gather(
            books.count_by_status(database.pool),
            overview.library_page(database.pool, limit=PAGE_SIZE),
        )
        return LibraryView(counts, rows)

    def present(self, view: LibraryView) -> None:
        detail = Text(f"{view.counts.organized:,} books")
        if view.counts.organized > len(view.rows):
            detail.append(f" · first {len(view.rows)} by title", "dim")
        self.set_heading(detail)
        table = self.query_one("#library-table", DataTable)
        if not view.rows:
            table.clear(columns=True)
            self.show_empty(
                "[b]The library is empty.[/b]\n\n"
                "Books are filed here when you approve them on the Review screen ([b]r[/b]).\n"
                "New books start in the Inbox: [b]shelver import PATH[/b]."
            )
            return
        self.show_empty(None)
        title_width = fit_title_width(table, self.FIXED_COLUMNS, self.size.width)
        cursor = table.cursor_row
        table.clear(columns=True)
        table.add_column("Title", key="title", width=title_width)
        for key, label, width in self.FIXED_COLUMNS:
            table.add_column(label, key=key, width=width)
        for row in view.rows:
            table.add_row(
                clip(row.title or "(untitled)", title_width),
                clip(row.author, 18),
                str(row.published_year) if row.published_year else Text("—", "dim"),
                row.language or Text("—", "dim"),
                clip(",".join(row.formats), 7),
                fraction_bar(row.reading_percentage, width=4)
                if row.reading_percentage is not None
                else Text("—", "dim"),
                key=str(row.id),
            )
        table.move_cursor(row=min(cursor, len(view.rows) - 1))
        if self.focused is None:
            table.focus()
