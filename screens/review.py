"""Review: the queue of books whose metadata awaits a decision, one book at a time, its
current fields beside what the file and each provider say.

Picking fields, editing and approving come with the full review screen (issue 4); this shows
the queue and the side-by-side comparison, and steps through the queue with n / b."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any, ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import DataTable, Static

from data import books, overview
from data.db import Database
from data.models import Book, BookListRow, Candidate
from screens.base import PAGE_SIZE, ShelverScreen
from widgets.format import clip

# (field of BookFields, label), in the order the review table lists them.
REVIEW_FIELDS: tuple[tuple[str, str], ...] = (
    ("title", "Title"),
    ("author", "Author"),
    ("isbn_13", "ISBN-13"),
    ("isbn_10", "ISBN-10"),
    ("publisher", "Publisher"),
    ("published_year", "Year"),
    ("language", "Language"),
    ("description", "Descr."),
    ("page_count", "Pages"),
    ("genres", "Genres"),
    ("tags", "Tags"),
    ("cover_url", "Cover"),
)
FIELD_COLUMN_WIDTH = 9
SOURCE_LABELS = {"file": "File", "google_books": "Google", "hardcover": "Hardcover"}


@dataclass(frozen=True)
class ReviewBook:
    """One book of the queue with everything the comparison needs."""

    book: Book
    candidates: list[Candidate]
    duplicate_of: Book | None = None


@dataclass
class ReviewView:
    queue: list[BookListRow]
    total: int
    current: ReviewBook | None = None
    position: int = 0


def cell_text(value: Any) -> str | None:
    """A field's value as one line of text (lists joined), or None when absent."""
    if value is None or value == "" or value == []:
        return None
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return str(value)


def source_label(candidate: Candidate, width: int) -> Text:
    """A column header: the source's short name and, for providers, its confidence."""
    name = SOURCE_LABELS.get(candidate.source, candidate.source)
    if candidate.source == "file":
        return Text(clip(name, width))
    percent = f" {float(candidate.confidence) * 100:.0f}%"
    label = Text(clip(name, width - len(percent)))
    label.append(percent, "dim")
    return label


class ReviewScreen(ShelverScreen):
    """The review queue with the first (or chosen) book's sources side by side."""

    MODE = "review"
    TITLE = "Review"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("n", "step(1)", "Next", id="review.next"),
        Binding("b", "step(-1)", "Prev", id="review.back"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.view: ReviewView | None = None

    def compose_body(self) -> ComposeResult:
        yield Static(id="review-book", classes="subheading")
        yield Static(id="review-duplicate", classes="banner -warning")
        yield DataTable(id="review-table", cursor_type="row", zebra_stripes=True)

    async def fetch(self, database: Database) -> ReviewView:
        counts, queue = await asyncio.gather(
            books.count_by_status(database.pool),
            overview.review_queue(database.pool, limit=PAGE_SIZE),
        )
        position = 0
        if self.view and self.view.current:
            # Stay on the book being looked at when it is still in the queue.
            ids = [row.id for row in queue]
            if self.view.current.book.id in ids:
                position = ids.index(self.view.current.book.id)
        current = await load_review_book(database, queue[position]) if queue else None
        return ReviewView(queue=queue, total=counts.review, current=current, position=position)

    def present(self, view: ReviewView) -> None:
        self.view = view
        if view.current is None:
            self.set_heading("nothing waiting")
            self.query_one("#review-book", Static).update("")
            self.query_one("#review-duplicate", Static).display = False
            self.query_one("#review-table", DataTable).clear(columns=True)
            self.show_empty(
                "[b]Nothing to review.[/b]\n\n"
                "Books land here once metadata has been fetched for them:\n"
                "run [b]shelver fetch[/b] for the books in the Inbox ([b]i[/b])."
            )
            return
        self.show_empty(None)
        detail = Text(f"{view.total:,} waiting")
        detail.append(f" · book {view.position + 1} of {view.total:,}", "dim")
        self.set_heading(detail)
        self.show_book(view.current)

    def show_book(self, current: ReviewBook) -> None:
        book = current.book
        line = Text(clip(book.title or "(untitled)", 44), style="bold")
        line.append(f"  {clip(book.author, 26)}", "italic")
        self.query_one("#review-book", Static).update(line)
        banner = self.query_one("#review-duplicate", Static)
        banner.display = current.duplicate_of is not None
        if current.duplicate_of is not None:
            other = current.duplicate_of
            banner.update(
                Text(
                    f"⚠ May duplicate “{clip(other.title, 34)}” ({other.status.value}, "
                    f"{other.published_year or 'year unknown'})"
                )
            )

        table = self.query_one("#review-table", DataTable)
        table.clear(columns=True)
        sources = current.candidates
        spare = self.size.width - FIELD_COLUMN_WIDTH - 2 * table.cell_padding * (len(sources) + 2)
        width = max(8, (spare - 2) // (len(sources) + 1))
        table.add_column("Field", key="field", width=FIELD_COLUMN_WIDTH)
        table.add_column("Current", key="current", width=width)
        for candidate in sources:
            table.add_column(source_label(candidate, width), key=f"c:{candidate.id}", width=width)
        for name, label in REVIEW_FIELDS:
            current_value = cell_text(getattr(book, name))
            cells: list[Text | str] = [
                Text(label, style="bold"),
                Text(clip(current_value, width)) if current_value else Text("—", "dim"),
            ]
            for candidate in sources:
                value = cell_text(candidate.normalized.get(name))
                if value is None:
                    cells.append(Text("—", "dim"))
                elif value != current_value:
                    cells.append(Text(clip(value, width), style="bold yellow"))  # differs
                else:
                    cells.append(Text(clip(value, width)))
            table.add_row(*cells, key=name)
        if self.focused is None:
            table.focus()

    def action_step(self, delta: int) -> None:
        view = self.view
        if view is None or not view.queue:
            return
        position = (view.position + delta) % len(view.queue)
        self.load_position(position)

    @work(exclusive=True, group="load", exit_on_error=False)
    async def load_position(self, position: int) -> None:
        assert self.view is not None
        database = await self.shelver.wait_for_database()
        current = await load_review_book(database, self.view.queue[position])
        self.present(
            ReviewView(self.view.queue, self.view.total, current=current, position=position)
        )


async def load_review_book(database: Database, row: BookListRow) -> ReviewBook | None:
    """The book, its candidates and the book it may duplicate."""
    book, candidates = await asyncio.gather(
        books.get(database.pool, row.id), books.candidates_of(database.pool, row.id)
    )
    if book is None:  # approved or deleted since the queue was read
        return None
    duplicate = None
    if book.possible_duplicate_of is not None:
        duplicate = await books.get(database.pool, book.possible_duplicate_of)
    return ReviewBook(book, candidates, duplicate)
