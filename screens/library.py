"""Library: every organized book in a virtual table, searched as you type, filtered, sorted,
shown in detail and edited.

The table (``widgets.book_table.BookTable``) reads a ``LibraryWindow``: keyset pages fetched
just ahead of the scroll, so 100,000 books cost what the screen shows. Every change of search
text, filters or order builds a new window in one exclusive worker (a newer keystroke cancels
an older query, so results never arrive out of order) and swaps it in once its first rows are
there. The detail pane follows the cursor through another exclusive worker that waits a moment
first, so holding a key down does not fetch every book passed.

Keys (none of i r l p s q, which belong to the app): ``/`` search, escape back to the table,
``o`` next sort column, ``v`` reverse, ``f`` filters, ``x`` clear filters, backspace on a chip
clears one, ``e`` edit, space marks rows, ``t`` tags of the marked rows, ``d`` detail pane.
"""

from __future__ import annotations

import asyncio
from typing import ClassVar
from uuid import UUID

from rich.text import Text
from textual import events, on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Container
from textual.widgets import Input

from shelver.data import books, decisions, fetching, library
from shelver.data.db import Database
from shelver.data.library_models import (
    BookDetail,
    LibraryFilters,
    LibraryQuery,
    LibraryRow,
    LibrarySort,
)
from shelver.data.library_window import LibraryWindow
from shelver.data.review_guard import ReviewError
from shelver.screens.base import ShelverScreen
from shelver.screens.dialogs.confirm import ConfirmDialog
from shelver.screens.dialogs.library_edit import EditDialog
from shelver.screens.dialogs.library_filters import FilterDialog, TagsDialog
from shelver.screens.styles import stylesheet
from shelver.widgets.book_table import BookTable, Column
from shelver.widgets.format import fraction_bar
from shelver.widgets.library_chips import FilterChip, FilterChips
from shelver.widgets.library_detail import LibraryDetail

DETAIL_DELAY = 0.12
"""Seconds the cursor rests on a book before its detail is fetched."""
WIDE = 120
"""From this many columns the detail pane sits beside the table instead of below it."""

SORT_CYCLE = (
    LibrarySort.TITLE,
    LibrarySort.AUTHOR,
    LibrarySort.YEAR,
    LibrarySort.LANGUAGE,
    LibrarySort.READING,
    LibrarySort.LAST_READ,
    LibrarySort.TIME_READ,
)
"""What ``o`` steps through (a search adds relevance in front); last read and time read come
from KOReader's statistics."""
NEWEST_FIRST = (LibrarySort.LAST_READ, LibrarySort.TIME_READ)
"""Orders that start with the largest value (the book read last, the one read longest)."""

COLUMN_SORTS = {
    "Title": LibrarySort.TITLE,
    "Author": LibrarySort.AUTHOR,
    "Year": LibrarySort.YEAR,
    "Lang": LibrarySort.LANGUAGE,
    "Read": LibrarySort.READING,
}

EMPTY_LIBRARY = (
    "[b]The library is empty.[/b]\n\n"
    "No books in the library yet. Approve books in Review ([b]r[/b]) to file them here;\n"
    "new books start in the Inbox ([b]i[/b]): [b]shelver import PATH[/b]."
)


def _reading(row: LibraryRow) -> Text:
    if row.reading_percentage is None:
        return Text("—", "dim")
    return fraction_bar(row.reading_percentage, width=3)


def _year(row: LibraryRow) -> Text | str:
    return str(row.published_year) if row.published_year else Text("—", "dim")


def _columns(sort: LibrarySort, descending: bool) -> list[Column]:
    """The table's columns, the sorted one marked ▲ or ▼ in its header."""

    def label(name: str) -> str:
        shown = sort if sort is not LibrarySort.RELEVANCE else None
        if COLUMN_SORTS.get(name) is shown and shown is not None:
            return f"{name} {'▼' if descending else '▲'}"
        return name

    return [
        Column(label("Title"), lambda r: r.title or Text("(untitled)", "dim"), min_width=12),
        Column(label("Author"), lambda r: r.author or Text("—", "dim"), width=18),
        Column(label("Year"), _year, width=6),
        Column(label("Lang"), lambda r: r.language or Text("—", "dim"), width=6),
        Column("Formats", lambda r: ",".join(r.formats), width=8),
        Column(label("Read"), _reading, width=9),
    ]


class LibraryScreen(ShelverScreen):
    """Organized books: search, filters, sort, detail, edits and bulk tags."""

    MODE = "library"
    TITLE = "Library"

    BINDINGS: ClassVar[list[BindingType]] = [
        # A priority binding acts before the keys typed just after it are sent on, so a burst
        # like "/dune" lands in the search box (it gives way while the box has the focus).
        Binding("slash", "focus_search", "Search", id="library.search", priority=True),
        Binding("escape", "back", "Back", show=False, id="library.back"),
        Binding("f", "filter", "Filter", id="library.filter"),
        Binding("o", "cycle_sort", "Sort", id="library.sort"),
        Binding("v", "reverse_sort", "Reverse", show=False, id="library.reverse"),
        Binding("x", "clear_filters", "Clear filters", show=False, id="library.clear"),
        Binding("e", "edit", "Edit", id="library.edit"),
        Binding("t", "tags", "Tags", id="library.tags"),
        Binding("d", "toggle_detail", "Detail", id="library.detail"),
        Binding("delete", "delete", "Delete", id="library.delete"),
        Binding("b", "back_to_review", "Back to review", id="library.back_to_review"),
        Binding("F", "refetch", "Re-fetch", id="library.refetch"),
    ]

    CSS_PATH = stylesheet(__file__, "library.tcss")

    def __init__(self) -> None:
        super().__init__()
        self.text = ""
        self.filters = LibraryFilters()
        self.sort = LibrarySort.RELEVANCE
        self.descending = False
        self.total: int | None = None
        self.detail: BookDetail | None = None
        self._ever_shown = False

    # Layout -------------------------------------------------------------------------------

    def compose_body(self) -> ComposeResult:
        yield Input(
            placeholder="/ search titles, authors, series, tags…",
            id="library-search",
            select_on_focus=False,
        )
        yield FilterChips(id="library-chips")
        with Container(id="library-body"):
            yield BookTable(_columns(self.sort, self.descending), id="library-table")
            yield LibraryDetail(id="library-detail")

    def on_mount(self) -> None:
        self.query_one(BookTable).focus()

    def on_resize(self) -> None:
        # The table lays itself out again; only the pane's place depends on the width.
        self.set_class(self.size.width >= WIDE, "-wide")

    @property
    def table(self) -> BookTable:
        return self.query_one("#library-table", BookTable)

    @property
    def detail_pane(self) -> LibraryDetail:
        return self.query_one("#library-detail", LibraryDetail)

    def library_query(self) -> LibraryQuery:
        return LibraryQuery(
            text=self.text, filters=self.filters, sort=self.sort, descending=self.descending
        )

    # Loading (the base class runs fetch in a worker on each visit and ctrl+r) --------------

    async def fetch(self, database: Database) -> tuple[LibraryWindow, bool]:
        window = LibraryWindow(database.pool, self.library_query())
        # The first rows are there before the swap, so the table paints them at once.
        rows = await window.fetch(0, BookTable.BLOCK_SIZE)
        return window, bool(rows)

    def present(self, shown: tuple[LibraryWindow, bool]) -> None:
        # The base class lays `_shown` out again on resize; the table does that by itself, and
        # an old window shown again would undo a search or filter made since.
        self._shown = None
        window, has_rows = shown
        self._show_window(window, has_rows, keep_cursor=True)

    def _show_window(self, window: LibraryWindow, has_rows: bool, *, keep_cursor: bool) -> None:
        query = window.query
        if query != self.library_query():
            return  # the search, filters or order changed while it loaded: a newer one comes
        empty = not has_rows and not query.text.strip() and not query.filters.active
        self.show_empty(EMPTY_LIBRARY if empty else None)
        if empty:
            self.total = 0
            self.set_heading("0 books")
            self.detail_pane.show(None)
            return
        self.table.set_source(window, keep_cursor=keep_cursor)
        if not self._ever_shown:
            self._ever_shown = True
            self.table.focus()

    @work(exclusive=True, group="library-query", exit_on_error=False)
    async def run_query(self, *, keep_cursor: bool = False) -> None:
        """Build the list for the current search, filters and order, and show it."""
        database = await self.shelver.wait_for_database()
        window = LibraryWindow(database.pool, self.library_query())
        rows = await window.fetch(0, BookTable.BLOCK_SIZE)
        self._show_window(window, bool(rows), keep_cursor=keep_cursor)

    @on(BookTable.Counted, "#library-table")
    def _counted(self, event: BookTable.Counted) -> None:
        self.total = event.total
        self._update_heading()
        if event.total == 0:
            self.detail = None
            self.detail_pane.show(None, note="no book matches")

    def _update_heading(self) -> None:
        total = self.total or 0
        searching = any(c.isalnum() for c in self.text) or self.filters.active
        noun = "match" if total == 1 else "matches"
        if not searching:
            noun = "book" if total == 1 else "books"
        text = Text(f"{total:,} {noun}")
        if self.sort is LibrarySort.RELEVANCE:
            order = "best first" if self.text.strip() else "by title"
        else:
            order = f"by {self.sort.value.replace('_', ' ')}{' ▼' if self.descending else ''}"
        text.append(f" · {order}", "dim")
        marked = len(self.table.marked)
        if marked:
            text.append(f" · {marked} marked", "yellow")
        self.set_heading(text)

    # Search -------------------------------------------------------------------------------

    @on(Input.Changed, "#library-search")
    def _search_changed(self, event: Input.Changed) -> None:
        if event.value == self.text:
            return
        self.text = event.value
        self.run_query()

    @on(Input.Submitted, "#library-search")
    def _search_submitted(self, event: Input.Submitted) -> None:
        self.table.focus()

    def action_focus_search(self) -> None:
        # set_focus now, not focus() (which is queued): keys typed right after "/" (a paste,
        # a fast typist, tmux send-keys) must land in the search box, not on the screen.
        self.set_focus(self.query_one("#library-search", Input))

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "focus_search":
            return not isinstance(self.focused, Input)
        return True

    def on_paste(self, event: events.Paste) -> None:
        # Text pasted (or keys arriving in one burst) over the table is a search.
        search = self.query_one("#library-search", Input)
        if self.focused is not search and event.text.strip():
            event.stop()
            self.set_focus(search)
            search.insert_text_at_cursor(" ".join(event.text.split()))

    def action_back(self) -> None:
        self.set_focus(self.table)

    # Sorting ------------------------------------------------------------------------------

    def _apply_sort(self, sort: LibrarySort, descending: bool) -> None:
        self.sort, self.descending = sort, descending
        # The header shows the new order when the re-sorted list is swapped in (a moment).
        self.table.columns = _columns(sort, descending)
        self._update_heading()
        self.run_query(keep_cursor=True)

    def action_cycle_sort(self) -> None:
        cycle = list(SORT_CYCLE)
        if self.text.strip():
            cycle.insert(0, LibrarySort.RELEVANCE)
        current = self.sort if self.sort in cycle else LibrarySort.TITLE
        if self.sort is LibrarySort.RELEVANCE and not self.text.strip():
            current = LibrarySort.TITLE
        following = cycle[(cycle.index(current) + 1) % len(cycle)]
        self._apply_sort(following, following in NEWEST_FIRST)

    def action_reverse_sort(self) -> None:
        sort = self.sort
        if sort is LibrarySort.RELEVANCE:
            sort = LibrarySort.TITLE  # best-first has no reverse: reverse the titles
        self._apply_sort(sort, not self.descending)

    # Filters ------------------------------------------------------------------------------

    def _suggestions(self) -> dict[str, list[str]]:
        """Values of the book under the cursor, offered in the filter dialog."""
        detail = self.detail
        row = self.table.cursor_row
        found: dict[str, list[str]] = {}
        if row is not None:
            found["author"] = [row.author] if row.author else []
            found["language"] = [row.language] if row.language else []
            found["format"] = list(row.formats)
        if detail is not None and row is not None and detail.book.id == row.id:
            found["genre"] = list(detail.book.genres)
            found["tag"] = list(detail.book.tags)
        return found

    def action_filter(self) -> None:
        def chosen(filters: object) -> None:
            if isinstance(filters, LibraryFilters):
                self.set_filters(filters)

        self.app.push_screen(FilterDialog(self.filters, self._suggestions()), chosen)

    def set_filters(self, filters: LibraryFilters) -> None:
        """Narrow the list (the chips follow)."""
        if filters == self.filters:
            return
        self.filters = filters
        self._show_chips()
        self.run_query()

    @work(group="library-chips", exit_on_error=False)
    async def _show_chips(self) -> None:
        chips = self.query_one("#library-chips", FilterChips)
        refocus = isinstance(self.focused, FilterChip)
        await chips.show(self.filters)
        remaining = list(chips.query(FilterChip))
        if refocus:
            (remaining[0] if remaining else self.table).focus()

    @on(FilterChip.Cleared)
    def _chip_cleared(self, event: FilterChip.Cleared) -> None:
        self.set_filters(self.filters.model_copy(update={event.field: None}))

    def action_clear_filters(self) -> None:
        self.set_filters(LibraryFilters())

    # Detail -------------------------------------------------------------------------------

    @on(BookTable.CursorMoved, "#library-table")
    def _cursor_moved(self, event: BookTable.CursorMoved) -> None:
        if event.row is not None and not self.has_class("-no-detail"):
            self.load_detail(event.row.id)

    @work(exclusive=True, group="library-detail", exit_on_error=False)
    async def load_detail(self, book_id: UUID, *, delay: float = DETAIL_DELAY) -> None:
        """Show the book's detail once the cursor has rested on it for a moment."""
        if self.detail is None or self.detail.book.id != book_id:
            await asyncio.sleep(delay)
        database = await self.shelver.wait_for_database()
        try:
            detail = await library.detail(database.pool, book_id)
        except library.BookNotFound:
            self.detail = None
            self.detail_pane.show(None, note="this book is gone (ctrl+r reloads)")
            return
        self.detail = detail
        self.detail_pane.show(detail)

    @on(BookTable.RowSelected, "#library-table")
    def _row_selected(self) -> None:
        # Enter reads the detail: the pane takes the keys (scroll), escape comes back.
        if not self.has_class("-no-detail"):
            self.detail_pane.focus()

    def action_toggle_detail(self) -> None:
        hidden = not self.has_class("-no-detail")
        self.set_class(hidden, "-no-detail")
        row = self.table.cursor_row
        if not hidden and row is not None:
            self.load_detail(row.id, delay=0)
        if hidden and self.focused is self.detail_pane:
            self.table.focus()

    # Editing ------------------------------------------------------------------------------

    def action_edit(self) -> None:
        row = self.table.cursor_row
        if row is not None:
            self.edit_book(row.id)

    @work(exclusive=True, group="library-edit", exit_on_error=False)
    async def edit_book(self, book_id: UUID) -> None:
        database = await self.shelver.wait_for_database()
        book = await books.get(database.pool, book_id)
        if book is None:
            self.notify("That book is gone.", severity="warning")
            return
        edit = await self.app.push_screen_wait(EditDialog(book))
        if edit is None or not edit.changed_fields():
            return
        await library.update_book(database.pool, book_id, edit)
        saved = f"Saved {', '.join(edit.changed_fields())}."
        try:  # the files follow the new author and title (the library template)
            moved = await decisions.refile(
                database, self.shelver.home, self.shelver.settings, book_id
            )
        except ReviewError as error:
            self.notify(f"{saved} {error}", severity="warning", timeout=8)
        else:
            folders = {str(path.parent.name) for path in moved}
            where = f" Its files moved to “{', '.join(sorted(folders))}”." if moved else ""
            self.notify(saved + where, timeout=4)
        self.detail = None
        self.run_query(keep_cursor=True)
        self.load_detail(book_id, delay=0)

    # Library decisions --------------------------------------------------------------------

    def action_delete(self) -> None:
        row = self.table.cursor_row
        if row is not None:
            self.delete_book(row.id, row.title)

    @work(exclusive=True, group="library-edit", exit_on_error=False)
    async def delete_book(self, book_id: UUID, title: str | None) -> None:
        question = (
            f"Delete “{title or 'untitled'}” from the library? Its files move to rejected/ "
            "with a note of what it was; nothing is erased."
        )
        if not await self.app.push_screen_wait(ConfirmDialog("Delete", question, yes="Delete")):
            return
        database = await self.shelver.wait_for_database()
        try:
            await decisions.delete_from_library(database, self.shelver.home, book_id, title=title)
        except ReviewError as error:
            self.notify(str(error), severity="error", timeout=8)
        else:
            self.notify(f"“{title or 'untitled'}” moved to rejected/.", timeout=4)
        self.detail = None
        self.run_query(keep_cursor=True)

    def action_back_to_review(self) -> None:
        row = self.table.cursor_row
        if row is not None:
            self.back_to_review(row.id, row.title, refetch=False)

    def action_refetch(self) -> None:
        row = self.table.cursor_row
        if row is not None:
            self.back_to_review(row.id, row.title, refetch=True)

    @work(exclusive=True, group="library-edit", exit_on_error=False)
    async def back_to_review(self, book_id: UUID, title: str | None, *, refetch: bool) -> None:
        database = await self.shelver.wait_for_database()
        name = f"“{title or 'untitled'}”"
        note = ""
        if refetch:
            self.notify(f"Fetching candidates for {name}…", timeout=3)
            report = await fetching.fetch_candidates(
                database,
                self.shelver.settings,
                [book_id],
                config_dir=self.shelver.home.config_dir,
            )
            found = sum(b.candidates for b in report.books)
            note = f" with {found} candidate{'s' * (found != 1)}"
            if report.failed:
                note += f" ({report.failure_summary()})"
        try:
            await decisions.send_back_to_review(database, book_id, title=title)
        except ReviewError as error:
            self.notify(str(error), severity="error", timeout=8)
        else:
            self.notify(f"{name} waits in Review{note} (r).", timeout=6)
        self.detail = None
        self.run_query(keep_cursor=True)

    def action_tags(self) -> None:
        ids = [key for key in self.table.marked if isinstance(key, UUID)]
        if not ids and self.table.cursor_row is not None:
            ids = [self.table.cursor_row.id]
        if ids:
            self.edit_tags(ids)

    @work(exclusive=True, group="library-edit", exit_on_error=False)
    async def edit_tags(self, ids: list[UUID]) -> None:
        database = await self.shelver.wait_for_database()
        answer = await self.app.push_screen_wait(TagsDialog(len(ids)))
        if not isinstance(answer, tuple):
            return
        add, remove = answer
        changed = await library.edit_tags(database.pool, ids, add=add, remove=remove)
        self.notify(f"Tags changed on {len(changed)} of {len(ids)} books.", timeout=3)
        if self.table.marked:
            self.table.clear_marks()
        self.detail = None
        self.run_query(keep_cursor=True)
        row = self.table.cursor_row
        if row is not None:
            self.load_detail(row.id, delay=0)

    @on(BookTable.SelectionChanged, "#library-table")
    def _marks_changed(self) -> None:
        self._update_heading()

    @on(BookTable.LoadFailed, "#library-table")
    def _load_failed(self, event: BookTable.LoadFailed) -> None:
        self.shelver.show_error(event.error)
