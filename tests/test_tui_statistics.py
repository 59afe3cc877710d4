"""KOReader's reading statistics in the TUI at 80×24: the Reading progress detail, the reading
calendar, the Library's detail pane and its last-read / time-read orders."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from textual.widgets import DataTable, Input

from shelver.data import library, reading
from shelver.data.db import Database
from shelver.data.home import Home
from shelver.data.library_models import (
    LibraryFilters,
    LibraryQuery,
    LibrarySort,
    ReadingFilter,
)
from shelver.data.reading import STATISTICS_DEVICE
from shelver.data.statistics_ingest import import_statistics
from shelver.screens.progress import CALENDAR_SCREEN
from shelver.screens.progress_view import ProgressSort
from shelver.screens.reading_calendar import ReadingCalendarScreen
from shelver.widgets.library_detail import LibraryDetail
from shelver.widgets.progress_history import HistoryChart, SessionsTable, distinct_ticks
from tests.statistics_support import StatBookSpec, write_statistics
from tests.test_tui_library import _open_library, _titles
from tests.test_tui_progress import make_app, make_book, open_progress, put
from tests.tui_support import SIZE, collectable, screen_text, settle

DOC_READ = "a" * 32
DOC_OTHER = "b" * 32
DOC_LOOSE = "c" * 32


def _evenings(
    start: datetime, days: int, first_page: int, pages: int
) -> list[tuple[int, int, int]]:
    visits = []
    page = first_page
    for day in range(days):
        moment = int((start + timedelta(days=day)).timestamp())
        for _ in range(pages):
            visits.append((page, moment, 60))
            moment += 60
            page += 1
    return visits


async def _seed(database: Database, tmp_path: Path) -> None:
    pool = database.pool
    await make_book(pool, "Read A Lot", DOC_READ)
    await make_book(pool, "Read A Little", DOC_OTHER)
    await put(pool, DOC_READ, "kobo", 0.5)
    now = datetime.now(UTC).replace(hour=12, minute=0, second=0, microsecond=0)
    specs = [
        StatBookSpec(
            "Read A Lot", "A. Writer", DOC_READ, 200, _evenings(now - timedelta(days=4), 4, 1, 25)
        ),
        StatBookSpec(
            "Read A Little",
            "A. Writer",
            DOC_OTHER,
            100,
            _evenings(now - timedelta(days=20), 1, 1, 5),
        ),
        StatBookSpec(
            "Not Here", "Nobody", DOC_LOOSE, 50, _evenings(now - timedelta(days=2), 1, 1, 3)
        ),
    ]
    path = write_statistics(tmp_path / "statistics.sqlite3", specs)
    assert (await import_statistics(pool, path, source="test")).outcome == "imported"


async def test_progress_detail_shows_statistics_sessions(
    database: Database, home: Home, database_dsn: str, tmp_path: Path
):
    await _seed(database, tmp_path)
    app = make_app(home, database_dsn)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_progress(pilot)
        table = screen.query_one("#progress-table", DataTable)
        row = next(i for i, r in enumerate(screen.rows) if r.document == DOC_READ)
        table.move_cursor(row=row)
        await settle(pilot)
        sessions = screen.query_one("#progress-sessions", SessionsTable)
        assert screen.statistics is not None
        assert len(sessions.stat_sessions) == 4 and sessions.row_count == 4
        text = screen_text(app)
        assert "1 h 40 min read" in text and "4 sessions" in text and "60 p/h" in text
        assert "25 p" in text and "Pages" in text
        # The newest session: pages 76 to 100 of 200.
        assert "38→50%" in text


async def test_reading_calendar_reads_in_80x24(
    database: Database, home: Home, database_dsn: str, tmp_path: Path
):
    await _seed(database, tmp_path)
    app = make_app(home, database_dsn)
    async with app.run_test(size=SIZE) as pilot:
        await open_progress(pilot)
        # Made ready while Reading progress was on screen: "c" only shows it.
        assert app.is_screen_installed(CALENDAR_SCREEN)
        # ... and set aside from garbage collection with the screens built so far (a full
        # collection inside the key press walked them all).
        prepared = app.get_screen(CALENDAR_SCREEN)
        assert not collectable(prepared)
        await pilot.press("c")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, ReadingCalendarScreen)
        assert screen.library is not None
        text = screen.plain
        assert "Streak" in text and "last 90 days" in text
        assert "██" in text or "▓▓" in text  # reading days are shaded, not only coloured
        assert "Mon" in text and "Sun" in text
        month_row = text.splitlines()[1].split()
        assert len(month_row) == len(set(month_row))  # no month named twice
        assert "Books finished per month" in text
        assert "received" in text and "3 books" in text
        # Everything fits the width of an 80-column terminal.
        assert max(len(line) for line in text.splitlines()) <= 78
        await pilot.press("escape")
        await settle(pilot)
        assert not isinstance(app.screen, ReadingCalendarScreen)
        # Shown again (the same screen, kept), it reads the numbers again.
        more = StatBookSpec("Later", "Someone", "e" * 32, 80, _evenings(datetime.now(UTC), 1, 1, 2))
        path = write_statistics(tmp_path / "more.sqlite3", [more])
        assert (await import_statistics(database.pool, path, source="test")).visits_added == 2
        await pilot.press("c")
        await settle(pilot)
        assert app.screen is screen
        assert "1 books, 2 new page visits" in screen.plain


async def test_library_detail_and_statistics_orders(
    database: Database, home: Home, database_dsn: str, tmp_path: Path
):
    await _seed(database, tmp_path)
    pool = database.pool
    by_time = await library.page(pool, LibraryQuery(sort=LibrarySort.TIME_READ, descending=True))
    assert [r.title for r in by_time.rows][:2] == ["Read A Lot", "Read A Little"]
    by_last = await library.page(pool, LibraryQuery(sort=LibrarySort.LAST_READ))
    assert [r.title for r in by_last.rows][-2:] == ["Read A Little", "Read A Lot"]
    # Keyset pages continue in the same order, one book a page.
    seen = []
    cursor = None
    while True:
        one = await library.page(
            pool, LibraryQuery(sort=LibrarySort.TIME_READ, descending=True), after=cursor, limit=1
        )
        if not one.rows:
            break
        seen.append(one.rows[0].title)
        cursor = one.rows[0].cursor
    assert seen == [r.title for r in by_time.rows]
    # Filtered by when the statistics last saw the book read.
    for when, titles in (
        (ReadingFilter.LAST_WEEK, ["Read A Lot"]),
        (ReadingFilter.LAST_MONTH, ["Read A Little", "Read A Lot"]),
    ):
        recent = LibraryQuery(filters=LibraryFilters(reading=when))
        assert [r.title for r in (await library.page(pool, recent)).rows] == titles
        assert await library.count(pool, recent) == len(titles)
    read_a_lot = by_time.rows[0]
    located = await library.locate(
        pool, LibraryQuery(sort=LibrarySort.TIME_READ, descending=True), read_a_lot.id
    )
    assert located == 0

    app = make_app(home, database_dsn)
    async with app.run_test(size=SIZE) as pilot:
        screen = await _open_library(pilot)
        pane = screen.query_one(LibraryDetail)
        for _ in range(10):
            if "Read A Lot" in pane.plain:
                break
            await pilot.press("down")
            await settle(pilot)
        text = pane.plain
        assert "Time read 1 h 40 min in 4 sessions" in text
        assert "Time left" in text and "First" in text and "Last" in text
        # o steps to the statistics orders, newest first.
        for _ in range(6):
            await pilot.press("o")
            await settle(pilot)
            if screen.sort is LibrarySort.LAST_READ:
                break
        assert screen.sort is LibrarySort.LAST_READ and screen.descending
        assert "by last read" in screen_text(app)


async def test_library_filters_by_time_read_and_never_read(
    database: Database, home: Home, database_dsn: str, tmp_path: Path
):
    await _seed(database, tmp_path)
    pool = database.pool
    await make_book(pool, "Never Opened", "d" * 32)
    for when, titles in (
        (ReadingFilter.OVER_1H, ["Read A Lot"]),
        (ReadingFilter.OVER_5H, []),
        (ReadingFilter.NEVER_READ, ["Never Opened"]),
    ):
        chosen = LibraryQuery(filters=LibraryFilters(reading=when))
        assert [r.title for r in (await library.page(pool, chosen)).rows] == titles
        assert await library.count(pool, chosen) == len(titles)

    app = make_app(home, database_dsn)
    async with app.run_test(size=SIZE) as pilot:
        screen = await _open_library(pilot)
        # From the keyboard: f, tab down to Reading, type its start, → completes, enter.
        await pilot.press("f")
        await settle(pilot)
        for _ in range(10):
            if app.focused is not None and app.focused.id == "filter-reading":
                break
            await pilot.press("tab")
        assert app.focused is not None and app.focused.id == "filter-reading"
        await pilot.press("o", "v", "right", "enter")
        await settle(pilot)
        assert screen.filters.reading is ReadingFilter.OVER_1H
        assert _titles(screen.table) == ["Read A Lot"]
        assert "over-1h" in screen_text(app)
        await pilot.press("f")
        await settle(pilot)
        app.screen.query_one("#filter-reading", Input).value = "never-read"
        await pilot.press("enter")
        await settle(pilot)
        assert _titles(screen.table) == ["Never Opened"]
        assert "never-read" in screen_text(app)


async def test_progress_lists_books_known_only_from_statistics(
    database: Database, home: Home, database_dsn: str, tmp_path: Path
):
    await _seed(database, tmp_path)
    # Only lists of what was read ask for them: KoSync positions stay KoSync positions.
    kosync = await reading.current_positions(database.pool)
    assert [(p.document, p.device) for p in kosync] == [(DOC_READ, "kobo")]
    app = make_app(home, database_dsn)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_progress(pilot)
        rows = {(r.document, r.device): r for r in screen.rows}
        assert set(rows) == {
            (DOC_READ, "kobo"),
            (DOC_OTHER, STATISTICS_DEVICE),
            (DOC_LOOSE, STATISTICS_DEVICE),
        }
        assert rows[DOC_READ, "kobo"].seconds_read == 100 * 60
        assert rows[DOC_OTHER, STATISTICS_DEVICE].seconds_read == 5 * 60
        # Where the last page visit left it: page 5 of 100.
        assert float(rows[DOC_OTHER, STATISTICS_DEVICE].percentage) == 0.05
        text = screen_text(app)
        assert "Read" in text and "1h40" in text and "5m" in text and "statistics" in text
        # o steps to the time-read order, longest first.
        for _ in range(6):
            if screen.filters.sort is ProgressSort.TIME_READ:
                break
            await pilot.press("o")
            await settle(pilot)
        assert [r.document for r in screen.rows] == [DOC_READ, DOC_OTHER, DOC_LOOSE]
        # A device syncs a position of the book: its statistics-only row makes way for it.
        await put(database.pool, DOC_OTHER, "kobo", 0.06)
        for _ in range(50):
            await settle(pilot)
            if (DOC_OTHER, "kobo") in {(r.document, r.device) for r in screen.rows}:
                break
        rows = {(r.document, r.device): r for r in screen.rows}
        assert (DOC_OTHER, STATISTICS_DEVICE) not in rows
        assert rows[DOC_OTHER, "kobo"].seconds_read == 5 * 60


def test_history_axis_labels_never_repeat():
    first = datetime(2026, 3, 1, 20, 0, tzinfo=UTC)
    ticks = [first, first + timedelta(hours=14), first + timedelta(hours=26)]
    kept, labels = distinct_ticks(ticks, "%d/%m")
    assert labels == ["01/03", "02/03"] and len(kept) == 2


async def test_chart_devices_differ_by_marker(database: Database, home: Home, database_dsn: str):
    pool = database.pool
    await make_book(pool, "Two Devices", DOC_READ)
    await put(pool, DOC_READ, "kobo", 0.2)
    await put(pool, DOC_READ, "phone", 0.4)
    app = make_app(home, database_dsn)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_progress(pilot)
        chart = screen.query_one("#progress-chart", HistoryChart)
        await settle(pilot)
        assert set(chart.markers) == {"kobo", "phone"}
        assert len(set(chart.markers.values())) == 2
