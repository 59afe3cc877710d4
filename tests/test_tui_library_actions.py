"""Library decisions under Pilot with real files: delete (to rejected/, nothing erased), send
back to review, and an edit of author or title that moves the files under the template."""

from __future__ import annotations

from pathlib import Path

from textual.widgets import Input

from shelver.data import books, review
from shelver.data.db import Database
from shelver.data.home import Home
from shelver.data.models import BookStatus
from shelver.screens.dialogs.confirm import ConfirmDialog
from shelver.screens.dialogs.library_edit import EditDialog
from tests.test_tui_review import SETTINGS, make_app, make_book
from tests.tui_support import SIZE, settle


async def library_book(database: Database, home: Home, title: str) -> Path:
    book_id = await make_book(database, home, title, author="Jane Austen")
    await review.approve(database, home, SETTINGS, book_id, {}, {})
    (file,) = await books.files_of(database.pool, book_id)
    return Path(file.storage_path)


async def open_library(pilot) -> None:
    await settle(pilot)
    await pilot.press("l")
    await settle(pilot)


async def test_delete_moves_the_book_aside(database: Database, database_dsn: str, home: Home):
    stored = await library_book(database, home, "Emma")
    app = make_app(home, database_dsn)
    async with app.run_test(size=SIZE) as pilot:
        await open_library(pilot)
        await pilot.press("delete")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmDialog)
        await pilot.press("y")
        await settle(pilot)
    assert (await books.count_by_status(database.pool)).organized == 0
    assert not stored.exists()
    assert (home.rejected_dir / stored.name).read_bytes() == b"the bytes of Emma"
    reason = (home.rejected_dir / f"{stored.name}.reason.txt").read_text()
    assert "deleted from the library" in reason and "Jane Austen" in reason


async def test_back_to_review(database: Database, database_dsn: str, home: Home):
    await library_book(database, home, "Persuasion")
    app = make_app(home, database_dsn)
    async with app.run_test(size=SIZE) as pilot:
        await open_library(pilot)
        await pilot.press("b")
        await settle(pilot)
        await pilot.press("r")
        await settle(pilot)
        assert app.screen.state.item.book.title == "Persuasion"
    counts = await books.count_by_status(database.pool)
    assert (counts.review, counts.organized) == (1, 0)


async def test_editing_title_and_author_moves_the_files(
    database: Database, database_dsn: str, home: Home
):
    stored = await library_book(database, home, "Emma draft")
    assert stored.parent == home.library_dir / "Jane Austen" / "Emma draft"
    app = make_app(home, database_dsn)
    async with app.run_test(size=SIZE) as pilot:
        await open_library(pilot)
        await pilot.press("e")
        for _ in range(20):  # the dialog opens from a worker that waits for its answer
            await pilot.pause(0.05)
            if isinstance(app.screen, EditDialog):
                break
        dialog = app.screen
        assert isinstance(dialog, EditDialog)
        inputs = {i.id: i for i in dialog.query(Input)}
        title = next(i for key, i in inputs.items() if key and "title" in key)
        author = next(i for key, i in inputs.items() if key and "author" in key)
        title.value, author.value = "Emma", "J. Austen"
        await pilot.press("ctrl+s")
        await settle(pilot)
    (file,) = await database.pool.fetch("SELECT storage_path FROM book_files")
    moved = Path(file["storage_path"])
    assert moved == home.library_dir / "J. Austen" / "Emma" / stored.name
    assert moved.read_bytes() == b"the bytes of Emma draft" and not stored.exists()
    book = await database.pool.fetchrow("SELECT title, status FROM books")
    assert book["title"] == "Emma" and book["status"] == BookStatus.ORGANIZED.value
