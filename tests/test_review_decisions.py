"""Review decisions on a real database and real files: approval guarded by the version shown
(two windows cannot approve one book twice), reject and its undo, undo of an approval, add as
another format, Hardcover links that follow identity, ISBNs from one edition."""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path
from uuid import UUID

import pytest

from shelver.data import books, decisions, review
from shelver.data.db import Database, DatabaseTarget
from shelver.data.home import Home
from shelver.data.models import BookFields, BookStatus
from shelver.data.providers.normalize import split_isbns
from shelver.data.review import DuplicateAction, ReviewError, StaleBook, approve
from shelver.data.settings import Settings

SETTINGS = Settings()


async def make_book(
    database: Database,
    home: Home,
    title: str,
    *,
    name: str = "book.epub",
    fmt: str = "epub",
    status: BookStatus = BookStatus.REVIEW,
) -> UUID:
    content = f"bytes of {title}".encode()
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
        format=fmt,
        original_name=name,
        file_size=len(content),
        checksum=hashlib.sha256(content).hexdigest(),
        content_hash=None,
        inbox_path=str(path),
    )
    await books.upsert_candidate(
        database.pool, book.id, source="file", normalized=BookFields(title=title), confidence=1
    )
    return book.id


async def test_approval_of_a_book_changed_underneath_is_refused(
    database: Database, home: Home
) -> None:
    book_id = await make_book(database, home, "Shown")
    shown = await books.get(database.pool, book_id)
    await database.pool.execute("UPDATE books SET author = 'Someone Else' WHERE id = $1", book_id)
    with pytest.raises(StaleBook, match="“Shown” changed since it was shown"):
        await approve(
            database, home, SETTINGS, book_id, {"title": "X"}, {},
            expected_version=shown.updated_at,
        )  # fmt: skip
    book = await books.get(database.pool, book_id)
    assert book.status is BookStatus.REVIEW and book.title == "Shown"
    (file,) = await books.files_of(database.pool, book_id)
    assert file.inbox_path and Path(file.inbox_path).exists()  # nothing moved


async def test_approving_twice_is_refused_and_names_the_book(
    database: Database, home: Home
) -> None:
    book_id = await make_book(database, home, "Twice")
    shown = await books.get(database.pool, book_id)
    await approve(database, home, SETTINGS, book_id, {}, {}, expected_version=shown.updated_at)
    with pytest.raises(StaleBook, match="“Twice” is already in the library"):
        await approve(
            database, home, SETTINGS, book_id, {"title": "Other"}, {},
            expected_version=shown.updated_at,
        )  # fmt: skip
    assert (await books.get(database.pool, book_id)).title == "Twice"


async def test_two_processes_approving_at_once_approve_once(
    database: Database, database_dsn: str, home: Home
) -> None:
    book_id = await make_book(database, home, "Race")
    shown = await books.get(database.pool, book_id)
    other = await Database.open(DatabaseTarget(dsn=database_dsn), max_size=4)
    try:
        results = await asyncio.gather(
            approve(database, home, SETTINGS, book_id, {"title": "Mine"}, {},
                    expected_version=shown.updated_at),
            approve(other, home, SETTINGS, book_id, {"title": "Yours"}, {},
                    expected_version=shown.updated_at),
            return_exceptions=True,
        )  # fmt: skip
    finally:
        await other.close()
    refused = [r for r in results if isinstance(r, ReviewError)]
    approved = [r for r in results if not isinstance(r, BaseException)]
    assert len(approved) == 1 and len(refused) == 1, results
    book = await books.get(database.pool, book_id)
    assert book.title == approved[0].title and book.status is BookStatus.ORGANIZED
    files = [p for p in home.library_dir.rglob("*") if p.is_file()]
    assert len(files) == 1


async def test_reject_moves_the_file_aside_and_undo_restores_everything(
    database: Database, home: Home
) -> None:
    book_id = await make_book(database, home, "Unwanted")
    (file,) = await books.files_of(database.pool, book_id)
    candidates = await books.candidates_of(database.pool, book_id)
    shown = await books.get(database.pool, book_id)
    rejection = await decisions.reject(
        database, home, book_id, "not a book I want", expected_version=shown.updated_at
    )
    assert await books.get(database.pool, book_id) is None  # the row goes...
    (moved,) = rejection.moved_to
    assert moved.is_relative_to(home.rejected_dir) and moved.read_bytes() == b"bytes of Unwanted"
    reason = moved.with_name(moved.name + ".reason.txt").read_text()
    assert "“Unwanted”" in reason and "not a book I want" in reason
    assert not Path(file.inbox_path).exists()

    restored = await decisions.restore_rejected(database, home, book_id)  # ...and comes back
    assert restored.status is BookStatus.REVIEW and restored.title == "Unwanted"
    (again,) = await books.files_of(database.pool, book_id)
    assert again.inbox_path == file.inbox_path and Path(file.inbox_path).exists()
    assert again.storage_path is None and not moved.exists()
    assert not moved.with_name(moved.name + ".reason.txt").exists()
    assert [c.id for c in await books.candidates_of(database.pool, book_id)] == [
        c.id for c in candidates
    ]
    with pytest.raises(StaleBook):
        await decisions.restore_rejected(database, home, book_id)


async def test_undo_approval_returns_values_and_file(database: Database, home: Home) -> None:
    book_id = await make_book(database, home, "Undo me")
    before = await books.get(database.pool, book_id)
    files_before = await books.files_of(database.pool, book_id)
    approved = await approve(
        database, home, SETTINGS, book_id, {"title": "Undone"}, {},
        expected_version=before.updated_at,
    )  # fmt: skip
    undone = await decisions.undo_approval(
        database, home, before, files_before, approved_version=approved.updated_at
    )
    assert undone.status is BookStatus.REVIEW and undone.title == "Undo me"
    assert undone.approved_at is None
    (file,) = await books.files_of(database.pool, book_id)
    assert file.inbox_path == files_before[0].inbox_path and Path(file.inbox_path).is_file()
    assert file.storage_path is None
    assert not [p for p in home.library_dir.rglob("*") if p.is_file()]


async def test_send_back_to_review_and_delete_from_library(database: Database, home: Home) -> None:
    book_id = await make_book(database, home, "Library book")
    await approve(database, home, SETTINGS, book_id, {}, {})
    back = await decisions.send_back_to_review(database, book_id)
    assert back.status is BookStatus.REVIEW and back.approved_at is None
    await approve(database, home, SETTINGS, book_id, {}, {})
    (file,) = await books.files_of(database.pool, book_id)
    rejection = await decisions.delete_from_library(database, home, book_id)
    assert await books.get(database.pool, book_id) is None
    assert not Path(file.storage_path).exists()
    assert rejection.moved_to[0].read_bytes() == b"bytes of Library book"


async def test_skip_rejects_the_new_file(database: Database, home: Home) -> None:
    old = await make_book(database, home, "Dune")
    await approve(database, home, SETTINGS, old, {}, {})
    new = await make_book(database, home, "Dune again", name="dune.epub")
    await database.pool.execute(
        "UPDATE books SET possible_duplicate_of = $2 WHERE id = $1", new, old
    )
    await approve(database, home, SETTINGS, new, {}, {}, duplicate=DuplicateAction.SKIP)
    assert await books.get(database.pool, new) is None
    assert (home.rejected_dir / "dune.epub").read_bytes() == b"bytes of Dune again"


async def test_add_as_format_ends_with_one_book_two_files_one_folder(
    database: Database, home: Home
) -> None:
    old = await make_book(database, home, "Emma", name="emma.epub")
    await approve(database, home, SETTINGS, old, {"author": "Jane Austen"}, {})
    new = await make_book(database, home, "Emma (PDF)", name="Emma scan.pdf", fmt="pdf")
    await database.pool.execute(
        "UPDATE books SET possible_duplicate_of = $2 WHERE id = $1", new, old
    )
    kept = await approve(
        database, home, SETTINGS, new, {"title": "ignored"}, {},
        duplicate=DuplicateAction.ADD_FORMAT,
    )  # fmt: skip
    assert kept.id == old
    assert await books.get(database.pool, new) is None
    files = await books.files_of(database.pool, old)
    assert sorted(f.format for f in files) == ["epub", "pdf"]
    folders = {Path(f.storage_path).parent for f in files}
    assert folders == {home.library_dir / "Jane Austen" / "Emma"}
    assert all(Path(f.storage_path).is_file() and f.inbox_path is None for f in files)
    assert (await books.count_by_status(database.pool)).organized == 1


async def test_undo_of_add_as_format_returns_the_book_with_its_file_to_the_inbox(
    database: Database, home: Home
) -> None:
    old = await make_book(database, home, "Emma", name="emma.epub")
    await approve(database, home, SETTINGS, old, {"author": "Jane Austen"}, {})
    new = await make_book(database, home, "Emma (PDF)", name="Emma scan.pdf", fmt="pdf")
    await database.pool.execute(
        "UPDATE books SET possible_duplicate_of = $2 WHERE id = $1", new, old
    )
    before = await books.get(database.pool, new)
    files_before = await books.files_of(database.pool, new)
    candidates = await books.candidates_of(database.pool, new)
    kept = await approve(
        database, home, SETTINGS, new, {}, {}, duplicate=DuplicateAction.ADD_FORMAT,
        expected_version=before.updated_at,
    )  # fmt: skip
    (added,) = [f for f in await books.files_of(database.pool, old) if f.format == "pdf"]
    assert Path(added.storage_path).is_file()

    restored = await decisions.undo_add_format(
        database, home, before, files_before, into=kept.id, into_version=kept.updated_at
    )
    assert restored.id == new and restored.status is BookStatus.REVIEW
    assert restored.title == "Emma (PDF)" and restored.possible_duplicate_of == old
    (file,) = await books.files_of(database.pool, new)
    assert file.id == added.id and file.storage_path is None
    assert file.inbox_path == files_before[0].inbox_path
    assert Path(file.inbox_path).read_bytes() == b"bytes of Emma (PDF)"
    assert not Path(added.storage_path).exists()
    assert [f.format for f in await books.files_of(database.pool, old)] == ["epub"]
    assert [c.id for c in await books.candidates_of(database.pool, new)] == [
        c.id for c in candidates
    ]
    assert await database.pool.fetchval("SELECT count(*) FROM rejected_books") == 0
    with pytest.raises(StaleBook):  # taken back once only
        await decisions.undo_add_format(
            database, home, before, files_before, into=kept.id, into_version=kept.updated_at
        )


async def test_undo_of_add_as_format_is_refused_when_the_book_changed_since(
    database: Database, home: Home
) -> None:
    old = await make_book(database, home, "Persuasion", name="persuasion.epub")
    await approve(database, home, SETTINGS, old, {}, {})
    new = await make_book(database, home, "Persuasion (PDF)", name="p.pdf", fmt="pdf")
    await database.pool.execute(
        "UPDATE books SET possible_duplicate_of = $2 WHERE id = $1", new, old
    )
    before = await books.get(database.pool, new)
    files_before = await books.files_of(database.pool, new)
    kept = await approve(
        database, home, SETTINGS, new, {}, {}, duplicate=DuplicateAction.ADD_FORMAT
    )
    await database.pool.execute("UPDATE books SET title = 'Persuasion!' WHERE id = $1", old)
    with pytest.raises(StaleBook, match="changed since"):
        await decisions.undo_add_format(
            database, home, before, files_before, into=kept.id, into_version=kept.updated_at
        )
    assert await books.get(database.pool, new) is None  # nothing moved
    assert len(await books.files_of(database.pool, old)) == 2


async def hardcover_candidate(database: Database, book_id: UUID, score: float, **fields):
    candidate = await books.upsert_candidate(
        database.pool, book_id, source="hardcover", normalized=BookFields(**fields),
        confidence=score,
    )  # fmt: skip
    await database.pool.execute(
        "UPDATE book_metadata_candidates SET normalized = normalized || $2::jsonb WHERE id = $1",
        candidate.id,
        {"hardcover_book_id": 77, "hardcover_edition_id": 701},
    )
    return candidate


@pytest.mark.parametrize(
    ("taken", "link"),
    [
        (["page_count"], (None, None)),  # one field from a weak match: no link
        (["title"], (None, None)),
        (["title", "author"], (77, None)),  # the work, no particular edition
        (["isbn_13", "isbn_10"], (77, 701)),  # the edition
    ],
)
async def test_hardcover_link_follows_identity(
    database: Database, home: Home, taken: list[str], link: tuple
) -> None:
    book_id = await make_book(database, home, f"Linked {'-'.join(taken)}")
    fields = {
        "title": "Cragside",
        "author": "L. J. Ross",
        "isbn_13": "9781521748831",
        "isbn_10": "1521748837",
        "page_count": 326,
    }
    candidate = await hardcover_candidate(database, book_id, 0.4, **fields)
    approved = await approve(
        database, home, SETTINGS, book_id, {n: fields[n] for n in taken}, {candidate.id: taken}
    )
    assert (approved.hardcover_book_id, approved.hardcover_edition_id) == link


async def test_explicit_link_and_isbns_of_two_editions_are_refused(
    database: Database, home: Home
) -> None:
    book_id = await make_book(database, home, "Explicit")
    candidate = await hardcover_candidate(database, book_id, 0.4, title="Other")
    with pytest.raises(ReviewError, match="not the same edition"):
        await approve(
            database, home, SETTINGS, book_id,
            {"isbn_13": "9781521748831", "isbn_10": "0441013597"}, {},
        )  # fmt: skip
    approved = await approve(database, home, SETTINGS, book_id, {}, {}, link_candidate=candidate.id)
    assert (approved.hardcover_book_id, approved.hardcover_edition_id) == (77, 701)


def test_isbns_of_a_work_are_paired_by_edition() -> None:
    # A Hardcover work lists the ISBNs of all its editions: the pair must be one edition's.
    isbns = ["9780441013593", "0340960191", "9780340960196", "0441013597"]
    assert split_isbns(isbns) == ("9780441013593", "0441013597")
    assert split_isbns(isbns, prefer={"0340960191"}) == ("9780340960196", "0340960191")
    assert split_isbns(["0340960191"]) == ("9780340960196", "0340960191")
    assert split_isbns(["9791032102138"]) == ("9791032102138", None)


async def test_preselect_takes_both_isbns_from_one_candidate(
    database: Database, home: Home
) -> None:
    book_id = await make_book(database, home, "Pair")
    a = await books.upsert_candidate(
        database.pool, book_id, source="google_books", confidence=0.97,
        normalized=BookFields(isbn_13="9780441013593"),
    )  # fmt: skip
    await books.upsert_candidate(
        database.pool, book_id, source="hardcover", confidence=0.95,
        normalized=BookFields(isbn_13="9780340960196", isbn_10="0340960191"),
    )  # fmt: skip
    item = await review.load_item(database.pool, book_id)
    assert item.preselected["isbn_13"] == a.id
    assert "isbn_10" not in item.preselected  # not the other edition's
