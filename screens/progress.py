"""Reading progress: where each document stands on each KOReader device, live.

The list shows one row per (document, device) with its book (or the document id, marked as
unlinked), a bar, the state (reading, finished at >= 95 %, paused after 30 idle days) and how
long ago it moved. Under it, the selected book's history as a chart and as reading sessions.

While the screen is shown it takes the data layer's live feed (``data.progress_feed``): a
device syncing through ``shelver serve`` changes its row at once, without polling, from what
the notice carries (only a document not on screen, or a changed link, is read again). Notices
that arrive in a burst come together, so a busy server costs a few updates a second.

Keys: ``o`` sort (``O`` reverses), ``w`` KoSync login (what one login sees: its own positions
and those of the logins sharing with it), ``d`` device, ``t`` state, ``/`` text filter, ``x`` clear
filters, ``k`` link to a book, ``u`` remove a hand-made link, ``h`` sync with Hardcover,
``g`` the Hardcover sync log, ``c`` the reading calendar (KOReader's statistics).

When KOReader's reading statistics know the selected book, the detail shows their sessions
(page visits less than 10 minutes apart), with time read, pace and time left in its title;
otherwise the sessions come from the KoSync history.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, ClassVar, cast
from uuid import UUID

from rich.text import Text
from textual import events, on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.widgets import DataTable, Input, Label, Static
from textual.worker import Worker, WorkerCancelled, WorkerFailed

from shelver.data import reading, reading_insights
from shelver.data.db import Database
from shelver.data.progress_feed import ProgressBatch, progress_feed
from shelver.data.reading import (
    CurrentPosition,
    DeviceSummary,
    HistoryEntry,
    LinkMethod,
    LoginSummary,
    ProgressNotice,
)
from shelver.data.reading_insights import BookReading
from shelver.screens.base import LIVE_WORKERS, ShelverScreen, update_static
from shelver.screens.dialogs.progress_link import LinkBookDialog
from shelver.screens.progress_hardcover import SyncReport, run_sync
from shelver.screens.progress_view import (
    COLUMNS,
    ProgressFilters,
    arrange,
    book_label,
    chips,
    row_cells,
    row_key,
)
from shelver.screens.styles import stylesheet
from shelver.widgets.format import clip, relative_time
from shelver.widgets.progress_history import HistoryChart, SessionsTable
from shelver.widgets.progress_strip import ProgressStrip
from shelver.widgets.reading_stats import statistics_title
from shelver.widgets.tables import fit_title_width
from shelver.widgets.text_table import TextTable

if TYPE_CHECKING:
    from shelver.screens.reading_calendar import ReadingCalendarScreen

POSITIONS_LIMIT = 1000
STATISTICS_ONLY = {"device": reading.STATISTICS_DEVICE}
CALENDAR_SCREEN = "reading-calendar"
REFILL_ABOVE = 100
"""More rows arriving or leaving at once than this, and the table is filled again instead of
changed row by row."""
LISTEN_STOP_SECONDS = 2.0
POSITION_NOTICES = {reading.PROGRESS_CHANGED, reading.LINK_CHANGED}
AGES_EVERY_SECONDS = 30.0
AGES_CHECKED_EVERY = timedelta(seconds=10)
"""A live update looks at the "2 min ago" cells of unchanged rows at most this often."""
DETAIL_DELAY = 0.05
"""Scrolling fast through the list loads the history of where the cursor stops, not of each row."""

LINK_WORDS = {
    LinkMethod.MANUAL: "linked by hand",
    LinkMethod.CONTENT_HASH: "by content hash",
    LinkMethod.FILENAME: "by file name",
}

EMPTY_MESSAGE = (
    "[b]No reading progress yet.[/b] To connect KOReader:\n\n"
    "1. Add a login for your devices:\n"
    "     [b]shelver credentials add kosync NAME[/b]\n"
    "2. Start the sync server, reachable from your network:\n"
    "     [b]shelver serve --host 0.0.0.0[/b]   (it prints its URL; port 8765)\n"
    "3. In KOReader: Tools › Progress sync › Custom sync server:\n"
    "     http://THIS-MACHINE:8765, then Login as NAME.\n\n"
    "Positions show up here, live, as soon as a device syncs."
)


@dataclass(frozen=True)
class ProgressView:
    positions: list[CurrentPosition]
    """As the database filtered them by device and state (text filter and order come later)."""
    devices: list[DeviceSummary]
    filters: ProgressFilters
    logins: list[LoginSummary] = field(default_factory=list)
    """Every KoSync login with positions (for the login filter), whatever the filters."""

    def seen_by(self, login: str) -> set[str]:
        """The logins whose positions ``login`` sees (itself when it has none yet)."""
        found = next((summary for summary in self.logins if summary.login == login), None)
        return set(found.sees) if found else {login}


class ProgressScreen(ShelverScreen):
    """Current positions with bars and states; history and sessions of the selected book."""

    MODE = "progress"
    TITLE = "Reading progress"
    AUTO_FOCUS = "#progress-table"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("o", "sort", "Sort", id="progress.sort"),
        Binding("O", "reverse", "Reverse", show=False, id="progress.reverse"),
        Binding("w", "login", "Login", show=False, id="progress.login"),
        Binding("d", "device", "Device", show=False, id="progress.device"),
        Binding("t", "state", "State", show=False, id="progress.state"),
        Binding("slash", "filter", "Filter", key_display="/", show=False, id="progress.filter"),
        Binding("escape", "leave_filter", "Clear filter", show=False, id="progress.unfilter"),
        Binding("x", "clear_filters", "Clear filters", show=False, id="progress.clear"),
        Binding("k", "link", "Link", id="progress.link"),
        Binding("u", "unlink", "Unlink", show=False, id="progress.unlink"),
        Binding("h", "hardcover", "Hardcover", id="progress.hardcover"),
        Binding("g", "sync_log", "Sync log", show=False, id="progress.synclog"),
        Binding("c", "calendar", "Calendar", id="progress.calendar"),
    ]
    CSS_PATH = stylesheet(__file__, "progress.tcss")

    def __init__(self) -> None:
        super().__init__()
        self.filters = ProgressFilters()
        self.rows: list[CurrentPosition] = []
        """The rows on screen, in table order."""
        self._keys: list[str] = []
        """Their keys (``row_key``), in the same order."""
        self.reconnects = 0
        """How often the live listener came back after its connection dropped."""
        self.notices_received = 0
        """How many progress notices the live listener has taken (for the status and tests)."""
        self.live_refreshes = 0
        """How many refreshes those notices caused (bursts coalesce into one)."""
        self.listening = False
        self.history: list[HistoryEntry] = []
        self.statistics: BookReading | None = None
        """KOReader's statistics of the selected book, when there are any."""
        self.last_report: SyncReport | None = None
        self._title_width = 0
        self._ages_checked_at = datetime.min.replace(tzinfo=UTC)
        self._detail_key: str | None = None
        self._syncing = False
        self._listener: Worker[None] | None = None
        self._link_dialog: LinkBookDialog | None = None

    def on_mount(self) -> None:
        # "2 min ago" keeps counting: lay the rows out again now and then (no database read).
        self.set_interval(AGES_EVERY_SECONDS, self._rearrange)

    def compose_body(self) -> ComposeResult:
        yield Static("", id="progress-chips", classes="subheading")
        with Horizontal(id="progress-filter-row") as row:
            row.display = False  # shown by "/" (a hidden Input can't take the first focus)
            yield Label("Filter ", id="progress-filter-label")
            yield Input(placeholder="title, author, document or device", id="progress-filter")
        yield ProgressStrip(id="progress-strip")
        yield TextTable(id="progress-table", cursor_type="row", zebra_stripes=True)
        yield Static("", id="progress-detail-title", classes="subheading")
        with Horizontal(id="progress-detail"):
            yield HistoryChart(id="progress-chart")
            yield SessionsTable(id="progress-sessions")

    # Loading -------------------------------------------------------------------------------

    async def fetch(self, database: Database) -> ProgressView:
        filters = self.filters
        positions, devices, logins = await asyncio.gather(
            reading.current_positions(
                database.pool,
                device=filters.device,
                state=filters.state,
                login=filters.login,
                limit=POSITIONS_LIMIT,
                statistics_only=True,
            ),
            reading.devices(database.pool, login=filters.login),
            reading.logins(database.pool),
        )
        return ProgressView(positions, devices, filters, logins)

    def present(self, view: ProgressView) -> None:
        self._prepare_calendar_after_paint()
        # The text filter and the order may have changed since the rows were read.
        filters = replace(
            self.filters,
            login=view.filters.login,
            device=view.filters.device,
            state=view.filters.state,
        )
        rows = arrange(view.positions, filters)
        self._present_heading(view)
        update_static(
            self.query_one("#progress-chips", Static),
            chips(filters, len(rows), len(view.positions), logins=bool(view.logins)),
        )
        table = self.query_one("#progress-table", DataTable)
        self.set_class(not view.devices and filters.login is None, "-no-progress")
        if not view.devices and filters.login is None:
            self.rows, self._keys = [], []
            table.clear(columns=True)
            self._title_width = 0
            self.show_empty(EMPTY_MESSAGE)
            return
        if not rows:
            self.rows, self._keys = [], []
            table.clear()
            self.show_empty(
                "[b]No position matches these filters.[/b]\n\n"
                "Press [b]x[/b] to clear them (or [b]d[/b] / [b]t[/b] to pick others)."
            )
            return
        self.show_empty(None)
        self._fill_table(table, rows)
        if self.focused is None:
            table.focus()

    def _present_heading(self, view: ProgressView) -> None:
        positions = view.positions
        documents = len({p.document for p in positions})
        unlinked = len({p.document for p in positions if p.book_id is None})
        detail = Text(f"{documents:,} document{'s' * (documents != 1)}")
        detail.append(f" · {len(view.devices)} device{'s' * (len(view.devices) != 1)}", "dim")
        if len(view.logins) > 1:
            detail.append(f" · {len(view.logins)} logins", "dim")
        if unlinked:
            detail.append(f" · {unlinked} unlinked", "yellow")
        if self.listening:
            detail.append(" · live", "green")
        elif self._listener is not None and not self._listener.is_finished:
            detail.append(" · reconnecting for live updates…", "yellow")
        self.set_heading(detail)

    def _fill_table(self, table: DataTable, rows: list[CurrentPosition]) -> None:
        """Show ``rows``, changing only what changed; the cursor stays on the same row."""
        now = datetime.now(UTC)
        width = fit_title_width(table, COLUMNS, self.size.width)
        selected = self.selected_key()
        old = dict(zip(self._keys, self.rows, strict=True))
        keys = [row_key(r) for r in rows]
        arrived = [key for key in keys if key not in old]
        gone = old.keys() - set(keys)
        if width != self._title_width or len(arrived) + len(gone) > REFILL_ABOVE:
            self._refill_table(table, rows, width, now)
            self._ages_checked_at = now
        else:
            # The usual live update: a few rows changed, arrived or left. Each cell is
            # updated in place and the order changed by sorting, not by filling again.
            check_ages = now - self._ages_checked_at >= AGES_CHECKED_EVERY
            if check_ages:
                self._ages_checked_at = now
            for key in gone:
                table.remove_row(key)
            for row, key in zip(rows, keys, strict=True):
                before = old.get(key)
                if before is None:
                    table.add_row(*row_cells(row, width, now), key=key)
                elif before is not row and before != row:
                    for (column, *_), cell in zip(
                        (("book",), *COLUMNS), row_cells(row, width, now), strict=True
                    ):
                        table.update_cell(key, column, cell)
                elif check_ages:
                    age = relative_time(row.updated_at, now)
                    if str(table.get_cell(key, "updated")) != age:
                        table.update_cell(key, "updated", age)
            # Removing keeps the order of the rest; adding appends.
            in_table = [key for key in self._keys if key not in gone] + arrived
            if keys != in_table:
                order = {key: index for index, key in enumerate(keys)}
                table.sort("book", key=lambda cell: order[cell.row_key])
        self.rows = rows
        self._keys = keys
        if selected in old and selected in keys:
            target = keys.index(selected)
        else:
            target = min(max(table.cursor_row, 0), len(rows) - 1)
        if target != table.cursor_row:
            # Scrolling costs a walk over every row: only when the row would leave the view.
            top = round(table.scroll_y)
            seen = top <= target < top + table.scrollable_content_region.height - 1
            table.move_cursor(row=target, animate=False, scroll=not seen)
        self._refresh_detail_if_changed()

    def _refill_table(
        self, table: DataTable, rows: list[CurrentPosition], width: int, now: datetime
    ) -> None:
        if width != self._title_width:
            table.clear(columns=True)
            table.add_column("Book", key="book", width=width)
            for key, label, column_width in COLUMNS:
                table.add_column(label, key=key, width=column_width)
            self._title_width = width
        else:
            table.clear()
        for row in rows:
            table.add_row(*row_cells(row, width, now), key=row_key(row))

    # Selection and detail ------------------------------------------------------------------

    def selected_key(self) -> str | None:
        table = self.query_one("#progress-table", DataTable)
        if not self.rows or table.row_count == 0:
            return None
        row = min(max(table.cursor_row, 0), len(self.rows) - 1)
        return row_key(self.rows[row])

    def selected_position(self) -> CurrentPosition | None:
        key = self.selected_key()
        return next((r for r in self.rows if row_key(r) == key), None)

    @on(DataTable.RowHighlighted, "#progress-table")
    def _row_highlighted(self) -> None:
        self._refresh_detail_if_changed()

    def _refresh_detail_if_changed(self, *, force: bool = False) -> None:
        position = self.selected_position()
        if position is None:
            return
        # Linking changes which history belongs to the row, so the book id is part of the key.
        key = f"{row_key(position)}\x00{position.book_id}"
        if force or key != self._detail_key:
            self._detail_key = key
            self.load_detail(position)

    @work(exclusive=True, group="detail", exit_on_error=False)
    async def load_detail(self, position: CurrentPosition) -> None:
        await asyncio.sleep(DETAIL_DELAY)
        database = await self.shelver.wait_for_database()
        login = self.filters.login  # the history of what that login sees, like the rows
        if position.book_id is not None:
            entries = await reading.book_history(database.pool, position.book_id, login=login)
        else:
            entries = await reading.document_history(database.pool, position.document, login=login)
        statistics = await reading_insights.book_reading(
            database.pool, book_id=position.book_id, document=position.document
        )
        self.history = entries
        self.statistics = statistics
        sessions = reading.sessions_from_history(entries)
        count = f"{len(sessions)} session{'s' * (len(sessions) != 1)}"
        if statistics is not None:
            count = statistics_title(statistics)
        title = Text("History of ", "bold")
        if position.book_id is not None:
            how = LINK_WORDS[position.link_method] if position.link_method else ""
            if statistics is not None and len(count) + len(how) + 30 > self.size.width:
                how = ""  # the statistics say more than how the book was found
            # The title gets what the count and the link method leave of one line.
            room = max(12, self.size.width - 14 - len(count) - len(how) - 8)
            title.append(clip(book_label(position), room), "bold")
            title.append(f" · {count}", "dim")
            if how:
                title.append(f" · {how}", "dim")
        else:
            title.append(clip(position.document, 16), "bold")
            title.append(f" · {count}", "dim")
            title.append(" · unlinked: k links it", "yellow")
        self.query_one("#progress-detail-title", Static).update(title)
        self.query_one("#progress-chart", HistoryChart).show_history(entries)
        table = self.query_one("#progress-sessions", SessionsTable)
        if statistics is not None:
            table.show_stat_sessions(statistics.sessions)
        else:
            table.show_sessions(sessions)

    # Live updates --------------------------------------------------------------------------

    def on_screen_resume(self) -> None:
        super().on_screen_resume()
        self.start_listening()

    def reload(self) -> None:
        super().reload()
        # After the database failed to open and a retry worked, listening starts here.
        if self.is_current:
            self.start_listening()

    def start_listening(self) -> None:
        if self._listener is None or self._listener.is_finished:
            self._listener = self.run_worker(
                self._listen(), name="progress-feed", group=LIVE_WORKERS, exit_on_error=False
            )

    async def on_screen_suspend(self) -> None:
        # Another screen is shown: give the pooled connection back; coming back reloads.
        await self.stop_listening()

    async def on_unmount(self) -> None:
        await self.stop_listening()

    async def stop_listening(self) -> None:
        """Cancel the listener and wait (briefly) until it has UNLISTENed and let go."""
        worker, self._listener = self._listener, None
        if worker is None or worker.is_finished:
            return
        worker.cancel()
        with contextlib.suppress(WorkerCancelled, WorkerFailed, TimeoutError):
            await asyncio.wait_for(worker.wait(), LISTEN_STOP_SECONDS)

    async def _listen(self) -> None:
        """Take the data layer's live feed while the screen is shown (see data.progress_feed)."""
        try:
            database = await self.shelver.wait_for_database()
        except Exception:
            return  # the screen already shows why the database is unavailable
        try:
            async with contextlib.aclosing(progress_feed(database.pool)) as feed:
                async for batch in feed:
                    await self._take(database, batch)
        finally:
            self.listening = False

    async def _take(self, database: Database, batch: ProgressBatch) -> None:
        self.listening = batch.live
        if batch.missed:  # deaf for a while: catch up on what arrived meanwhile
            self.reconnects += 1
            await self._refresh_all(database)
        elif batch.notices:
            await self._apply_notices(database, batch.notices)
        elif self._shown is not None:
            self._present_heading(self._shown)

    async def _refresh_all(self, database: Database) -> None:
        view = await self.fetch(database)
        self.live_refreshes += 1
        self._shown = view
        self.present(view)
        self._refresh_detail_if_changed(force=True)

    async def _apply_notices(self, database: Database, notices: tuple[ProgressNotice, ...]) -> None:
        """Put the changed positions into the rows shown, reading only what the notices lack
        (the book of a document not on screen, a link that changed)."""
        self.notices_received += len(notices)
        view = self._shown
        if not isinstance(view, ProgressView):
            return  # the first load is still running and will show these too
        view = await self._updated_view(database, view, notices)
        self.live_refreshes += 1
        self._shown = view
        self.present(view)
        selected = self.selected_position()
        if selected is None:
            return
        touched = {n.document for n in notices}
        same_book = {
            r.document for r in self.rows if selected.book_id and r.book_id == selected.book_id
        }
        statistics = any(n.kind == reading.STATISTICS_CHANGED for n in notices)
        if selected.document in touched or touched & same_book or statistics:
            self._refresh_detail_if_changed(force=True)

    async def _updated_view(
        self, database: Database, view: ProgressView, notices: tuple[ProgressNotice, ...]
    ) -> ProgressView:
        filters = view.filters
        if any(n.kind == reading.STATISTICS_CHANGED for n in notices):
            # New statistics change times read and bring books known only from them: the
            # list is read again (statistics arrive a few times a day, not per page).
            return await self.fetch(database)
        seen = view.seen_by(filters.login) if filters.login is not None else None
        positions = {row_key(p): p for p in view.positions}
        books = {p.document: p for p in view.positions}
        now = datetime.now(UTC)
        reread: set[str] = set()
        for notice in notices:
            if notice.kind not in POSITION_NOTICES:
                continue  # e.g. new reading statistics: the detail, not the rows
            if not notice.complete:
                reread.add(notice.document)  # a link changed, or a value was cut to fit
            elif seen is not None and notice.login not in seen:
                continue  # another login's position: not in this list
            elif filters.device is None or notice.device == filters.device:
                book = books.get(notice.document)
                if book is None and notice.document not in reread:
                    reread.add(notice.document)  # not on screen: its book is unknown here
                elif notice.document not in reread:
                    position = notice.position(book, now)
                    positions[row_key(position)] = position
                    # A position now: no longer a book known only from the statistics.
                    positions.pop(row_key(position.model_copy(update=STATISTICS_ONLY)), None)
        if reread:
            for key in [k for k, p in positions.items() if p.document in reread]:
                del positions[key]
            for position in await reading.current_positions(
                database.pool,
                device=filters.device,
                documents=sorted(reread),
                login=filters.login,
                limit=POSITIONS_LIMIT,
                statistics_only=True,
            ):
                positions[row_key(position)] = position
        devices, logins = view.devices, view.logins
        known = {d.device for d in devices}
        if any(n.device is not None and n.device not in known for n in notices):
            devices = await reading.devices(database.pool, login=filters.login)
        known_logins = {summary.login for summary in logins}
        if any(n.login is not None and n.login not in known_logins for n in notices):
            logins = await reading.logins(database.pool)
        # What the database would have returned: the state filter, newest first, the limit.
        kept = [p for p in positions.values() if filters.state in (None, p.state)]
        kept.sort(key=lambda p: p.updated_at, reverse=True)
        return ProgressView(kept[:POSITIONS_LIMIT], devices, filters, logins)

    # Sort and filters ----------------------------------------------------------------------

    def _rearrange(self) -> None:
        """Order or text filter changed: lay out the rows already read again."""
        if self._shown is not None:
            self.present(self._shown)

    def action_sort(self) -> None:
        self.filters = self.filters.next_sort()
        self._rearrange()

    def action_reverse(self) -> None:
        self.filters = replace(self.filters, reverse=not self.filters.reverse)
        self._rearrange()

    def action_login(self) -> None:
        logins = [summary.login for summary in self._shown.logins] if self._shown else []
        if not logins and self.filters.login is None:
            self.notify(
                "No KoSync login has positions yet; each login's devices show here by name.",
                severity="warning",
            )
            return
        self.filters = self.filters.next_login(logins)
        self.reload()

    def action_device(self) -> None:
        devices = [d.device for d in self._shown.devices] if self._shown else []
        self.filters = self.filters.next_device(devices)
        self.reload()

    def action_state(self) -> None:
        self.filters = self.filters.next_state()
        self.reload()

    def action_clear_filters(self) -> None:
        self.query_one("#progress-filter", Input).value = ""
        self.query_one("#progress-filter-row").display = False
        self.filters = self.filters.cleared()
        self.reload()

    def action_filter(self) -> None:
        self.query_one("#progress-filter-row").display = True
        # At once, not on the next turn of the loop (as Widget.focus does): keys typed right
        # after "/" must land in the field, not on the screen's bindings.
        self.set_focus(self.query_one("#progress-filter", Input))

    @on(Input.Changed, "#progress-filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        self.filters = replace(self.filters, text=event.value.strip())
        self._rearrange()

    @on(Input.Submitted, "#progress-filter")
    def _filter_submitted(self) -> None:
        self.set_focus(self.query_one("#progress-table", DataTable))

    def action_leave_filter(self) -> None:
        """Escape: out of the filter field first; on the list, clear the text filter."""
        field = self.query_one("#progress-filter", Input)
        if field.has_focus:
            self.set_focus(self.query_one("#progress-table", DataTable))
            if not field.value:
                self.query_one("#progress-filter-row").display = False
        elif field.value:
            field.value = ""  # Input.Changed lays the rows out again
            self.query_one("#progress-filter-row").display = False

    # Linking -------------------------------------------------------------------------------

    def on_key(self, event: events.Key) -> None:
        # Keys typed straight after "k" are already on their way to this screen's list before
        # a binding would open the dialog. So "k" opens it here, at once, and what follows
        # goes into its search field until the dialog takes the keys itself.
        if isinstance(self.focused, Input):
            return
        dialog = self._link_dialog
        if dialog is None and event.key == "k":
            event.stop()
            event.prevent_default()
            self.action_link()
        elif dialog is not None and event.is_printable and event.character:
            event.stop()
            event.prevent_default()
            dialog.type_ahead(event.character)

    def action_link(self) -> None:
        position = self.selected_position()
        database = self.shelver.database
        if position is None or database is None:
            self.app.bell()
            return
        current = book_label(position) if position.book_id else None

        def chosen(book_id: UUID | None) -> None:
            self._link_dialog = None
            if book_id is not None:
                self.link(position.document, book_id)

        self._link_dialog = LinkBookDialog(database, position.document, current)
        self.app.push_screen(self._link_dialog, chosen)

    @work(group="link", exit_on_error=False)
    async def link(self, document: str, book_id: UUID) -> None:
        database = await self.shelver.wait_for_database()
        await reading.link_document(database.pool, document, book_id)
        self.notify("Linked by hand; every device's progress of this document follows.")
        # The listener hears the link too; reloading here also covers a screen not listening.
        self.reload()

    def action_unlink(self) -> None:
        position = self.selected_position()
        if position is None:
            self.app.bell()
        elif position.link_method is LinkMethod.MANUAL:
            self.unlink(position.document)
        elif position.book_id is not None and position.link_method is not None:
            self.notify(
                f"This document's book was found {LINK_WORDS[position.link_method]}, "
                "not linked by hand; k links it to another book instead.",
                severity="warning",
            )
        else:
            self.notify("This document is not linked to a book.", severity="warning")

    @work(group="link", exit_on_error=False)
    async def unlink(self, document: str) -> None:
        database = await self.shelver.wait_for_database()
        await reading.unlink_document(database.pool, document)
        self.notify("Hand-made link removed.")
        self.reload()

    # Hardcover -----------------------------------------------------------------------------

    def action_hardcover(self) -> None:
        if self._syncing:
            self.notify("A Hardcover sync is already running.")
            return
        self._syncing = True
        self.hardcover()

    @work(exclusive=True, group="hardcover", exit_on_error=False)
    async def hardcover(self) -> None:
        strip = self.query_one("#progress-strip", ProgressStrip)
        strip.start("Hardcover sync")
        try:
            database = await self.shelver.wait_for_database()
            report = await run_sync(
                database, self.shelver.home, self.shelver.settings, on_progress=strip.report
            )
        finally:
            self._syncing = False
        self.last_report = report
        if report.ok:
            strip.finish(f"{report.message} · g: log")
        else:
            strip.hide()  # nothing ran: the notice says what to do
        self.notify(report.message, severity="information" if report.ok else "error", timeout=10)

    def action_calendar(self) -> None:
        self.open_calendar()

    _calendar_prepared = False

    def _prepare_calendar_after_paint(self) -> None:
        # Once this screen's rows are drawn (the person is reading them, not waiting), so
        # that "c" does not first import the calendar and the statistics modules it needs.
        if not self._calendar_prepared:
            self._calendar_prepared = True
            self.call_after_refresh(self._prepare_calendar)

    def _prepare_calendar(self) -> ReadingCalendarScreen:
        """The calendar screen: installed once and kept, so showing it again needs no new
        layout, only its numbers."""
        from shelver.screens.reading_calendar import ReadingCalendarScreen

        if not self.app.is_screen_installed(CALENDAR_SCREEN):
            self.app.install_screen(ReadingCalendarScreen(), CALENDAR_SCREEN)
            # The screens built so far stay for the app's life: out of the collector's way.
            self.shelver.set_heap_aside()
        return cast("ReadingCalendarScreen", self.app.get_screen(CALENDAR_SCREEN))

    @work(exclusive=True, group="calendar-open", exit_on_error=False)
    async def open_calendar(self) -> None:
        from shelver.screens.reading_calendar import OPEN_WAIT_SECONDS

        # Its numbers are read first (briefly) so the screen switches in once, with them.
        calendar = self._prepare_calendar()
        database = self.shelver.database
        if database is not None:
            reading = asyncio.ensure_future(calendar.read_numbers(database))
            try:
                calendar.give(await asyncio.wait_for(asyncio.shield(reading), OPEN_WAIT_SECONDS))
            except Exception:  # slow or failing: the screen reads (and reports) them itself
                reading.cancel()
        self.app.push_screen(CALENDAR_SCREEN)

    def action_sync_log(self) -> None:
        from shelver.screens.sync_log import SyncLogScreen

        self.app.push_screen(SyncLogScreen())
