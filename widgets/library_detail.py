"""The Library's detail pane: everything about the book under the cursor.

Title, author and facts come first, with identifiers (ISBNs), Hardcover link state, genres and
tags; then the cover (a picture where the terminal shows one, through the Review screen's
``CoverView``, always with a readable line saying what and where it is); then the files with
their paths and sizes, each device's reading position, and the description. The pane scrolls,
so a long description is read with the keys. ``describe_book`` and ``describe_files`` build
the text and hold no widget.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Static

from shelver.data.library_models import BookDetail
from shelver.data.reading_state import book_state
from shelver.widgets.format import clip, human_size
from shelver.widgets.reading_stats import describe_statistics, session_lines
from shelver.widgets.review_cover import CoverView


def _line(text: Text, label: str, value: str | Text | None) -> None:
    text.append(f"{label:<10}", "dim")
    if value is None or value == "":
        text.append("—", "dim")
    elif isinstance(value, Text):
        text.append_text(value)
    else:
        text.append(value)
    text.append("\n")


def hardcover_state(detail: BookDetail) -> Text:
    """Linked or not, with the ids and what was last synced."""
    book = detail.book
    if not detail.hardcover_linked:
        return Text("not linked", "dim")
    text = Text("linked", "green")
    ids = []
    if book.hardcover_book_id is not None:
        ids.append(f"book {book.hardcover_book_id}")
    if book.hardcover_edition_id is not None:
        ids.append(f"edition {book.hardcover_edition_id}")
    text.append(f" ({', '.join(ids)})")
    sync = detail.hardcover_sync
    if sync is not None:
        text.append(f"; synced {sync.last_synced_at:%Y-%m-%d}", "dim")
        if sync.last_status:
            text.append(f", status {sync.last_status}", "dim")
    else:
        text.append("; never synced", "dim")
    return text


def describe_book(detail: BookDetail) -> Text:
    """The top of the pane: title, author, facts, identifiers, Hardcover state, genres, tags."""
    book = detail.book
    text = Text()
    text.append(book.title or "(untitled)", "bold")
    if book.author:
        text.append(f"  {book.author}", "italic")
    text.append("\n")
    facts = [str(v) for v in (book.published_year, book.publisher, book.language) if v]
    if book.page_count:
        facts.append(f"{book.page_count} pages")
    if facts:
        text.append(" · ".join(facts), "dim")
        text.append("\n")
    text.append("\n")
    _line(text, "ISBN-13", book.isbn_13)
    _line(text, "ISBN-10", book.isbn_10)
    _line(text, "Hardcover", hardcover_state(detail))
    _line(text, "Genres", ", ".join(book.genres) if book.genres else None)
    _line(text, "Tags", ", ".join(book.tags) if book.tags else None)
    if detail.rating is not None:
        _line(text, "Rating", stars(detail.rating))
    for extra in detail.extras:
        _line(text, extra.label[:9], extra_value(extra.value))
    text.rstrip()
    return text


def stars(rating: Decimal) -> str:
    """``★★★½ 3.5`` for a 0.5-5 rating."""
    whole, half = divmod(float(rating) * 2, 2)
    return "★" * int(whole) + ("½" if half else "") + f" {float(rating):g}"


def extra_value(value: Any) -> str:
    """A kept Calibre value on one line: lists joined, a series with its number."""
    if isinstance(value, list):
        return ", ".join(extra_value(v) for v in value)
    if isinstance(value, dict) and "name" in value:
        index = value.get("index")
        return f"{value['name']} #{index:g}" if isinstance(index, int | float) else value["name"]
    if isinstance(value, bool):
        return "yes" if value else "no"
    return " ".join(str(value).split())[:200]


def describe_files(detail: BookDetail) -> Text:
    """The rest of the pane (under the cover): files, reading positions, description."""
    book = detail.book
    text = Text()
    count = len(detail.files)
    text.append(f"Files ({count}, {human_size(detail.total_size)})\n", "bold")
    for file in detail.files:
        text.append(f"  {file.format:<5}", "bold")
        text.append(f"{human_size(file.file_size):>8}  ")
        text.append(f"{file.storage_path or file.inbox_path or file.original_name}\n", "dim")
    if not detail.files:
        text.append("  no files\n", "dim")
    text.append("\n")
    text.append("Reading\n", "bold")
    for position in detail.positions:
        state = book_state(position.percentage)
        who = f"{position.login} · {position.device}" if position.login else position.device
        text.append(f"  {clip(who, 24):<16} ")
        text.append(f"{float(position.percentage) * 100:5.1f} %", "bold")
        text.append(f"  {state.value}, {position.updated_at:%Y-%m-%d %H:%M}\n", "dim")
    if not detail.positions:
        text.append("  no device has reported a position\n", "dim")
    if detail.statistics is not None:
        text.append_text(describe_statistics(detail.statistics))
        text.append_text(session_lines(detail.statistics))
    text.append("\n")
    text.append("Description\n", "bold")
    if book.description:
        text.append(book.description.strip())
    else:
        text.append("none", "dim")
    return text


class LibraryDetail(VerticalScroll, can_focus=True):
    """The scrollable pane; ``show(detail)`` fills it, ``show(None)`` says nothing is chosen."""

    DEFAULT_CSS = """
    LibraryDetail { padding: 0 1; }
    LibraryDetail Static { height: auto; }
    LibraryDetail CoverView { margin: 1 0; }
    """

    def compose(self) -> ComposeResult:
        yield Static(Text("no book chosen", "dim"), id="library-detail-text")
        yield CoverView(id="library-cover")
        yield Static(id="library-detail-more")

    def show(self, detail: BookDetail | None, *, note: str | None = None) -> None:
        text = self.query_one("#library-detail-text", Static)
        more = self.query_one("#library-detail-more", Static)
        cover = self.query_one("#library-cover", CoverView)
        if detail is None:
            cover.display = more.display = False
            self._text = Text(note or "no book chosen", "dim")
            text.update(self._text)
            return
        cover.display = more.display = True
        cover.show(detail.book.cover_path, detail.book.cover_url)
        top, rest = describe_book(detail), describe_files(detail)
        text.update(top)
        more.update(rest)
        self._text = Text("\n").join([top, rest])
        self.scroll_home(animate=False)

    @property
    def plain(self) -> str:
        """What the pane says, as plain text (for tests and the tmux check)."""
        return self._text.plain

    _text: Text = Text()
