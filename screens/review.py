"""Review: one book at a time, its current fields beside what the file and each provider say.

Fields run down the side, sources across (current, file, each candidate with its confidence and
strength); cells that differ from the current value are highlighted and the chosen one carries a
tick. The cursor moves over fields (up/down) and sources (left/right):

* enter / space takes the source under the cursor for this field, ``1``..``9`` source N, and
  shift+digit (or ``t`` for the column under the cursor) source N for every field;
* ``e`` edits the field by hand, ``/`` searches the providers with your own words, ``f``
  fetches candidates again (each provider's outcome stays visible; ``f`` again retries);
* ``a`` approves: the next book is painted at once from a prefetched copy while the approval
  (writing the values, filing the file in the library) runs in a worker. A failed approval puts
  the book back at the end of the queue and says why;
* a possible duplicate shows a banner; ``d`` (or ``a``) asks: keep both, replace the older
  book (its files go to rejected/) or leave this one in the inbox.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any, ClassVar
from uuid import UUID

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import DataTable, ProgressBar, Static

from shelver.data import books, fetching, overview, review
from shelver.data.confidence import Strength
from shelver.data.db import Database
from shelver.data.review import DuplicateAction, ReviewError, ReviewItem
from shelver.screens.base import PAGE_SIZE, ShelverScreen
from shelver.widgets.format import clip
from shelver.widgets.review_cover import CoverView
from shelver.widgets.review_dialogs import DuplicateDialog, Edited, FieldEditor, SearchDialog
from shelver.widgets.review_model import (
    CURRENT,
    EDITED,
    FIELD_LABELS,
    FIELD_NAMES,
    REVIEW_FIELDS,
    ReviewState,
    Source,
    cell_text,
    has_value,
)

FIELD_COLUMN_WIDTH = 9
MIN_COLUMN_WIDTH = 11
MAX_COLUMN_WIDTH = 30
STRENGTH_STYLES = {
    Strength.STRONG: "bold green",
    Strength.MEDIUM: "yellow",
    Strength.WEAK: "red",
}
STATE_STYLES = {"ok": "green", "empty": "dim", "failed": "bold red", "skipped": "yellow"}
PROVIDER_LABELS = {"google_books": "Google Books", "hardcover": "Hardcover"}
# Shift+digit on a US keyboard, as Textual names the keys.
SHIFTED_DIGITS = (
    "exclamation_mark",
    "at",
    "number_sign",
    "dollar_sign",
    "percent_sign",
    "circumflex_accent",
    "ampersand",
    "asterisk",
    "left_parenthesis",
)
BOOK_ACTIONS = {"approve", "edit", "search", "fetch", "step", "pick", "pick_all", "pick_here"}
EMPTY_MESSAGE = (
    "[b]Nothing to review.[/b]\n\n"
    "Fetch metadata for inbox books with [b]f[/b] on the Inbox ([b]i[/b]) or "
    "[b]shelver fetch[/b]."
)


@dataclass
class ReviewView:
    """What a load found: the queue (oldest first), how many wait, and the book shown."""

    queue: list[UUID]
    total: int
    item: ReviewItem | None = None
    position: int = 0


@dataclass
class Busy:
    """Work running in the background, shown beside the progress bar."""

    labels: dict[str, str] = field(default_factory=dict)


class ReviewScreen(ShelverScreen):
    """The review queue, one book at a time, with everything needed to decide."""

    MODE = "review"
    TITLE = "Review"
    DEFAULT_CSS = """
    ReviewScreen #review-table { height: 1fr; }
    ReviewScreen #review-duplicate { text-wrap: nowrap; text-overflow: ellipsis; }
    ReviewScreen #review-detail-title {
        height: 1;
        padding: 0 1;
        background: $boost;
        text-wrap: nowrap;
        text-overflow: ellipsis;
    }
    ReviewScreen #review-detail.-picture { height: 8; }
    ReviewScreen #review-detail {
        height: 2;
        padding: 0 1;
        background: $boost;
        scrollbar-size-vertical: 1;
    }
    ReviewScreen #review-detail-text { height: auto; }
    ReviewScreen #review-status-row { height: 2; padding: 0 1; }
    ReviewScreen #review-progress { width: 12; display: none; }
    ReviewScreen #review-progress.-busy { display: block; }
    ReviewScreen #review-status {
        width: 1fr;
        height: 2;
        text-wrap: nowrap;
        text-overflow: ellipsis;
    }
    ReviewScreen.-empty #review-detail, ReviewScreen.-empty #review-book,
    ReviewScreen.-empty #review-detail-title { display: none; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("a", "approve", "Approve", id="review.approve"),
        Binding("e", "edit", "Edit", id="review.edit"),
        Binding("slash", "search", "Search", id="review.search"),
        Binding("f", "fetch", "Fetch", id="review.fetch"),
        Binding("d", "duplicate", "Dup", id="review.duplicate"),
        Binding("n", "step(1)", "Next", id="review.next"),
        Binding("b", "step(-1)", "Prev", id="review.back", show=False),
        Binding("space", "pick_here", "Pick", id="review.pick", show=False),
        Binding("t", "pick_all_here", "Take all", id="review.take_all", show=False),
        Binding("right_square_bracket", "scroll_detail(1)", "More", show=False),
        Binding("left_square_bracket", "scroll_detail(-1)", "Less", show=False),
        Binding("shift+down", "scroll_detail(1)", "More", show=False),
        Binding("shift+up", "scroll_detail(-1)", "Less", show=False),
        *(Binding(str(n), f"pick({n})", f"Source {n}", show=False) for n in range(1, 10)),
        *(
            Binding(key, f"pick_all({n})", f"Source {n} for all", show=False)
            for n, key in enumerate(SHIFTED_DIGITS, start=1)
        ),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.queue: list[UUID] = []
        self._opened: UUID | None = None
        """A book asked for by `open_book`, shown first even when it is not in review."""
        self.total = 0
        self.position = 0
        self.state: ReviewState | None = None
        self._cache: dict[UUID, ReviewItem] = {}
        """Books loaded ahead (the next one), so stepping on paints at once."""
        self._pending: set[UUID] = set()
        """Books whose approval is running; kept out of the queue."""
        self._busy = Busy()
        self._note: Text | None = None
        self._own_dialog = False

    def compose_body(self) -> ComposeResult:
        yield Static(id="review-book", classes="subheading")
        yield Static(id="review-duplicate", classes="banner -warning")
        yield DataTable(
            id="review-table",
            cursor_type="cell",
            fixed_columns=1,
            header_height=2,
            zebra_stripes=True,
        )
        yield Static(id="review-detail-title")
        with VerticalScroll(id="review-detail", can_focus=False):
            yield Static(id="review-detail-text")
            yield CoverView(id="review-cover")
        with Horizontal(id="review-status-row"):
            yield ProgressBar(
                id="review-progress", total=None, show_eta=False, show_percentage=False
            )
            yield Static(id="review-status")

    @property
    def table(self) -> DataTable:
        return self.query_one("#review-table", DataTable)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "duplicate":  # only a flagged book has the duplicate choice
            return self.state is not None and self.state.item.duplicate_of is not None
        if action in BOOK_ACTIONS:  # nothing to act on in the empty state: keys hidden
            return self.state is not None
        return True

    # Loading ------------------------------------------------------------------------------

    def open_book(self, book_id: UUID) -> None:
        """Show ``book_id`` now, wherever it is in the queue (or not yet in it: an inbox book
        can be reviewed on its file's own metadata and approved as it is)."""
        self._opened = book_id
        self.reload()

    def on_screen_resume(self) -> None:
        if self._own_dialog:  # back from an edit or search: nothing changed underneath
            self._own_dialog = False
            return
        super().on_screen_resume()

    def on_resize(self) -> None:
        if self.state is not None:
            self.render_grid()

    async def fetch(self, database: Database) -> ReviewView:
        counts, queue = await asyncio.gather(
            books.count_by_status(database.pool),
            overview.review_queue(database.pool, limit=PAGE_SIZE),
        )
        ids = [row.id for row in queue if row.id not in self._pending]
        opened = self._opened
        if opened is not None and opened not in self._pending and opened not in ids:
            ids.insert(0, opened)  # a book opened from elsewhere, e.g. still in the inbox
        position = 0
        if opened is not None and opened in ids:
            position = ids.index(opened)
        elif self.state is not None and self.state.item.book.id in ids:
            position = ids.index(self.state.item.book.id)  # stay on the book being looked at
        elif ids:
            position = min(self.position, len(ids) - 1)
        item = await review.load_item(database.pool, ids[position]) if ids else None
        total = max(counts.review - len(self._pending), len(ids))
        return ReviewView(queue=ids, total=total, item=item, position=position)

    def present(self, view: ReviewView) -> None:
        self.queue, self.total, self.position = view.queue, view.total, view.position
        if view.item is None:
            self.show_nothing()
            return
        self._cache[view.item.book.id] = view.item
        self.show_item(view.item)

    def show_nothing(self) -> None:
        self.state = None
        self.set_heading("nothing waiting")
        self.query_one("#review-book", Static).update("")
        self.query_one("#review-duplicate", Static).display = False
        self.table.clear(columns=True)
        self.show_empty(EMPTY_MESSAGE)
        self.show_status()
        self.refresh_bindings()

    def show_item(self, item: ReviewItem) -> None:
        """Paint one book (keeping picks and edits when it is the same book again)."""
        self.show_empty(None)
        previous = self.state if self.state and self.state.item.book.id == item.book.id else None
        if previous is None and self.state is not None:
            self._note = None  # a note was about the book before
        self.state = ReviewState.from_item(item, previous)
        self.show_heading()
        self.show_book()
        self.refresh_bindings()
        self.render_grid(keep_cursor=previous is not None)
        self.show_status()
        self.prefetch_next()

    def show_heading(self) -> None:
        detail = Text(f"{self.total:,} waiting")
        if self.queue:
            detail.append(f" · book {self.position + 1} of {self.total:,}", "dim")
        self.set_heading(detail)

    def show_book(self) -> None:
        assert self.state is not None
        item = self.state.item
        book = item.book
        line = Text(clip(book.title or "(untitled)", 40), style="bold")
        line.append(f"  {clip(book.author or 'unknown author', 22)}", "italic")
        if item.files:
            first = item.files[0]
            line.append(f"  {first.format.upper()} {clip(first.original_name, 14)}", "dim")
        self.query_one("#review-book", Static).update(line)
        banner = self.query_one("#review-duplicate", Static)
        other = item.duplicate_of
        banner.display = other is not None
        if other is not None:
            text = Text(
                f"⚠ May duplicate “{clip(other.title, 30)}” ({other.status.value}, "
                f"{other.published_year or 'year unknown'})"
            )
            text.append("  d decides", "bold")
            banner.update(text)

    # The grid -----------------------------------------------------------------------------

    def column_width(self, sources: int) -> int:
        padding = 2 * self.table.cell_padding
        # Every column fits at 80 columns up to four sources; more scroll sideways.
        spare = self.size.width - FIELD_COLUMN_WIDTH - padding * (sources + 1) - 1
        return max(MIN_COLUMN_WIDTH, min(MAX_COLUMN_WIDTH, spare // max(1, sources)))

    def render_grid(self, *, keep_cursor: bool = True) -> None:
        state = self.state
        if state is None:
            return
        table = self.table
        cursor = table.cursor_coordinate if keep_cursor else None
        width = self.column_width(len(state.sources))
        table.clear(columns=True)
        table.add_column(Text("Field\n", style="bold"), key="field", width=FIELD_COLUMN_WIDTH)
        for index, source in enumerate(state.sources):
            table.add_column(header(index, source, width), key=source.key, width=width)
        for name, label in REVIEW_FIELDS:
            chosen = state.chosen_key(name)
            cells: list[Text] = [Text(label, "bold")]
            for source in state.sources:
                cells.append(self.cell(name, source, chosen == source.key, width))
            table.add_row(*cells, key=name)
        if cursor is not None:
            row = min(cursor.row, len(REVIEW_FIELDS) - 1)
            column = min(max(cursor.column, 1), len(state.sources))
            table.move_cursor(row=row, column=column, animate=False)
        else:
            table.move_cursor(row=0, column=1, animate=False)
        if self.focused is None or isinstance(self.focused, DataTable):
            table.focus()
        self.show_detail()

    def cell(self, name: str, source: Source, chosen: bool, width: int) -> Text:
        assert self.state is not None
        value = cell_text(source.values.get(name))
        mark = "✓ " if chosen else ""
        if value is None:
            return Text(mark + "—", "bold green" if chosen else "dim")
        style = "yellow" if self.state.differs(name, source) else ""
        if chosen:
            style = "bold green"
        return Text(mark + clip(value, width - len(mark)), style)

    def cursor_field(self) -> tuple[str, int]:
        """(field, source index) under the cursor; the Field column counts as the chosen one."""
        assert self.state is not None
        coordinate = self.table.cursor_coordinate
        name = FIELD_NAMES[min(coordinate.row, len(FIELD_NAMES) - 1)]
        if coordinate.column >= 1:
            return name, coordinate.column - 1
        key = self.state.chosen_key(name)
        return name, next((i for i, s in enumerate(self.state.sources) if s.key == key), 0)

    @on(DataTable.CellHighlighted, "#review-table")
    def _highlighted(self) -> None:
        self.show_detail()

    @on(DataTable.CellSelected, "#review-table")
    def _selected(self, event: DataTable.CellSelected) -> None:
        event.stop()
        self.action_pick_here()

    def show_detail(self) -> None:
        """The full value of the cell under the cursor (descriptions scroll), or the cover."""
        state = self.state
        if state is None or self.table.row_count == 0:
            return
        name, index = self.cursor_field()
        source = state.sources[index]
        value = source.values.get(name)
        chosen = state.chosen_key(name) == source.key
        text = Text(f"{FIELD_LABELS[name]} · {source.long}", "bold")
        if source.confidence is not None and source.strength is not None:
            text.append(f" · {source.confidence * 100:.0f}% ", "dim")
            text.append(source.strength.value, STRENGTH_STYLES[source.strength])
        if chosen:
            text.append(" · chosen ✓", "green")
        else:
            text.append(" · enter or 1–9 takes it, shift+1–9 for all fields", "dim")
        cover = self.query_one("#review-cover", CoverView)
        detail = self.query_one("#review-detail-text", Static)
        area = self.query_one("#review-detail", VerticalScroll)
        if name == "cover_url":
            local = state.item.book.cover_path if source.key in (CURRENT, EDITED) else None
            if source.candidate is not None and source.candidate.source == "file":
                local = state.item.book.cover_path
            detail.display = False
            cover.display = True
            area.set_class(cover.show(local, value if has_value(value) else None), "-picture")
        else:
            cover.display = False
            detail.display = True
            area.remove_class("-picture")
            shown = value if isinstance(value, str) else cell_text(value)
            detail.update(Text(shown) if shown else Text("—", "dim"))
            if shown and len(shown) > 2 * (self.size.width - 4):
                text = Text("] [ scroll · ", "dim") + text  # more than the area shows
        self.query_one("#review-detail-title", Static).update(text)
        area.scroll_home(animate=False)

    def action_scroll_detail(self, lines: int) -> None:
        self.query_one("#review-detail", VerticalScroll).scroll_relative(y=lines * 3, animate=False)

    # Picking ------------------------------------------------------------------------------

    def _after_pick(self, problem: str | None = None) -> None:
        if problem:
            self.note(Text(f"✗ {problem}", "red"))
        self.render_grid()

    def action_pick_here(self) -> None:
        if self.state is None:
            return
        name, index = self.cursor_field()
        self._after_pick(self.state.pick(name, index))

    def action_pick(self, number: int) -> None:
        if self.state is None:
            return
        name, _ = self.cursor_field()
        self._after_pick(self.state.pick(name, number - 1))

    def action_pick_all(self, number: int) -> None:
        state = self.state
        if state is None:
            return
        source = state.source(number - 1)
        if source is None:
            self._after_pick(f"there is no source {number}")
            return
        taken = state.pick_all(number - 1)
        self.note(Text(f"Took {taken} field{'s' * (taken != 1)} from {source.short}", "dim"))
        self.render_grid()

    def action_pick_all_here(self) -> None:
        if self.state is not None:
            _, index = self.cursor_field()
            self.action_pick_all(index + 1)

    # Dialogs ------------------------------------------------------------------------------

    def _open(self, dialog: ModalScreen[Any], callback: Any) -> None:
        self._own_dialog = True
        self.app.push_screen(dialog, callback)

    def action_edit(self) -> None:
        state = self.state
        if state is None:
            return
        name, _ = self.cursor_field()

        def done(result: Edited | None) -> None:
            if result is not None and self.state is state:
                state.edit(name, result.value)
                self.note(Text(f"✎ {FIELD_LABELS[name]} set by hand", "dim"))
                self.render_grid()

        self._open(FieldEditor(name, state.chosen_value(name)), done)

    def action_search(self) -> None:
        state = self.state
        if state is None:
            return
        book = state.item.book
        initial = " ".join(part for part in (book.title, book.author) if part)

        def done(text: str | None) -> None:
            if text:
                self.run_search(book.id, text)

        self._open(SearchDialog(initial), done)

    def action_duplicate(self) -> None:
        state = self.state
        if state is None or state.item.duplicate_of is None:
            self.note(Text("This book is not flagged as a possible duplicate.", "dim"))
            return
        other = state.item.duplicate_of
        message = (
            f"“{clip(state.item.book.title, 40)}” may be the same book as "
            f"“{clip(other.title, 40)}” by {other.author or 'unknown author'} "
            f"({other.status.value}, {other.published_year or 'year unknown'})."
        )

        def done(action: DuplicateAction | None) -> None:
            if action is not None and self.state is state:
                state.duplicate_decided = True
                self.approve_current(action)

        self._open(DuplicateDialog(message), done)

    # Approving ----------------------------------------------------------------------------

    def action_approve(self) -> None:
        state = self.state
        if state is None:
            return
        if state.item.duplicate_of is not None and not state.duplicate_decided:
            self.action_duplicate()
            return
        self.approve_current(DuplicateAction.KEEP_BOTH if state.item.duplicate_of else None)

    def approve_current(self, action: DuplicateAction | None) -> None:
        """Paint the next book at once; approve this one in a worker."""
        state = self.state
        assert state is not None
        book = state.item.book
        values, used = state.approval()
        self._pending.add(book.id)
        self._cache.pop(book.id, None)
        if book.id == self._opened:
            self._opened = None
        if book.id in self.queue:
            index = self.queue.index(book.id)
            self.queue.pop(index)
            if index < self.position:
                self.position -= 1
        self.total = max(0, self.total - 1)
        self.state = None
        self._note = None  # the approval's own note follows when it is done
        self.show_position()
        self.run_approval(book.id, book.title or "untitled", values, used, action)

    @work(group="approve", exit_on_error=False)
    async def run_approval(
        self,
        book_id: UUID,
        title: str,
        values: dict[str, Any],
        used: dict[UUID, list[str]],
        action: DuplicateAction | None,
    ) -> None:
        shelver = self.shelver
        label = f"approving “{clip(title, 30)}”"
        self.busy(str(book_id), label)
        try:
            database = await shelver.wait_for_database()
            await review.approve(
                database, shelver.home, shelver.settings, book_id, values, used, duplicate=action
            )
        except ReviewError as error:
            self._put_back(book_id)
            self.note(Text(f"✗ Could not approve “{clip(title, 30)}”: {error}", "red"))
            return
        except BaseException:
            self._put_back(book_id)  # the app's dialog says why
            raise
        finally:
            self._pending.discard(book_id)
            self.busy(str(book_id), None)
        if action is DuplicateAction.SKIP:
            self.note(Text(f"“{clip(title, 40)}” left in the inbox", "dim"))
        else:
            self.note(Text(f"✓ “{clip(title, 40)}” filed in the library", "green"))

    def _put_back(self, book_id: UUID) -> None:
        """A book whose approval failed goes to the end of the queue."""
        if book_id not in self.queue:
            self.queue.append(book_id)
            self.total += 1
        if self.state is None:
            self.show_position()
        else:
            self.show_heading()

    # Moving through the queue -------------------------------------------------------------

    def action_step(self, delta: int) -> None:
        if not self.queue:
            return
        self.position = (self.position + delta) % len(self.queue)
        self.show_position()

    def show_position(self) -> None:
        """Show the book at ``position``: from the prefetched copy when there is one."""
        if not self.queue:
            self.show_nothing()
            if len(self._pending) == 0:
                self.reload()  # more may wait beyond the first page
            return
        self.position %= len(self.queue)
        book_id = self.queue[self.position]
        item = self._cache.get(book_id)
        if item is not None:
            self.show_item(item)
        else:
            self.load_book(book_id)

    @work(exclusive=True, group="load-book", exit_on_error=False)
    async def load_book(self, book_id: UUID) -> None:
        database = await self.shelver.wait_for_database()
        item = await review.load_item(database.pool, book_id)
        if item is None or (item.book.status.value != "review" and book_id != self._opened):
            if book_id in self.queue:  # approved or deleted elsewhere
                self.queue.remove(book_id)
                self.total = max(0, self.total - 1)
            self.show_position()
            return
        self._cache[book_id] = item
        if self.queue and self.queue[self.position % len(self.queue)] == book_id:
            self.show_item(item)

    def prefetch_next(self) -> None:
        if len(self.queue) < 2:
            return
        following = self.queue[(self.position + 1) % len(self.queue)]
        if following not in self._cache:
            self.prefetch(following)

    @work(exclusive=True, group="prefetch", exit_on_error=False)
    async def prefetch(self, book_id: UUID) -> None:
        database = await self.shelver.wait_for_database()
        item = await review.load_item(database.pool, book_id)
        if item is not None:
            self._cache[book_id] = item
            # Keep the cache to the books around the cursor.
            keep = set(self.queue[max(0, self.position - 1) : self.position + 3])
            for stale in [k for k in self._cache if k not in keep]:
                del self._cache[stale]

    # Fetching and searching ---------------------------------------------------------------

    def action_fetch(self) -> None:
        if self.state is not None:
            self.run_fetch(self.state.item.book.id)

    @work(exclusive=True, group="fetch", exit_on_error=False)
    async def run_fetch(self, book_id: UUID) -> None:
        shelver = self.shelver
        self.busy("fetch", "fetching candidates from Google Books and Hardcover…")
        try:
            database = await shelver.wait_for_database()
            report = await fetching.fetch_candidates(
                database, shelver.settings, [book_id], config_dir=shelver.home.config_dir
            )
        finally:
            self.busy("fetch", None)
        failed = sum(1 for b in report.books for s in b.sources if s.state == "failed")
        found = sum(b.candidates for b in report.books)
        summary = Text(f"Fetched: {found} candidate{'s' * (found != 1)}", "green" if found else "")
        if failed:
            summary.append(f" · {failed} source{'s' * (failed != 1)} failed, f retries", "red")
        for note in report.notes:
            summary.append(f" · {note}", "yellow")
        self.note(summary)
        await self.refresh_book(database, book_id)

    @work(exclusive=True, group="search", exit_on_error=False)
    async def run_search(self, book_id: UUID, text: str) -> None:
        shelver = self.shelver
        self.busy("search", f"searching for “{clip(text, 30)}”…")
        try:
            database = await shelver.wait_for_database()
            try:
                stored, notes = await fetching.manual_search(
                    database, shelver.settings, book_id, text, config_dir=shelver.home.config_dir
                )
            except LookupError as error:
                self.note(Text(f"✗ {error}", "red"))
                return
        finally:
            self.busy("search", None)
        count = len(stored)
        summary = Text(
            f"Search “{clip(text, 20)}”: {count} answer{'s' * (count != 1)}",
            "green" if count else "yellow",
        )
        # Failures first (the line is cut at the screen's edge), then skipped providers.
        for note in sorted(notes, key=lambda n: "skipped" in n):
            summary.append(f" · {note}", "yellow" if "skipped" in note else "red")
        self.note(summary)
        await self.refresh_book(database, book_id)

    async def refresh_book(self, database: Database, book_id: UUID) -> None:
        """Load the book again after new candidates, keeping the reviewer's picks."""
        item = await review.load_item(database.pool, book_id)
        if item is None:
            return
        self._cache[book_id] = item
        if self.state is not None and self.state.item.book.id == book_id:
            self.show_item(item)

    # The status line ----------------------------------------------------------------------

    def busy(self, key: str, label: str | None) -> None:
        if label is None:
            self._busy.labels.pop(key, None)
        else:
            self._busy.labels[key] = label
        self.query_one("#review-progress", ProgressBar).set_class(bool(self._busy.labels), "-busy")
        self.show_status()

    def note(self, text: Text) -> None:
        self._note = text
        self.show_status()

    def show_status(self) -> None:
        """Running work, the last note, and each provider's last fetch for this book."""
        # Two lines: what is running and the last note; then the providers' statuses.
        text = Text(no_wrap=True, overflow="ellipsis")
        if self._busy.labels:
            text.append(" · ".join(self._busy.labels.values()), "italic")
            if self._note is not None:
                text.append(" · ")
        if self._note is not None:
            text.append_text(self._note)
        if self.state is not None:
            text.append("\n")
            fetched = any(c.candidate.source != "file" for c in self.state.item.candidates)
            text.append_text(fetch_statuses(self.state.item.statuses, fetched))
        self.query_one("#review-status", Static).update(text)


def header(index: int, source: Source, width: int) -> Text:
    """Two lines: the source's number and short name; its confidence and strength."""
    text = Text(clip(f"{index + 1} {source.short}", width), "bold")
    text.append("\n")
    if source.key == CURRENT:
        text.append("now", "dim")
    elif source.key == EDITED:
        text.append("by hand", "dim")
    elif source.candidate is not None and source.candidate.source == "file":
        text.append("from file", "dim")
    elif source.confidence is not None and source.strength is not None:
        percent = f"{source.confidence * 100:.0f}% "
        text.append(percent, "dim")
        text.append(
            clip(source.strength.value, width - len(percent)), STRENGTH_STYLES[source.strength]
        )
    return text


def fetch_statuses(statuses: list[fetching.FetchStatus], has_candidates: bool = False) -> Text:
    """Each provider's last fetch for the book: ok / empty / failed / skipped and why."""
    text = Text()
    if not statuses:
        if has_candidates:
            text.append("No fetch recorded for this book: f fetches candidates again", "dim")
        else:
            text.append("Not fetched yet: f fetches candidates", "dim")
        return text
    for number, status in enumerate(statuses):
        if number:
            text.append("  ")
        text.append(f"{PROVIDER_LABELS.get(status.source, status.source)}: ", "bold")
        text.append(status.state, STATE_STYLES.get(status.state, ""))
        if status.state == "ok":
            text.append(f" {status.candidates}", "dim")
        elif status.message:
            text.append(f" ({clip(status.message, 40)})", "dim")
    if any(s.state == "failed" for s in statuses):
        text.append("  f retries", "red")
    return text
