"""Reading progress under Pilot at 80x24 on a real database: rows, filters, sort, history,
live updates through LISTEN/NOTIFY, linking by hand, and the Hardcover sync action."""

from __future__ import annotations

import json
import uuid

import pytest
import respx
from textual import events
from textual.pilot import Pilot
from textual.widgets import DataTable, Input, Static

from shelver.app.shelver_app import ShelverApp
from shelver.data import books, kosync, reading
from shelver.data.db import Database, DatabaseTarget
from shelver.data.hardcover_sync import TOKEN_ENV
from shelver.data.home import Home
from shelver.data.kosync import ProgressUpdate
from shelver.data.models import BookFields, BookStatus
from shelver.data.reading import ReadingState
from shelver.data.settings import ProviderSettings, Settings
from shelver.screens.dialogs.progress_link import LinkBookDialog
from shelver.screens.progress import ProgressScreen
from shelver.screens.progress_view import ProgressFilters, ProgressSort
from shelver.screens.sync_log import SyncLogScreen
from shelver.widgets.progress_history import HistoryChart, SessionsTable
from shelver.widgets.progress_strip import ProgressStrip
from tests.test_hardcover_sync import TOKEN, URL, FakeHardcover
from tests.tui_support import SIZE, screen_text, settle

LIVE_WAIT_STEPS = 400
"""Pauses (each yields to the loop briefly) to wait for a notice-driven refresh."""


def make_app(home: Home, dsn: str, *, hardcover_url: str | None = None) -> ShelverApp:
    providers = ProviderSettings(hardcover_url=hardcover_url) if hardcover_url else None
    settings = Settings(providers=providers) if providers else Settings()
    return ShelverApp(
        home=home, settings=settings, target=DatabaseTarget(dsn=dsn), watch_inbox=False
    )


async def put(pool, document: str, device: str, percentage: float) -> None:
    """Write a position the way ``shelver serve`` does (one batch, history included)."""
    body = {"document": document, "device": device, "percentage": percentage, "progress": "p"}
    update = ProgressUpdate(document, device, None, "p", percentage, 1, json.dumps(body))
    await kosync.write_batch(pool, [update])


async def make_book(pool, title: str, document: str | None, *, isbn_13: str | None = None):
    book = await books.insert(
        pool,
        BookFields(title=title, author="A. Writer", isbn_13=isbn_13),
        status=BookStatus.ORGANIZED,
    )
    await books.add_file(
        pool,
        book.id,
        format="epub",
        original_name=f"{title}.epub",
        file_size=10,
        checksum=uuid.uuid4().hex,
        content_hash=document,
    )
    return book


DOC_DUNE = "d" * 32
DOC_EMMA = "e" * 32
DOC_LOOSE = "0123456789abcdef" * 2


async def seed(pool) -> None:
    await make_book(pool, "Dune", DOC_DUNE)
    await make_book(pool, "Emma", DOC_EMMA)
    await make_book(pool, "Zorba the Greek", None)
    await put(pool, DOC_DUNE, "kobo", 0.10)
    await put(pool, DOC_DUNE, "kobo", 0.25)
    await put(pool, DOC_DUNE, "phone", 0.40)
    await put(pool, DOC_EMMA, "kobo", 0.97)
    await put(pool, DOC_LOOSE, "phone", 0.33)
    # A position no device has moved for 40 days counts as paused.
    await pool.execute(
        "INSERT INTO reading_progress (document, device, progress, percentage, updated_at) "
        "VALUES ('old-doc', 'kindle', '3', 0.3, now() - interval '40 days')"
    )


async def open_progress(pilot: Pilot) -> ProgressScreen:
    await settle(pilot)
    await pilot.press("p")
    await settle(pilot)
    screen = pilot.app.screen
    assert isinstance(screen, ProgressScreen)
    return screen


def cell_texts(screen: ProgressScreen) -> list[str]:
    table = screen.query_one("#progress-table", DataTable)
    return [" | ".join(str(c) for c in table.get_row_at(i)) for i in range(table.row_count)]


async def listeners(database: Database) -> int:
    """Sessions of this database whose last statement was a LISTEN (other sessions' channels
    are not visible, but a released or UNLISTENed connection has run something since)."""
    return await database.pool.fetchval(
        "SELECT count(*) FROM pg_stat_activity "
        "WHERE datname = current_database() AND pid <> pg_backend_pid() "
        "AND query ILIKE 'LISTEN %shelver_reading_progress%'"
    )


async def wait_for(pilot: Pilot, condition) -> bool:
    """Wait (bounded by steps, not by the clock) until ``condition()`` holds."""
    for _ in range(LIVE_WAIT_STEPS):
        if condition():
            return True
        await pilot.pause(0.01)
    return condition()


async def test_rows_show_books_bars_states_and_unlinked(
    database: Database, home: Home, database_dsn
):
    await seed(database.pool)
    app = make_app(home, database_dsn)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_progress(pilot)
        text = screen_text(app)
        assert "Dune" in text and "Emma" in text
        assert "unlinked 0123456789" in text  # the document id, marked
        rows = {(r.document, r.device): r.state for r in screen.rows}
        assert rows[(DOC_EMMA, "kobo")] == ReadingState.FINISHED
        assert rows[("old-doc", "kindle")] == ReadingState.PAUSED
        assert rows[(DOC_DUNE, "phone")] == ReadingState.READING
        lines = cell_texts(screen)
        assert any("Emma" in line and "97%" in line and "finished" in line for line in lines)
        assert any("█" in line and "40%" in line for line in lines)
        assert any("paused" in line for line in lines)
        assert "just now" in text
        assert "4 documents · 3 devices · 2 unlinked" in text
        # Newest first by default.
        assert screen.rows[0].document == "0123456789abcdef" * 2
        # Footer keys fit at 80 columns alongside the app's.
        shown = {b.binding.key for b in screen.active_bindings.values() if b.binding.show}
        assert {"o", "k", "h"} <= shown


async def test_filters_and_sort_from_the_keyboard(database: Database, home: Home, database_dsn):
    await seed(database.pool)
    app = make_app(home, database_dsn)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_progress(pilot)
        assert len(screen.rows) == 5

        await pilot.press("t")  # state: reading
        await settle(pilot)
        assert {r.state for r in screen.rows} == {ReadingState.READING}
        assert "state: reading" in screen_text(app)
        await pilot.press("t")  # finished
        await settle(pilot)
        assert [r.document for r in screen.rows] == [DOC_EMMA]
        await pilot.press("t", "t")  # paused, then all again
        await settle(pilot)
        assert len(screen.rows) == 5

        await pilot.press("d")  # the first device by name: kindle
        await settle(pilot)
        assert {r.device for r in screen.rows} == {"kindle"}
        assert "device: kindle" in screen_text(app)
        await pilot.press("d")  # kobo
        await settle(pilot)
        assert {r.device for r in screen.rows} == {"kobo"}
        await pilot.press("x")  # clear
        await settle(pilot)
        assert len(screen.rows) == 5

        await pilot.press("o")  # title
        await settle(pilot)
        assert screen.filters.sort is ProgressSort.TITLE
        assert [r.title for r in screen.rows[:3]] == ["Dune", "Dune", "Emma"]
        assert screen.rows[-1].book_id is None
        await pilot.press("o")  # percentage, highest first
        await settle(pilot)
        percentages = [r.percentage for r in screen.rows]
        assert percentages == sorted(percentages, reverse=True)
        await pilot.press("O")  # reversed
        await settle(pilot)
        assert [r.percentage for r in screen.rows] == sorted(percentages)
        await pilot.press("o")  # device
        await settle(pilot)
        assert [r.device for r in screen.rows] == sorted(r.device for r in screen.rows)

        # The text filter takes every key, including the app's screen keys.
        await pilot.press("slash")
        await pilot.press(*"dune")
        await settle(pilot)
        assert app.current_mode == "progress"
        assert screen.query_one("#progress-filter", Input).value == "dune"
        assert {r.title for r in screen.rows} == {"Dune"}
        await pilot.press("enter")
        await pilot.press("escape")  # on the list: clears the text filter
        await settle(pilot)
        assert len(screen.rows) == 5
        await pilot.press("slash", "l", "i", "p", "s")
        await pilot.pause()
        assert app.current_mode == "progress"
        assert screen.query_one("#progress-filter", Input).value == "lips"
        assert screen.rows == []
        assert "No position matches" in screen_text(app)


async def test_history_chart_and_sessions_of_the_selected_book(
    database: Database, home: Home, database_dsn
):
    await seed(database.pool)
    app = make_app(home, database_dsn)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_progress(pilot)
        table = screen.query_one("#progress-table", DataTable)
        dune = next(i for i, r in enumerate(screen.rows) if r.title == "Dune")
        table.move_cursor(row=dune)
        await settle(pilot)
        chart = screen.query_one("#progress-chart", HistoryChart)
        sessions = screen.query_one("#progress-sessions", SessionsTable)
        # The whole book: both devices' updates.
        assert set(chart.series) == {"kobo", "phone"}
        assert [v for _, v in chart.series["kobo"]] == [10.0, 25.0]
        assert {s.device for s in sessions.sessions} == {"kobo", "phone"}
        assert sessions.row_count == 2
        assert "10→25%" in screen_text(app)
        assert "History of Dune" in screen_text(app)

        loose = next(i for i, r in enumerate(screen.rows) if r.book_id is None)
        table.move_cursor(row=loose)
        await settle(pilot)
        assert set(chart.series) == {"phone"}
        assert "unlinked: k links it" in screen_text(app)


async def test_a_device_sync_updates_the_open_screen_live(
    database: Database, home: Home, database_dsn
):
    await seed(database.pool)
    app = make_app(home, database_dsn)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_progress(pilot)
        assert await wait_for(pilot, lambda: screen.listening)
        table = screen.query_one("#progress-table", DataTable)
        emma = next(i for i, r in enumerate(screen.rows) if r.title == "Emma")
        table.move_cursor(row=emma)
        await settle(pilot)
        selected = screen.selected_key()

        # A device moves on in Dune, another starts a new document: no key is pressed.
        await put(database.pool, DOC_DUNE, "phone", 0.55)
        await put(database.pool, "new-document", "kindle", 0.05)
        assert await wait_for(pilot, lambda: len(screen.rows) == 6)
        await settle(pilot)
        dune = next(r for r in screen.rows if (r.document, r.device) == (DOC_DUNE, "phone"))
        assert float(dune.percentage) == 0.55
        assert any("55%" in line for line in cell_texts(screen))
        assert screen.selected_key() == selected  # the cursor stayed on Emma
        assert await wait_for(pilot, lambda: screen.notices_received >= 2)
        assert screen.live_refreshes <= screen.notices_received

        # The selected book's own history follows too.
        await put(database.pool, DOC_EMMA, "kobo", 0.99)
        chart = screen.query_one("#progress-chart", HistoryChart)
        assert await wait_for(pilot, lambda: len(chart.series.get("kobo", [])) == 2)
        assert screen.selected_key() == selected

        # A burst is coalesced into few refreshes.
        before = screen.live_refreshes
        for step in range(20):
            await put(database.pool, DOC_DUNE, "kobo", 0.30 + step / 100)
        assert await wait_for(
            pilot,
            lambda: any(float(r.percentage) == 0.49 for r in screen.rows if r.device == "kobo"),
        )
        assert screen.live_refreshes - before < 20

        # Leaving the screen stops listening (the connection goes back to the pool).
        assert await listeners(database) == 1
        await pilot.press("l")
        await settle(pilot)
        assert not screen.listening
        assert await listeners(database) == 0
        await pilot.press("p")
        await settle(pilot)
        assert await wait_for(pilot, lambda: screen.listening)
        assert await listeners(database) == 1
    # Quitting the app let go of it too.
    assert await listeners(database) == 0


async def test_a_device_name_is_shown_as_typed_not_read_as_markup(
    database: Database, home: Home, database_dsn
):
    """A device's name comes from KOReader, over the network: "[/b]" in it is text. Read as
    markup it is a closing tag without an opening one, and painting the row stopped the app."""
    await seed(database.pool)
    app = make_app(home, database_dsn)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_progress(pilot)
        assert await wait_for(pilot, lambda: screen.listening)
        await put(database.pool, DOC_DUNE, "[/b] Kobo", 0.5)
        assert await wait_for(pilot, lambda: screen.rows[0].device == "[/b] Kobo")
        await settle(pilot)
        table = screen.query_one("#progress-table", DataTable)
        assert "[/b] Kobo" in table.render_line(1).text  # the first row, under the header
        # Its book's sessions name the device too (cut to their column).
        table.move_cursor(row=0)
        sessions = screen.query_one("#progress-sessions", SessionsTable)
        assert await wait_for(
            pilot, lambda: any(s.device == "[/b] Kobo" for s in sessions.sessions)
        )
        await settle(pilot)
        assert "[/b] Ko" in "".join(sessions.render_line(y).text for y in range(1, 4))


async def test_link_and_unlink_by_hand(database: Database, home: Home, database_dsn):
    await seed(database.pool)
    app = make_app(home, database_dsn)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_progress(pilot)
        table = screen.query_one("#progress-table", DataTable)
        loose = next(i for i, r in enumerate(screen.rows) if r.document == DOC_LOOSE)
        table.move_cursor(row=loose)
        await settle(pilot)
        await pilot.press("k")
        await settle(pilot)
        assert isinstance(app.screen, LinkBookDialog)
        await pilot.press(*"zorba")
        await settle(pilot)
        assert "Zorba the Greek" in screen_text(app) or app.screen.query_one("#link-results")
        await pilot.press("enter")
        await settle(pilot)
        assert app.screen is screen
        row = next(r for r in screen.rows if r.document == DOC_LOOSE)
        assert row.title == "Zorba the Greek" and row.link_method == "manual"
        assert screen.selected_key() == f"{DOC_LOOSE}\x00phone"
        assert "linked by hand" in screen_text(app)

        await pilot.press("u")
        await settle(pilot)
        row = next(r for r in screen.rows if r.document == DOC_LOOSE)
        assert row.book_id is None

        # Typed in one go (all four keys queued before the dialog is up): nothing is lost.
        for key in "kzor":
            app.post_message(events.Key(key, key))
        await settle(pilot)
        dialog = app.screen
        assert isinstance(dialog, LinkBookDialog)
        assert dialog.query_one("#link-search", Input).value == "zor"
        assert screen.filters == ProgressFilters()  # no key reached the list's bindings
        await pilot.press("escape")
        await settle(pilot)

        # A digest match cannot be unlinked, only overridden; esc leaves the dialog.
        dune = next(i for i, r in enumerate(screen.rows) if r.title == "Dune")
        table.move_cursor(row=dune)
        await pilot.press("u")
        await settle(pilot)
        assert any(r.title == "Dune" for r in screen.rows)
        await pilot.press("k")
        await settle(pilot)
        await pilot.press("escape")
        await settle(pilot)
        assert app.screen is screen


async def test_hardcover_sync_action_and_log(
    database: Database, home: Home, database_dsn, monkeypatch: pytest.MonkeyPatch
):
    pool = database.pool
    await make_book(pool, "Dune", DOC_DUNE, isbn_13="9780441013593")
    await make_book(pool, "Emma", DOC_EMMA, isbn_13="9780141439587")
    await put(pool, DOC_DUNE, "kobo", 0.5)
    await put(pool, DOC_EMMA, "kobo", 0.2)
    fake = FakeHardcover()
    fake.edition(isbn_13="9780441013593", id=11, book=22, pages=400)
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    app = make_app(home, database_dsn, hardcover_url=URL)
    with respx.mock(assert_all_mocked=True, assert_all_called=False) as router:
        router.post(URL).mock(side_effect=fake)
        async with app.run_test(size=SIZE) as pilot:
            screen = await open_progress(pilot)
            await pilot.press("h")
            await settle(pilot)
            report = screen.last_report
            assert report is not None and report.ok
            assert report.message == "Hardcover: 1 synced, 1 not found"
            strip = screen.query_one("#progress-strip", ProgressStrip)
            assert strip.progress == (2, 2)
            assert "1 synced" in screen_text(app)
            assert TOKEN not in screen_text(app)

            await pilot.press("g")
            await settle(pilot)
            assert isinstance(app.screen, SyncLogScreen)
            log = screen_text(app)
            assert "Dune" in log and "synced" in log and "page 200 of 400" in log
            assert "Emma" in log and "not found" in log
            await pilot.press("escape")
            await settle(pilot)
            assert app.screen is screen
    assert "InsertUserBook" in fake.operations()


async def test_hardcover_without_a_token_says_how_to_set_one(
    database: Database, home: Home, database_dsn, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.delenv(TOKEN_ENV, raising=False)
    await seed(database.pool)
    app = make_app(home, database_dsn, hardcover_url=URL)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_progress(pilot)
        await pilot.press("h")
        await settle(pilot)
        report = screen.last_report
        assert report is not None and not report.ok
        assert "shelver credentials add hardcover default" in report.message
        assert TOKEN_ENV in report.message
        notices = [n.message for n in app._notifications]
        assert any("credentials add hardcover default" in n for n in notices)
        assert not screen.query_one("#progress-strip", ProgressStrip).has_class("-running")

        # Settings has the same action: it opens the sync log and runs the sync there.
        await pilot.press("s")
        await settle(pilot)
        await pilot.press("h")
        await settle(pilot)
        log = app.screen
        assert isinstance(log, SyncLogScreen)
        assert log.last_report is not None and not log.last_report.ok
        assert "Hardcover sync log" in screen_text(app)
        await pilot.press("escape")
        await settle(pilot)
        assert app.current_mode == "settings" and not isinstance(app.screen, SyncLogScreen)


async def test_live_updates_come_back_after_the_connection_drops(
    database: Database, home: Home, database_dsn
):
    await seed(database.pool)
    app = make_app(home, database_dsn)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_progress(pilot)
        assert await wait_for(pilot, lambda: screen.listening)
        # The server ends the listening session (as a restart or a network cut would).
        ended = await database.pool.fetchval(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND query ILIKE 'LISTEN%'"
        )
        assert ended == 1
        assert await wait_for(pilot, lambda: screen.reconnects == 1 and screen.listening)
        # Updates arrive live again, without a key press.
        await put(database.pool, DOC_DUNE, "phone", 0.77)
        assert await wait_for(
            pilot,
            lambda: any(
                float(r.percentage) == 0.77
                for r in screen.rows
                if (r.document, r.device) == (DOC_DUNE, "phone")
            ),
        )


async def test_a_notice_changes_its_row_without_reading_every_position(
    database: Database, home: Home, database_dsn, monkeypatch
):
    await seed(database.pool)
    reads: list[list[str] | None] = []
    real = reading.current_positions

    async def counted(*args, **kwargs):
        reads.append(kwargs.get("documents"))
        return await real(*args, **kwargs)

    monkeypatch.setattr(reading, "current_positions", counted)
    app = make_app(home, database_dsn)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_progress(pilot)
        assert await wait_for(pilot, lambda: screen.listening)
        reads.clear()
        heading = screen.query_one("#heading", Static)
        chips = screen.query_one("#progress-chips", Static)
        words = (heading.content, chips.content)

        # A device moves on in a book on screen: the notice itself is the new row.
        await put(database.pool, DOC_DUNE, "phone", 0.61)
        assert await wait_for(pilot, lambda: any(float(r.percentage) == 0.61 for r in screen.rows))
        await settle(pilot)
        assert reads == []
        assert screen.rows[0].title == "Dune" and screen.rows[0].device == "phone"
        assert "61%" in cell_texts(screen)[0]  # newest first: it moved to the top
        # The words above the list are the same, so they are not set again (setting a Static
        # lays out and repaints the whole screen, for the one row that changed).
        assert (heading.content, chips.content) == words
        assert heading.content is words[0] and chips.content is words[1]

        # A document not on screen: only its own positions are read (its book is unknown).
        await put(database.pool, "fresh-document", "kobo", 0.02)
        assert await wait_for(pilot, lambda: screen.rows[0].document == "fresh-document")
        assert reads == [["fresh-document"]]
        assert "5 documents" in str(heading.content)  # words that change still change

        # Linking it by hand: the link notice re-reads that document alone.
        emma = next(r.book_id for r in screen.rows if r.title == "Emma")
        await reading.link_document(database.pool, "fresh-document", emma)
        assert await wait_for(pilot, lambda: screen.rows[0].title == "Emma")
        assert reads[-1] == ["fresh-document"]
        # The table agrees with the rows, in order.
        assert [t.split(" | ")[0] for t in cell_texts(screen)][:2] == ["Emma", "Dune"]
