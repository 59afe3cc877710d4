"""A yes/no question in a small modal (the Inbox asks it before moving a book to rejected/)."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Label, Static

from shelver.screens.dialogs.base import Dialog


class ConfirmDialog(Dialog[bool]):
    """Dismisses with True for yes (y, or the yes button) and False for no (n, esc)."""

    AUTO_FOCUS = "#confirm-no"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "answer(True)", "Yes", id="confirm.yes"),
        Binding("n,escape,q", "answer(False)", "No", id="confirm.no"),
        Binding("left,right", "switch", "Switch", show=False),
    ]

    def __init__(self, title: str, message: str, *, yes: str = "Yes", no: str = "Cancel") -> None:
        super().__init__()
        self.title_text = title
        self.message = message
        self.yes = yes
        self.no = no

    def compose(self) -> ComposeResult:
        with Vertical(id="confirm-box", classes="dialog-frame"):
            yield Label(self.title_text, id="confirm-title", classes="dialog-title")
            yield Static(self.message, id="confirm-message", markup=False)
            with Horizontal(id="confirm-buttons", classes="dialog-buttons"):
                yield Button(f"{self.yes} (y)", id="confirm-yes", variant="warning")
                yield Button(f"{self.no} (n)", id="confirm-no")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "confirm-yes")

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)

    def action_switch(self) -> None:
        self.focus_next(Button)
