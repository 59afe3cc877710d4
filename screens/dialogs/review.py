"""The Review screen's dialogs: edit one field by hand, search with your own words, decide what
to do with a possible duplicate (the facts of both copies side by side), and the keys of a
screen (``?``). Keys typed into their inputs never reach the screen."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from rich.table import Table
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Input, Static, TextArea

from shelver.data.models import Book, BookFile
from shelver.data.review import DuplicateAction
from shelver.data.review_state import FIELD_LABELS, HINTS, format_for_edit, parse_field
from shelver.screens.dialogs.base import Dialog
from shelver.widgets.format import clip, human_size


class ReviewDialog(Dialog[Any]):
    """The Review dialogs' shared look (``dialogs.tcss``)."""


@dataclass(frozen=True)
class Edited:
    """The value typed for a field (None clears it)."""

    value: Any


class FieldEditor(ReviewDialog):
    """Edit one field; the value is checked (ISBN check digits, year, language) before it is
    accepted, and a bad one says why and stays in the input."""

    def __init__(self, name: str, value: Any) -> None:
        super().__init__()
        self.field_name = name
        self.initial = format_for_edit(value)

    BINDINGS: ClassVar[list[BindingType]] = [Binding("ctrl+s", "save", "Keep", show=False)]

    @property
    def multiline(self) -> bool:
        return self.field_name == "description"

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog-frame"):
            yield Static(f"Edit {FIELD_LABELS[self.field_name]}", classes="dialog-title")
            if self.multiline:  # paragraphs: enter starts a new line, ctrl+s keeps the text
                yield TextArea(self.initial, id="edit-text", soft_wrap=True)
                keys = "ctrl+s keeps it, escape cancels"
            else:
                yield Input(self.initial, id="edit-value", select_on_focus=False)
                keys = "enter keeps it, escape cancels, empty clears"
            yield Static("", id="edit-error", classes="dialog-error")
            hint = HINTS.get(self.field_name, "")
            yield Static(f"{hint + ' · ' if hint else ''}{keys}", classes="dialog-hint")

    @on(Input.Submitted)
    def submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.keep(event.value)

    def action_save(self) -> None:
        if self.multiline:
            self.keep(self.query_one(TextArea).text)
        else:
            self.keep(self.query_one(Input).value)

    def keep(self, text: str) -> None:
        try:
            value = parse_field(self.field_name, text)
        except ValueError as error:
            self.query_one("#edit-error", Static).update(Text(f"✗ {error}"))
            return
        self.dismiss(Edited(value))


class SearchDialog(ReviewDialog):
    """Ask for the words of a manual search (prefilled with the book's title and author)."""

    def __init__(self, initial: str) -> None:
        super().__init__()
        self.initial = initial

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog-frame"):
            yield Static("Search the providers", classes="dialog-title")
            yield Input(self.initial, id="search-text", placeholder="title, author, ISBN…")
            yield Static("", id="search-error", classes="dialog-error")
            yield Static(
                "The answers are added as candidates marked /. enter searches, escape cancels",
                classes="dialog-hint",
            )

    @on(Input.Submitted)
    def submitted(self, event: Input.Submitted) -> None:
        event.stop()
        text = " ".join(event.value.split())
        if not text:
            self.query_one("#search-error", Static).update("✗ type something to search for")
            return
        self.dismiss(text)


@dataclass(frozen=True)
class Copy:
    """One side of a duplicate decision: a book and its files."""

    book: Book
    files: list[BookFile]


def place(book_file: BookFile, library: Path | None) -> str:
    """Where a file is, as a person reads it: its folder inside the library, or the inbox."""
    if book_file.inbox_path:
        return "the inbox"
    if not book_file.storage_path:
        return "nowhere"
    folder = Path(book_file.storage_path).parent
    if library is not None and folder.is_relative_to(library):
        return f"library/{folder.relative_to(library)}"
    return str(folder)


def facts(new: Copy, old: Copy, width: int, library: Path | None = None) -> Table:
    """Both copies side by side: what a reviewer needs to choose."""
    column = max(16, (width - 14) // 2)
    table = Table(box=None, show_header=True, header_style="bold", pad_edge=False, expand=False)
    table.add_column("", style="bold", width=10, no_wrap=True)
    table.add_column("This one", width=column, no_wrap=True, overflow="ellipsis")
    table.add_column("Already there", width=column, no_wrap=True, overflow="ellipsis")

    def files_fact(copy: Copy, what: str) -> str:
        values = []
        for f in copy.files:
            if what == "format":
                values.append(f.format.upper())
            elif what == "size":
                values.append(human_size(f.file_size))
            elif what == "name":
                values.append(f.original_name)
            elif what == "where":
                values.append(place(f, library))
        return ", ".join(values) or "no file"

    rows = [
        ("Title", new.book.title or "—", old.book.title or "—"),
        ("Author", new.book.author or "—", old.book.author or "—"),
        ("Status", new.book.status.value, old.book.status.value),
        ("Format", files_fact(new, "format"), files_fact(old, "format")),
        ("Size", files_fact(new, "size"), files_fact(old, "size")),
        ("Pages", str(new.book.page_count or "—"), str(old.book.page_count or "—")),
        ("Cover", yes_no(new.book), yes_no(old.book)),
        (
            "ISBN",
            new.book.isbn_13 or new.book.isbn_10 or "—",
            old.book.isbn_13 or old.book.isbn_10 or "—",
        ),
        ("File", files_fact(new, "name"), files_fact(old, "name")),
        ("Filed in", files_fact(new, "where"), files_fact(old, "where")),
    ]
    for label, mine, theirs in rows:
        style = "yellow" if mine != theirs else ""
        table.add_row(label, Text(mine, style), Text(theirs, style))
    return table


def yes_no(book: Book) -> str:
    return "yes" if book.cover_path or book.cover_url else "no"


class DuplicateDialog(ReviewDialog):
    """A flagged book: both copies side by side and four choices. The choice is applied when
    the book is approved (``a``), not before."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("s", "choose('skip')", "Skip"),
        Binding("k", "choose('keep_both')", "Keep both"),
        Binding("x", "choose('replace')", "Replace"),
        Binding("f", "choose('add_format')", "Add as format"),
    ]

    def __init__(self, new: Copy, old: Copy, library: Path | None = None) -> None:
        super().__init__()
        self.new = new
        self.old = old
        self.library = library

    def compose(self) -> ComposeResult:
        with Vertical(id="duplicate-box", classes="dialog-frame -warning"):
            yield Static(
                f"Possible duplicate of “{clip(self.old.book.title, 40)}”", classes="dialog-title"
            )
            width = min(96, self.app.size.width - 6)
            yield Static(facts(self.new, self.old, width, self.library))
            yield Static(
                "Skip rejects this file (to rejected/, never deleted); Replace sets the other "
                "book's files aside; Add as format files this file with the other book. "
                "Applied when you approve (a).",
                classes="dialog-hint",
            )
            with Horizontal(classes="dialog-buttons"):
                yield Button("s Skip", id="skip")
                yield Button("k Keep both", id="keep_both", variant="primary")
                yield Button("x Replace", id="replace", variant="warning")
                yield Button("f Add as format", id="add_format")

    @on(Button.Pressed)
    def pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.action_choose(str(event.button.id))

    def action_choose(self, action: str) -> None:
        self.dismiss(DuplicateAction(action))
