"""Hardcover sync log: every organized book with its match and the outcome of its last sync.

Opened over Reading progress (``g``) or Settings; ``h`` runs a sync from here too, ``esc``
goes back.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar, cast

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import DataTable, Static
from textual.worker import Worker

from shelver.data import hardcover_sync
from shelver.data.hardcover_sync import SyncLogLine
from shelver.screens.progress_hardcover import SyncReport, outcome_text, run_sync
from shelver.screens.styles import stylesheet
from shelver.widgets.empty_state import EmptyState
from shelver.widgets.format import clip, relative_time
from shelver.widgets.key_footer import KeyFooter
from shelver.widgets.progress_strip import ProgressStrip
from shelver.widgets.tables import fit_title_width
from shelver.widgets.text_table import TextTable

if TYPE_CHECKING:
    from shelver.screens.host import ShelverHost

TITLE_WIDTH = 22
COLUMNS: tuple[tuple[str, str, int], ...] = (
    ("book", "Book", TITLE_WIDTH),
    ("outcome", "Outcome", 11),
    ("when", "When", 10),
)
"""The fixed columns; the Detail column after them takes the rest of the width."""


def sync_row(line: SyncLogLine, detail_width: int) -> list[object]:
    return [
        clip(line.title or "(untitled)", TITLE_WIDTH),
        outcome_text(line.outcome),
        relative_time(line.recorded_at) if line.recorded_at else "—",
        clip(line.detail or "", detail_width, placeholder=""),
    ]


def line_detail(line: SyncLogLine) -> Text:
    """Everything about the highlighted book, unclipped: the match, what was sent, the reason."""
    text = Text(line.title or "(untitled)", "bold")
    if line.hardcover_edition_id is not None:
        text.append(
            f" · Hardcover book {line.hardcover_book_id}, edition {line.hardcover_edition_id}"
        )
    else:
        text.append(" · not matched on Hardcover", "dim")
    if line.last_progress is not None:
        text.append(f" · last sent {float(line.last_progress) * 100:.0f}%")
    if line.last_synced_at is not None:
        text.append(f" {relative_time(line.last_synced_at)}", "dim")
    text.append("\n")
    text.append_text(outcome_text(line.outcome))
    if line.detail:
        text.append(f": {line.detail}")
    return text


class SyncLogScreen(Screen[None]):
    """One line per organized book: last outcome first, then books never tried."""

    TITLE = "Hardcover sync log"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back", id="synclog.back"),
        Binding("h", "hardcover", "Sync now", id="synclog.sync"),
    ]
    CSS_PATH = stylesheet(__file__, "sync_log.tcss")

    def __init__(self, *, sync_now: bool = False) -> None:
        super().__init__()
        self.sync_now = sync_now
        self.lines: list[SyncLogLine] = []
        self.last_report: SyncReport | None = None
        self.syncing = False

    @property
    def shelver(self) -> ShelverHost:
        return cast("ShelverHost", self.app)

    def compose(self) -> ComposeResult:
        yield Static(Text(self.TITLE, "bold"), id="heading", classes="heading")
        yield ProgressStrip(id="synclog-strip")
        yield TextTable(id="synclog-table", cursor_type="row", zebra_stripes=True)
        yield Static("", id="synclog-detail")
        yield EmptyState(id="empty")
        yield KeyFooter()

    def on_mount(self) -> None:
        self.load()
        if self.sync_now:
            self.action_hardcover()

    @work(exclusive=True, group="synclog-load", exit_on_error=False)
    async def load(self) -> None:
        database = await self.shelver.wait_for_database()
        self.lines = await hardcover_sync.sync_log(database.pool)
        self.present()

    def present(self) -> None:
        lines = self.lines
        tried = sum(1 for line in lines if line.outcome is not None)
        heading = Text(self.TITLE, "bold")
        heading.append(f"  {len(lines):,} books · {tried:,} tried", "dim")
        self.query_one("#heading", Static).update(heading)
        table = self.query_one("#synclog-table", DataTable)
        empty = self.query_one("#empty", EmptyState)
        self.set_class(not lines, "-empty")
        if not lines:
            empty.show_message(
                "[b]No organized books yet.[/b]\n\n"
                "Books are matched on Hardcover by ISBN once they are in the Library."
            )
            return
        empty.hide()
        width = fit_title_width(table, COLUMNS, self.size.width)
        cursor = table.cursor_row
        table.clear(columns=True)
        for key, label, column_width in COLUMNS:
            table.add_column(label, key=key, width=column_width)
        table.add_column("Detail", key="detail", width=width)
        for line in lines:
            table.add_row(*sync_row(line, width), key=str(line.book_id))
        table.move_cursor(row=min(cursor, len(lines) - 1))
        table.focus()
        self._show_detail()

    @on(DataTable.RowHighlighted, "#synclog-table")
    def _show_detail(self) -> None:
        table = self.query_one("#synclog-table", DataTable)
        if self.lines and 0 <= table.cursor_row < len(self.lines):
            self.query_one("#synclog-detail", Static).update(
                line_detail(self.lines[table.cursor_row])
            )

    def on_resize(self) -> None:
        if self.lines:
            self.present()

    def action_back(self) -> None:
        self.dismiss(None)

    def action_hardcover(self) -> None:
        if self.syncing:
            self.notify("A Hardcover sync is already running.")
            return
        self.syncing = True
        self.hardcover()

    @work(exclusive=True, group="hardcover", exit_on_error=False)
    async def hardcover(self) -> None:
        strip = self.query_one("#synclog-strip", ProgressStrip)
        strip.start("Hardcover sync")
        database = await self.shelver.wait_for_database()
        report = await run_sync(
            database, self.shelver.home, self.shelver.settings, on_progress=strip.report
        )
        self.last_report = report
        self.syncing = False
        if report.ok:
            strip.finish(report.message)
        else:
            strip.hide()  # nothing ran: the notice says what to do
        self.notify(report.message, severity="information" if report.ok else "error", timeout=8)
        await self.load().wait()

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.worker.group == "hardcover" and event.worker.is_finished:
            self.syncing = False
        self.shelver.report_worker_failure(event.worker)
