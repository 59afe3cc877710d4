"""The Review screen under Pilot at 80x24 on a real database: picking, editing, approving (the
file moves into the library), duplicates, manual search and fetch against faked providers."""

from __future__ import annotations

import hashlib
from pathlib import Path
from uuid import UUID

import httpx
import pytest
import respx
from textual.widgets import DataTable, Input

from shelver.app.shelver_app import ShelverApp
from shelver.data import books
from shelver.data.db import Database, DatabaseTarget
from shelver.data.home import Home
from shelver.data.models import BookFields, BookStatus
from shelver.data.review import ReviewItem
from shelver.data.review_state import ReviewState, parse_field, source_names
from shelver.data.settings import ProviderSettings, Settings
from shelver.screens.dialogs.review import DuplicateDialog, FieldEditor, SearchDialog
from shelver.screens.review import ReviewScreen
from shelver.widgets.review_cover import describe_cover, terminal_may_show_pictures
from tests.tui_support import SIZE, screen_text, settle

GOOGLE = "https://books.review-test.example/books/v1"
HARDCOVER = "https://hardcover.review-test.example/v1/graphql"
SETTINGS = Settings(
    providers=ProviderSettings(google_books_url=GOOGLE, hardcover_url=HARDCOVER, timeout_seconds=2)
)


def make_app(home: Home, dsn: str) -> ShelverApp:
    return ShelverApp(home=home, settings=SETTINGS, target=DatabaseTarget(dsn=dsn))


async def make_book(
    database: Database,
    home: Home,
    title: str,
    *,
    author: str = "Some One",
    status: BookStatus = BookStatus.REVIEW,
) -> UUID:
    """A book with a real small file in the inbox and the file's own candidate."""
    content = f"the bytes of {title}".encode()
    digest = hashlib.sha256(content).hexdigest()
    folder = home.inbox_dir / digest[:8]
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{title.lower().replace(' ', '-')}.epub"
    path.write_bytes(content)
    fields = BookFields(title=title, author=author)
    book = await books.insert(database.pool, fields, status=status)
    await books.add_file(
        database.pool,
        book.id,
        format="epub",
        original_name=path.name,
        file_size=len(content),
        checksum=digest,
        content_hash=None,
        inbox_path=str(path),
    )
    await books.upsert_candidate(
        database.pool, book.id, source="file", normalized=fields, confidence=1
    )
    return book.id


async def add_candidate(
    database: Database, book_id: UUID, source: str, score: float, **fields: object
) -> None:
    await books.upsert_candidate(
        database.pool, book_id, source=source, normalized=BookFields(**fields), confidence=score
    )


def review_screen(app: ShelverApp) -> ReviewScreen:
    screen = app.screen_stack[0]
    assert isinstance(screen, ReviewScreen)
    return screen


async def open_review(pilot) -> ReviewScreen:
    await settle(pilot)
    await pilot.press("r")
    await settle(pilot)
    return review_screen(pilot.app)


async def test_full_review_pick_edit_approve_next(
    database: Database, database_dsn: str, home: Home
) -> None:
    first = await make_book(database, home, "Cragsid", author="Ross")
    await add_candidate(
        database,
        first,
        "google_books",
        0.95,
        title="Cragside",
        author="L. J. Ross",
        publisher="Dark Skies",
        published_year=2017,
    )
    await add_candidate(
        database, first, "hardcover", 0.7, title="Cragside (DCI Ryan 13)", page_count=326
    )
    second = await make_book(database, home, "Dune", author="Frank Herbert")
    app = make_app(home, database_dsn)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_review(pilot)
        text = screen_text(app)
        assert "2 waiting" in text and "book 1 of 2" in text and "Cragsid" in text
        # Sources: 1 Current, 2 File, 3 Google (strong, pre-selected), 4 Hardcover (medium).
        assert "3 Google" in text and "strong" in text and "4 Hardcover" in text
        state = screen.state
        assert state is not None
        assert state.chosen_value("title") == "Cragside"  # the strong candidate pre-selects
        assert state.chosen_value("page_count") is None  # the medium one does not
        assert "✓ Cragside" in text

        await pilot.press("4")  # title from Hardcover
        assert state.chosen_value("title") == "Cragside (DCI Ryan 13)"
        for _ in range(8):
            await pilot.press("down")
        await pilot.press("right", "right", "right")  # pages, column 4 (Hardcover)
        await pilot.press("enter")
        assert state.chosen_value("page_count") == 326
        await pilot.press("up", "up", "up")  # year
        await pilot.press("e")
        await pilot.pause()
        assert isinstance(app.screen, FieldEditor)
        editor = app.screen.query_one(Input)
        editor.value = "20x5"
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, FieldEditor)  # refused, says why
        assert "not a whole number" in screen_text(app)
        editor.value = "2016"
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, ReviewScreen)
        assert state.chosen_value("published_year") == 2016
        assert "Yours" in screen_text(app)

        await pilot.press("a")
        await pilot.pause()
        assert "Dune" in screen_text(app)  # the next book is there at once
        await settle(pilot)
        text = screen_text(app)
        assert "1 waiting" in text and "book 1 of 1" in text
        assert "filed in the library" in text

    book = await books.get(database.pool, first)
    assert book.status is BookStatus.ORGANIZED and book.approved_at is not None
    assert (book.title, book.author, book.published_year, book.page_count) == (
        "Cragside (DCI Ryan 13)",
        "L. J. Ross",
        2016,
        326,
    )
    (file,) = await books.files_of(database.pool, first)
    stored = Path(file.storage_path)
    assert file.inbox_path is None and stored.is_file()
    assert stored.is_relative_to(home.library_dir)
    assert stored.read_bytes() == b"the bytes of Cragsid"
    selected = {
        c.source: c.selected_fields for c in await books.candidates_of(database.pool, first)
    }
    assert selected["google_books"] == ["author", "publisher"]
    assert selected["hardcover"] == ["title", "page_count"]
    assert (await books.get(database.pool, second)).status is BookStatus.REVIEW


async def test_shift_digit_takes_a_source_for_every_field(
    database: Database, database_dsn: str, home: Home
) -> None:
    book_id = await make_book(database, home, "Emma")
    await add_candidate(
        database, book_id, "google_books", 0.5, title="Emma", author="Jane Austen", language="en"
    )
    app = make_app(home, database_dsn)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_review(pilot)
        state = screen.state
        assert state is not None and state.chosen == {}  # weak: nothing pre-selected
        await pilot.press("number_sign")  # shift+3: Google for everything it has
        assert state.chosen_value("author") == "Jane Austen"
        assert state.chosen_value("language") == "en"
        await pilot.press("1")  # back to the current value for the title row
        assert state.chosen_key("title") == "current"
        await pilot.press("right", "right", "t")  # the column under the cursor, every field
        assert state.chosen_value("title") == "Emma" and state.chosen_key("title") != "current"


async def test_duplicate_choice_is_applied_by_the_approval(
    database: Database, database_dsn: str, home: Home
) -> None:
    old = await make_book(database, home, "Old Dune", status=BookStatus.REVIEW)
    from shelver.data import review

    await review.approve(database, home, SETTINGS, old, {"title": "Dune"}, {})
    (old_file,) = await books.files_of(database.pool, old)
    flagged = []
    for title in ("Dune one", "Dune two", "Dune three"):
        book_id = await make_book(database, home, title)
        await database.pool.execute(
            "UPDATE books SET possible_duplicate_of = $2 WHERE id = $1", book_id, old
        )
        flagged.append(book_id)
    app = make_app(home, database_dsn)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_review(pilot)
        assert "May duplicate “Dune” (organized" in screen_text(app)
        # d shows both copies side by side; the choice waits for the approval.
        await pilot.press("d")
        await pilot.pause()
        assert isinstance(app.screen, DuplicateDialog)
        facts = screen_text(app)
        for fact in ("This one", "Already there", "EPUB", "21 B", "dune-one.epub", "Cover"):
            assert fact in facts, fact
        assert "library/Some One/Dune" in facts and "the inbox" in facts  # where each one is
        await pilot.press("s")
        await settle(pilot)
        assert isinstance(app.screen, ReviewScreen)
        assert (await books.get(database.pool, flagged[0])).status is BookStatus.REVIEW
        assert "a applies" in screen_text(app)
        await pilot.press("a")
        await settle(pilot)
        for key in ("k", "x"):
            await pilot.press("a")  # a flagged book asks first
            await pilot.pause()
            assert isinstance(app.screen, DuplicateDialog)
            await pilot.press(key)
            await settle(pilot)
        assert "Nothing to review" in screen_text(app)
        assert screen.state is None

    skipped, kept, replacing = flagged
    assert await books.get(database.pool, skipped) is None  # skip rejects the new file
    assert (await books.get(database.pool, kept)).status is BookStatus.ORGANIZED
    assert (await books.get(database.pool, replacing)).status is BookStatus.ORGANIZED
    assert await books.get(database.pool, old) is None  # replaced: its row is gone...
    assert not Path(old_file.storage_path).exists()
    rejected = [p for p in home.rejected_dir.rglob("*") if p.is_file()]
    assert any(p.read_bytes() == b"the bytes of Old Dune" for p in rejected)  # ...never deleted
    assert any(p.read_bytes() == b"the bytes of Dune one" for p in rejected)


def volume(title: str, isbn: str = "9780441013593") -> dict:
    return {
        "id": title,
        "volumeInfo": {
            "title": title,
            "authors": ["Frank Herbert"],
            "industryIdentifiers": [{"type": "ISBN_13", "identifier": isbn}],
        },
    }


async def test_manual_search_adds_candidates(
    database: Database, database_dsn: str, home: Home, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SHELVER_HARDCOVER_TOKEN", "hc-token")
    book_id = await make_book(database, home, "Dune", author="Frank Herbert")
    app = make_app(home, database_dsn)
    with respx.mock(assert_all_mocked=True) as mock:
        google = mock.get(f"{GOOGLE}/volumes").mock(
            return_value=httpx.Response(200, json={"items": [volume("Dune Messiah")]})
        )
        mock.post(HARDCOVER).mock(
            return_value=httpx.Response(200, json={"errors": [{"message": "bad query"}]})
        )
        async with app.run_test(size=SIZE) as pilot:
            screen = await open_review(pilot)
            await pilot.press("slash")
            await pilot.pause()
            assert isinstance(app.screen, SearchDialog)
            field = app.screen.query_one(Input)
            assert field.value == "Dune Frank Herbert"
            field.value = ""
            await pilot.press(*"messiah", "enter")  # typed keys stay in the input
            await settle(pilot)
            assert isinstance(app.screen, ReviewScreen) and app.current_mode == "review"
            assert google.calls.last.request.url.params["q"] == "messiah"
            text = screen_text(app)
            assert "/Google" in text and "Dune Messiah" in text
            assert "1 answer" in text and "Hardcover" in text  # its failure is visible
            assert screen.state is not None and len(screen.state.sources) == 3
    sources = sorted(c.source for c in await books.candidates_of(database.pool, book_id))
    assert sources == ["file", "manual:google_books"]


async def test_fetch_failure_is_shown_inline_and_retried(
    database: Database, database_dsn: str, home: Home, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SHELVER_HARDCOVER_TOKEN", raising=False)
    monkeypatch.delenv("SHELVER_GOOGLE_BOOKS_KEY", raising=False)
    await make_book(database, home, "Dune", author="Frank Herbert")
    app = make_app(home, database_dsn)
    with respx.mock(assert_all_mocked=True) as mock:
        google = mock.get(f"{GOOGLE}/volumes")
        google.mock(return_value=httpx.Response(403, json={"error": {"message": "forbidden"}}))
        async with app.run_test(size=SIZE) as pilot:
            screen = await open_review(pilot)
            assert "Not fetched yet" in screen_text(app)
            await pilot.press("f")
            await settle(pilot)
            text = screen_text(app)
            assert "Google Books: failed" in text and "f retries" in text
            assert "Hardcover: skipped" in text
            assert app.current_mode == "review" and isinstance(app.screen, ReviewScreen)

            google.mock(return_value=httpx.Response(200, json={"items": [volume("Dune")]}))
            await pilot.press("f")
            await settle(pilot)
            text = screen_text(app)
            assert "Google Books: ok" in text and "3 Google" in text
            assert screen.state is not None and len(screen.state.sources) == 3


async def test_failed_approval_stays_in_the_queue(
    database: Database, database_dsn: str, home: Home
) -> None:
    book_id = await make_book(database, home, "Lost")
    (file,) = await books.files_of(database.pool, book_id)
    Path(file.inbox_path).unlink()  # the file went missing behind shelver's back
    app = make_app(home, database_dsn)
    async with app.run_test(size=SIZE) as pilot:
        await open_review(pilot)
        await pilot.press("a")
        await settle(pilot)
        text = screen_text(app)
        assert "Could not approve “Lost”" in text
        assert "1 waiting" in text and "Lost" in text
    assert (await books.get(database.pool, book_id)).status is BookStatus.REVIEW


async def test_empty_queue(database_dsn: str, home: Home) -> None:
    app = make_app(home, database_dsn)
    async with app.run_test(size=SIZE) as pilot:
        await open_review(pilot)
        text = screen_text(app)
        assert "Nothing to review" in text and "shelver fetch" in text
        for key in ("a", "e", "f", "slash", "1", "enter"):
            await pilot.press(key)
        await settle(pilot)
        assert isinstance(app.screen, ReviewScreen)
        assert app.screen.query_one(DataTable).row_count == 0


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        ("isbn_13", "978-0-441-01359-3", "9780441013593"),
        ("isbn_10", "0-441-01359-7", "0441013597"),
        ("language", "French", "fr"),
        ("genres", "sf, Classics ,sf", ["sf", "Classics"]),
        ("title", "  ", None),
    ],
)
def test_parse_field_accepts(name: str, text: str, expected: object) -> None:
    assert parse_field(name, text) == expected


@pytest.mark.parametrize(
    ("name", "text", "reason"),
    [
        ("isbn_13", "9780441013594", "check digit"),
        ("isbn_10", "044101359", "10 characters"),
        ("published_year", "3000", "between"),
        ("language", "klingonese", "ISO 639-1"),
        ("page_count", "-3", "between"),
        ("cover_url", "file:///etc/passwd", "http"),
    ],
)
def test_parse_field_refuses(name: str, text: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        parse_field(name, text)


@pytest.mark.parametrize(
    ("source", "short"),
    [
        ("file", "File"),
        ("google_books", "Google"),
        ("hardcover#2", "Hardcover 2"),
        ("manual:google_books#3", "/Google 3"),
    ],
)
def test_source_names(source: str, short: str) -> None:
    assert source_names(source)[0] == short


def test_cover_description_and_picture_probe(tmp_path: Path) -> None:
    from PIL import Image

    picture = tmp_path / "cover.png"
    Image.new("RGB", (60, 90), "navy").save(picture)
    assert "60×90 PNG" in describe_cover(str(picture), None).plain
    assert "unreadable" in describe_cover(str(tmp_path / "gone.jpg"), None).plain
    assert "https://x.test/c.jpg" in describe_cover(None, "https://x.test/c.jpg").plain
    assert describe_cover(None, None).plain == "no cover"
    assert terminal_may_show_pictures({"TERM": "xterm-kitty"})
    assert terminal_may_show_pictures({"TERM_PROGRAM": "WezTerm"})
    assert not terminal_may_show_pictures({"TERM": "tmux-256color"})
    assert not terminal_may_show_pictures({"TERM": "xterm-kitty", "SHELVER_PICTURES": "0"})
    assert terminal_may_show_pictures({"TERM": "screen", "SHELVER_PICTURES": "1"})


async def test_cover_row_and_long_description_in_the_detail_area(
    database: Database, database_dsn: str, home: Home
) -> None:
    from PIL import Image

    cover = home.covers_dir / "ab" / "cover.jpg"
    cover.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (120, 180), "teal").save(cover)
    book_id = await make_book(database, home, "Bleak House")
    await database.pool.execute(
        "UPDATE books SET cover_path = $2 WHERE id = $1", book_id, str(cover)
    )
    long_text = "It was foggy everywhere. " * 40
    await add_candidate(database, book_id, "google_books", 0.4, description=long_text)
    app = make_app(home, database_dsn)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_review(pilot)
        assert not screen.check_action("duplicate", ())  # no banner, no duplicate key
        for _ in range(7):
            await pilot.press("down")
        await pilot.press("right", "right")  # description, Google
        await pilot.pause()
        assert long_text.strip() in screen_text(app)  # the full text, in a scrolling area
        await pilot.press("right_square_bracket")
        await pilot.press("down", "down", "down", "down", "left", "left")  # cover, current
        await pilot.pause()
        assert "120×180 JPEG" in screen_text(app) and str(cover) in screen_text(app)


async def test_many_sources_page_at_80_columns_and_the_next_book_is_prefetched(
    database: Database, database_dsn: str, home: Home
) -> None:
    book_id = await make_book(database, home, "Persuasion")
    for rank in range(1, 11):
        source = "google_books" if rank == 1 else f"google_books#{rank}"
        await add_candidate(
            database, book_id, source, 0.5 - rank / 100, title=f"Answer {rank}",
            isbn_13="9780441013593",
        )  # fmt: skip
    following = await make_book(database, home, "Sanditon")
    app = make_app(home, database_dsn)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_review(pilot)
        assert following in screen.queue.cache  # loaded while the first book is looked at
        grid = screen.grid
        assert len(screen.state.sources) == 12
        # The current values plus as many sources as fit without cutting an ISBN-13.
        assert len(grid.visible()) >= 3
        text = screen_text(app)
        assert "9780441013593" in text and "9780441013..." not in text
        assert f"sources 2–{len(grid.visible())} of 12" in text
        seen = set()
        for _ in range(6):  # ] pages through every source and wraps around
            seen.update(grid.visible())
            await pilot.press("right_square_bracket")
        assert seen == set(range(12))
        while 11 not in grid.visible():
            await pilot.press("tab")
        column = grid.visible().index(11) + 1
        grid.move_cursor(column=column)
        await pilot.press("enter")  # the twelfth source, beyond the ninth, picked by key
        assert screen.state.chosen_value("title") == "Answer 10"
        assert "Google 10" in screen_text(app)
        assert grid.scroll_x == 0  # nothing scrolls sideways: no fragments of other columns


async def test_description_is_edited_as_paragraphs(
    database: Database, database_dsn: str, home: Home
) -> None:
    from textual.widgets import TextArea

    await make_book(database, home, "Middlemarch")
    app = make_app(home, database_dsn)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_review(pilot)
        for _ in range(7):
            await pilot.press("down")
        await pilot.press("e")
        await pilot.pause()
        assert isinstance(app.screen, FieldEditor)
        await pilot.press(*"First", "enter", *"second a", "ctrl+s")  # "a" stays text
        await pilot.pause()
        assert isinstance(app.screen, ReviewScreen)
        assert screen.state.chosen_value("description") == "First\nsecond a"
        await pilot.press("e", "escape")  # escape leaves the value alone
        await pilot.pause()
        assert not app.screen.query(TextArea)
        assert screen.state.chosen_value("description") == "First\nsecond a"


def review_item(*candidates: tuple[str, float, dict]) -> ReviewItem:
    """A ReviewItem built in memory (the choice logic needs no database)."""
    from datetime import UTC, datetime
    from decimal import Decimal
    from uuid import uuid4

    from shelver.data.confidence import strength
    from shelver.data.models import Book, Candidate
    from shelver.data.review import ScoredCandidate

    now = datetime.now(UTC)
    book = Book(
        id=uuid4(),
        status=BookStatus.REVIEW,
        title="emma",
        author="Austen",
        created_at=now,
        updated_at=now,
    )
    scored = [
        ScoredCandidate(
            Candidate(
                id=uuid4(),
                book_id=book.id,
                source=source,
                normalized=fields,
                confidence=Decimal(str(score)),
            ),
            strength(score),
        )
        for source, score, fields in candidates
    ]
    return ReviewItem(book=book, files=[], candidates=scored)


def test_review_state_choices_and_approval() -> None:
    item = review_item(
        ("file", 1.0, {"title": "emma"}),
        ("google_books", 0.9, {"title": "Emma", "author": "Jane Austen", "page_count": 474}),
        ("hardcover", 0.65, {"title": "Emma (Penguin)", "published_year": 1815}),
    )
    state = ReviewState.from_item(item)
    google, hardcover = (c.candidate for c in item.candidates[1:])
    # The strong candidate pre-selects every field it has; the medium one nothing.
    assert state.chosen == {n: str(google.id) for n in ("title", "author", "page_count")}
    assert state.differs("title", state.sources[2]) and not state.differs("title", state.sources[1])
    assert state.pick("published_year", 3) is None
    assert state.pick("publisher", 3) == "Hardcover has no publisher"
    assert state.pick("title", 0) is None  # back to the current value
    state.edit("tags", ["classic"])
    values, used = state.approval()
    assert values == {
        "author": "Jane Austen",
        "published_year": 1815,
        "page_count": 474,
        "tags": ["classic"],
    }
    assert used == {google.id: ["author", "page_count"], hardcover.id: ["published_year"]}

    # The same book loaded again (after a search) keeps the picks and the hand edits.
    again = ReviewState.from_item(item, previous=state)
    assert again.approval() == (values, used)
    assert [s.short for s in again.sources] == ["Current", "File", "Google", "Hardcover", "Yours"]
    assert again.pick_all(3) == 2 and again.chosen_value("title") == "Emma (Penguin)"


@pytest.mark.parametrize("size", [(80, 24), (100, 30)])
async def test_every_page_of_sources_is_full_after_an_edit(
    database: Database, database_dsn: str, home: Home, size: tuple[int, int]
) -> None:
    book_id = await make_book(database, home, "Emma")
    for rank in range(1, 6):
        source = "google_books" if rank == 1 else f"google_books#{rank}"
        await add_candidate(database, book_id, source, 0.5 - rank / 100, title=f"Answer {rank}")
    app = make_app(home, database_dsn)
    async with app.run_test(size=size) as pilot:
        screen = await open_review(pilot)
        grid = screen.grid
        await pilot.press("e")
        await pilot.pause()
        assert isinstance(app.screen, FieldEditor)
        app.screen.query_one(Input).value = "Emma, by hand"
        await pilot.press("enter")
        await settle(pilot)
        sources = len(screen.state.sources)
        assert screen.state.sources[-1].short == "Yours" and sources == 8
        fits = min(grid.per_page, sources - 1)
        assert fits >= 2
        seen: set[int] = set()
        for key in ["right_square_bracket"] * 4 + ["tab"] * 4 + ["left_square_bracket"] * 4:
            shown = grid.visible()
            seen.update(shown)
            # The current values plus as many sources as fit, never "Yours" alone.
            assert len(shown) == 1 + fits, (key, shown)
            assert len(grid.columns) == 2 + fits
            await pilot.press(key)
            await pilot.pause()
        assert seen == set(range(sources))
