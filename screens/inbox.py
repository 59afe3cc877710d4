"""Inbox: every book that has arrived and is not yet reviewed, newest first.

Keys (none of them the app's screen letters i/r/l/p/s/q): ``+`` import, ``f``/``F`` fetch
candidates for the book under the cursor / every inbox book, ``x`` delete (to rejected/, after
a confirmation), enter opens the book in Review, ``/`` filters by title or author.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar
from uuid import UUID

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.markup import escape
from textual.widgets import DataTable, Input, Label, Static

from shelver.data import books
from shelver.data.calibre.report import CalibreImportReport
from shelver.data.db import Database
from shelver.data.fetching import FetchReport, fetch_candidates
from shelver.data.importing import ImportReport, reject_inbox_book
from shelver.data.inbox_list import InboxPage, InboxRow, inbox_page
from shelver.data.models import StatusCounts
from shelver.screens.base import PAGE_SIZE, ShelverScreen
from shelver.screens.dialogs.confirm import ConfirmDialog
from shelver.screens.dialogs.inbox_import import ImportDialog
from shelver.screens.styles import stylesheet
from shelver.widgets.format import clip, human_size, relative_time
from shelver.widgets.progress_strip import ProgressStrip
from shelver.widgets.tables import fit_title_width
from shelver.widgets.text_table import TextTable

RELOAD_EVERY = 0.5
"""Seconds between list refreshes while a fetch runs (the status column fills in as it goes)."""
STRIP_LINGER = 8.0
"""Seconds a finished fetch's summary stays under the list."""

STATUS_STYLES = {"failed": "bold red", "no match": "yellow", "skipped": "dim", "none": "dim"}


@dataclass(frozen=True)
class InboxView:
    counts: StatusCounts
    page: InboxPage
    text: str


def candidate_status(row: InboxRow) -> Text:
    """The fetch column: none / fetched N / failed / no match / skipped."""
    status = row.candidate_status
    return Text(status, STATUS_STYLES.get(status, "green"))


def duplicate_flag(row: InboxRow) -> Text:
    return Text("dup", "bold yellow") if row.possible_duplicate_of else Text("")


def row_detail(row: InboxRow) -> Text:
    """The line under the list for the book under the cursor: which book it may duplicate and
    what the providers said."""
    text = Text()
    if row.possible_duplicate_of:
        text.append("possible duplicate of ", "yellow")
        text.append(f"“{row.duplicate_title or 'untitled'}”", "bold yellow")
        if row.duplicate_author:
            text.append(f" by {row.duplicate_author}", "yellow")
    for message in row.fetch_notes:
        text.append(" · " if text else "")
        text.append(message, "red" if row.candidate_status == "failed" else "dim")
    if not text:
        text.append(f"{row.title or '(untitled)'} — {row.author or 'unknown author'}", "dim")
        text.append("  (⏎ review)", "dim italic")
    return text


def fetch_summary(report: FetchReport) -> str:
    fetched = len(report.books)
    moved = sum(b.moved_to_review for b in report.books)
    failed = len(report.failed)
    line = f"{fetched} fetched · {moved} to review"
    return line + (f" · {failed} failed: {report.failure_summary()}" if failed else "")


class InboxScreen(ShelverScreen):
    """The inbox list: title, author, format, size, arrival, duplicate flag, candidate status."""

    MODE = "inbox"
    TITLE = "Inbox"
    AUTO_FOCUS = "#inbox-table"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("plus,ctrl+o", "import_books", "Import", key_display="+", id="inbox.import"),
        Binding("f", "fetch", "Fetch", id="inbox.fetch"),
        Binding("F", "fetch_all", "Fetch all", key_display="F", id="inbox.fetch_all"),
        Binding("x,delete", "delete", "Delete", key_display="x", id="inbox.delete"),
        Binding("enter", "open_review", "Review", key_display="⏎", id="inbox.review"),
        Binding("slash", "filter", "Filter", key_display="/", id="inbox.filter"),
        Binding("escape", "leave_filter", "Clear filter", show=False, id="inbox.unfilter"),
    ]
    # Width of each column but the title, which takes what is left.
    FIXED_COLUMNS: ClassVar[tuple[tuple[str, str, int], ...]] = (
        ("author", "Author", 12),
        ("format", "Fmt", 4),
        ("size", "Size", 6),
        ("added", "Added", 10),
        ("dup", "Dup", 3),
        ("fetch", "Fetch", 10),
    )

    CSS_PATH = stylesheet(__file__, "inbox.tcss")

    def __init__(self) -> None:
        super().__init__()
        self.rows: dict[str, InboxRow] = {}
        self.filter_text = ""
        self._fetching = False
        self._last_reload = 0.0

    def compose_body(self) -> ComposeResult:
        with Horizontal(id="inbox-filter-row") as row:
            row.display = False  # shown by "/" (a hidden Input can't take the first focus)
            yield Label("Filter ", id="inbox-filter-label")
            yield Input(
                placeholder="title or author (esc: back to the list, esc again: clear)",
                id="inbox-filter",
                compact=True,
            )
        yield TextTable(id="inbox-table", cursor_type="row", zebra_stripes=True)
        yield Static("", id="inbox-detail", markup=False)
        yield ProgressStrip(id="inbox-progress")

    # Loading -----------------------------------------------------------------------------

    async def fetch(self, database: Database) -> InboxView:
        text = self.filter_text
        counts, page = await asyncio.gather(
            books.count_by_status(database.pool),
            inbox_page(database.pool, text=text or None, limit=PAGE_SIZE),
        )
        return InboxView(counts, page, text)

    def present(self, view: InboxView) -> None:
        counts, rows = view.counts, view.page.rows
        detail = Text(f"{counts.inbox:,} waiting")
        if view.text:
            detail.append(f" · {view.page.matching:,} match “{clip(view.text, 12)}”", "cyan")
        duplicates = sum(1 for row in rows if row.possible_duplicate_of)
        if duplicates:
            detail.append(f" · {duplicates} possible duplicate{'s' * (duplicates > 1)}", "yellow")
        failed = sum(1 for row in rows if row.candidate_status == "failed")
        if failed:
            detail.append(f" · {failed} fetch failed", "red")
        detail.append(f" · {counts.review:,} to review · {counts.organized:,} in library", "dim")
        if view.page.matching > len(rows):
            detail.append(f" · newest {len(rows)} shown", "dim")
        self.set_heading(detail)

        table = self.query_one("#inbox-table", DataTable)
        self.rows = {str(row.id): row for row in rows}
        self.refresh_bindings()
        if not rows:
            table.clear(columns=True)
            self.query_one("#inbox-detail", Static).update("")
            if view.text:
                self.show_empty(
                    f"[b]No inbox book matches “{escape(view.text)}”.[/b]\n\n"
                    "Press [b]esc[/b] to clear the filter."
                )
                return
            inbox = self.shelver.settings.inbox_dir or self.shelver.home.inbox_dir
            self.show_empty(
                "[b]The inbox is empty.[/b]\n\n"
                "Press [b]+[/b] to import a file or folder, run [b]shelver import PATH[/b],\n"
                f"or drop files into [b]{escape(str(inbox))}[/b]."
            )
            return
        self.show_empty(None)
        title_width = fit_title_width(table, self.FIXED_COLUMNS, self.size.width)
        selected = self.selected_key()
        cursor = table.cursor_row
        table.clear(columns=True)
        table.add_column("Title", key="title", width=title_width)
        for key, label, width in self.FIXED_COLUMNS:
            table.add_column(label, key=key, width=width)
        for row in rows:
            table.add_row(
                clip(row.title or "(untitled)", title_width),
                clip(row.author, 12),
                clip(", ".join(row.formats), 4),
                human_size(row.file_size),
                relative_time(row.created_at),
                duplicate_flag(row),
                candidate_status(row),
                key=str(row.id),
            )
        # Stay on the same book when it is still listed, else on the same line.
        if selected in self.rows:
            cursor = table.get_row_index(selected)
        table.move_cursor(row=min(max(cursor, 0), len(rows) - 1))
        self.show_detail()
        if self.focused is None:
            table.focus()

    ROW_ACTIONS: ClassVar[frozenset[str]] = frozenset(
        {"fetch", "fetch_all", "delete", "open_review"}
    )

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # Actions on books are greyed out in the footer while the list is empty.
        if action in self.ROW_ACTIONS and not self.rows:
            return None
        return True

    # The row under the cursor -----------------------------------------------------------

    def selected_key(self) -> str | None:
        table = self.query_one("#inbox-table", DataTable)
        if table.row_count == 0 or not self.rows:
            return None
        try:
            key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        except Exception:  # the cursor is past the rows while the table is rebuilt
            return None
        return key if key in self.rows else None

    def selected_row(self) -> InboxRow | None:
        key = self.selected_key()
        return self.rows.get(key) if key else None

    @on(DataTable.RowHighlighted, "#inbox-table")
    def show_detail(self) -> None:
        row = self.selected_row()
        self.query_one("#inbox-detail", Static).update(row_detail(row) if row else "")

    # Filter ------------------------------------------------------------------------------

    def action_filter(self) -> None:
        self.query_one("#inbox-filter-row").display = True
        self.query_one("#inbox-filter", Input).focus()

    @on(Input.Changed, "#inbox-filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        self.filter_text = event.value.strip()
        self.reload()

    @on(Input.Submitted, "#inbox-filter")
    def _filter_submitted(self) -> None:
        self.query_one("#inbox-table", DataTable).focus()

    def action_leave_filter(self) -> None:
        """Escape: out of the filter field first; on the list, clear the filter."""
        field = self.query_one("#inbox-filter", Input)
        table = self.query_one("#inbox-table", DataTable)
        if field.has_focus:
            if not field.value:
                self.query_one("#inbox-filter-row").display = False
            table.focus()
        elif field.value:
            field.value = ""  # Input.Changed reloads the list
            self.query_one("#inbox-filter-row").display = False
            table.focus()

    # Import ------------------------------------------------------------------------------

    def action_import_books(self) -> None:
        def imported(report: ImportReport | CalibreImportReport | None) -> None:
            if isinstance(report, CalibreImportReport) and report.count("imported"):
                self.notify(f"{report.count('imported')} book(s) from Calibre are in the Library")
            if report is not None:
                self.reload()

        start = str(Path.cwd())
        self.app.push_screen(ImportDialog(start.rstrip("/") + "/"), imported)

    def inbox_changed(self, report: ImportReport) -> None:
        """The inbox folder watcher imported something: show it."""
        count = len(report.imported)
        if count:
            self.notify(f"{count} new book{'s' * (count != 1)} arrived in the inbox")
        if report.refused:
            self.notify(
                f"{len(report.refused)} file(s) refused and moved to rejected/",
                severity="warning",
            )
        self.reload()

    # Delete ------------------------------------------------------------------------------

    def action_delete(self) -> None:
        row = self.selected_row()
        if row is None:
            return
        rejected = self.shelver.home.rejected_dir
        question = ConfirmDialog(
            "Delete this book from the Inbox?",
            f"“{row.title or '(untitled)'}” by {row.author or 'unknown author'}\n\n"
            f"Its file moves to {rejected} with a note of why; nothing is erased.",
            yes="Move to rejected",
        )

        def answered(yes: bool | None) -> None:
            if yes:
                self.delete_book(row.id, row.title or "(untitled)")

        self.app.push_screen(question, answered)

    @work(group="delete", exit_on_error=False)
    async def delete_book(self, book_id: UUID, title: str) -> None:
        database = await self.shelver.wait_for_database()
        try:
            result = await reject_inbox_book(database, self.shelver.home, book_id)
        except (LookupError, ValueError) as error:
            self.notify(f"Not deleted: {error}", severity="warning")
        else:
            where = ", ".join(path.name for path in result.moved) or "no file"
            self.notify(f"“{clip(title, 30)}” moved to rejected/ ({clip(where, 30)})")
        self.reload()

    # Review ------------------------------------------------------------------------------

    @on(DataTable.RowSelected, "#inbox-table")
    async def _row_selected(self) -> None:
        await self.action_open_review()

    async def action_open_review(self) -> None:
        """Show the book under the cursor on the Review screen."""
        row = self.selected_row()
        if row is None:
            return
        await self.app.switch_mode("review")
        review = self.app.screen
        # The Review screen opens a given book through `open_book` (when it offers one).
        if hasattr(review, "open_book"):
            review.open_book(row.id)

    # Fetch -------------------------------------------------------------------------------

    def action_fetch(self) -> None:
        row = self.selected_row()
        if row is not None:
            self.start_fetch([row.id], f"Fetching “{clip(row.title, 16)}”")

    def action_fetch_all(self) -> None:
        if self.rows:
            self.start_fetch(None, "Fetching all")

    def start_fetch(self, book_ids: list[UUID] | None, what: str) -> None:
        if self._fetching:
            self.notify("A fetch is already running.", severity="warning", timeout=3)
            return
        self._fetching = True
        self.query_one(ProgressStrip).start(what, len(book_ids) if book_ids else None)
        self.run_fetch(book_ids)

    @work(group="fetch", exit_on_error=False)
    async def run_fetch(self, book_ids: list[UUID] | None) -> None:
        strip = self.query_one(ProgressStrip)
        try:
            database = await self.shelver.wait_for_database()

            def progress(done: int, total: int) -> None:
                strip.report(done, total, f"{done}/{total} books")
                now = time.monotonic()
                if now - self._last_reload >= RELOAD_EVERY:
                    self._last_reload = now
                    self.reload()

            report = await fetch_candidates(
                database,
                self.shelver.settings,
                book_ids,
                progress,
                config_dir=self.shelver.home.config_dir,
            )
        except Exception:
            strip.hide()
            raise
        finally:
            self._fetching = False
        strip.finish(fetch_summary(report))
        self.set_timer(STRIP_LINGER, strip.hide)
        for note in report.notes:
            self.notify(note, severity="warning", timeout=6)
        self.reload()
