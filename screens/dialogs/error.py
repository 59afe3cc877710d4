"""A modal dialog that explains a failure in one readable paragraph instead of a traceback."""

from __future__ import annotations

import asyncio
import socket
from dataclasses import dataclass
from typing import ClassVar, Literal

import asyncpg
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Static

from shelver.data.db import DatabaseUnavailable, describe_connection_error
from shelver.data.migrations import MigrationError
from shelver.screens.dialogs.base import Dialog

DialogChoice = Literal["retry", "quit", "close"]


@dataclass(frozen=True)
class Failure:
    """What went wrong, said for a person."""

    title: str
    message: str
    hint: str


def describe_failure(error: BaseException) -> Failure:
    """Classify an exception raised in a worker into a title, a one-line message and a hint."""
    connection_hint = (
        "Check --database-url / SHELVER_DATABASE_URL, or run `shelver db status`. "
        "Press r to try again."
    )
    if isinstance(error, DatabaseUnavailable | MigrationError):
        return Failure("Cannot open the database", str(error), connection_hint)
    if isinstance(error, asyncpg.PostgresError | asyncpg.InterfaceError):
        return Failure("Database error", describe_connection_error(error), connection_hint)
    if isinstance(error, ConnectionError | asyncio.TimeoutError | socket.gaierror):
        return Failure(
            "Cannot reach the database", describe_connection_error(error), connection_hint
        )
    if isinstance(error, OSError):
        where = f" ({error.filename})" if error.filename else ""
        return Failure(
            "File system error",
            f"{error.strerror or error}{where}",
            "Check the path and its permissions, then try again.",
        )
    return Failure(
        "Something went wrong",
        f"{type(error).__name__}: {error}",
        "Press r to try again. The details are in the home's logs/tui-errors.log.",
    )


class ErrorDialog(Dialog[DialogChoice]):
    """Shows a `Failure`; dismisses with "retry", "quit" or "close"."""

    AUTO_FOCUS = "#retry"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("r", "choose('retry')", "Retry", id="error.retry"),
        Binding("escape", "choose('close')", "Close", id="error.close"),
        Binding("q", "choose('quit')", "Quit", id="error.quit"),
    ]

    def __init__(self, failure: Failure) -> None:
        super().__init__(classes="error-dialog")
        self.failure = failure

    def compose(self) -> ComposeResult:
        with Vertical(id="error-box", classes="dialog-frame"):
            yield Static(self.failure.title, id="error-title", classes="dialog-title")
            yield Static(self.failure.message, id="error-message", markup=False)
            yield Static(self.failure.hint, id="error-hint", markup=False, classes="dialog-hint")
            with Horizontal(id="error-buttons", classes="dialog-buttons"):
                yield Button("Retry", id="retry", variant="primary")
                yield Button("Close", id="close")
                yield Button("Quit", id="quit", variant="error")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id)  # type: ignore[arg-type]

    def action_choose(self, choice: DialogChoice) -> None:
        self.dismiss(choice)
