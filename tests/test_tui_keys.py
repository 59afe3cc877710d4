"""Keys you can find: ? lists the current screen's keys, the command palette offers every
action of the screen, the footer shows the screen's own keys first, the mode bar says how to
quit, and the keys panel closes on escape."""

from __future__ import annotations

from textual.widgets import Footer

from shelver.data import books
from shelver.data.db import Database
from shelver.data.home import Home
from shelver.data.models import BookStatus
from shelver.screens.dialogs.keys import KeysDialog
from shelver.screens.review import ReviewScreen
from shelver.widgets.mode_bar import ModeBar
from tests.test_tui_review import make_app, make_book, open_review
from tests.tui_support import SIZE, plain, screen_text, settle


async def test_question_mark_lists_the_screens_keys(
    database: Database, database_dsn: str, home: Home
) -> None:
    await make_book(database, home, "Keyed")
    app = make_app(home, database_dsn)
    async with app.run_test(size=SIZE) as pilot:
        await open_review(pilot)
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, KeysDialog)
        text = screen_text(app)
        for line in ("Keys: Review", "a", "Approve", "x", "Reject", "Undo", "1…9",
                     "Take source N", "] tab", "Open Library", "Quit"):  # fmt: skip
            assert line in text, line
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, ReviewScreen)


async def test_the_command_palette_offers_the_screens_actions(
    database: Database, database_dsn: str, home: Home
) -> None:
    book_id = await make_book(database, home, "Palette")
    app = make_app(home, database_dsn)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_review(pilot)
        titles = {c.title for c in app.get_system_commands(screen)}
        assert {"Approve", "Reject", "Edit", "Search", "Fetch", "Inbox", "Library"} <= titles
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"Approve")
        await pilot.pause(0.5)
        await pilot.press("enter")
        await settle(pilot)
    assert (await books.get(database.pool, book_id)).status is BookStatus.ORGANIZED


async def test_footer_shows_the_screens_keys_first_and_the_bar_says_how_to_quit(
    database: Database, database_dsn: str, home: Home
) -> None:
    await make_book(database, home, "Footed")
    app = make_app(home, database_dsn)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_review(pilot)
        footer = screen.query_one(Footer)
        keys = [key.key for key in footer.query("FooterKey")]
        assert keys[:3] == ["a", "x", "e"], keys  # the screen's own, not the mode keys
        assert not {"i", "l", "p", "s"} & set(keys)  # those live in the mode bar
        bar = plain(screen.query_one(ModeBar).render())
        assert "? keys" in bar and "q quit" in bar


async def test_the_keys_panel_closes_on_escape(database_dsn: str, home: Home) -> None:
    app = make_app(home, database_dsn)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        app.action_show_help_panel()
        await pilot.pause()
        assert app.screen.query("HelpPanel")
        await pilot.press("escape")
        await pilot.pause()
        assert not app.screen.query("HelpPanel")


async def test_the_footer_is_rebuilt_only_when_its_keys_change(
    database: Database, database_dsn: str, home: Home
) -> None:
    await make_book(database, home, "Steady")
    app = make_app(home, database_dsn)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_review(pilot)
        footer = screen.query_one(Footer)
        shown = list(footer.query("FooterKey"))
        assert [key.key for key in shown][:3] == ["a", "x", "e"]
        screen.bindings_updated_signal.publish(screen)  # what every change of focus sends
        await settle(pilot)
        assert list(footer.query("FooterKey")) == shown  # the same widgets: nothing rebuilt

        await pilot.press("l")
        await settle(pilot)
        footer = app.screen.query_one(Footer)
        await pilot.press("slash")  # into the search field: its keys are typed, none shown
        await settle(pilot)
        assert list(footer.query("FooterKey")) == []
        await pilot.press("escape")  # back on the table: its keys again
        await settle(pilot)
        assert [key.key for key in footer.query("FooterKey")][:2] == ["enter", "space"]
