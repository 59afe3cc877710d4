"""The Review screen's dialogs: edit one field by hand, search with your own words, and decide
what to do with a possible duplicate. Keys typed into their inputs never reach the screen."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Static, TextArea

from shelver.data.review import DuplicateAction
from shelver.widgets.review_model import FIELD_LABELS, HINTS, format_for_edit, parse_field

DIALOG_CSS = """
ReviewDialog {
    align: center middle;
    background: $background 60%;
}
ReviewDialog > Vertical {
    width: 72;
    max-width: 100%;
    height: auto;
    max-height: 100%;
    padding: 1 2;
    border: thick $primary;
    background: $surface;
}
ReviewDialog .dialog-title { text-style: bold; margin-bottom: 1; }
ReviewDialog .dialog-hint { color: $text-muted; }
ReviewDialog .dialog-error { color: $error; height: auto; }
ReviewDialog Input { margin: 0 0 1 0; }
ReviewDialog TextArea { height: 10; margin: 0 0 1 0; }
ReviewDialog Horizontal { height: auto; margin-top: 1; align-horizontal: right; }
ReviewDialog Button { margin-left: 1; min-width: 10; }
"""


class ReviewDialog(ModalScreen[Any]):
    """Shared look; escape closes without an answer."""

    DEFAULT_CSS = DIALOG_CSS
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    def action_cancel(self) -> None:
        self.dismiss(None)


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
        with Vertical():
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
        with Vertical():
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


class DuplicateDialog(ReviewDialog):
    """A flagged book: keep both, replace the older one (its files go to rejected/), or leave
    this one in the inbox."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("k", "choose('keep_both')", "Keep both"),
        Binding("x", "choose('replace')", "Replace"),
        Binding("s", "choose('skip')", "Leave in inbox"),
    ]

    def __init__(self, message: str) -> None:
        super().__init__()
        self.message = message

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static("Possible duplicate", classes="dialog-title")
            yield Static(self.message)
            yield Static(
                "Replace moves the other book's files to rejected/ (never deleted).",
                classes="dialog-hint",
            )
            with Horizontal():
                yield Button("k Keep both", id="keep_both", variant="primary")
                yield Button("x Replace", id="replace", variant="warning")
                yield Button("s Leave in inbox", id="skip")

    @on(Button.Pressed)
    def pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.action_choose(str(event.button.id))

    def action_choose(self, action: str) -> None:
        self.dismiss(DuplicateAction(action))
