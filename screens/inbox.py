"""Inbox: every book that has arrived and is not yet reviewed, newest first."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.widgets import DataTable

from data import books
from data.db import Database
from data.models import BookListRow, BookStatus, StatusCounts
from screens.base import PAGE_SIZE, ShelverScreen
from widgets.format import clip, human_size, relative_time
from widgets.tables import fit_title_width


@dataclass(frozen=True)
class InboxView:
    counts: StatusCounts
    rows: list[BookListRow]


def notes(row: BookListRow) -> Text:
    """The duplicate flag and how many provider candidates were found, in 7 cells."""
    text = Text()
    if row.possible_duplicate_of:
        text.append("dup", "bold yellow")
    if row.candidate_count:
        text.append(f"{' ' if text else ''}{row.candidate_count} cand.", "green")
    return text


class InboxScreen(ShelverScreen):
    """The inbox list: title, author, format, size, arrival, duplicate flag, candidates."""

    MODE = "inbox"
    TITLE = "Inbox"
    # Width of each column but the title, which takes what is left.
    FIXED_COLUMNS: ClassVar[tuple[tuple[str, str, int], ...]] = (
        ("author", "Author", 14),
        ("format", "Fmt", 4),
        ("size", "Size", 6),
        ("added", "Added", 10),
        ("notes", "Notes", 7),
    )

    def compose_body(self) -> ComposeResult:
        yield DataTable(id="inbox-table", cursor_type="row", zebra_stripes=True)

    async def fetch(self, database: Database) -> InboxView:
        counts, rows = await asyncio.gather(
            books.count_by_status(database.pool),
            books.list_by_status(database.pool, BookStatus.INBOX, limit=PAGE_SIZE),
        )
        return InboxView(counts, rows)

    def present(self, view: InboxView) -> None:
        counts = view.counts
        detail = Text(f"{counts.inbox:,} waiting")
        duplicates = sum(1 for row in view.rows if row.possible_duplicate_of)
        if duplicates:
            detail.append(f" · {duplicates} possible duplicate{'s' * (duplicates > 1)}", "yellow")
        detail.append(f" · {counts.review:,} to review · {counts.organized:,} in library", "dim")
        if counts.inbox > len(view.rows):
            detail.append(f" · newest {len(view.rows)} shown", "dim")
        self.set_heading(detail)

        table = self.query_one("#inbox-table", DataTable)
        if not view.rows:
            table.clear(columns=True)
            inbox = self.shelver.settings.inbox_dir or self.shelver.home.inbox_dir
            self.show_empty(
                "[b]The inbox is empty.[/b]\n\n"
                "Import books with [b]shelver import PATH[/b]\n"
                f"or drop files into [b]{inbox}[/b]."
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
                clip(row.author, 14),
                clip(", ".join(row.formats), 4),
                human_size(row.file_size),
                relative_time(row.created_at),
                notes(row),
                key=str(row.id),
            )
        table.move_cursor(row=min(cursor, len(view.rows) - 1))
        if self.focused is None:
            table.focus()
