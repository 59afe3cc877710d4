"""Review: one book at a time, its current fields beside what the file and each provider say.

What is on screen is derived from the database: every load rebuilds the queue from it (a resize
only lays the grid out again), and every decision names the book shown, its version and the
values shown, so the data layer refuses one that no longer matches (another window decided it,
something edited it). The pieces: ``data.review_queue`` (the queue, no UI), ``data.review_state``
(the choices for one book), ``widgets.review_grid`` (the comparison), ``screens.dialogs.review``.

* enter / space takes the source under the cursor for this field, ``1``..``9`` source N, and
  shift+digit (or ``t`` for the column under the cursor) source N for every field; ``]``/``[``
  or tab page through the sources; ``L`` links the book to a Hardcover candidate explicitly;
* ``e`` edits the field by hand, ``/`` searches the providers with your own words, ``f``
  fetches candidates again (each provider's outcome stays visible; ``f`` again retries);
* ``a`` approves, ``x`` rejects (the file goes to rejected/ with the reason, nothing deleted),
  ``u`` undoes the last approval or rejection. The next book is painted at once from a copy
  loaded ahead while the decision runs in a worker;
* a possible duplicate shows a banner; ``d`` (or ``a``) shows both copies and asks: skip, keep
  both, replace, or add as another format. The choice is applied by the approval.
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

from shelver.data import books, decisions, fetching, overview, review
from shelver.data.db import Database
from shelver.data.models import Book, BookFile
from shelver.data.organize import library_root
from shelver.data.review import DuplicateAction, ReviewError, ReviewItem, StaleBook
from shelver.data.review_queue import ReviewQueue
from shelver.data.review_state import (
    CURRENT,
    EDITED,
    FIELD_LABELS,
    ReviewState,
    cell_text,
    has_value,
)
from shelver.screens.base import PAGE_SIZE, ShelverScreen
from shelver.screens.dialogs.review import (
    Copy,
    DuplicateDialog,
    Edited,
    FieldEditor,
    SearchDialog,
)
from shelver.screens.styles import stylesheet
from shelver.widgets.format import clip
from shelver.widgets.review_cover import CoverView
from shelver.widgets.review_grid import STRENGTH_STYLES, ReviewGrid

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
BOOK_ACTIONS = {
    "approve", "reject", "edit", "search", "fetch", "step", "pick", "pick_all", "pick_here",
    "pick_all_here", "page", "link",
}  # fmt: skip
DUPLICATE_WORDS = {
    DuplicateAction.SKIP: "skip: this file goes to rejected/",
    DuplicateAction.KEEP_BOTH: "keep both",
    DuplicateAction.REPLACE: "replace the other book",
    DuplicateAction.ADD_FORMAT: "add as another format of the other book",
}
EMPTY_MESSAGE = (
    "[b]Nothing to review.[/b]\n\n"
    "Fetch metadata for inbox books with [b]f[/b] on the Inbox ([b]i[/b]) or "
    "[b]shelver fetch[/b]."
)


@dataclass
class ReviewView:
    """What a load found: the books waiting (oldest first), how many, and the one to show."""

    waiting: list[UUID]
    total: int
    item: ReviewItem | None = None


@dataclass
class Undoable:
    """The last decision made on this screen, as ``u`` takes it back."""

    kind: str
    """``approve``, ``reject`` or ``add_format``."""
    before: Book
    files: list[BookFile]
    version: Any = None
    """``updated_at`` of the approved book, or of the book the file was added to (an undo is
    refused if it changed since)."""
    into: UUID | None = None
    """``add_format``: the book the files joined."""


@dataclass
class Busy:
    """Work running in the background, shown beside the progress bar."""

    labels: dict[str, str] = field(default_factory=dict)


class ReviewScreen(ShelverScreen):
    """The review queue, one book at a time, with everything needed to decide."""

    MODE = "review"
    TITLE = "Review"
    CSS_PATH = stylesheet(__file__, "review.tcss")
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("a", "approve", "Approve", id="review.approve"),
        Binding("x", "reject", "Reject", id="review.reject"),
        Binding("u", "undo", "Undo", id="review.undo"),
        Binding("e", "edit", "Edit", id="review.edit"),
        Binding("slash", "search", "Search", id="review.search"),
        Binding("f", "fetch", "Fetch", id="review.fetch"),
        Binding("d", "duplicate", "Duplicate", id="review.duplicate"),
        Binding("n", "step(1)", "Next", id="review.next"),
        Binding("b", "step(-1)", "Previous book", id="review.back", show=False),
        Binding("right_square_bracket", "page(1)", "More sources", id="review.page", show=False),
        Binding("left_square_bracket", "page(-1)", "Sources before", show=False),
        Binding("tab", "page(1)", "Next page of sources", show=False),
        Binding("space", "pick_here", "Take this value", id="review.pick", show=False),
        Binding("t", "pick_all_here", "Take the column", id="review.take_all", show=False),
        Binding("L", "link", "Link to this Hardcover candidate", id="review.link", show=False),
        Binding("shift+down", "scroll_detail(1)", "Scroll the detail", show=False),
        Binding("shift+up", "scroll_detail(-1)", "Scroll the detail back", show=False),
        *(Binding(str(n), f"pick({n})", f"Take source {n}", show=False) for n in range(1, 10)),
        *(
            Binding(key, f"pick_all({n})", f"Source {n} for every field", show=False)
            for n, key in enumerate(SHIFTED_DIGITS, start=1)
        ),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.queue = ReviewQueue()
        self.state: ReviewState | None = None
        self.duplicate_choice: DuplicateAction | None = None
        self.last: Undoable | None = None
        self._busy = Busy()
        self._note: Text | None = None
        self._own_dialog = False
        self._keys_shown: tuple[bool, ...] | None = None

    def compose_body(self) -> ComposeResult:
        yield Static(id="review-book", classes="subheading")
        yield Static(id="review-duplicate", classes="banner -warning")
        yield ReviewGrid(id="review-grid")
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
    def grid(self) -> ReviewGrid:
        return self.query_one("#review-grid", ReviewGrid)

    @property
    def table(self) -> DataTable:
        return self.grid

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "duplicate":  # only a flagged book has the duplicate choice
            return self.state is not None and self.state.item.duplicate_of is not None
        if action == "undo":
            return self.last is not None
        if action in BOOK_ACTIONS:  # nothing to act on in the empty state: keys hidden
            return self.state is not None
        return True

    def refresh_keys(self) -> None:
        """Show the keys that apply now; only when that changed, because the footer lays
        itself out again on every refresh (tens of ms: most of a decision's paint)."""
        keys = (
            self.state is None,
            self.state is not None and self.state.item.duplicate_of is not None,
            self.last is not None,
        )
        if keys != self._keys_shown:
            self._keys_shown = keys
            self.refresh_bindings()

    # Loading ------------------------------------------------------------------------------

    def open_book(self, book_id: UUID) -> None:
        """Show ``book_id`` now, wherever it is in the queue (or not yet in it: an inbox book
        can be reviewed on its file's own metadata and approved as it is)."""
        self.queue.opened = book_id
        self.reload()

    def on_screen_resume(self) -> None:
        if self._own_dialog:  # back from an edit or search: nothing changed underneath
            self._own_dialog = False
            return
        super().on_screen_resume()

    def relayout(self) -> None:
        """A resize lays the grid out again; what is shown stays exactly as it is."""
        if self.state is not None:
            self.grid.repaint()
            self.show_detail()

    def _looking_at(self) -> UUID | None:
        return self.state.item.book.id if self.state is not None else self.queue.current

    async def fetch(self, database: Database) -> ReviewView:
        counts, waiting = await asyncio.gather(
            books.count_by_status(database.pool),
            overview.review_queue(database.pool, limit=PAGE_SIZE),
        )
        ids = [row.id for row in waiting]
        probe = ReviewQueue(
            position=self.queue.position, pending=set(self.queue.pending), opened=self.queue.opened
        )
        probe.load(ids, counts.review, looking_at=self._looking_at())
        item = await review.load_item(database.pool, probe.current) if probe.current else None
        return ReviewView(waiting=ids, total=counts.review, item=item)

    def present(self, view: ReviewView) -> None:
        self._shown = None  # never laid out again from this snapshot: the queue moves on
        self.queue.load(view.waiting, view.total, looking_at=self._looking_at())
        if view.item is not None and view.item.book.id == self.queue.current:
            self.queue.remember(view.item)
        self.show_position(after_load=True)

    def show_nothing(self) -> None:
        self.state = None
        self.duplicate_choice = None
        self.set_heading("nothing waiting")
        self.query_one("#review-book", Static).update("")
        self.query_one("#review-duplicate", Static).display = False
        self.grid.state = None
        self.grid.clear(columns=True)
        self.show_empty(EMPTY_MESSAGE)
        self.show_status()
        self.refresh_keys()

    def show_item(self, item: ReviewItem) -> None:
        """Paint one book (keeping picks and edits when it is the same book again)."""
        self.show_empty(None)
        same = self.state is not None and self.state.item.book.id == item.book.id
        previous = self.state if same else None
        if not same:
            self.duplicate_choice = None
            if self.state is not None:
                self._note = None  # a note was about the book before
        self.state = ReviewState.from_item(item, previous)
        self.show_heading()
        self.show_book()
        self.refresh_keys()
        self.grid.show(self.state, keep_cursor=same)
        if self.focused is None or isinstance(self.focused, DataTable):
            self.grid.focus()
        self.show_detail()
        self.show_status()
        self.call_after_refresh(self.prefetch_next)  # after the paint, which it would delay

    def show_heading(self) -> None:
        detail = Text(f"{self.queue.total:,} waiting")
        if self.queue.ids:
            detail.append(f" · book {self.queue.position + 1} of {self.queue.total:,}", "dim")
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
        if item.statuses and not any(c.candidate.source != "file" for c in item.candidates):
            line.append("  no match: a approves as is, / searches", "yellow")
        self.query_one("#review-book", Static).update(line)
        banner = self.query_one("#review-duplicate", Static)
        other = item.duplicate_of
        banner.display = other is not None
        if other is not None:
            text = Text(
                f"⚠ May duplicate “{clip(other.title, 30)}” ({other.status.value}, "
                f"{other.published_year or 'year unknown'})"
            )
            if self.duplicate_choice is None:
                text.append("  d decides", "bold")
            else:
                text.append(f"  → {DUPLICATE_WORDS[self.duplicate_choice]}; a applies", "bold")
            banner.update(text)

    # The grid -----------------------------------------------------------------------------

    def cursor_field(self) -> tuple[str, int]:
        """(field, source index) under the cursor."""
        return self.grid.cursor_source()

    @on(DataTable.CellHighlighted, "#review-grid")
    def _highlighted(self) -> None:
        self.show_detail()

    @on(DataTable.CellSelected, "#review-grid")
    def _selected(self, event: DataTable.CellSelected) -> None:
        event.stop()
        self.action_pick_here()

    def show_detail(self) -> None:
        """The cell under the cursor in full (descriptions scroll) with its source and
        confidence, or the cover."""
        state = self.state
        if state is None or self.grid.row_count == 0:
            return
        name, index = self.cursor_field()
        source = state.sources[index]
        value = source.values.get(name)
        chosen = state.chosen_key(name) == source.key
        text = Text(f"{FIELD_LABELS[name]} · {index + 1} {source.long}", "bold")
        if source.confidence is not None and source.strength is not None:
            text.append(f" · {source.confidence * 100:.0f}% ", "dim")
            text.append(source.strength.value, STRENGTH_STYLES[source.strength])
        if state.linked == source.key:
            text.append(" · linked", "green")
        if chosen:
            text.append(" · chosen ✓", "green")
        elif has_value(value) or source.key == CURRENT:
            text.append(" · enter takes it", "dim")
        if self.grid.page_label:
            text.append(f" · {self.grid.page_label}, ] more", "dim")
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
                text = Text("shift+↓ scrolls · ", "dim") + text  # more than the area shows
        self.query_one("#review-detail-title", Static).update(text)
        area.scroll_home(animate=False)

    def action_scroll_detail(self, lines: int) -> None:
        self.query_one("#review-detail", VerticalScroll).scroll_relative(y=lines * 3, animate=False)

    def action_page(self, delta: int) -> None:
        if self.state is not None:
            self.grid.page(delta)
            self.show_detail()

    # Picking ------------------------------------------------------------------------------

    def _after_pick(self, problem: str | None = None) -> None:
        if problem:
            self.note(Text(f"✗ {problem}", "red"))
        self.grid.repaint()
        self.show_detail()

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
        self._after_pick()

    def action_pick_all_here(self) -> None:
        if self.state is not None:
            _, index = self.cursor_field()
            self.action_pick_all(index + 1)

    def action_link(self) -> None:
        state = self.state
        if state is None:
            return
        _, index = self.cursor_field()
        problem = state.link(index)
        if problem is None:
            source = state.sources[index]
            word = "linked to" if state.linked else "no longer linked to"
            self.note(Text(f"The book is {word} {source.long}", "green"))
        self._after_pick(problem)

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
                # Show the value where it went: the "Yours" column, chosen.
                yours = next(i for i, s in enumerate(state.sources) if s.key == EDITED)
                self.grid.repaint(source=yours)
                self.show_detail()

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

    def action_duplicate(self, then_approve: bool = False) -> None:
        state = self.state
        if state is None or state.item.duplicate_of is None:
            self.note(Text("This book is not flagged as a possible duplicate.", "dim"))
            return
        item = state.item
        assert item.duplicate_of is not None

        def done(action: DuplicateAction | None) -> None:
            if action is None or self.state is not state:
                return
            self.duplicate_choice = action
            self.show_book()
            if then_approve:
                self.approve_current(action)
            else:
                self.note(Text(f"Duplicate: {DUPLICATE_WORDS[action]}; a applies it", "dim"))

        self._open(
            DuplicateDialog(
                Copy(item.book, item.files),
                Copy(item.duplicate_of, item.duplicate_files),
                library_root(self.shelver.home, self.shelver.settings),
            ),
            done,
        )

    # Deciding -----------------------------------------------------------------------------

    def action_approve(self) -> None:
        state = self.state
        if state is None:
            return
        if state.item.duplicate_of is not None and self.duplicate_choice is None:
            self.action_duplicate(then_approve=True)
            return
        self.approve_current(self.duplicate_choice)

    def approve_current(self, action: DuplicateAction | None) -> None:
        """Paint the next book at once; approve this one (as shown) in a worker."""
        state = self.state
        assert state is not None
        decision = state.decision()
        self._leave(decision.book_id)
        # The decision starts once the next book is painted: its work would delay the paint.
        self.call_after_refresh(self.run_approval, state.item, decision, action)

    def action_reject(self) -> None:
        state = self.state
        if state is None:
            return
        item = state.item
        self._leave(item.book.id)
        self.call_after_refresh(self.run_rejection, item)

    def _leave(self, book_id: UUID) -> None:
        """A decision on the book shown started: the next one is shown at once."""
        self.queue.take(book_id)
        self.state = None
        self._note = None  # the decision's own note follows when it is done
        self.show_position()

    @work(group="decide", exit_on_error=False)
    async def run_approval(
        self, item: ReviewItem, decision: Any, action: DuplicateAction | None
    ) -> None:
        shelver = self.shelver
        title = clip(decision.title, 40)
        key = f"approve {decision.book_id}"
        self.busy(key, f"approving “{clip(decision.title, 30)}”")
        try:
            database = await shelver.wait_for_database()
            approved = await review.approve(
                database,
                shelver.home,
                shelver.settings,
                decision.book_id,
                decision.values,
                decision.used,
                duplicate=action,
                expected_version=decision.version,
                title=decision.title,
                link_candidate=decision.link,
            )
        except ReviewError as error:
            self._decision_failed(decision.book_id, error, f"Could not approve “{title}”")
            return
        except BaseException:
            self._put_back(decision.book_id)  # the app's dialog says why
            raise
        finally:
            self.queue.settle(decision.book_id)
            self.busy(key, None)
        if action is DuplicateAction.SKIP:
            self.last = Undoable("reject", item.book, item.files)
            self.note(Text(f"“{title}” set aside in rejected/ · u undoes", "dim"))
        elif action is DuplicateAction.ADD_FORMAT:
            self.last = Undoable(
                "add_format", item.book, item.files, approved.updated_at, into=approved.id
            )
            self.note(
                Text(f"✓ “{title}” added to “{clip(approved.title, 30)}” · u undoes", "green")
            )
        else:
            self.last = Undoable("approve", item.book, item.files, approved.updated_at)
            self.note(Text(f"✓ “{title}” filed in the library · u undoes", "green"))
        self.refresh_keys()

    @work(group="decide", exit_on_error=False)
    async def run_rejection(self, item: ReviewItem) -> None:
        shelver = self.shelver
        title = clip(item.book.title or "untitled", 40)
        key = f"reject {item.book.id}"
        self.busy(key, f"rejecting “{clip(title, 30)}”")
        try:
            database = await shelver.wait_for_database()
            await decisions.reject(
                database,
                shelver.home,
                item.book.id,
                "rejected during review",
                expected_version=item.book.updated_at,
                title=item.book.title,
            )
        except ReviewError as error:
            self._decision_failed(item.book.id, error, f"Could not reject “{title}”")
            return
        except BaseException:
            self._put_back(item.book.id)
            raise
        finally:
            self.queue.settle(item.book.id)
            self.busy(key, None)
        self.last = Undoable("reject", item.book, item.files)
        self.note(Text(f"“{title}” set aside in rejected/ · u undoes", "dim"))
        self.refresh_keys()

    def _decision_failed(self, book_id: UUID, error: ReviewError, what: str) -> None:
        if isinstance(error, StaleBook):
            # Decided or changed elsewhere: show the database's state, never retry blindly.
            self.note(Text(f"✗ {error}", "red"))
            self.reload()
            return
        self._put_back(book_id)
        self.note(Text(f"✗ {what}: {error}", "red"))

    def _put_back(self, book_id: UUID) -> None:
        """A book whose decision failed goes to the end of the queue."""
        self.queue.put_back(book_id)
        if self.state is None:
            self.show_position()
        else:
            self.show_heading()

    def action_undo(self) -> None:
        last = self.last
        if last is None:
            self.note(Text("Nothing to undo", "dim"))
            return
        self.last = None
        self.refresh_keys()
        self.run_undo(last)

    @work(group="decide", exit_on_error=False)
    async def run_undo(self, last: Undoable) -> None:
        shelver = self.shelver
        title = clip(last.before.title or "untitled", 40)
        self.busy("undo", f"undoing “{clip(title, 30)}”")
        try:
            database = await shelver.wait_for_database()
            if last.kind == "approve":
                await decisions.undo_approval(
                    database, shelver.home, last.before, last.files, approved_version=last.version
                )
            elif last.kind == "add_format":
                assert last.into is not None
                await decisions.undo_add_format(
                    database,
                    shelver.home,
                    last.before,
                    last.files,
                    into=last.into,
                    into_version=last.version,
                )
            else:
                await decisions.restore_rejected(database, shelver.home, last.before.id)
        except ReviewError as error:
            self.note(Text(f"✗ Could not undo “{title}”: {error}", "red"))
            return
        finally:
            self.busy("undo", None)
        self.note(Text(f"↶ “{title}” is back for review", "green"))
        self.queue.put_back(last.before.id, first=True)
        self.state = None
        self.show_position()

    # Moving through the queue -------------------------------------------------------------

    def action_step(self, delta: int) -> None:
        if self.queue.ids:
            self.queue.step(delta)
            self.show_position()

    def show_position(self, *, after_load: bool = False) -> None:
        """Show the current book of the queue: from the copy loaded ahead when there is one."""
        book_id = self.queue.current
        if book_id is None:
            self.show_nothing()
            if not after_load and not self.queue.pending:
                self.reload()  # more may wait beyond the first page
            return
        item = self.queue.cache.get(book_id)
        if item is not None:
            self.show_item(item)
        else:
            self.load_book(book_id)

    @work(exclusive=True, group="load-book", exit_on_error=False)
    async def load_book(self, book_id: UUID) -> None:
        database = await self.shelver.wait_for_database()
        item = await review.load_item(database.pool, book_id)
        if item is None or (
            item.book.status.value not in ("review", "inbox")
            or (item.book.status.value == "inbox" and book_id != self.queue.opened)
        ):
            self.queue.drop(book_id)  # decided or deleted elsewhere
            self.show_position()
            return
        self.queue.remember(item)
        if self.queue.current == book_id:
            self.show_item(item)

    def prefetch_next(self) -> None:
        following = self.queue.following
        if following is not None and following not in self.queue.cache:
            self.prefetch(following)

    @work(exclusive=True, group="prefetch", exit_on_error=False)
    async def prefetch(self, book_id: UUID) -> None:
        database = await self.shelver.wait_for_database()
        item = await review.load_item(database.pool, book_id)
        if item is not None and book_id in self.queue.ids:
            self.queue.remember(item)

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
        found = sum(b.candidates for b in report.books)
        summary = Text(f"Fetched: {found} candidate{'s' * (found != 1)}", "green" if found else "")
        for outcome in report.books:
            for source in outcome.sources:
                if source.state == "failed":
                    summary.append(f" · {source.message}", "red")
        if report.failed:
            summary.append(" · f retries", "red")
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
        if book_id in self.queue.ids:
            self.queue.remember(item)
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


def fetch_statuses(statuses: list[fetching.FetchStatus], has_candidates: bool = False) -> Text:
    """Each provider's last fetch for the book: ok / empty / failed / skipped and why."""
    text = Text()
    if not statuses:
        if has_candidates:
            text.append("Candidates from an earlier fetch · f fetches again", "dim")
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
