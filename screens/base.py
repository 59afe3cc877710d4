"""What every top-level screen shares: the mode bar, a heading, a body, an empty state, the
footer, and loading its rows from the database in a worker so the frame paints at once."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, cast

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.markup import escape
from textual.screen import Screen
from textual.widgets import Static
from textual.worker import Worker

from shelver.data.db import Database
from shelver.screens.messages import DatabaseOpened
from shelver.widgets.empty_state import EmptyState
from shelver.widgets.key_footer import KeyFooter
from shelver.widgets.mode_bar import ModeBar

if TYPE_CHECKING:
    from shelver.screens.host import ShelverHost

PAGE_SIZE = 200
"""Rows a list screen loads at once (later issues page further)."""
LIVE_WORKERS = "live"
"""The worker group of loops that run until stopped (the inbox watcher, live feeds): waiting
for "all work done" means every worker outside this group."""


def update_static(static: Static, text: Text) -> None:
    """Show ``text`` unless it is already shown. A live screen sets its heading and chips on
    every change; ``Static.update`` lays out the whole screen again, and repaints every widget
    on it, even when the words are the same."""
    shown = static.content
    if not (
        isinstance(shown, Text)
        and (shown.plain, shown.spans, shown.style) == (text.plain, text.spans, text.style)
    ):
        static.update(text)


class ShelverScreen(Screen[None]):
    """Base of the five mode screens. Subclasses set MODE and TITLE and implement
    `compose_body`, `fetch` (database work, in a worker) and `present` (widgets, on the UI)."""

    MODE: ClassVar[str] = ""
    """The app mode this screen is the base of."""

    def compose(self) -> ComposeResult:
        yield ModeBar(self.MODE)
        yield Static(self.TITLE or "", id="heading", classes="heading")
        yield from self.compose_body()
        yield EmptyState(id="empty")
        yield KeyFooter()

    def compose_body(self) -> ComposeResult:
        """The screen's own widgets, between the heading and the footer."""
        yield from ()

    @property
    def shelver(self) -> ShelverHost:
        return cast("ShelverHost", self.app)

    # Loading ------------------------------------------------------------------------------

    _last_load_failed = False

    def on_screen_resume(self) -> None:
        # Each visit shows fresh rows (the exclusive worker drops a load still running). After
        # a failure only the refresh key retries: closing the error dialog resumes this screen,
        # and reloading then would bring the same dialog straight back.
        if not self._last_load_failed:
            self.reload()

    @on(DatabaseOpened)
    def _database_opened(self) -> None:
        self.reload()

    def reload(self) -> None:
        """Fetch this screen's rows again (the refresh key calls this)."""
        self.load()

    @work(exclusive=True, group="load", exit_on_error=False)
    async def load(self) -> None:
        failure = self.shelver.database_failure
        if failure is None:
            if self.shelver.database is None:
                self.set_heading("opening the database…")
            try:
                database = await self.shelver.wait_for_database()
            except Exception as error:
                failure = error
        if failure is not None:
            # The app reports a failure to open in its dialog; here a quiet note is enough.
            self.show_unavailable(failure)
            return
        data = await self.fetch(database)
        self._shown = data
        self.present(data)

    _shown: Any = None
    """What `present` last showed, laid out again when the terminal is resized."""

    def on_resize(self) -> None:
        self.relayout()

    def relayout(self) -> None:
        """Lay the screen out again for a new size. By default `present` runs again on what it
        last showed; a screen whose state moves on after a load (Review) overrides this, so a
        resize never brings back an old snapshot."""
        if self._shown is not None:
            self.present(self._shown)

    def show_unavailable(self, failure: BaseException) -> None:
        self.set_heading(Text("database unavailable", "bold red"))
        self.show_empty(
            f"[b]The database could not be opened.[/b]\n\n{escape(str(failure))}\n\n"
            "Press [b]ctrl+r[/b] to try again."
        )

    async def fetch(self, database: Database) -> Any:
        """Read this screen's rows (runs in a worker, off the paint path)."""
        return None

    def present(self, data: Any) -> None:
        """Put ``data`` on screen (runs on the UI loop)."""

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        # Worker.StateChanged does not bubble: hand failures to the app's single handler.
        if event.worker.group == "load" and event.state.name in {"SUCCESS", "ERROR"}:
            self._last_load_failed = event.state.name == "ERROR"
            if self._last_load_failed:
                self.set_heading(Text("could not load: press ctrl+r to try again", "red"))
        self.shelver.report_worker_failure(event.worker)

    # Helpers ------------------------------------------------------------------------------

    def set_heading(self, detail: str | Text = "") -> None:
        """The screen's name in bold, then a muted detail line (counts, state)."""
        heading = Text(self.TITLE or "", style="bold")
        if detail:
            heading.append("  ")
            heading.append_text(detail if isinstance(detail, Text) else Text(detail, style="dim"))
        update_static(self.query_one("#heading", Static), heading)

    def show_empty(self, message: str | None) -> None:
        """Show the empty-state note (or hide it with None); the body hides while it shows."""
        empty = self.query_one("#empty", EmptyState)
        if message is None:
            empty.hide()
        else:
            empty.show_message(message)
        self.set_class(message is not None, "-empty")
