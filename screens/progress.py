"""Reading progress: where each document stands on each KOReader device."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.widgets import DataTable

from data import progress
from data.db import Database
from data.models import ProgressRow
from screens.base import ShelverScreen
from widgets.format import clip, fraction_bar, relative_time
from widgets.tables import fit_title_width

PROGRESS_PAGE = 500


@dataclass(frozen=True)
class ProgressView:
    documents: int
    rows: list[ProgressRow]


class ProgressScreen(ShelverScreen):
    """Current positions, newest first: book (or unlinked document), device, bar, last update."""

    MODE = "progress"
    TITLE = "Reading progress"
    FIXED_COLUMNS: ClassVar[tuple[tuple[str, str, int], ...]] = (
        ("device", "Device", 17),
        ("progress", "Progress", 15),
        ("updated", "Updated", 10),
    )

    def compose_body(self) -> ComposeResult:
        yield DataTable(id="progress-table", cursor_type="row", zebra_stripes=True)

    async def fetch(self, database: Database) -> ProgressView:
        documents, rows = await asyncio.gather(
            progress.count_documents(database.pool),
            progress.current_positions(database.pool, limit=PROGRESS_PAGE),
        )
        return ProgressView(documents, rows)

    def present(self, view: ProgressView) -> None:
        devices = len({row.device for row in view.rows})
        unlinked = sum(1 for row in view.rows if row.book_id is None)
        detail = Text(f"{view.documents:,} document{'s' * (view.documents != 1)}")
        detail.append(f" · {devices} device{'s' * (devices != 1)}", "dim")
        if unlinked:
            detail.append(f" · {unlinked} unlinked", "yellow")
        self.set_heading(detail)
        table = self.query_one("#progress-table", DataTable)
        if not view.rows:
            table.clear(columns=True)
            self.show_empty(
                "[b]No reading progress yet.[/b]\n\n"
                "Add a device login with [b]shelver credentials add kosync NAME[/b],\n"
                "run [b]shelver serve[/b], and point KOReader's Progress sync\n"
                "at this machine (port 8765)."
            )
            return
        self.show_empty(None)
        title_width = fit_title_width(table, self.FIXED_COLUMNS, self.size.width)
        cursor = table.cursor_row
        table.clear(columns=True)
        table.add_column("Book", key="book", width=title_width)
        for key, label, width in self.FIXED_COLUMNS:
            table.add_column(label, key=key, width=width)
        for row in view.rows:
            if row.book_id is not None:
                book = Text(clip(row.title or "(untitled)", title_width))
            else:
                book = Text("unlinked ", "yellow")
                book.append(clip(row.document, title_width - 9), "dim")
            table.add_row(
                book,
                clip(row.device, 17),
                fraction_bar(row.percentage, width=10),
                relative_time(row.updated_at),
                key=f"{row.document}\x00{row.device}",
            )
        table.move_cursor(row=min(cursor, len(view.rows) - 1))
        if self.focused is None:
            table.focus()
