"""Reading calendar: time read per day over the last weeks, the streak, books finished per
month, and where the statistics came from. Opened over Reading progress (``c``); ``esc`` goes
back, ``ctrl+r`` reloads. Everything is text (shade characters), so it reads in 80×24 and
without colour."""

from __future__ import annotations

import asyncio
from datetime import date
from typing import TYPE_CHECKING, ClassVar, cast

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Static

from shelver.data import reading_insights, statistics_ingest
from shelver.data.db import Database
from shelver.data.reading_insights import LibraryReading
from shelver.data.statistics_ingest import LastImport
from shelver.widgets.format import relative_time
from shelver.widgets.reading_stats import calendar, finished_by_month, library_summary

if TYPE_CHECKING:
    from shelver.screens.host import ShelverHost

CALENDAR_DAYS = 90
KEYS_LINE = Text.assemble(
    ("esc", "bold"),
    (" back  ", "dim"),
    ("ctrl+r", "bold"),
    (" reload  ", "dim"),
    ("ctrl+p", "bold"),
    (" palette", "dim"),
)
PARTS = ("#calendar-summary", "#calendar-days", "#calendar-months", "#calendar-source")

NO_STATISTICS = (
    "No reading statistics yet. In KOReader: Reading statistics › Settings › Cloud sync,\n"
    "add a WebDAV server http://THIS-MACHINE:8765/dav with a kosync login, then Sync now.\n"
    "Or copy statistics.sqlite3 off a device: shelver stats import FILE"
)


def source_line(last: LastImport | None) -> Text:
    if last is None:
        return Text(NO_STATISTICS, "dim")
    text = Text("Statistics ", "dim")
    if last.outcome == "refused":
        text.append(f"last file refused {relative_time(last.imported_at)}: ", "yellow")
        text.append(last.detail or "")
        return text
    who = f" from {last.login}" if last.login else f" ({last.source})"
    text.append(f"received {relative_time(last.imported_at)}{who}", "dim")
    text.append(f" · {last.books} books, {last.visits_added:,} new page visits", "dim")
    return text


Numbers = tuple[LibraryReading, LastImport | None]
"""What the screen shows: the library's reading, and where the statistics came from."""
OPEN_WAIT_SECONDS = 0.25
"""How long the opener waits for the numbers before showing the screen without them."""


class ReadingCalendarScreen(Screen[None]):
    """The library's reading over time."""

    TITLE = "Reading calendar"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back", id="calendar.back"),
        Binding("ctrl+r", "reload", "Reload", id="calendar.reload"),
    ]
    DEFAULT_CSS = """
    ReadingCalendarScreen #calendar-heading { background: $boost; padding: 0 1; }
    ReadingCalendarScreen #calendar-keys { dock: bottom; height: 1; padding: 0 1; }
    ReadingCalendarScreen #calendar-body { padding: 0 1; }
    ReadingCalendarScreen #calendar-body Static { height: auto; margin: 0 0 1 0; }
    """

    def __init__(self, *, days: int = CALENDAR_DAYS, today: date | None = None) -> None:
        super().__init__()
        self.days = days
        self.today = today
        self.library: LibraryReading | None = None
        self.presented = 0
        """How often numbers were put on screen (each showing reads them again)."""
        self._given: Numbers | None = None
        self._fresh = False

    async def read_numbers(self, database: Database) -> Numbers:
        """What the screen shows, read now (by whoever opens it: see :meth:`give`)."""
        return await asyncio.gather(
            reading_insights.library_reading(database.pool, days=self.days, today=self.today),
            statistics_ingest.last_import(database.pool),
        )

    def give(self, numbers: Numbers) -> None:
        """Numbers read just before the screen is shown: it shows them at once instead of
        reading them again (switching screens and reading at the same time slows both)."""
        if self.is_mounted:
            self.present(*numbers)
        else:
            self._given = numbers
        self._fresh = True

    @property
    def shelver(self) -> ShelverHost:
        return cast("ShelverHost", self.app)

    def compose(self) -> ComposeResult:
        yield Static(Text(self.TITLE, "bold"), id="calendar-heading")
        with VerticalScroll(id="calendar-body"):
            yield Static("loading…", id="calendar-summary")
            yield Static("", id="calendar-days")
            yield Static("", id="calendar-months")
            yield Static("", id="calendar-source")
        # Its two keys as a line of text: a Footer re-lays itself out on every showing.
        yield Static(KEYS_LINE, id="calendar-keys")

    def on_mount(self) -> None:
        given, self._given = self._given, None
        if given is not None:
            self.present(*given)

    def on_screen_resume(self) -> None:
        # Each time it is shown (the screen is kept between visits: laid out once), with
        # fresh numbers: given by the opener, or read now.
        if self._fresh:
            self._fresh = False
        else:
            self.load()

    def action_reload(self) -> None:
        self.load()

    def action_back(self) -> None:
        self.app.pop_screen()

    @work(exclusive=True, group="calendar", exit_on_error=False)
    async def load(self) -> None:
        database = await self.shelver.wait_for_database()
        self.present(*await self.read_numbers(database))

    def present(self, library: LibraryReading, last: LastImport | None) -> None:
        self.library = library
        self.presented += 1
        today = self.today or reading_insights.local_today()
        self._texts = [
            library_summary(library, today),
            calendar(library),
            finished_by_month(library),
            source_line(last),
        ]
        for part, text in zip(PARTS, self._texts, strict=True):
            self.query_one(part, Static).update(text)

    _texts: ClassVar[list[Text]] = []

    @property
    def plain(self) -> str:
        """Everything the screen says, as plain text (tests, the tmux check)."""
        return "\n".join(text.plain for text in self._texts)
