"""The Library's active filters as chips: one focusable chip per filter, cleared from the keys.

Tab reaches the chips; backspace or delete on a focused chip clears that filter (the bar posts
``ChipCleared`` and the screen drops it). The bar hides itself while no filter is set.
"""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.message import Message
from textual.widgets import Static

from shelver.data.library_models import LibraryFilters

FILTER_LABELS: dict[str, str] = {
    "author": "author",
    "genre": "genre",
    "tag": "tag",
    "language": "language",
    "format": "format",
    "reading": "reading",
}
"""The filters in the order chips and the filter dialog show them."""


def chip_text(field: str, value: object) -> Text:
    text = Text(f"{FILTER_LABELS[field]}: ", "dim")
    text.append(str(getattr(value, "value", value)), "bold")
    text.append(" ✕", "dim")
    return text


class FilterChip(Static, can_focus=True):
    """One active filter; backspace or delete clears it."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("backspace,delete", "clear", "Clear filter", id="library_chip.clear"),
    ]

    DEFAULT_CSS = """
    FilterChip {
        width: auto;
        height: 1;
        padding: 0 1;
        margin-right: 1;
        background: $boost;
    }
    FilterChip:focus { background: $accent; color: $text; }
    """

    class Cleared(Message):
        """The chip for ``field`` asked to be cleared."""

        def __init__(self, field: str) -> None:
            super().__init__()
            self.field = field

    def __init__(self, field: str, value: object) -> None:
        super().__init__(chip_text(field, value), classes="filter-chip")
        self.field = field

    def action_clear(self) -> None:
        self.post_message(self.Cleared(self.field))


class FilterChips(Horizontal):
    """The bar of chips for the active filters."""

    DEFAULT_CSS = """
    FilterChips { height: 1; display: none; padding: 0 1; }
    FilterChips.-active { display: block; }
    FilterChips .chips-hint { width: auto; color: $text-muted; }
    """

    def compose(self) -> ComposeResult:
        yield from ()

    async def show(self, filters: LibraryFilters) -> None:
        """Show one chip per set filter (and nothing, hidden, when none is set)."""
        await self.remove_children()
        values = filters.model_dump()
        chips = [FilterChip(f, values[f]) for f in FILTER_LABELS if values[f] is not None]
        if chips:
            hint = Static(Text("x clears all", "dim"), classes="chips-hint")
            await self.mount_all([*chips, hint])
        self.set_class(bool(chips), "-active")

    @property
    def fields(self) -> list[str]:
        return [chip.field for chip in self.query(FilterChip)]
