"""The Library screen under Pilot at 80×24 on a real database: search as you type, filter
chips, the detail pane, editing with inline errors, bulk tags and sorting."""

from __future__ import annotations

import asyncio
from uuid import UUID

from textual.pilot import Pilot
from textual.widgets import Input

from shelver.data import books, library
from shelver.data.db import Database
from shelver.data.home import Home
from shelver.screens.base import LIVE_WORKERS
from shelver.screens.dialogs.library_edit import EditDialog
from shelver.screens.dialogs.library_filters import FilterDialog, TagsDialog
from shelver.screens.library import LibraryScreen
from shelver.widgets.book_table import BookTable
from shelver.widgets.library_chips import FilterChip, FilterChips
from shelver.widgets.library_detail import LibraryDetail
from tests.library_support import add_book
from tests.tui_support import SIZE, burst, make_app, screen_text, settle


async def _shelf(database: Database) -> dict[str, UUID]:
    pool = database.pool
    return {
        "dune": await add_book(
            pool,
            "Dune",
            "Frank Herbert",
            published_year=1965,
            language="en",
            isbn_13="9780441172719",
            genres=["Science fiction"],
            tags=["classic"],
            description="A desert planet and the spice.",
            formats=("epub", "pdf"),
            progress={"Kobo Libra 2": 0.45},
        ),
        "hobbit": await add_book(
            pool, "The Hobbit", "J. R. R. Tolkien", published_year=1937, language="en"
        ),
        "germinal": await add_book(
            pool, "Germinal", "Émile Zola", published_year=1885, language="fr", formats=("mobi",)
        ),
        "anna": await add_book(pool, "Anna Karenina", "Leo Tolstoy", published_year=1878),
    }


async def settle_beside_dialog(pilot: Pilot) -> None:
    """Like ``settle`` while an edit dialog is open: its worker waits for the dialog's answer,
    so only the other workers are waited for."""
    for _ in range(3):
        await pilot.pause()
        waiting = [
            w
            for w in pilot.app.workers
            if w.group not in ("library-edit", LIVE_WORKERS) and not w.is_finished
        ]
        if waiting:
            await asyncio.wait_for(pilot.app.workers.wait_for_complete(waiting), 10)
    await pilot.pause()


def _titles(table: BookTable) -> list[str]:
    return [row.title for i in range(table.total) if (row := table.row_at(i)) is not None]


async def _open_library(pilot: Pilot) -> LibraryScreen:
    await settle(pilot)
    await pilot.press("l")
    await settle(pilot)
    screen = pilot.app.screen
    assert isinstance(screen, LibraryScreen)
    return screen


async def test_rows_and_search_as_you_type(
    database: Database, database_dsn: str, home: Home
) -> None:
    await _shelf(database)
    app = make_app(home, database_dsn)
    async with app.run_test(size=SIZE) as pilot:
        screen = await _open_library(pilot)
        table = screen.table
        assert _titles(table) == ["Anna Karenina", "Dune", "Germinal", "The Hobbit"]
        assert "4 books" in screen_text(app)
        assert "Title" in screen_text(app) and "Read" in screen_text(app)

        await pilot.press("slash")
        assert isinstance(app.focused, Input)
        for key in "tolk":
            await pilot.press(key)
        await settle(pilot)
        assert _titles(table) == ["The Hobbit"]
        assert "1 match" in screen_text(app)
        # Letters typed into search never reach the screen's or the app's keys.
        assert app.current_mode == "library" and not isinstance(app.screen, FilterDialog)

        await pilot.press("backspace", "backspace", "backspace", "backspace")
        for key in "germ":
            await pilot.press(key)
        await settle(pilot)
        assert _titles(table) == ["Germinal"]

        await pilot.press("escape")
        assert app.focused is table
        await pilot.press("ctrl+r")  # a refresh keeps the search
        await settle(pilot)
        assert _titles(table) == ["Germinal"]


async def test_filter_chips_add_and_clear(
    database: Database, database_dsn: str, home: Home
) -> None:
    await _shelf(database)
    app = make_app(home, database_dsn)
    async with app.run_test(size=SIZE) as pilot:
        screen = await _open_library(pilot)
        await pilot.press("f")
        await settle(pilot)
        assert isinstance(app.screen, FilterDialog)
        for key in "fr":
            await pilot.press(key)  # typed into the author input: no filter by "fr" yet
        await pilot.press("tab", "tab", "tab")  # to the language input
        assert app.focused is not None and app.focused.id == "filter-language"
        for key in "fr":
            await pilot.press(key)
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, LibraryScreen)
        chips = screen.query_one(FilterChips)
        assert chips.fields == ["author", "language"]
        assert _titles(screen.table) == []  # Zola is French, Herbert is not
        assert "0 matches" in screen_text(app)

        # Focus the author chip from the keyboard and clear it.
        await pilot.press("shift+tab")
        while not (isinstance(app.focused, FilterChip) and app.focused.field == "author"):
            await pilot.press("shift+tab")
        await pilot.press("backspace")
        await settle(pilot)
        assert chips.fields == ["language"]
        assert _titles(screen.table) == ["Germinal"]
        assert "language: fr" in screen_text(app)

        # Filters combine with search; x clears every filter.
        await pilot.press("slash", "z", "o", "l", "a", "escape")
        await settle(pilot)
        assert _titles(screen.table) == ["Germinal"]
        await pilot.press("x")
        await settle(pilot)
        assert chips.fields == [] and not chips.display
        assert _titles(screen.table) == ["Germinal"]  # the search stays


async def test_a_bad_reading_state_is_refused_inline(
    database: Database, database_dsn: str, home: Home
) -> None:
    await _shelf(database)
    app = make_app(home, database_dsn)
    async with app.run_test(size=SIZE) as pilot:
        screen = await _open_library(pilot)
        await pilot.press("f")
        await settle(pilot)
        app.screen.query_one("#filter-reading", Input).value = "halfway"
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, FilterDialog)
        assert "reading is one of unread, reading, finished" in screen_text(app)
        app.screen.query_one("#filter-reading", Input).value = "reading"
        await pilot.press("enter")
        await settle(pilot)
        assert _titles(screen.table) == ["Dune"]


async def test_detail_pane_follows_the_cursor(
    database: Database, database_dsn: str, home: Home
) -> None:
    ids = await _shelf(database)
    app = make_app(home, database_dsn)
    async with app.run_test(size=SIZE) as pilot:
        screen = await _open_library(pilot)
        pane = screen.query_one(LibraryDetail)
        assert "Anna Karenina" in pane.plain and "Leo Tolstoy" in pane.plain
        await pilot.press("down")
        await settle(pilot)
        text = pane.plain
        assert "Dune" in text and "Frank Herbert" in text
        assert "9780441172719" in text and "not linked" in text
        assert "Science fiction" in text and "classic" in text
        assert f"library/{ids['dune']}/0.epub" in text and "pdf" in text
        assert "Kobo Libra 2" in text and "45.0 %" in text and "reading" in text
        assert "A desert planet" in text
        assert "no cover" in text or "no cover" in screen_text(app)

        # d hides the pane (more rows at 80×24) and brings it back.
        await pilot.press("d")
        await settle(pilot)
        assert not pane.display
        await pilot.press("d")
        await settle(pilot)
        assert pane.display and "Dune" in pane.plain


async def test_edit_with_an_error_then_a_valid_save(
    database: Database, database_dsn: str, home: Home
) -> None:
    ids = await _shelf(database)
    app = make_app(home, database_dsn)
    async with app.run_test(size=SIZE) as pilot:
        screen = await _open_library(pilot)
        await pilot.press("down")  # Dune
        await settle(pilot)
        await pilot.press("e")
        await settle_beside_dialog(pilot)
        dialog = app.screen
        assert isinstance(dialog, EditDialog)
        dialog.query_one("#edit-isbn_13", Input).value = "9780441172710"
        dialog.query_one("#edit-published_year", Input).value = "20650"
        dialog.query_one("#edit-language", Input).value = "klingon"
        await pilot.press("ctrl+s")
        await settle_beside_dialog(pilot)
        assert app.screen is dialog  # nothing saved
        text = screen_text(app)
        assert "not a valid ISBN-13" in text
        assert "the year must be between" in text
        assert "not an ISO 639-1 language code" in text
        assert (await books.get(database.pool, ids["dune"])).published_year == 1965

        dialog.query_one("#edit-isbn_13", Input).value = "978-0-441-17271-9"
        dialog.query_one("#edit-published_year", Input).value = "1966"
        dialog.query_one("#edit-language", Input).value = "English"
        dialog.query_one("#edit-title", Input).value = "Dune Messiah"
        dialog.query_one("#edit-genres", Input).value = "Science fiction, Space opera"
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, LibraryScreen)
        book = await books.get(database.pool, ids["dune"])
        assert book.title == "Dune Messiah" and book.published_year == 1966
        assert book.language == "en" and book.genres == ["Science fiction", "Space opera"]
        assert screen.table.cursor_row.title == "Dune Messiah"  # the cursor stayed on it
        assert "Dune Messiah" in screen.query_one(LibraryDetail).plain
        found = await library.search(database.pool, "messiah")
        assert [r.id for r in found] == [ids["dune"]]


async def test_bulk_tags_on_marked_rows(database: Database, database_dsn: str, home: Home) -> None:
    ids = await _shelf(database)
    app = make_app(home, database_dsn)
    async with app.run_test(size=SIZE) as pilot:
        screen = await _open_library(pilot)
        await pilot.press("space", "space")  # marks Anna Karenina and Dune
        await settle(pilot)
        assert "2 marked" in screen_text(app)
        await pilot.press("t")
        await settle_beside_dialog(pilot)
        assert isinstance(app.screen, TagsDialog)
        for key in "to-read":
            await pilot.press(key)
        await pilot.press("tab")
        for key in "classic":
            await pilot.press(key)
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, LibraryScreen)
        assert (await books.get(database.pool, ids["anna"])).tags == ["to-read"]
        assert (await books.get(database.pool, ids["dune"])).tags == ["to-read"]
        assert (await books.get(database.pool, ids["hobbit"])).tags == []
        assert not screen.table.marked


async def test_sort_by_each_column_from_the_keyboard(
    database: Database, database_dsn: str, home: Home
) -> None:
    await _shelf(database)
    app = make_app(home, database_dsn)
    async with app.run_test(size=SIZE) as pilot:
        screen = await _open_library(pilot)
        table = screen.table
        await pilot.press("o")
        await settle(pilot)
        assert table.columns[1].label == "Author ▲"
        assert _titles(table) == ["Germinal", "Dune", "The Hobbit", "Anna Karenina"]
        await pilot.press("v")
        await settle(pilot)
        assert table.columns[1].label == "Author ▼"
        assert _titles(table)[0] == "Anna Karenina"
        await pilot.press("o")
        await settle(pilot)
        assert table.columns[2].label == "Year ▲"
        assert _titles(table) == ["Anna Karenina", "Germinal", "The Hobbit", "Dune"]
        assert "by year" in screen_text(app)


async def test_empty_library_says_what_to_do(database_dsn: str, home: Home) -> None:
    app = make_app(home, database_dsn)
    async with app.run_test(size=SIZE) as pilot:
        await _open_library(pilot)
        text = screen_text(app)
        assert "No books in the library yet" in text and "Review (r)" in text


async def test_screen_keys_do_not_fire_while_typing(
    database: Database, database_dsn: str, home: Home
) -> None:
    await _shelf(database)
    app = make_app(home, database_dsn)
    async with app.run_test(size=SIZE) as pilot:
        screen = await _open_library(pilot)
        await pilot.press("slash", *"ovetdxfirlpsq")
        await settle(pilot)
        assert app.screen is screen and app.current_mode == "library"
        assert screen.text == "ovetdxfirlpsq"
        assert screen.sort.value == "relevance" and not screen.has_class("-no-detail")


async def test_cursor_survives_a_refresh_and_new_books(
    database: Database, database_dsn: str, home: Home
) -> None:
    ids = await _shelf(database)
    app = make_app(home, database_dsn)
    async with app.run_test(size=SIZE) as pilot:
        screen = await _open_library(pilot)
        await pilot.press("down", "down")  # Germinal
        await settle(pilot)
        assert screen.table.cursor_row.id == ids["germinal"]
        await add_book(database.pool, "Aaa First", "Someone")  # sorts before the cursor
        await pilot.press("ctrl+r")
        await settle(pilot)
        assert screen.table.total == 5
        assert screen.table.cursor_row.id == ids["germinal"]
        assert "Germinal" in screen.query_one(LibraryDetail).plain


async def test_wide_terminal_puts_the_detail_beside_the_table(
    database: Database, database_dsn: str, home: Home
) -> None:
    await _shelf(database)
    app = make_app(home, database_dsn)
    async with app.run_test(size=(140, 30)) as pilot:
        screen = await _open_library(pilot)
        assert screen.has_class("-wide")
        pane = screen.query_one(LibraryDetail)
        assert pane.region.x > screen.table.region.x and pane.region.y == screen.table.region.y
        await pilot.resize_terminal(80, 24)
        await settle(pilot)
        assert not screen.has_class("-wide")
        assert pane.region.y > screen.table.region.y


async def test_a_resize_keeps_the_search_and_filters(
    database: Database, database_dsn: str, home: Home
) -> None:
    await _shelf(database)
    app = make_app(home, database_dsn)
    async with app.run_test(size=SIZE) as pilot:
        screen = await _open_library(pilot)
        await pilot.press("f", *"zola", "enter")
        await settle(pilot)
        assert _titles(screen.table) == ["Germinal"]
        await pilot.resize_terminal(140, 30)
        await settle(pilot)
        assert _titles(screen.table) == ["Germinal"]
        await pilot.press("x")
        await pilot.resize_terminal(80, 24)
        await settle(pilot)
        assert len(_titles(screen.table)) == 4 and "4 books" in screen_text(app)


async def test_each_search_keystroke_counts_once(
    database: Database, database_dsn: str, home: Home, monkeypatch
) -> None:
    """Every statement the app sends is logged (asyncpg's query logger on each of its
    connections): a keystroke in the Library search runs the count query exactly once."""
    from shelver.data import db as db_module

    for i in range(30):
        await add_book(database.pool, f"Tolkien essays {i:02d}", "J. R. R. Tolkien")
    sent: list[str] = []
    plain_init = db_module._init_connection

    async def logging_init(conn) -> None:
        await plain_init(conn)
        conn.add_query_logger(lambda record: sent.append(record.query))

    monkeypatch.setattr(db_module, "_init_connection", logging_init)
    count_sql = library.statement("library_count")
    app = make_app(home, database_dsn)
    async with app.run_test(size=SIZE) as pilot:
        await _open_library(pilot)
        await pilot.press("slash")
        for typed, key in enumerate("tolk", start=1):
            sent.clear()
            await pilot.press(key)
            await settle(pilot)
            assert sent.count(count_sql) == 1, f"after {'tolk'[:typed]!r}"
        assert "30 matches" in screen_text(app)


async def test_keys_in_one_burst_after_ctrl_u_land_in_the_search(
    database: Database, database_dsn: str, home: Home
) -> None:
    await _shelf(database)
    app = make_app(home, database_dsn)
    async with app.run_test(size=SIZE) as pilot:
        screen = await _open_library(pilot)
        await pilot.press("slash", *"tolk")
        await settle(pilot)
        burst(app, "ctrl+u", *"germ")  # as tmux send-keys or a fast typist sends them
        await settle(pilot)
        assert screen.query_one("#library-search", Input).value == "germ"
        assert _titles(screen.table) == ["Germinal"]
        burst(app, "ctrl+u", *"dne", "left", "left", "u", "backspace", "u")  # edits in order
        await settle(pilot)
        assert screen.query_one("#library-search", Input).value == "dune"
        assert _titles(screen.table) == ["Dune"]
