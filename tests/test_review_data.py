"""The review data layer: approve, duplicates, the queue, pre-selection."""

from __future__ import annotations

import hashlib
from decimal import Decimal
from pathlib import Path
from uuid import UUID

import pytest

from shelver.data import books, review
from shelver.data.db import Database
from shelver.data.home import Home
from shelver.data.models import BookFields, BookStatus, Candidate
from shelver.data.review import DuplicateAction, ReviewError, approve, next_in_queue, preselect
from shelver.data.settings import Settings

SETTINGS = Settings()


async def make_book(
    database: Database,
    home: Home,
    title: str,
    *,
    name: str = "book.epub",
    status: BookStatus = BookStatus.REVIEW,
    content: bytes | None = None,
) -> UUID:
    content = content if content is not None else f"bytes of {title}".encode()
    folder = home.inbox_dir / hashlib.sha256(content).hexdigest()[:8]
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(content)
    book = await books.insert(
        database.pool, BookFields(title=title, author="Some One"), status=status
    )
    await books.add_file(
        database.pool,
        book.id,
        format="epub",
        original_name=name,
        file_size=len(content),
        checksum=hashlib.sha256(content).hexdigest(),
        content_hash=None,
        inbox_path=str(path),
    )
    return book.id


async def add_candidate(
    database: Database, book_id: UUID, source: str, score: float, **fields: object
) -> Candidate:
    return await books.upsert_candidate(
        database.pool, book_id, source=source, normalized=BookFields(**fields), confidence=score
    )


async def test_approve_writes_choice_and_files_the_book(database: Database, home: Home) -> None:
    book_id = await make_book(database, home, "cragside")
    google = await add_candidate(
        database, book_id, "google_books", 0.9, title="Cragside", author="L. J. Ross"
    )
    hardcover = await books.upsert_candidate(
        database.pool,
        book_id,
        source="hardcover",
        normalized=BookFields(published_year=2017),
        confidence=0.7,
    )
    await database.pool.execute(
        "UPDATE book_metadata_candidates SET normalized = normalized || $2::jsonb WHERE id = $1",
        hardcover.id,
        {"hardcover_book_id": 77},
    )
    other = await add_candidate(database, book_id, "google_books#2", 0.5, title="Other")
    approved = await approve(
        database,
        home,
        SETTINGS,
        book_id,
        {"title": "Cragside", "author": "L. J. Ross", "published_year": 2017, "tags": ["crime"]},
        {google.id: ["author", "title"], hardcover.id: ["published_year"]},
    )
    assert approved.status is BookStatus.ORGANIZED and approved.approved_at is not None
    assert (approved.title, approved.author, approved.published_year) == (
        "Cragside",
        "L. J. Ross",
        2017,
    )
    # Only the year came from Hardcover: that is not its identity, so the book is not linked.
    assert approved.tags == ["crime"] and approved.hardcover_book_id is None
    (file,) = await books.files_of(database.pool, book_id)
    expected = home.library_dir / "L. J. Ross" / "Cragside" / "book.epub"
    assert file.storage_path == str(expected) and file.inbox_path is None
    assert expected.read_bytes() == b"bytes of cragside"
    selected = {c.id: c.selected_fields for c in await books.candidates_of(database.pool, book_id)}
    assert selected[google.id] == ["title", "author"]
    assert selected[hardcover.id] == ["published_year"]
    assert selected[other.id] == []


@pytest.mark.parametrize(
    ("chosen", "used", "message"),
    [
        ({"colour": "red"}, {}, "not a book field: colour"),
        ({"published_year": "soon"}, {}, "published_year"),
        ({}, {UUID(int=1): ["title"]}, "replaced by a new fetch"),
    ],
)
async def test_bad_choices_change_nothing(
    database: Database, home: Home, chosen: dict, used: dict, message: str
) -> None:
    book_id = await make_book(database, home, "unchanged")
    with pytest.raises(ReviewError, match=message):
        await approve(database, home, SETTINGS, book_id, chosen, used)
    book = await books.get(database.pool, book_id)
    assert book.status is BookStatus.REVIEW and book.approved_at is None
    (file,) = await books.files_of(database.pool, book_id)
    assert file.inbox_path and Path(file.inbox_path).exists()


async def test_duplicate_skip_keep_both_and_replace(database: Database, home: Home) -> None:
    old_id = await make_book(database, home, "old", status=BookStatus.REVIEW)
    await approve(
        database, home, SETTINGS, old_id, {"title": "Dune", "author": "Frank Herbert"}, {}
    )
    (old_file,) = await books.files_of(database.pool, old_id)

    async def flagged(title: str) -> UUID:
        book_id = await make_book(database, home, title)
        await database.pool.execute(
            "UPDATE books SET possible_duplicate_of = $2 WHERE id = $1", book_id, old_id
        )
        return book_id

    chosen = {"title": "Dune", "author": "Frank Herbert"}
    skipped = await flagged("skip me")
    book = await approve(
        database, home, SETTINGS, skipped, chosen, {}, duplicate=DuplicateAction.SKIP
    )
    assert book.status is BookStatus.REVIEW  # as it was when rejected
    assert await books.get(database.pool, skipped) is None  # skip rejects the new file...
    assert (home.rejected_dir / "book.epub").read_bytes() == b"bytes of skip me"  # ...kept

    both = await flagged("keep both")
    book = await approve(
        database, home, SETTINGS, both, chosen, {}, duplicate=DuplicateAction.KEEP_BOTH
    )
    assert book.status is BookStatus.ORGANIZED and book.possible_duplicate_of is None
    (file,) = await books.files_of(database.pool, both)
    assert Path(file.storage_path).name == "book (2).epub"

    replacing = await flagged("replacement")
    book = await approve(
        database, home, SETTINGS, replacing, chosen, {}, duplicate=DuplicateAction.REPLACE
    )
    assert book.status is BookStatus.ORGANIZED
    assert await books.get(database.pool, old_id) is None
    rejected = home.rejected_dir / "book (2).epub"
    assert rejected.read_bytes() == b"bytes of old"  # moved aside, never deleted
    reason = (home.rejected_dir / "book (2).epub.reason.txt").read_text()
    assert "“replacement”" in reason and "Frank Herbert" in reason
    (file,) = await books.files_of(database.pool, replacing)
    assert file.storage_path == old_file.storage_path  # takes the freed name
    assert Path(file.storage_path).read_bytes() == b"bytes of replacement"


async def test_queue_runs_oldest_first_and_wraps(database: Database, home: Home) -> None:
    assert await next_in_queue(database) is None
    first = await make_book(database, home, "first")
    second = await make_book(database, home, "second")
    await make_book(database, home, "inbox only", status=BookStatus.INBOX)
    third = await make_book(database, home, "third")
    assert (await next_in_queue(database)).id == first
    assert (await next_in_queue(database, first)).id == second
    assert (await next_in_queue(database, second)).id == third
    assert (await next_in_queue(database, third)).id == first
    await approve(database, home, SETTINGS, second, {}, {})
    # The approved book left the queue; the one after it is still found.
    assert (await next_in_queue(database, second)).id == third
    await approve(database, home, SETTINGS, first, {}, {})
    await approve(database, home, SETTINGS, third, {}, {})
    assert await next_in_queue(database, third) is None


async def test_only_strong_candidates_preselect(database: Database, home: Home) -> None:
    book_id = await make_book(database, home, "pre")
    strong = await add_candidate(database, book_id, "google_books", 0.93, title="Strong")
    stronger = await add_candidate(
        database, book_id, "hardcover", 0.97, author="A. Author", page_count=300
    )
    await add_candidate(database, book_id, "google_books#2", 0.8, title="Medium", language="en")
    await add_candidate(database, book_id, "file", 1.0, title="From the file")
    item = await review.load_item(database.pool, book_id)
    assert item.preselected == {
        "title": strong.id,
        "author": stronger.id,
        "page_count": stronger.id,
    }
    assert [c.strength.value for c in item.candidates][:1] == ["strong"]
    assert preselect([]) == {}
    assert item.candidates[0].candidate.confidence == Decimal("1.0000")  # file first
