"""Review you can trust, under Pilot on a real database: what is approved is exactly the book
and values on screen, through resizes, mode switches and a second window; every book reaches a
decision (reject, undo, no match)."""

from __future__ import annotations

from pathlib import Path

from textual.widgets import Input

from shelver.data import books
from shelver.data.db import Database
from shelver.data.home import Home
from shelver.data.models import BookStatus
from shelver.data.settings import Settings
from shelver.screens.dialogs.review import FieldEditor
from tests.test_tui_review import add_candidate, make_app, make_book, open_review
from tests.tui_support import SIZE, burst, plain, screen_text, settle


async def edit_title(pilot, title: str) -> None:
    await pilot.press("e")
    await pilot.pause()
    assert isinstance(pilot.app.screen, FieldEditor)
    pilot.app.screen.query_one(Input).value = title
    await pilot.press("enter")
    await pilot.pause()


async def test_resize_mid_queue_approves_the_book_and_edit_on_screen(
    database: Database, database_dsn: str, home: Home
) -> None:
    first = await make_book(database, home, "First Book")
    second = await make_book(database, home, "Second Book")
    third = await make_book(database, home, "Third Book")
    app = make_app(home, database_dsn)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_review(pilot)
        await pilot.press("a")
        await settle(pilot)
        assert "Second Book" in screen_text(app)
        await pilot.resize_terminal(100, 30)
        await settle(pilot)
        shown = plain(screen.query_one("#review-book").content)
        assert "Second Book" in shown and screen.state.item.book.id == second  # not the filed one
        await edit_title(pilot, "Second Book, edited")
        await pilot.resize_terminal(*SIZE)
        await settle(pilot)
        assert screen.state is not None and screen.state.item.book.id == second
        assert screen.state.chosen_value("title") == "Second Book, edited"  # the edit stays
        await pilot.press("a")
        await settle(pilot)
        text = screen_text(app)
        assert "“Second Book, edited” filed in the library" in text  # the title as approved
        assert "Third Book" in text and "1 waiting" in text

    assert (await books.get(database.pool, second)).title == "Second Book, edited"
    assert (await books.get(database.pool, third)).status is BookStatus.REVIEW
    assert (await books.get(database.pool, first)).status is BookStatus.ORGANIZED


async def test_a_resize_after_the_last_book_shows_nothing_to_review(
    database: Database, database_dsn: str, home: Home
) -> None:
    await make_book(database, home, "Only Book")
    app = make_app(home, database_dsn)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_review(pilot)
        await pilot.press("a")
        await settle(pilot)
        assert "Nothing to review" in screen_text(app)
        for size in ((100, 30), SIZE):
            await pilot.resize_terminal(*size)
            await settle(pilot)
            assert "Nothing to review" in screen_text(app) and screen.state is None
        await pilot.press("a")  # nothing on screen: nothing approved
        await settle(pilot)
    assert (await books.count_by_status(database.pool)).organized == 1


async def test_a_mode_switch_keeps_the_book_and_the_picks(
    database: Database, database_dsn: str, home: Home
) -> None:
    await make_book(database, home, "Alpha")
    beta = await make_book(database, home, "Beta")
    app = make_app(home, database_dsn)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_review(pilot)
        await pilot.press("n")
        await edit_title(pilot, "Beta, edited")
        await pilot.press("l")
        await settle(pilot)
        await pilot.press("r")
        await settle(pilot)
        assert screen.state.item.book.id == beta
        assert screen.state.chosen_value("title") == "Beta, edited"


async def test_two_windows_cannot_approve_one_book_twice(
    database: Database, database_dsn: str, home: Home
) -> None:
    book_id = await make_book(database, home, "Shared Book")
    await make_book(database, home, "Next Book")
    mine, theirs = make_app(home, database_dsn), make_app(home, database_dsn)
    async with mine.run_test(size=SIZE) as here, theirs.run_test(size=SIZE) as there:
        await open_review(here)
        await open_review(there)
        assert "Shared Book" in screen_text(mine) and "Shared Book" in screen_text(theirs)
        await edit_title(there, "Their title")
        await here.press("a")
        await settle(here)
        assert "filed in the library" in screen_text(mine)
        await there.press("a")
        await settle(there)
        text = screen_text(theirs)
        assert "“Shared Book” is already in the library" in text
        assert "Next Book" in text and "1 waiting" in text  # the database's state, not a retry
    book = await books.get(database.pool, book_id)
    assert book.title == "Shared Book" and book.status is BookStatus.ORGANIZED
    assert len([p for p in home.library_dir.rglob("*") if p.is_file()]) == 1


async def test_reject_and_undo_on_the_screen(
    database: Database, database_dsn: str, home: Home
) -> None:
    unwanted = await make_book(database, home, "Unwanted")
    keeper = await make_book(database, home, "Keeper")
    (file,) = await books.files_of(database.pool, unwanted)
    app = make_app(home, database_dsn)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_review(pilot)
        await pilot.press("x")
        await settle(pilot)
        text = screen_text(app)
        assert "“Unwanted” set aside in rejected/" in text and "Keeper" in text
        assert await books.get(database.pool, unwanted) is None
        rejected = home.rejected_dir / "unwanted.epub"
        assert rejected.read_bytes() == b"the bytes of Unwanted"
        assert "rejected during review" in Path(f"{rejected}.reason.txt").read_text()

        await pilot.press("u")
        await settle(pilot)
        assert screen.state.item.book.id == unwanted and "back for review" in screen_text(app)
        assert Path(file.inbox_path).read_bytes() == b"the bytes of Unwanted"
        assert not rejected.exists()

        await pilot.press("a")  # approve, then take the approval back
        await settle(pilot)
        assert screen.state.item.book.id == keeper
        await pilot.press("u")
        await settle(pilot)
        assert screen.state.item.book.id == unwanted and "2 waiting" in screen_text(app)
    book = await books.get(database.pool, unwanted)
    assert book.status is BookStatus.REVIEW and book.approved_at is None
    assert Path(file.inbox_path).is_file()


async def test_a_book_with_no_match_is_approved_as_it_is(
    database: Database, database_dsn: str, home: Home
) -> None:
    book_id = await make_book(database, home, "Obscure Pamphlet", author="Nobody")
    await database.pool.execute(
        "INSERT INTO fetch_status (book_id, source, state) VALUES ($1, 'google_books', 'empty')",
        book_id,
    )
    app = make_app(home, database_dsn)
    async with app.run_test(size=SIZE) as pilot:
        await open_review(pilot)
        text = screen_text(app)
        assert "no match: a approves as is" in text and "Google Books: empty" in text
        await pilot.press("a")
        await settle(pilot)
    book = await books.get(database.pool, book_id)
    assert book.status is BookStatus.ORGANIZED and book.title == "Obscure Pamphlet"


async def test_taking_one_isbn_takes_its_edition_pair(
    database: Database, database_dsn: str, home: Home
) -> None:
    book_id = await make_book(database, home, "Dune")
    await add_candidate(
        database, book_id, "google_books", 0.5, isbn_13="9780441013593", isbn_10="0441013597"
    )
    await add_candidate(database, book_id, "hardcover", 0.4, isbn_13="9780340960196")
    app = make_app(home, database_dsn)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_review(pilot)
        state = screen.state
        names = [s.short for s in state.sources]
        google, hardcover = names.index("Google") + 1, names.index("Hardcover") + 1
        await pilot.press("down", "down", str(google))  # ISBN-13 from Google
        assert state.chosen_value("isbn_10") == "0441013597"  # its ISBN-10 comes along
        await pilot.press(str(hardcover))  # ISBN-13 of another edition
        assert state.chosen_value("isbn_13") == "9780340960196"
        assert state.chosen_key("isbn_10") == "current"  # not the other edition's


async def test_add_as_format_can_be_undone_on_the_screen(
    database: Database, database_dsn: str, home: Home
) -> None:
    from shelver.data import review
    from shelver.screens.dialogs.review import DuplicateDialog

    old = await make_book(database, home, "Emma")
    await review.approve(database, home, Settings(), old, {}, {})
    new = await make_book(database, home, "Emma again")
    await database.pool.execute(
        "UPDATE books SET possible_duplicate_of = $2 WHERE id = $1", new, old
    )
    (file,) = await books.files_of(database.pool, new)
    app = make_app(home, database_dsn)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_review(pilot)
        await pilot.press("a")
        await pilot.pause()
        assert isinstance(app.screen, DuplicateDialog)
        await pilot.press("f")  # add as another format of “Emma”
        await settle(pilot)
        assert "added to “Emma” · u undoes" in screen_text(app)
        assert len(await books.files_of(database.pool, old)) == 2
        assert screen.check_action("undo", ())  # u is offered
        await pilot.press("u")
        await settle(pilot)
        assert screen.state is not None and screen.state.item.book.id == new
        assert "back for review" in screen_text(app)
    assert (await books.get(database.pool, new)).status is BookStatus.REVIEW
    assert len(await books.files_of(database.pool, old)) == 1
    (back,) = await books.files_of(database.pool, new)
    assert back.inbox_path == file.inbox_path and Path(back.inbox_path).is_file()


async def test_keys_in_one_burst_after_ctrl_u_land_in_the_edit_dialog(
    database: Database, database_dsn: str, home: Home
) -> None:
    await make_book(database, home, "Typed Over")
    app = make_app(home, database_dsn)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_review(pilot)
        await pilot.press("e")
        await pilot.pause()
        assert isinstance(app.screen, FieldEditor)
        burst(app, "ctrl+u", *"New title", "enter")
        await settle(pilot)
        assert app.screen is screen
        assert screen.state.chosen_value("title") == "New title"
