"""The app shell under Pilot at 80x24: navigation, real rows, empty states, error dialog."""

from __future__ import annotations

import pytest
from textual.widgets import DataTable, Input

from shelver.app.demo import seed_demo_library
from shelver.data.db import Database
from shelver.data.home import Home
from shelver.screens.dialogs.error import ErrorDialog
from shelver.widgets.book_table import BookTable
from shelver.widgets.mode_bar import MODE_TABS
from tests.tui_support import SIZE, collectable, make_app, screen_text, settle

SCREEN_NAMES = {
    "inbox": "InboxScreen",
    "review": "ReviewScreen",
    "library": "LibraryScreen",
    "progress": "ProgressScreen",
    "settings": "SettingsScreen",
}


async def test_every_screen_is_one_key_away(database_dsn: str, home: Home) -> None:
    app = make_app(home, database_dsn)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert app.current_mode == "inbox"
        for tab in [*MODE_TABS[1:], MODE_TABS[0], MODE_TABS[3]]:
            await pilot.press(tab.key)
            await settle(pilot)
            assert app.current_mode == tab.mode
            assert type(app.screen).__name__ == SCREEN_NAMES[tab.mode]
            # The current screen's name is always on screen (the bar and the heading).
            assert tab.label in screen_text(app)
        assert not any(isinstance(s, ErrorDialog) for s in app.screen_stack)


async def test_startup_objects_are_set_aside_from_garbage_collection(
    database_dsn: str, home: Home
) -> None:
    # Every full collection walked them all again (~100 ms inside a key press).
    app = make_app(home, database_dsn)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert not collectable(app)
        assert not collectable(app.screen)
    assert collectable(app)  # the app has ended: its objects may be collected again


async def test_footer_shows_the_screen_keys(database_dsn: str, home: Home) -> None:
    app = make_app(home, database_dsn)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        shown = {b.binding.key for b in app.screen.active_bindings.values() if b.binding.show}
        # The screen keys live in the mode bar (each tab's key underlined), leaving the footer
        # to the current screen's own keys; they all still work.
        assert not {tab.key for tab in MODE_TABS} & shown
        active = {b.binding.key for b in app.screen.active_bindings.values()}
        assert {tab.key for tab in MODE_TABS} <= active


@pytest.mark.parametrize("tab", MODE_TABS, ids=[t.mode for t in MODE_TABS])
async def test_command_palette_opens_each_screen(database_dsn: str, home: Home, tab) -> None:
    app = make_app(home, database_dsn)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        if tab.mode == "inbox":  # start elsewhere so the command has somewhere to go
            await pilot.press("s")
            await settle(pilot)
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*tab.label)
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        assert app.current_mode == tab.mode


async def test_typing_in_an_input_does_not_switch_screens(database_dsn: str, home: Home) -> None:
    app = make_app(home, database_dsn)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        field = Input(id="probe")
        await app.screen.mount(field)
        field.focus()
        await pilot.press(*"irlps")
        await pilot.pause()
        assert app.current_mode == "inbox"
        assert field.value == "irlps"


async def test_empty_database_shows_what_to_do_next(database_dsn: str, home: Home) -> None:
    app = make_app(home, database_dsn)
    expected = {
        "inbox": ["The inbox is empty", "shelver import PATH", str(home.inbox_dir)],
        "review": ["Nothing to review", "shelver fetch"],
        "library": ["The library is empty", "Review"],
        "progress": ["No reading progress yet", "shelver serve", "credentials add kosync"],
        "settings": ["None yet", "credentials add kosync", "0001", "applied"],
    }
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        for tab in MODE_TABS:
            await pilot.press(tab.key)
            await settle(pilot)
            text = screen_text(app)
            for phrase in expected[tab.mode]:
                assert phrase in text, (tab.mode, phrase, text)
            for table in app.screen.query(DataTable):
                assert not table.display or table.row_count == 0


async def test_screens_show_demo_rows(database: Database, database_dsn: str, home: Home) -> None:
    await seed_demo_library(database, home)
    app = make_app(home, database_dsn)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        inbox = screen_text(app)
        assert "7 waiting" in inbox and "possible duplicate" in inbox
        assert "The Picture of Dorian" in inbox and "dup" in inbox
        assert app.screen.query_one(DataTable).row_count == 7

        await pilot.press("r")
        await settle(pilot)
        review = screen_text(app)
        assert "6 waiting" in review and "book 1 of 6" in review
        assert "The Count of Monte Cristo" in review
        assert "Google" in review and "Hardcover" in review and "File" in review
        assert "ISBN-13" in review
        await pilot.press("n")
        await settle(pilot)
        assert "Wuthering Heights" in screen_text(app) and "book 2 of 6" in screen_text(app)

        await pilot.press("l")
        await settle(pilot)
        library = screen_text(app)
        assert "14 books" in library and "Anna" not in library and "Анна Каренина" in library
        assert app.screen.query_one(BookTable).total == 14

        await pilot.press("p")
        await settle(pilot)
        reading = screen_text(app)
        assert "Moby-Dick" in reading and "Kobo Libra 2" in reading and "Pixel 7" in reading
        assert "unlinked" in reading and "%" in reading

        await pilot.press("s")
        await settle(pilot)
        settings = screen_text(app)
        assert "kosync" in settings and "reader" in settings
        assert "demo:not-a-real-hash" not in settings  # secrets never shown
        assert str(home.inbox_dir) in settings and "hardcover" in settings.lower()


async def test_refresh_key_picks_up_new_rows(
    database: Database, database_dsn: str, home: Home
) -> None:
    app = make_app(home, database_dsn)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert "The inbox is empty" in screen_text(app)
        await seed_demo_library(database, home)
        await pilot.press("ctrl+r")
        await settle(pilot)
        assert "7 waiting" in screen_text(app)


async def test_an_unreachable_database_becomes_a_dialog(tmp_path, home: Home) -> None:
    dsn = f"postgresql://nobody@/shelver?host={tmp_path / 'no-such-socket-dir'}"
    app = make_app(home, dsn)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        dialog = app.screen
        assert isinstance(dialog, ErrorDialog)
        assert dialog.failure.title == "Cannot open the database"
        assert "cannot reach the database server" in dialog.failure.message
        # One dialog, even though the screen's own load hit the same failure.
        assert sum(isinstance(s, ErrorDialog) for s in app.screen_stack) == 1

        await pilot.press("escape")
        await settle(pilot)
        assert not isinstance(app.screen, ErrorDialog)
        assert "database unavailable" in screen_text(app)
        for tab in MODE_TABS:  # the app keeps working
            await pilot.press(tab.key)
            await settle(pilot)
            assert app.current_mode == tab.mode

        await pilot.press("ctrl+r")  # retry: fails again, says so again
        await settle(pilot)
        assert isinstance(app.screen, ErrorDialog)
        await pilot.press("q")
        await pilot.pause()
    assert app.return_code in (0, None)


async def test_retry_after_the_database_comes_back(database_dsn: str, home: Home, tmp_path) -> None:
    app = make_app(home, f"postgresql://nobody@/shelver?host={tmp_path / 'missing'}")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, ErrorDialog)
        app.target = make_app(home, database_dsn).target  # the server is back
        await pilot.press("r")  # the dialog's Retry
        await settle(pilot)
        assert not isinstance(app.screen, ErrorDialog)
        assert "The inbox is empty" in screen_text(app)
        assert app.database is not None


async def test_quitting_closes_the_pool(database_dsn: str, home: Home) -> None:
    app = make_app(home, database_dsn)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        pool = app.database.pool
        await pilot.press("q")
        await pilot.pause()
    assert pool.is_closing()


async def test_a_failing_query_becomes_a_dialog(
    database: Database, database_dsn: str, home: Home
) -> None:
    app = make_app(home, database_dsn)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await database.pool.execute("ALTER TABLE books RENAME TO books_elsewhere")
        await pilot.press("ctrl+r")
        await settle(pilot)
        dialog = app.screen
        assert isinstance(dialog, ErrorDialog)
        assert dialog.failure.title == "Database error"
        assert "books" in dialog.failure.message
        assert "UndefinedTableError" in (home.logs_dir / "tui-errors.log").read_text()
        await pilot.press("escape")
        await settle(pilot)
        assert "could not load" in screen_text(app)  # and no second dialog on resume
        assert not isinstance(app.screen, ErrorDialog)
        await database.pool.execute("ALTER TABLE books_elsewhere RENAME TO books")
        await pilot.press("ctrl+r")
        await settle(pilot)
        assert "The inbox is empty" in screen_text(app)


async def test_mode_keys_wait_while_a_dialog_is_open(tmp_path, home: Home) -> None:
    app = make_app(home, f"postgresql://nobody@/shelver?host={tmp_path / 'missing'}")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, ErrorDialog)
        await pilot.press("l", "p")
        await settle(pilot)
        assert app.current_mode == "inbox"
        assert isinstance(app.screen, ErrorDialog)


async def test_tables_follow_a_resize(database: Database, database_dsn: str, home: Home) -> None:
    await seed_demo_library(database, home)
    app = make_app(home, database_dsn)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        narrow = app.screen.query_one(DataTable).columns
        title_width = next(iter(narrow.values())).width
        await pilot.resize_terminal(120, 30)
        await settle(pilot)
        wide = app.screen.query_one(DataTable).columns
        assert next(iter(wide.values())).width == title_width + 40
        assert "The Picture of Dorian Gray" in screen_text(app)


async def test_review_warns_about_a_possible_duplicate(
    database: Database, database_dsn: str, home: Home
) -> None:
    await seed_demo_library(database, home)
    await database.pool.execute(
        """UPDATE books SET possible_duplicate_of =
               (SELECT id FROM books WHERE title = 'Dracula')
           WHERE title = 'The Count of Monte Cristo'"""
    )
    app = make_app(home, database_dsn)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("r")
        await settle(pilot)
        assert "May duplicate “Dracula” (organized, 1897)" in screen_text(app)
        await pilot.press("n")
        await settle(pilot)
        assert "May duplicate" not in screen_text(app)
