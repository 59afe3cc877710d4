"""Edit a Library book: every field on one form, checked before anything is written.

Each field is one line (label, input) with its error underneath, shown inline when the value
is wrong (ISBN check digits, year range, language code, numbers); genres and tags are typed as
comma-separated lists; the description is a text area. Ctrl+s (or enter in a one-line input)
saves: the dialog closes with a ``BookEdit`` holding only the fields that changed, or stays
open with every error shown. The checks are the model's own (``data.library_models.BookEdit``),
so the dialog and the database agree on what is valid.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import ValidationError
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.widgets import Input, Label, Static, TextArea

from shelver.data.library_models import BookEdit
from shelver.data.models import Book
from shelver.screens.dialogs.library_filters import LibraryDialog

EDIT_FIELDS: dict[str, str] = {
    "title": "Title",
    "author": "Author",
    "published_year": "Year",
    "language": "Language",
    "isbn_13": "ISBN-13",
    "isbn_10": "ISBN-10",
    "publisher": "Publisher",
    "page_count": "Pages",
    "genres": "Genres",
    "tags": "Tags",
    "cover_url": "Cover URL",
}
"""One-line fields in form order (the description has its own text area)."""

LIST_FIELDS = ("genres", "tags")
NUMBER_FIELDS = ("published_year", "page_count")


def as_text(name: str, value: Any) -> str:
    """A field's value as the form shows it."""
    if value is None:
        return ""
    if name in LIST_FIELDS:
        return ", ".join(value)
    return str(value)


def parse_form(book: Book, texts: dict[str, str]) -> tuple[BookEdit | None, dict[str, str]]:
    """The edit the form describes (changed fields only), or the errors by field name."""
    errors: dict[str, str] = {}
    changes: dict[str, Any] = {}
    for name, text in texts.items():
        if text == as_text(name, getattr(book, name)):
            continue  # untouched: not written (and not re-checked)
        value: Any = text
        if name in LIST_FIELDS:
            value = [part for part in text.split(",")]
        elif name in NUMBER_FIELDS:
            stripped = text.strip()
            if not stripped:
                value = None
            else:
                try:
                    value = int(stripped)
                except ValueError:
                    errors[name] = f"a whole number, not {stripped!r}"
                    continue
        elif not text.strip():
            value = None
        changes[name] = value
    try:
        edit = BookEdit(**changes)
    except ValidationError as error:
        for problem in error.errors():
            name = str(problem["loc"][0]) if problem["loc"] else "title"
            message = str(problem["msg"]).removeprefix("Value error, ")
            errors.setdefault(name, message)
        return None, errors
    if errors:
        return None, errors
    return edit, {}


class EditDialog(LibraryDialog):
    """The form; closes with a ``BookEdit`` (possibly with no changes) or None on escape."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("ctrl+s", "save", "Save")]

    def __init__(self, book: Book) -> None:
        super().__init__()
        self.book = book

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog-frame"):
            title = self.book.title or "(untitled)"
            yield Static(Text(f"Edit “{title}”", "bold"), classes="dialog-title")
            for name, label in EDIT_FIELDS.items():
                with Horizontal(classes="edit-row"):
                    yield Label(label)
                    yield Input(
                        as_text(name, getattr(self.book, name)),
                        id=f"edit-{name}",
                        select_on_focus=False,
                        placeholder="comma-separated" if name in LIST_FIELDS else "",
                    )
                yield Static("", id=f"error-{name}", classes="edit-error")
            yield Label("Description")
            yield TextArea(self.book.description or "", id="edit-description", soft_wrap=True)
            yield Static("", id="error-description", classes="edit-error")
            yield Static(
                "ctrl+s or enter saves · tab moves · escape cancels · empty clears a field",
                classes="dialog-hint",
            )

    def texts(self) -> dict[str, str]:
        values = {name: self.query_one(f"#edit-{name}", Input).value for name in EDIT_FIELDS}
        values["description"] = self.query_one("#edit-description", TextArea).text
        return values

    def action_save(self) -> None:
        edit, errors = parse_form(self.book, self.texts())
        for error_line in self.query(".edit-error"):
            name = (error_line.id or "").removeprefix("error-")
            message = errors.get(name)
            error_line.update(Text(f"✗ {message}") if message else "")
            error_line.set_class(message is not None, "-shown")
        if edit is None:
            first = next(iter(errors))
            self.query_one(f"#edit-{first}").focus()
            return
        self.dismiss(edit)
