"""Link a KoSync document to a book by hand: type to search the library, pick one."""

from __future__ import annotations

from typing import ClassVar
from uuid import UUID

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.widgets import Input, Label, OptionList, Static
from textual.widgets.option_list import Option
from textual.worker import Worker

from shelver.data import library
from shelver.data.db import Database
from shelver.data.library_models import LibraryRow
from shelver.screens.dialogs.base import Dialog
from shelver.widgets.format import clip

RESULTS = 20


def _option(row: LibraryRow) -> Option:
    title = clip(row.title or "(untitled)", 40)
    author = clip(row.author or "", 22, placeholder="")
    return Option(f"{title}  [dim]{author}[/dim]" if author else title, id=str(row.id))


class LinkBookDialog(Dialog[UUID | None]):
    """Dismisses with the chosen book's id, or None (esc). Arrows move through the results
    while the cursor stays in the search field; enter picks the highlighted book."""

    AUTO_FOCUS = "#link-search"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="link.cancel"),
        Binding("down", "move(1)", "Next", show=False),
        Binding("up", "move(-1)", "Previous", show=False),
    ]

    def __init__(self, database: Database, document: str, current: str | None = None) -> None:
        super().__init__()
        self.database = database
        self.document = document
        self.current = current
        self._typed = ""

    def compose(self) -> ComposeResult:
        with Vertical(id="link-box", classes="dialog-frame"):
            yield Label("Link to a book", id="link-title", classes="dialog-title")
            where = f"now: {clip(self.current, 50)}" if self.current else "not linked"
            yield Static(f"document {self.document} · {where}", id="link-document", markup=False)
            yield Input(placeholder="type a title or an author", id="link-search")
            yield OptionList(id="link-results")
            yield Static(
                "↑↓ choose · enter link · esc cancel", id="link-hint", classes="dialog-hint"
            )

    def on_mount(self) -> None:
        field = self.query_one("#link-search", Input)
        if self._typed:
            field.value = self._typed  # Input.Changed searches for it
        else:
            self.search("")

    def type_ahead(self, text: str) -> None:
        """Keys typed right after the dialog was asked for, which reached the screen beneath
        (its widgets had them queued already): they belong in the search field all the same."""
        if self.is_mounted:
            self.query_one("#link-search", Input).insert_text_at_cursor(text)
        else:
            self._typed += text

    @on(Input.Changed, "#link-search")
    def _changed(self, event: Input.Changed) -> None:
        self.search(event.value)

    @work(exclusive=True, group="link-search", exit_on_error=False)
    async def search(self, text: str) -> None:
        rows = await library.search(self.database.pool, text.strip(), limit=RESULTS)
        results = self.query_one("#link-results", OptionList)
        results.clear_options()
        results.add_options([_option(row) for row in rows])
        if rows:
            results.highlighted = 0

    def action_move(self, step: int) -> None:
        results = self.query_one("#link-results", OptionList)
        if results.option_count:
            current = results.highlighted if results.highlighted is not None else -step
            results.highlighted = max(0, min(results.option_count - 1, current + step))

    @on(Input.Submitted, "#link-search")
    def _submitted(self) -> None:
        results = self.query_one("#link-results", OptionList)
        if results.highlighted is not None:
            option = results.get_option_at_index(results.highlighted)
            self.dismiss(UUID(option.id))
        else:
            self.app.bell()

    @on(OptionList.OptionSelected, "#link-results")
    def _selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(UUID(event.option.id))

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        # Worker.StateChanged does not bubble: a failed search goes to the app's error dialog.
        report = getattr(self.app, "report_worker_failure", None)
        if report is not None:
            report(event.worker)
