"""A friendly, centred note shown in place of an empty list: what is missing and what to do."""

from __future__ import annotations

from textual.widgets import Static


class EmptyState(Static):
    """Hidden until a screen has nothing to list; then it says what to do next."""

    DEFAULT_CSS = """
    EmptyState {
        display: none;
        width: 1fr;
        height: auto;
        margin: 1 2;
        padding: 1 2;
        border: round $primary;
        color: $text;
        text-align: center;
    }
    EmptyState.-shown { display: block; }
    """

    def show_message(self, message: str) -> None:
        """Show ``message`` (Textual markup) and make the note visible."""
        self.update(message)
        self.add_class("-shown")

    def hide(self) -> None:
        self.remove_class("-shown")
