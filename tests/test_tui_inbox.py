"""The Inbox screen under Pilot at 80x24 on a real database: import through the dialog, delete
to rejected/, filter, fetch against a fake provider, and the inbox folder watcher."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import httpx
import pytest
import respx
from textual.pilot import Pilot
from textual.widgets import DataTable, Input, ProgressBar

from shelver.app.shelver_app import ShelverApp
from shelver.data.db import Database, DatabaseTarget
from shelver.data.home import Home
from shelver.data.importing import import_paths
from shelver.data.settings import ProviderSettings, Settings
from shelver.screens.dialogs.confirm import ConfirmDialog
from shelver.screens.dialogs.inbox_import import ImportDialog
from shelver.screens.inbox import InboxScreen
from shelver.widgets.path_input import PathInput
from tests import import_support as gen
from tests.tui_support import SIZE, make_app, plain, screen_text, settle

GOOGLE = "https://books.example.test/books/v1"
HARDCOVER = "https://hardcover.example.test/v1/graphql"
FAKE_PROVIDERS = Settings(
    providers=ProviderSettings(google_books_url=GOOGLE, hardcover_url=HARDCOVER, timeout_seconds=2)
)


def inbox_titles(app: ShelverApp) -> list[str]:
    table = app.screen.query_one("#inbox-table", DataTable)
    if not table.display:
        return []
    return [str(table.get_row_at(i)[0]) for i in range(table.row_count)]


def column(app: ShelverApp, key: str) -> list[str]:
    table = app.screen.query_one("#inbox-table", DataTable)
    return [str(cell) for cell in table.get_column(key)]


async def seed(database: Database, home: Home, folder: Path, *titles: str) -> None:
    """Import one generated EPUB per title (oldest first) through the data layer."""
    folder.mkdir(parents=True, exist_ok=True)
    for n, title in enumerate(titles):
        path = gen.make_epub(folder / f"book-{n}.epub", title=title, authors=(f"Author {n}",))
        await import_paths(database, home, [path], workers=0)


async def wait_until(pilot: Pilot, condition, limit: float = 30.0) -> None:  # type: ignore[no-untyped-def]
    """Let the app run until ``condition()`` holds (a generous limit, not a timing check)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit
    while not condition():
        assert loop.time() < deadline, "the app did not get there in time"
        await pilot.pause(0.1)


async def test_import_through_the_dialog(database_dsn: str, home: Home, tmp_path: Path) -> None:
    books = tmp_path / "books"
    books.mkdir()
    gen.make_epub(books / "waste land.epub", title="The Waste Land", authors=("T. S. Eliot",))
    gen.make_epub(books / "prufrock.epub", title="Prufrock", authors=("T. S. Eliot",))
    gen.make_fb2(books / "ode.fb2")
    gen.make_pdf(books / "paper.pdf", title="A PDF Book")
    (books / "empty.epub").write_bytes(b"")
    (books / "notes.txt").write_text("not a book", encoding="utf-8")

    app = make_app(home, database_dsn)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("plus")
        await settle(pilot)
        dialog = app.screen
        assert isinstance(dialog, ImportDialog)
        field = dialog.query_one(PathInput)
        assert field.has_focus

        # Tab completes the folder name (and does not move the focus).
        field.value = str(tmp_path / "boo")
        await pilot.press("tab")
        await settle(pilot)
        assert field.value == f"{books}/"
        assert field.has_focus
        # Screen keys typed here are text, not commands.
        await pilot.press("ctrl+u", "r", "i", "x")
        assert field.value == "rix" and app.current_mode == "inbox"

        field.value = str(books)
        await pilot.press("enter")
        await settle(pilot)
        bar = dialog.query_one(ProgressBar)
        assert bar.total == 6 and bar.progress == 6
        summary = screen_text(app)
        assert "Imported 4" in summary and "refused 2" in summary
        assert "empty.epub" in summary and "notes.txt" in summary
        report = dialog.report
        assert report is not None
        reasons = {Path(item.path).name: item.reason for item in report.refused}
        assert set(reasons) == {"empty.epub", "notes.txt"}
        for name, reason in reasons.items():
            assert reason in plain(summary_of(dialog)), name

        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, InboxScreen)
        titles = inbox_titles(app)
        assert len(titles) == 4
        assert {"The Waste Land", "Prufrock", "A PDF Book"} <= set(titles)
        assert "4 waiting" in screen_text(app)
        # The originals stay where they were.
        assert (books / "prufrock.epub").exists()


def summary_of(dialog: ImportDialog) -> object:
    return dialog.query_one("#import-summary-text").content  # type: ignore[attr-defined]


async def test_a_missing_path_is_said_and_nothing_runs(database_dsn: str, home: Home) -> None:
    app = make_app(home, database_dsn)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+o")
        await settle(pilot)
        dialog = app.screen
        assert isinstance(dialog, ImportDialog)
        dialog.query_one(PathInput).value = "/no/such/folder"
        await pilot.press("enter")
        await settle(pilot)
        assert "No such file or folder: /no/such/folder" in screen_text(app)
        assert dialog.report is None
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, InboxScreen)


async def test_delete_asks_then_moves_the_file_to_rejected(
    database: Database, database_dsn: str, home: Home, tmp_path: Path
) -> None:
    await seed(database, home, tmp_path / "src", "Keep Me", "Reject Me")
    app = make_app(home, database_dsn)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert inbox_titles(app) == ["Reject Me", "Keep Me"]  # newest first
        inbox_files = sorted(p.name for p in home.inbox_dir.iterdir() if p.is_file())
        assert len(inbox_files) == 2

        # "n" keeps it.
        await pilot.press("x")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmDialog)
        assert "Reject Me" in screen_text(app)
        await pilot.press("n")
        await settle(pilot)
        assert inbox_titles(app) == ["Reject Me", "Keep Me"]

        await pilot.press("x")
        await settle(pilot)
        await pilot.press("y")
        await settle(pilot)
        assert inbox_titles(app) == ["Keep Me"]
        rejected = sorted(p.name for p in home.rejected_dir.iterdir())
        moved = [name for name in rejected if not name.endswith(".reason.txt")]
        assert len(moved) == 1
        note = home.rejected_dir / f"{moved[0]}.reason.txt"
        assert "deleted from the Inbox" in note.read_text(encoding="utf-8")
        assert len([p for p in home.inbox_dir.iterdir() if p.is_file()]) == 1


async def test_filter_by_title_or_author(
    database: Database, database_dsn: str, home: Home, tmp_path: Path
) -> None:
    await seed(database, home, tmp_path / "src", "The Waste Land", "Four Quartets", "Ulysses")
    app = make_app(home, database_dsn)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert len(inbox_titles(app)) == 3
        await pilot.press("slash")
        field = app.screen.query_one("#inbox-filter", Input)
        assert field.has_focus
        await pilot.press(*"quart")  # "r" is a screen key elsewhere; here it is text
        await settle(pilot)
        assert app.current_mode == "inbox"
        assert inbox_titles(app) == ["Four Quartets"]
        assert "1 match" in screen_text(app)

        await pilot.press("escape")  # leaves the field, keeps the filter
        assert not field.has_focus
        await settle(pilot)
        assert inbox_titles(app) == ["Four Quartets"]

        await pilot.press("slash")
        await pilot.press("ctrl+u", *"author 2")  # authors match too
        await settle(pilot)
        assert inbox_titles(app) == ["Ulysses"]

        field.value = "nothing like this"
        await settle(pilot)
        assert "No inbox book matches" in screen_text(app)

        await pilot.press("escape", "escape")  # out of the field, then clear
        await settle(pilot)
        assert field.value == "" and len(inbox_titles(app)) == 3


def google_answer(request: httpx.Request) -> httpx.Response:
    """A fake Google Books: one match for "Cragside", nothing else, 403 for "Forbidden"."""
    query = request.url.params.get("q", "")
    if "Forbidden" in query:
        return httpx.Response(403, json={"error": {"message": "quota exceeded"}})
    if "Cragside" not in query:
        return httpx.Response(200, json={"totalItems": 0})
    item = {
        "id": "v1",
        "volumeInfo": {"title": "Cragside", "authors": ["L. J. Ross"], "language": "en"},
    }
    return httpx.Response(200, json={"totalItems": 1, "items": [item]})


async def test_fetch_updates_the_status_column(
    database: Database,
    database_dsn: str,
    home: Home,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("SHELVER_HARDCOVER_TOKEN", raising=False)
    monkeypatch.delenv("SHELVER_GOOGLE_BOOKS_KEY", raising=False)
    await seed(database, home, tmp_path / "src", "Cragside", "Nowhere Book", "Forbidden Book")
    app = ShelverApp(home=home, settings=FAKE_PROVIDERS, target=DatabaseTarget(dsn=database_dsn))
    with respx.mock(assert_all_called=False) as mock:
        google = mock.get(f"{GOOGLE}/volumes").mock(side_effect=google_answer)
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            assert column(app, "fetch") == ["none", "none", "none"]

            # f: only the book under the cursor (the newest, "Forbidden Book").
            await pilot.press("f")
            await settle(pilot)
            assert google.call_count == 1
            assert column(app, "fetch") == ["failed", "none", "none"]
            detail = screen_text(app)
            assert "Google Books" in detail and "Hardcover" in detail  # the reasons, by source

            # F: every inbox book; the one with a match and the one with none (its file's
            # values are approved as they are, or searched by hand) move on to Review; the
            # failed one waits here to be fetched again.
            await pilot.press("F")
            await settle(pilot)
            assert inbox_titles(app) == ["Forbidden Book"]
            assert column(app, "fetch") == ["failed"]
            assert "2 to review" in screen_text(app)
            strip = app.screen.query_one("#inbox-progress")
            assert "3 fetched · 2 to review" in str(strip.query_one("#progress-item").content)


async def test_enter_opens_review(
    database: Database, database_dsn: str, home: Home, tmp_path: Path
) -> None:
    await seed(database, home, tmp_path / "src", "Any Book")
    app = make_app(home, database_dsn)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        assert app.current_mode == "review"
        # The inbox book itself is on screen (not the empty review queue), and approving it
        # on its file's own metadata files it in the library.
        assert "Any Book" in screen_text(app)
        await pilot.press("a")
        await settle(pilot)
        await app.finish_work()
    book = await database.pool.fetchrow("SELECT status, title FROM books")
    assert (book["status"], book["title"]) == ("organized", "Any Book")
    stored = await database.pool.fetchval("SELECT storage_path FROM book_files")
    assert stored and Path(stored).is_file()


async def test_files_dropped_into_the_inbox_folder_appear(
    database_dsn: str, home: Home, tmp_path: Path
) -> None:
    app = make_app(home, database_dsn)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert inbox_titles(app) == []
        staged = gen.make_epub(tmp_path / "dropped.epub", title="Dropped In")
        staged.rename(home.inbox_dir / "dropped.epub")
        await wait_until(pilot, lambda: inbox_titles(app) == ["Dropped In"])
    # The app stopped its watcher on the way out.
    assert app._watcher is not None and app._watcher.is_finished


async def test_a_possible_duplicate_names_the_other_book(
    database: Database, database_dsn: str, home: Home, tmp_path: Path
) -> None:
    folder = tmp_path / "src"
    folder.mkdir()
    first = gen.make_epub(folder / "a.epub", title="Middlemarch", authors=("George Eliot",))
    await import_paths(database, home, [first], workers=0)
    second = gen.make_epub(
        folder / "b.epub", title="Middlemarch", authors=("George Eliot",), body="Another edition."
    )
    await import_paths(database, home, [second], workers=0)
    app = make_app(home, database_dsn)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert column(app, "dup") == ["dup", ""]
        text = screen_text(app)
        assert "1 possible duplicate" in text
        assert "possible duplicate of “Middlemarch” by George Eliot" in text


async def test_a_name_that_is_not_utf8_imports_through_the_dialog(
    database_dsn: str, home: Home, tmp_path: Path
) -> None:
    from tests.test_import_files import BAD_NAME, bad_path

    drop = tmp_path / "drop"
    drop.mkdir()
    gen.make_epub(bad_path(drop), title="Odd Name")
    gen.make_epub(drop / "fine.epub", title="Fine")
    app = make_app(home, database_dsn)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("plus")
        await settle(pilot)
        dialog = app.screen
        assert isinstance(dialog, ImportDialog)
        field = dialog.query_one(PathInput)
        # The one file: tab completes its odd name, which is shown and imported as it is.
        field.value = f"{drop}/caf"
        await pilot.press("tab")
        await settle(pilot)
        assert os.fsencode(field.value) == os.path.join(os.fsencode(drop), BAD_NAME)
        await pilot.press("enter")
        await settle(pilot)
        assert "Imported 1" in plain(summary_of(dialog))
        assert dialog.report is not None and dialog.report.refused == []
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, InboxScreen)
        assert inbox_titles(app) == ["Odd Name"]

        await pilot.press("plus")  # then the folder: the other file, and the odd one known
        await settle(pilot)
        dialog = app.screen
        assert isinstance(dialog, ImportDialog)
        dialog.query_one(PathInput).value = str(drop)
        await pilot.press("enter")
        await settle(pilot)
        assert "Imported 1" in plain(summary_of(dialog))
        report = dialog.report
        assert report is not None and report.refused == [] and len(report.skipped) == 1
        await pilot.press("enter")
        await settle(pilot)
        assert sorted(inbox_titles(app)) == ["Fine", "Odd Name"]
    assert bad_path(drop).exists()  # the original stays where it was
