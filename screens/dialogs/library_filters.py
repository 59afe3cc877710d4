"""The Library's small dialogs: choose filters, and add or remove tags on many books.

Both are keyboard-only: tab moves between inputs, enter applies, escape cancels. Keys typed
into their inputs never reach the screen underneath.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import ClassVar

from pydantic import ValidationError
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.suggester import SuggestFromList
from textual.widgets import Input, Label, Static

from shelver.data.library_models import LibraryFilters, ReadingFilter
from shelver.data.validation import clean_terms
from shelver.screens.dialogs.base import Dialog
from shelver.widgets.library_chips import FILTER_LABELS


class LibraryDialog(Dialog[object]):
    """A form: enter or ctrl+s applies, escape closes without an answer."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("ctrl+s", "save", "Apply")]

    def action_save(self) -> None:
        """Check the inputs and close with the answer (subclasses)."""

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_save()


READING_CHOICES = [choice.value for choice in ReadingFilter]
READING_HINT = "unread·reading·finished·never-read·last-week/month/year·over-1h…"
"""The choices in the width of the input at 80 columns (over-1h… is over-1h, over-5h and
over-20h; the start is typed, → completes; a wrong value lists them all)."""


class FilterDialog(LibraryDialog):
    """All six filters at once, filled with the ones in force; empty inputs drop a filter.

    Each input suggests values from the book under the cursor (→ accepts), so "books by this
    author" or "in this genre" is a couple of keys away."""

    def __init__(
        self, filters: LibraryFilters, suggestions: Mapping[str, Sequence[str]] | None = None
    ) -> None:
        super().__init__()
        self.filters = filters
        self.suggestions = dict(suggestions or {})
        self.suggestions["reading"] = READING_CHOICES

    def compose(self) -> ComposeResult:
        values = self.filters.model_dump()
        with Vertical(classes="dialog-frame"):
            yield Static("Filter the library", classes="dialog-title")
            for field, label in FILTER_LABELS.items():
                value = values[field]
                yield Label(label.title())
                yield Input(
                    "" if value is None else str(getattr(value, "value", value)),
                    id=f"filter-{field}",
                    placeholder=self._placeholder(field),
                    suggester=SuggestFromList(self.suggestions.get(field, []), case_sensitive=False)
                    if self.suggestions.get(field)
                    else None,
                )
            yield Static("", id="filter-error", classes="dialog-error")
            yield Static(
                "type a value's start, → completes it · enter applies · empty drops a filter"
                " · escape cancels",
                classes="dialog-hint",
            )

    def _placeholder(self, field: str) -> str:
        if field == "reading":
            return READING_HINT
        here = self.suggestions.get(field)
        return f"any · this book: {', '.join(here)}" if here else "any"

    def action_save(self) -> None:
        values = {f: self.query_one(f"#filter-{f}", Input).value for f in FILTER_LABELS}
        reading = values["reading"].strip().lower()
        if reading and reading not in READING_CHOICES:
            error = f"reading is one of {', '.join(READING_CHOICES)}"
            self.query_one("#filter-error", Static).update(Text(f"✗ {error}"))
            self.query_one("#filter-reading", Input).focus()
            return
        values["reading"] = reading or None
        try:
            self.dismiss(LibraryFilters(**values))
        except ValidationError as error:
            self.query_one("#filter-error", Static).update(Text(f"✗ {error.errors()[0]['msg']}"))


class TagsDialog(LibraryDialog):
    """Tags to add to and remove from ``count`` books, as comma-separated lists."""

    def __init__(self, count: int) -> None:
        super().__init__()
        self.count = count

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog-frame"):
            books = "1 book" if self.count == 1 else f"{self.count:,} books"
            yield Static(f"Tags of {books}", classes="dialog-title")
            yield Label("Add (comma-separated)")
            yield Input(id="tags-add", placeholder="e.g. to-read, favourite")
            yield Label("Remove (comma-separated)")
            yield Input(id="tags-remove")
            yield Static("", id="tags-error", classes="dialog-error")
            yield Static("enter applies · escape cancels", classes="dialog-hint")

    def action_save(self) -> None:
        add = clean_terms(self.query_one("#tags-add", Input).value.split(","))
        remove = clean_terms(self.query_one("#tags-remove", Input).value.split(","))
        if not add and not remove:
            self.query_one("#tags-error", Static).update(Text("✗ name a tag to add or remove"))
            return
        self.dismiss((add, remove))
